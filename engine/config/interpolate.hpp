#pragma once
// Environment and file interpolation in configuration strings:
//   ${VAR}            the variable's value; an error when unset
//   ${VAR:-default}   the value, or `default` when unset or empty
//   ${file:/path}     the file's content, without one trailing newline
//   $${               a literal "${"
// `${{ ... }}` is an expression, not interpolation, and is left untouched.

#include <string>
#include <string_view>

namespace switchyard::config {

/// Expands `text`. On failure returns false and sets `error` (never containing a value).
bool interpolate(std::string_view text, std::string& out, std::string& error);

}  // namespace switchyard::config
