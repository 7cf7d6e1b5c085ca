#pragma once
// E-mail addresses as pipelines write them ("ops@example.com", "Build Bot <ci@example.com>",
// "\"Doe, Jane\" <jane@example.com>", lists of them separated by commas), parsed strictly:
// whatever could end a header line or smuggle a second address is refused, never repaired.
// RFC 5322 section 3.4 (mailbox, name-addr, addr-spec), RFC 5321 section 4.5.3.1 (lengths),
// RFC 6531/6532 (UTF-8 in addresses, which needs the server's SMTPUTF8).

#include <string>
#include <string_view>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::smtp {

/// One mailbox: an optional display name and the address itself.
struct Address {
  std::string display;  ///< Display name as text (unquoted, unescaped); may be UTF-8.
  std::string mailbox;  ///< local@domain, as written (a quoted local part keeps its quotes).

  /// Whether the mailbox holds non-ASCII characters (the server must offer SMTPUTF8).
  bool needs_smtputf8() const;
  /// The domain, lower-cased (for comparing addresses).
  std::string domain() const;
  bool operator==(const Address&) const = default;
};

/// At most this many recipients per message: RFC 5321 section 4.5.3.1.8 asks servers to
/// accept at least 100.
inline constexpr std::size_t kMaxRecipients = 100;

/// Parses one mailbox ("a@b.c", "Name <a@b.c>", "<a@b.c>"). A permanent error names what is
/// wrong; the text itself is quoted only up to 80 characters.
Result<Address> parse_address(std::string_view text);

/// Parses a comma-separated list of mailboxes (commas inside quotes belong to the name).
/// Empty items (a trailing comma) are skipped; an empty list is not an error.
Result<std::vector<Address>> parse_address_list(std::string_view text);

/// The same address as `a` for delivery: same local part, domain compared without case.
bool same_mailbox(const Address& a, const Address& b);

}  // namespace switchyard::smtp
