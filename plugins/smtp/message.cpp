#include "message.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>

namespace switchyard::smtp {
namespace {

constexpr std::size_t kFoldAt = 78;          // RFC 5322 2.1.1: SHOULD
constexpr std::size_t kMaxLine = 998;        // RFC 5322 2.1.1: MUST
constexpr std::size_t kLongName = 64;         // longer display names are written as encoded-words
constexpr std::size_t kMaxPlainWord = 900;   // longer words are encoded so they can be split
constexpr std::size_t kEncodedChunk = 39;    // bytes per encoded-word: 52 base64 characters
constexpr char kHex[] = "0123456789ABCDEF";

// Header names written by build_message (lower case).
constexpr std::array<std::string_view, 14> kReserved = {
    "date", "from", "sender", "to", "cc", "bcc", "reply-to", "subject", "message-id",
    "mime-version", "content-type", "content-transfer-encoding", "return-path", "received"};

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Length of the UTF-8 sequence starting with `lead` (1 for anything that is not a lead byte).
std::size_t utf8_length(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const auto n = (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16) |
                   (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8) |
                   static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = data.size() - i; rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A display name as a phrase: atoms as they are, other ASCII as a quoted-string, non-ASCII
// as encoded-words (RFC 2047 5(3)), and so is a long name: a phrase cannot be folded inside
// a quoted-string or an atom, and a committer's name of 2,000 characters would otherwise
// make a header line past 998 octets, which servers refuse.
std::string phrase(std::string_view name) {
  if (!is_ascii(name) || name.size() > kLongName) return encoded_words(name);
  const bool atoms = name.find("=?") == std::string_view::npos &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       const auto u = static_cast<unsigned char>(c);
                       return c == ' ' || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                              (u >= '0' && u <= '9') || std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
                     });
  if (atoms && name.front() != ' ' && name.back() != ' ') return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string format_address(const Address& a) {
  const std::string name = header_text(a.display);
  if (name.empty() || name.find_first_not_of(' ') == std::string::npos) return a.mailbox;
  return phrase(name) + " <" + a.mailbox + ">";
}

void append_part_headers(std::string& out, std::string_view type, TransferEncoding encoding) {
  out += "Content-Type: ";
  out += type;
  out += "; charset=utf-8\r\nContent-Transfer-Encoding: ";
  switch (encoding) {
    case TransferEncoding::seven_bit: out += "7bit"; break;
    case TransferEncoding::quoted_printable: out += "quoted-printable"; break;
    case TransferEncoding::base64: out += "base64"; break;
  }
  out += "\r\n";
}

struct EncodedBody {
  TransferEncoding encoding;
  std::string content;  // ends with CRLF (or is empty)
};

EncodedBody encode_body(std::string_view raw) {
  std::string text = normalize_newlines(raw);
  if (!text.empty() && !text.ends_with("\r\n")) text += "\r\n";
  const TransferEncoding encoding = choose_encoding(text);
  switch (encoding) {
    case TransferEncoding::seven_bit: return {encoding, std::move(text)};
    case TransferEncoding::quoted_printable: return {encoding, quoted_printable(text)};
    case TransferEncoding::base64: return {encoding, base64_lines(text)};
  }
  return {encoding, std::move(text)};
}

// A boundary that none of the parts holds. "=_" never occurs in quoted-printable or base64
// text, so only a 7bit part could collide; the counter settles that.
std::string make_boundary(std::string_view seed, const std::vector<const EncodedBody*>& parts) {
  const auto hash = std::hash<std::string_view>{}(seed);
  for (unsigned n = 0;; ++n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "=_switchyard_%016zx_%u", hash, n);
    const std::string boundary = buf;
    if (std::none_of(parts.begin(), parts.end(), [&](const EncodedBody* p) {
          return p->content.find(boundary) != std::string::npos;
        })) {
      return boundary;
    }
  }
}

}  // namespace

bool is_reserved_header(std::string_view name) {
  const std::string l = lower(name);
  return std::find(kReserved.begin(), kReserved.end(), l) != kReserved.end() || l.starts_with("content-");
}

bool valid_header_name(std::string_view name) {
  // RFC 5322 3.6.8: ftext is printable US-ASCII except ':'.
  return !name.empty() && name.size() <= 76 && std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
  });
}

std::string make_message_id(std::string_view event_id, std::string_view qualifier, std::string_view domain) {
  auto append = [](std::string& out, std::string_view s) {
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '_') {
        out += c;
      } else {
        out += '=';
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
    }
  };
  std::string out = "<";
  append(out, event_id.empty() ? "no-id" : event_id);
  if (!qualifier.empty()) {
    out += '.';
    append(out, qualifier);
  }
  out += '@';
  out.append(domain);
  return out + ">";
}

std::string format_date(std::chrono::system_clock::time_point time) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string normalize_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string header_text(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '\r' || c == '\n') {
      // The line break and the indentation of the next line are one space.
      while (i + 1 < value.size() && std::strchr("\r\n \t", value[i + 1]) != nullptr && value[i + 1] != '\0') ++i;
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += value[i];
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string encoded_words(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i;
    while (end < text.size()) {
      const std::size_t n = utf8_length(static_cast<unsigned char>(text[end]));
      if (end + n - i > kEncodedChunk && end > i) break;
      end = std::min(end + n, text.size());
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += base64(text.substr(i, end - i));
    out += "?=";
    i = end;
  }
  return out;
}

std::string unstructured_header(std::string_view name, std::string_view raw_value) {
  const std::string value = header_text(raw_value);
  std::string out(name);
  out += ":";
  if (value.empty()) return out + "\r\n";
  bool encode = !is_ascii(value) || value.find("=?") != std::string::npos;
  std::vector<std::string_view> words;
  for (std::size_t start = 0; start < value.size() && !encode;) {
    std::size_t end = value.find(' ', start);
    if (end == std::string::npos) end = value.size();
    if (end - start > kMaxPlainWord) encode = true;
    words.push_back(std::string_view(value).substr(start, end - start));
    start = end + 1;
  }
  if (encode) return out + " " + encoded_words(value) + "\r\n";
  // Fold before a space once the line would pass 78 columns (the space starts the next line).
  std::size_t line = out.size();
  for (const auto word : words) {
    if (line + 1 + word.size() > kFoldAt && line > name.size() + 1) {
      out += "\r\n";
      line = 0;
    }
    out += ' ';
    out.append(word);
    line += 1 + word.size();
  }
  return out + "\r\n";
}

std::string address_header(std::string_view name, const std::vector<Address>& addresses) {
  std::string out(name);
  out += ":";
  std::size_t line = out.size();
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const std::string item = format_address(addresses[i]) + (i + 1 < addresses.size() ? "," : "");
    // An encoded display name spans lines already; its first line is what counts.
    const std::size_t first = std::min(item.find("\r\n"), item.size());
    if (line + 1 + first > kFoldAt && i > 0) {
      out += "\r\n";
      line = 0;
    }
    out += ' ';
    out += item;
    const auto last_break = item.rfind("\r\n");
    line = last_break == std::string::npos ? line + 1 + item.size() : item.size() - last_break - 2;
  }
  return out + "\r\n";
}

TransferEncoding choose_encoding(std::string_view text) {
  std::size_t non_ascii = 0;
  std::size_t line = 0;
  bool long_line = false;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') ++non_ascii;
    if (c == '\n') {
      line = 0;
    } else if (++line > kMaxLine) {
      long_line = true;
    }
  }
  if (non_ascii == 0 && !long_line) return TransferEncoding::seven_bit;
  // Quoted-printable triples every non-ASCII byte: past a sixth of the text, base64 is shorter.
  return non_ascii * 6 > text.size() ? TransferEncoding::base64 : TransferEncoding::quoted_printable;
}

std::string quoted_printable(std::string_view text) {
  constexpr std::size_t kMaxQpLine = 76;
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t line = 0;
  auto emit = [&](std::string_view token) {
    if (line + token.size() > kMaxQpLine - 1) {  // room for the soft break's '='
      out += "=\r\n";
      line = 0;
    }
    out.append(token);
    line += token.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out += "\r\n";
      line = 0;
      ++i;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r';
    const bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      const char ch = static_cast<char>(c);
      emit(std::string_view(&ch, 1));
    } else {
      const char token[3] = {'=', kHex[c >> 4], kHex[c & 15]};
      emit(std::string_view(token, 3));
    }
  }
  return out;
}

std::string base64_lines(std::string_view data) {
  const std::string encoded = base64(data);
  std::string out;
  out.reserve(encoded.size() + encoded.size() / 38 + 2);
  for (std::size_t i = 0; i < encoded.size(); i += 76) {
    out.append(encoded, i, 76);
    out += "\r\n";
  }
  return out;
}

std::string build_message(const MessageSpec& spec) {
  std::string out;
  out += "Date: " + format_date(spec.date) + "\r\n";
  out += address_header("From", {spec.from});
  if (!spec.reply_to.empty()) out += address_header("Reply-To", spec.reply_to);
  if (!spec.to.empty()) out += address_header("To", spec.to);
  if (!spec.cc.empty()) out += address_header("Cc", spec.cc);
  out += unstructured_header("Subject", spec.subject);
  out += "Message-ID: " + spec.message_id + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  bool auto_submitted = false;
  for (const auto& [name, value] : spec.headers) {
    auto_submitted = auto_submitted || lower(name) == "auto-submitted";
    out += unstructured_header(name, value);
  }
  // RFC 3834: machine-made mail, which vacation responders and the like leave unanswered.
  if (!auto_submitted) out += "Auto-Submitted: auto-generated\r\n";

  if (spec.has_text && spec.has_html) {
    const EncodedBody text = encode_body(spec.text);
    const EncodedBody html = encode_body(spec.html);
    const std::string boundary = make_boundary(spec.message_id, {&text, &html});
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1), so each part's
    // own final line break is followed by another.
    out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
    out += "--" + boundary + "\r\n";
    append_part_headers(out, "text/plain", text.encoding);
    out += "\r\n" + text.content;
    out += "\r\n--" + boundary + "\r\n";
    append_part_headers(out, "text/html", html.encoding);
    out += "\r\n" + html.content;
    out += "\r\n--" + boundary + "--\r\n";
    return out;
  }
  const EncodedBody body = encode_body(spec.has_html ? spec.html : spec.text);
  append_part_headers(out, spec.has_html ? "text/html" : "text/plain", body.encoding);
  out += "\r\n" + body.content;
  return out;
}

}  // namespace switchyard::smtp
