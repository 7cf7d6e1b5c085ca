#pragma once
// Building the message an smtp sink sends (RFC 5322 format, RFC 2045-2047 MIME): headers
// folded and, where they hold non-ASCII text, encoded as RFC 2047 encoded-words; bodies
// with CRLF line ends in 7bit, quoted-printable or base64, so the message is 7-bit clean
// and needs neither 8BITMIME nor a server's conversion. Values rendered from events are
// data: a CR or LF in a header value becomes a space, so it never starts a new header.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "address.hpp"

namespace switchyard::smtp {

/// What one message says, rendered from an event.
struct MessageSpec {
  Address from;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> reply_to;
  std::string subject;
  std::string text;  ///< text/plain part; used when has_text
  std::string html;  ///< text/html part; used when has_html
  bool has_text = false;
  bool has_html = false;
  std::vector<std::pair<std::string, std::string>> headers;  ///< Extra headers, in order.
  std::string message_id;  ///< With its angle brackets.
  std::chrono::system_clock::time_point date;
};

/// The message, headers and body, every line ending in CRLF and none longer than 998 octets.
std::string build_message(const MessageSpec& spec);

/// The header names build_message() writes itself, which `headers` may not set (lower case).
bool is_reserved_header(std::string_view name);
/// Whether `name` may be a header field name (printable ASCII without ':' or space).
bool valid_header_name(std::string_view name);

/// `<id.qualifier@domain>`: derived only from the event id (and the sink), so a redelivered
/// event keeps its Message-ID; characters a msg-id may not hold are written as =XX.
std::string make_message_id(std::string_view event_id, std::string_view qualifier, std::string_view domain);

/// RFC 5322 date-time in UTC: "Tue, 02 Jan 2024 15:04:05 +0000".
std::string format_date(std::chrono::system_clock::time_point time);

// The pieces, public for tests.

/// `text` with every CRLF, lone CR and lone LF written as CRLF.
std::string normalize_newlines(std::string_view text);
/// An unstructured header value as one line: CR, LF, and other control characters become a
/// space (a run of line breaks with the indentation after it becomes one space).
std::string header_text(std::string_view value);
/// "Name: value" CRLF, folded at spaces to about 78 columns; encoded-words (RFC 2047, UTF-8,
/// B encoding) when the value has non-ASCII text, a word too long to fold, or looks like an
/// encoded-word itself.
std::string unstructured_header(std::string_view name, std::string_view value);
/// "Name: addr, addr" CRLF with display names quoted or encoded, folded between addresses.
std::string address_header(std::string_view name, const std::vector<Address>& addresses);
/// RFC 2047 B encoded-words of `text` (whole UTF-8 characters each), separated by CRLF SP.
std::string encoded_words(std::string_view text);

enum class TransferEncoding { seven_bit, quoted_printable, base64 };
/// 7bit for ASCII with lines of at most 998 octets, else quoted-printable for mostly ASCII
/// text and base64 for the rest. `text` has CRLF line ends.
TransferEncoding choose_encoding(std::string_view text);
/// Quoted-printable (RFC 2045 6.7) of CRLF text: lines of at most 76 characters.
std::string quoted_printable(std::string_view text);
/// Base64 in lines of 76 characters, each ending in CRLF.
std::string base64_lines(std::string_view data);

}  // namespace switchyard::smtp
