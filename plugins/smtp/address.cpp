#include "address.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

namespace switchyard::smtp {
namespace {

constexpr std::size_t kMaxLocalPart = 64;   // RFC 5321 4.5.3.1.1
constexpr std::size_t kMaxDomain = 255;     // RFC 5321 4.5.3.1.2
constexpr std::size_t kMaxMailbox = 254;    // RFC 5321 4.5.3.1.3 (path of 256 less "<>")
constexpr std::size_t kMaxLabel = 63;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The text as an error message may show it: cut, since it may be long.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  out.append(text.substr(0, 80));
  if (text.size() > 80) out += "...";
  return out + "\"";
}

bool ascii_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// atext of RFC 5322 3.2.3, plus UTF-8 (RFC 6532 3.2).
bool atext(unsigned char c) {
  return ascii_alnum(c) || c >= 0x80 || std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    if (n == 2 && c < 0xc2) return false;  // overlong
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Control characters end header lines or confuse the reader: refused anywhere.
std::optional<Error> control_characters(std::string_view text) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n') {
      return permanent("address " + quoted(trim(text.substr(0, text.find_first_of("\r\n")))) + " holds a line break");
    }
    if (c < 0x20 || c == 0x7f) return permanent("address " + quoted(text) + " holds a control character");
  }
  if (!valid_utf8(text)) return permanent("address " + quoted(text) + " is not valid UTF-8");
  return std::nullopt;
}

// The content of a quoted-string starting at s[0] == '"': unescaped into `out`; returns the
// length consumed including both quotes, or 0 when it does not close.
std::size_t read_quoted(std::string_view s, std::string& out) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (++i == s.size()) return 0;
      out += s[i];
    } else if (s[i] == '"') {
      return i + 1;
    } else {
      out += s[i];
    }
  }
  return 0;
}

std::optional<std::string> check_local_part(std::string_view local) {
  if (local.empty()) return "has no local part before the @";
  if (local.size() > kMaxLocalPart) return "has a local part longer than 64 characters";
  if (local.front() == '"') {
    std::string content;
    if (read_quoted(local, content) != local.size()) return "has an unbalanced quote in its local part";
    return std::nullopt;
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return "has a misplaced dot in its local part";
  }
  for (char c : local) {
    if (c != '.' && !atext(static_cast<unsigned char>(c))) {
      return std::string("has a character its local part may not hold ('") + c + "')";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_domain(std::string_view domain) {
  if (domain.empty()) return "has no domain after the @";
  if (domain.size() > kMaxDomain) return "has a domain longer than 255 characters";
  if (domain.front() == '[') {
    // An address literal: [192.0.2.1] or [IPv6:2001:db8::1] (RFC 5321 4.1.3).
    if (domain.back() != ']' || domain.size() < 3) return "has an unbalanced [ in its domain";
    for (char c : domain.substr(1, domain.size() - 2)) {
      if (!ascii_alnum(static_cast<unsigned char>(c)) && c != '.' && c != ':') return "has an invalid address literal";
    }
    return std::nullopt;
  }
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const auto label = domain.substr(start, end - start);
    if (label.empty()) return "has a misplaced dot in its domain";
    if (label.size() > kMaxLabel) return "has a domain label longer than 63 characters";
    if (label.front() == '-' || label.back() == '-') return "has a domain label that starts or ends with '-'";
    for (char c : label) {
      const auto u = static_cast<unsigned char>(c);
      if (!ascii_alnum(u) && c != '-' && u < 0x80) {
        return std::string("has a character its domain may not hold ('") + c + "')";
      }
    }
    start = end + 1;
  }
  return std::nullopt;
}

Result<std::string> check_mailbox(std::string_view mailbox, std::string_view whole) {
  const auto at = mailbox.rfind('@');
  if (at == std::string_view::npos) return permanent("address " + quoted(whole) + " has no @");
  if (mailbox.size() > kMaxMailbox) return permanent("address " + quoted(whole) + " is longer than 254 characters");
  if (auto why = check_local_part(mailbox.substr(0, at))) return permanent("address " + quoted(whole) + " " + *why);
  if (auto why = check_domain(mailbox.substr(at + 1))) return permanent("address " + quoted(whole) + " " + *why);
  return std::string(mailbox);
}

Result<std::string> display_name(std::string_view phrase, std::string_view whole) {
  phrase = trim(phrase);
  if (phrase.empty()) return std::string();
  if (phrase.front() == '"') {
    std::string content;
    if (read_quoted(phrase, content) != phrase.size()) {
      return permanent("address " + quoted(whole) + " has an unbalanced quote in its name");
    }
    return content;
  }
  if (phrase.find_first_of("\"<>") != std::string_view::npos) {
    return permanent("address " + quoted(whole) + " has a quote or angle bracket in its name: quote the whole name");
  }
  return std::string(phrase);
}

}  // namespace

bool Address::needs_smtputf8() const {
  return std::any_of(mailbox.begin(), mailbox.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::string Address::domain() const {
  std::string d = mailbox.substr(mailbox.rfind('@') + 1);
  for (char& c : d) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return d;
}

bool same_mailbox(const Address& a, const Address& b) {
  const auto la = a.mailbox.substr(0, a.mailbox.rfind('@'));
  const auto lb = b.mailbox.substr(0, b.mailbox.rfind('@'));
  return la == lb && a.domain() == b.domain();
}

Result<Address> parse_address(std::string_view text) {
  if (auto error = control_characters(text)) return *error;
  const std::string_view whole = trim(text);
  if (whole.empty()) return permanent("address is empty");
  Address out;
  // name-addr: the angle brackets are the last '<' outside quotes and the final '>'.
  std::size_t open = std::string_view::npos;
  bool in_quotes = false;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (in_quotes && whole[i] == '\\') {
      ++i;
    } else if (whole[i] == '"') {
      in_quotes = !in_quotes;
    } else if (!in_quotes && whole[i] == '<') {
      if (open != std::string_view::npos) return permanent("address " + quoted(whole) + " has more than one <");
      open = i;
    }
  }
  if (in_quotes) return permanent("address " + quoted(whole) + " has an unbalanced quote");
  std::string_view mailbox = whole;
  if (open != std::string_view::npos) {
    if (whole.back() != '>') return permanent("address " + quoted(whole) + " has unbalanced angle brackets");
    auto name = display_name(whole.substr(0, open), whole);
    if (!name) return name.error();
    out.display = std::move(*name);
    mailbox = trim(whole.substr(open + 1, whole.size() - open - 2));
  }
  if (mailbox.find_first_of("<>") != std::string_view::npos) {
    return permanent("address " + quoted(whole) + " has unbalanced angle brackets");
  }
  auto checked = check_mailbox(mailbox, whole);
  if (!checked) return checked.error();
  out.mailbox = std::move(*checked);
  return out;
}

Result<std::vector<Address>> parse_address_list(std::string_view text) {
  std::vector<Address> out;
  bool in_quotes = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size()) {
      if (in_quotes && text[i] == '\\') {
        ++i;
        continue;
      }
      if (text[i] == '"') in_quotes = !in_quotes;
      if (text[i] != ',' || in_quotes) continue;
    }
    const auto item = text.substr(start, std::min(i, text.size()) - start);
    start = i + 1;
    if (trim(item).empty() && item.find_first_of("\r\n") == std::string_view::npos) continue;
    auto address = parse_address(item);
    if (!address) return address.error();
    out.push_back(std::move(*address));
  }
  return out;
}

}  // namespace switchyard::smtp
