#pragma once
// Environment and file interpolation in configuration strings:
//   ${VAR}            the variable's value; an error when unset
//   ${VAR:-default}   the value, or `default` when unset or empty
//   ${file:/path}     the regular file's content (at most 1 MiB), without one trailing newline
//   $${               a literal "${"
// `${{ ... }}` is an expression, not interpolation, and is left untouched.

#include <string>
#include <string_view>
#include <vector>

namespace switchyard::config {

/// What interpolation may read. The engine configuration reads any variable and file; a
/// pipeline file (restricted) only what the engine configuration's `env.allow` lists:
/// variable names, `file:PATH` for one file and `file:DIR/` for the files under a directory.
struct InterpolationScope {
  bool restricted = false;
  std::vector<std::string> allow;
};

/// What an expansion read, so a caller can tell "not set" from "set to empty".
struct Expansion {
  /// The first reference that found a value (a variable present in the environment, even
  /// empty, or a file that was read), as written in the scope's terms: "${NAME}" or
  /// "${file:PATH}". Empty when no reference did (plain text, or only defaults used).
  std::string reference;
};

/// Expands `text`. On failure returns false and sets `error` (never containing a value).
bool interpolate(std::string_view text, std::string& out, std::string& error,
                 const InterpolationScope& scope = {}, Expansion* expansion = nullptr);

}  // namespace switchyard::config
