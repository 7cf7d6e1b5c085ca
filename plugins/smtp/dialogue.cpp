#include "dialogue.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>

namespace switchyard::smtp {
namespace {

constexpr std::size_t kMaxReplyText = 300;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string first_word(std::string_view line) {
  const auto end = line.find_first_of(" \r\n:=");
  return upper(line.substr(0, end));
}

}  // namespace

void Transcript::command(std::string_view line) {
  static constexpr std::string_view kVerbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
                                                "RCPT", "DATA", "QUIT", "RSET", "NOOP"};
  const std::string verb = first_word(line);
  // Anything else is a line of an AUTH exchange (base64 credentials): never kept.
  pending_ = std::find(std::begin(kVerbs), std::end(kVerbs), verb) != std::end(kVerbs) ? verb : "AUTH";
  rcpt_.clear();
  if (pending_ == "RCPT") {
    const auto open = line.find('<');
    const auto close = line.rfind('>');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
      rcpt_ = line.substr(open + 1, close - open - 1);
    }
  }
  lines_.clear();
}

void Transcript::reply(std::string_view data) {
  while (!data.empty()) {
    const auto end = data.find('\n');
    std::string_view line = data.substr(0, end);
    data = end == std::string_view::npos ? std::string_view() : data.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    reply_line(line);
  }
}

void Transcript::reply_line(std::string_view line) {
  // RFC 5321 4.2: three digits, then '-' on every line but the last.
  if (line.size() < 3 || !std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; })) {
    return;
  }
  lines_.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
  if (line.size() > 3 && line[3] == '-') return;
  Reply r;
  r.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  for (const auto& l : lines_) {
    if (r.text.size() >= kMaxReplyText) break;
    if (!r.text.empty()) r.text += ' ';
    r.text += l;
  }
  if (r.text.size() > kMaxReplyText) r.text.resize(kMaxReplyText);
  finished(r);
  lines_.clear();
}

void Transcript::finished(const Reply& r) {
  any_reply_ = true;
  const std::string step = pending_.empty() ? "greeting" : pending_;
  if (step == "greeting") capabilities_ = Capabilities{};  // a new connection
  if (step == "EHLO" && r.code / 100 == 2) read_capabilities();
  if (step == "RCPT") outcome_.recipients.emplace_back(rcpt_, r);
  if (step == "DATA" && r.code == 354) {
    pending_ = "end of data";  // the next reply answers the message itself
    return;
  }
  if (step == "end of data") outcome_.final_reply = r;
  if (r.code >= 400 && step != "RCPT" && step != "QUIT" && outcome_.failed_step.empty()) {
    outcome_.failed_step = step;
    outcome_.failed_reply = r;
  }
}

void Transcript::read_capabilities() {
  Capabilities c;
  c.known = true;
  for (std::size_t i = 1; i < lines_.size(); ++i) {  // the first line is the server's name
    const std::string& l = lines_[i];
    const std::string word = first_word(l);
    if (word == "SMTPUTF8") c.smtputf8 = true;
    if (word == "8BITMIME") c.eight_bit_mime = true;
    if (word == "STARTTLS") c.starttls = true;
    if (word == "SIZE" && l.size() > 5) c.size_limit = std::strtoull(l.c_str() + 5, nullptr, 10);
    if (word == "AUTH") {  // "AUTH PLAIN LOGIN", or the old "AUTH=LOGIN"
      c.auth_offered = true;
      const std::string mechanisms = " " + upper(std::string_view(l).substr(5)) + " ";
      c.auth_plain_or_login = c.auth_plain_or_login || mechanisms.find(" PLAIN ") != std::string::npos ||
                              mechanisms.find(" LOGIN ") != std::string::npos;
    }
  }
  capabilities_ = c;
}

}  // namespace switchyard::smtp
