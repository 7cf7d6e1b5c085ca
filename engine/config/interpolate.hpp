#pragma once
// Environment and file interpolation in configuration strings:
//   ${VAR}            the variable's value; an error when unset
//   ${VAR:-default}   the value, or `default` when unset or empty
//   ${VAR:?message}   the value; when unset or empty, an error that says `message`
//   ${VAR?message}    the value (empty allowed); when unset, an error that says `message`
//   ${file:/path}     the regular file's content (at most 1 MiB), without one trailing newline
//   $${               a literal "${"
// `${{ ... }}` is an expression, not interpolation, and is left untouched.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::config {

/// What interpolation may read. The engine configuration reads any variable and file; a
/// pipeline file (restricted) only what the engine configuration's `env.allow` lists:
/// variable names, `file:PATH` for one file and `file:DIR/` for the files under a directory.
/// Variable name → value.
using Variables = std::map<std::string, std::string, std::less<>>;

struct InterpolationScope {
  bool restricted = false;
  std::vector<std::string> allow;
  /// Values that stand in for the environment's (a test file's `variables:`, `render
  /// --var`): a name found here is read from here, never from the environment. env.allow
  /// still applies to them, as it will when the pipeline runs.
  Variables values;
};

/// What an expansion read, so a caller can tell "not set" from "set to empty", and where the
/// bytes of the value came from, so a position in the value (an expression's error) can be
/// shown where it is in the file.
struct Expansion {
  /// The first reference that found a value (a variable present in the environment, even
  /// empty, or a file that was read), as written in the scope's terms: "${NAME}" or
  /// "${file:PATH}". Empty when no reference did (plain text, or only defaults used).
  std::string reference;
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

/// Expands `text`, or an invalid_config error that never contains a value.
Result<std::string> interpolate(std::string_view text, const InterpolationScope& scope = {},
                                Expansion* expansion = nullptr);

}  // namespace switchyard::config
