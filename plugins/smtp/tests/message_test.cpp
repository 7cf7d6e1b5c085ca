// Message building: headers, folding, RFC 2047 words, body encodings, CRLF normalisation,
// and that no value rendered from an event can start a header of its own.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "message.hpp"

namespace switchyard::smtp {
namespace {

using namespace std::chrono_literals;

// --- decoders, written from the RFCs, to read back what the builder wrote ---

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  std::uint32_t acc = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string qp_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && in.substr(i + 1, 2) == "\r\n") {
      i += 2;
    } else if (in[i] == '=') {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// "=?UTF-8?B?...?=" words (adjacent ones joined, RFC 2047 6.2); other text as it is.
std::string decode_words(std::string_view value) {
  std::string out;
  bool last_was_word = false;
  std::size_t i = 0;
  while (i < value.size()) {
    const auto start = value.find("=?UTF-8?B?", i);
    std::string_view between = value.substr(i, start == std::string_view::npos ? std::string_view::npos : start - i);
    if (!(last_was_word && between.find_first_not_of(" \t") == std::string_view::npos && start != std::string_view::npos)) {
      out.append(between);
    }
    if (start == std::string_view::npos) break;
    const auto end = value.find("?=", start + 10);
    out += base64_decode(value.substr(start + 10, end - start - 10));
    i = end + 2;
    last_was_word = true;
  }
  return out;
}

struct Parsed {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded
  std::string body;
  std::string get(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "<missing>";
  }
  std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& h : headers) n += h.first == name;
    return n;
  }
};

Parsed parse(const std::string& message) {
  Parsed p;
  const auto split = message.find("\r\n\r\n");
  std::string head = message.substr(0, split + 2);
  p.body = message.substr(split + 4);
  std::size_t pos = 0;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    std::string line = head.substr(pos, end - pos);
    pos = end + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      p.headers.back().second += line;  // unfold: the CRLF goes, the whitespace stays
    } else {
      const auto colon = line.find(':');
      p.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    }
  }
  return p;
}

void expect_wire_clean(const std::string& message) {
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r') {
      ASSERT_EQ(message[i + 1], '\n') << "bare CR at " << i;
    }
    if (message[i] == '\n') {
      ASSERT_EQ(message[i - 1], '\r') << "bare LF at " << i;
    }
    ASSERT_LT(static_cast<unsigned char>(message[i]), 0x80) << "8-bit byte at " << i << ": the message must be 7-bit";
  }
  std::size_t start = 0;
  while (start < message.size()) {
    const auto end = message.find("\r\n", start);
    ASSERT_LE(end - start, 998u) << "line too long at " << start;
    start = end + 2;
  }
  ASSERT_TRUE(message.ends_with("\r\n"));
}

MessageSpec basic() {
  MessageSpec spec;
  spec.from = *parse_address("CI <ci@example.com>");
  spec.to = {*parse_address("ops@example.com"), *parse_address("Jane Doe <jane@example.com>")};
  spec.subject = "Build failed";
  spec.text = "The build failed.\n";
  spec.has_text = true;
  spec.message_id = make_message_id("7f1c2d3e-0000-4000-8000-000000000001", "ci.email", "example.com");
  spec.date = std::chrono::sys_days(std::chrono::year(2024) / 1 / 2) + 15h + 4min + 5s;
  return spec;
}

TEST(SmtpMessage, HasTheHeadersAMailClientNeeds) {
  const std::string message = build_message(basic());
  expect_wire_clean(message);
  const Parsed p = parse(message);
  EXPECT_EQ(p.get("Date"), "Tue, 02 Jan 2024 15:04:05 +0000");
  EXPECT_EQ(p.get("From"), "CI <ci@example.com>");
  EXPECT_EQ(p.get("To"), "ops@example.com, Jane Doe <jane@example.com>");
  EXPECT_EQ(p.get("Subject"), "Build failed");
  EXPECT_EQ(p.get("Message-ID"), "<7f1c2d3e-0000-4000-8000-000000000001.ci=2Eemail@example.com>");
  EXPECT_EQ(p.get("MIME-Version"), "1.0");
  EXPECT_EQ(p.get("Auto-Submitted"), "auto-generated");
  EXPECT_EQ(p.get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(p.get("Content-Transfer-Encoding"), "7bit");
  EXPECT_EQ(p.count("Cc"), 0u);
  EXPECT_EQ(p.count("Bcc"), 0u);
  EXPECT_EQ(p.body, "The build failed.\r\n");
}

TEST(SmtpMessage, MessageIdDependsOnlyOnTheEventAndTheSink) {
  EXPECT_EQ(make_message_id("abc", "p.s", "example.com"), make_message_id("abc", "p.s", "example.com"));
  EXPECT_NE(make_message_id("abc", "p.s", "example.com"), make_message_id("abd", "p.s", "example.com"));
  // Characters a msg-id may not hold (here ':' and '>') are written as =XX.
  EXPECT_EQ(make_message_id("actions:42:1>", "", "example.com"), "<actions=3A42=3A1=3E@example.com>");
}

TEST(SmtpMessage, LineBreaksInHeaderValuesNeverStartAHeader) {
  MessageSpec spec = basic();
  spec.subject = "Fix parser\r\nBcc: attacker@example.com\r\n\r\nbody injected";
  spec.headers = {{"X-Commit", "first line\nSubject: forged\r  indented"}, {"X-Bare-Cr", "a\rTo: x@evil.example"}};
  const std::string message = build_message(spec);
  expect_wire_clean(message);
  const Parsed p = parse(message);
  EXPECT_EQ(p.count("Bcc"), 0u);
  EXPECT_EQ(p.count("Subject"), 1u);
  EXPECT_EQ(p.count("To"), 1u);
  EXPECT_EQ(p.get("Subject"), "Fix parser Bcc: attacker@example.com body injected");
  EXPECT_EQ(p.get("X-Commit"), "first line Subject: forged indented");
  EXPECT_EQ(p.get("X-Bare-Cr"), "a To: x@evil.example");
  EXPECT_EQ(p.body, "The build failed.\r\n") << "nothing moved into the body";
  EXPECT_EQ(message.find("\r\nBcc:"), std::string::npos);
}

TEST(SmtpMessage, LongSubjectsAreFoldedAtSpaces) {
  MessageSpec spec = basic();
  std::string subject;
  for (int i = 0; i < 30; ++i) subject += "word" + std::to_string(i) + " ";
  subject += "end";
  spec.subject = subject;
  const std::string message = build_message(spec);
  expect_wire_clean(message);
  const auto start = message.find("Subject:");
  const auto end = message.find("\r\nMessage-ID:");
  const std::string folded = message.substr(start, end - start);
  EXPECT_NE(folded.find("\r\n "), std::string::npos) << "folded";
  std::istringstream lines(folded);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 79u) << line;
  EXPECT_EQ(parse(message).get("Subject"), subject) << "unfolding gives the subject back";
}

TEST(SmtpMessage, NonAsciiSubjectsAndNamesAreEncodedWords) {
  MessageSpec spec = basic();
  spec.subject = "Échec du build ✗ sur main — 日本語のテキストも少し長めに書いておきます";
  spec.from = *parse_address("Jörg Müller <ci@example.com>");
  spec.to = {*parse_address(R"("Doe, Jane" <jane@example.com>)"), *parse_address("ops team <ops@example.com>")};
  const std::string message = build_message(spec);
  expect_wire_clean(message);
  const Parsed p = parse(message);
  EXPECT_TRUE(p.get("Subject").starts_with("=?UTF-8?B?")) << p.get("Subject");
  EXPECT_EQ(decode_words(p.get("Subject")), spec.subject);
  EXPECT_EQ(decode_words(p.get("From")), "Jörg Müller <ci@example.com>");
  EXPECT_EQ(p.get("To"), R"("Doe, Jane" <jane@example.com>, ops team <ops@example.com>)");
  // Every encoded-word is at most 75 characters (RFC 2047 2).
  for (auto at = message.find("=?UTF-8?B?"); at != std::string::npos; at = message.find("=?UTF-8?B?", at + 1)) {
    EXPECT_LE(message.find("?=", at + 10) + 2 - at, 75u);
  }
}

TEST(SmtpMessage, TextThatLooksEncodedOrCannotFoldIsEncoded) {
  EXPECT_EQ(decode_words(parse(unstructured_header("Subject", "=?UTF-8?B?Zm9v?= literally") + "\r\n").get("Subject")),
            "=?UTF-8?B?Zm9v?= literally");
  const std::string word(2000, 'x');
  const std::string header = unstructured_header("Subject", word);
  expect_wire_clean(header);
  EXPECT_EQ(decode_words(parse(header + "\r\n").get("Subject")), word);
}

TEST(SmtpMessage, BodyLineEndsAreNormalisedToCrlf) {
  EXPECT_EQ(normalize_newlines("a\nb\rc\r\nd\n\re"), "a\r\nb\r\nc\r\nd\r\n\r\ne");
  MessageSpec spec = basic();
  spec.text = "one\ntwo\rthree\r\n.four\n..five\n.\nlast";
  const std::string message = build_message(spec);
  expect_wire_clean(message);
  // Lines starting with '.' are left for the transport's dot-stuffing (RFC 5321 4.5.2).
  EXPECT_EQ(parse(message).body, "one\r\ntwo\r\nthree\r\n.four\r\n..five\r\n.\r\nlast\r\n");
}

TEST(SmtpMessage, EncodingFollowsTheText) {
  EXPECT_EQ(choose_encoding("plain ASCII\r\n"), TransferEncoding::seven_bit);
  EXPECT_EQ(choose_encoding("Grüße aus Köln, the build is green\r\n"), TransferEncoding::quoted_printable);
  EXPECT_EQ(choose_encoding("日本語のテキスト\r\n"), TransferEncoding::base64);
  EXPECT_EQ(choose_encoding(std::string(1200, 'a') + "\r\n"), TransferEncoding::quoted_printable) << "a line over 998";
}

TEST(SmtpMessage, QuotedPrintableRoundTripsAndKeepsLinesShort) {
  const std::string text = "Grüße = café\t \r\n" + std::string(200, 'x') + "é\r\ntrailing space \r\n";
  const std::string qp = quoted_printable(text);
  EXPECT_EQ(qp_decode(qp), text);
  std::size_t start = 0;
  while (start < qp.size()) {
    const auto end = qp.find("\r\n", start);
    EXPECT_LE(end - start, 76u);
    const std::string line = qp.substr(start, end - start);
    EXPECT_FALSE(line.ends_with(" ") || line.ends_with("\t")) << "trailing whitespace is encoded: " << line;
    start = end + 2;
  }
  EXPECT_NE(qp.find("=C3=BC"), std::string::npos);
  EXPECT_NE(qp.find("=3D"), std::string::npos);
}

TEST(SmtpMessage, Base64BodiesRoundTrip) {
  MessageSpec spec = basic();
  spec.text = "日本語のテキスト\nです";
  const std::string message = build_message(spec);
  expect_wire_clean(message);
  const Parsed p = parse(message);
  EXPECT_EQ(p.get("Content-Transfer-Encoding"), "base64");
  EXPECT_EQ(base64_decode(p.body), "日本語のテキスト\r\nです\r\n");
}

TEST(SmtpMessage, TextAndHtmlMakeMultipartAlternative) {
  MessageSpec spec = basic();
  spec.html = "<p>The build <b>failed</b>: café</p>";
  spec.has_html = true;
  const std::string message = build_message(spec);
  expect_wire_clean(message);
  const Parsed p = parse(message);
  const std::string type = p.get("Content-Type");
  ASSERT_TRUE(type.starts_with("multipart/alternative; boundary=\"")) << type;
  const std::string boundary = type.substr(type.find('"') + 1, type.rfind('"') - type.find('"') - 1);
  const auto first = p.body.find("--" + boundary + "\r\n");
  const auto second = p.body.find("--" + boundary + "\r\n", first + 1);
  const auto last = p.body.find("--" + boundary + "--\r\n");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  ASSERT_NE(last, std::string::npos);
  const std::string text_part = p.body.substr(first, second - first);
  const std::string html_part = p.body.substr(second, last - second);
  EXPECT_NE(text_part.find("Content-Type: text/plain; charset=utf-8"), std::string::npos);
  EXPECT_NE(html_part.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
  EXPECT_NE(html_part.find("quoted-printable"), std::string::npos);
  EXPECT_NE(qp_decode(html_part.substr(html_part.find("\r\n\r\n") + 4)).find("<p>The build <b>failed</b>: café</p>"),
            std::string::npos);
}

TEST(SmtpMessage, HtmlAloneIsTextHtml) {
  MessageSpec spec = basic();
  spec.has_text = false;
  spec.has_html = true;
  spec.html = "<p>hi</p>";
  EXPECT_EQ(parse(build_message(spec)).get("Content-Type"), "text/html; charset=utf-8");
}

TEST(SmtpMessage, ReservedAndInvalidHeaderNames) {
  for (const char* name : {"Bcc", "subject", "Content-Disposition", "MESSAGE-ID", "Date"}) {
    EXPECT_TRUE(is_reserved_header(name)) << name;
  }
  EXPECT_FALSE(is_reserved_header("X-Run-Id"));
  EXPECT_TRUE(valid_header_name("X-Run-Id"));
  EXPECT_FALSE(valid_header_name("X Run"));
  EXPECT_FALSE(valid_header_name("X:Run"));
  EXPECT_FALSE(valid_header_name("X-Run\r\nBcc"));
  EXPECT_FALSE(valid_header_name(""));
}

TEST(SmtpMessage, AutoSubmittedCanBeOverridden) {
  MessageSpec spec = basic();
  spec.headers = {{"Auto-Submitted", "auto-replied"}};
  const Parsed p = parse(build_message(spec));
  EXPECT_EQ(p.count("Auto-Submitted"), 1u);
  EXPECT_EQ(p.get("Auto-Submitted"), "auto-replied");
}

TEST(SmtpMessage, AVeryLongDisplayNameIsFoldedNotOneLinePastTheLimit) {
  std::string name;
  while (name.size() < 2000) name += "Committer With A Long Name ";
  name.pop_back();
  auto address = parse_address(name + " <dev@example.com>");
  ASSERT_TRUE(address) << address.error().message;
  const std::string header = address_header("To", {*address});
  expect_wire_clean(header);
  std::istringstream lines(header);
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) EXPECT_LE(line.size(), 100u) << line;
  EXPECT_GT(count, 20u);
  EXPECT_NE(parse(header + "\r\n").get("To").find("<dev@example.com>"), std::string::npos);
}

TEST(SmtpMessage, ManyRecipientsFoldBetweenAddresses) {
  std::vector<Address> to;
  for (int i = 0; i < 20; ++i) to.push_back(*parse_address("Person " + std::to_string(i) + " <p" + std::to_string(i) + "@example.com>"));
  const std::string header = address_header("To", to);
  expect_wire_clean(header);
  std::istringstream lines(header);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 79u) << line;
  EXPECT_NE(parse(header + "\r\n").get("To").find("Person 19 <p19@example.com>"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::smtp
