#pragma once
// Environment and file interpolation in configuration strings:
//   ${VAR}            the variable's value; an error when unset
//   ${VAR:-default}   the value, or `default` when unset or empty
//   ${VAR:?message}   the value; when unset or empty, an error that says `message`
//   ${VAR?message}    the value (empty allowed); when unset, an error that says `message`
//   ${file:/path}     the file's content, without one trailing newline
//   $${               a literal "${"
// `${{ ... }}` is an expression, not interpolation, and is left untouched.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::config {

/// Where the bytes of an interpolated value came from, so that a position in the value (an
/// expression's error) can be shown where it is in the file.
struct Interpolation {
  /// One substitution: `out_length` bytes at `out` in the value replaced `in_length` bytes at
  /// `in` in the text (`${VAR}`, `${file:...}`, `$${`). Between them bytes are copied as is.
  struct Piece {
    std::size_t out = 0, out_length = 0, in = 0, in_length = 0;
  };
  std::vector<Piece> pieces;
  /// On failure: the offset in the text of the reference that failed.
  std::size_t error_at = 0;

  /// The offset in the text of byte `offset` of the value (a substituted byte maps to the
  /// start of its reference).
  std::size_t text_offset(std::size_t offset) const;
};

/// Expands `text`. On failure returns false and sets `error` (never containing a value).
bool interpolate(std::string_view text, std::string& out, std::string& error);

/// Same, recording in `where` how the value maps back to the text.
bool interpolate(std::string_view text, std::string& out, std::string& error, Interpolation& where);

}  // namespace switchyard::config
