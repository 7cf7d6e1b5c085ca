#pragma once
// YAML → JSON with source positions. Scalars are interpolated (${VAR}, ${VAR:-default},
// ${file:/path}) and then typed by the YAML 1.2 core schema when plain (unquoted).

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/interpolate.hpp"

namespace YAML {
class Node;
}

namespace switchyard::config {

/// A 1-based position in a file.
struct Mark {
  int line = 0;
  int column = 0;
};

/// Option path → position of its key (map members) or of the item (list items), and of
/// every scalar value, so that an error inside a value points at its character.
class SourceMap {
 public:
  void set(std::string path, Mark mark) { marks_[std::move(path)] = mark; }
  /// The position of `path`, else of its closest ancestor that has one.
  Mark find(std::string_view path) const;
  /// The file's text, which positions inside values are found in.
  void set_text(std::shared_ptr<const std::string> text);
  /// Records the scalar value of `path`: where its node starts (`mark`: its tag, anchor,
  /// quote or block indicator), its content as YAML read it (`raw`: kept only for values
  /// holding a '$' or a '{', where expressions and their mistakes are; else empty), and how
  /// interpolation turned that into the value.
  void set_value(std::string path, Mark mark, std::string raw, Expansion expansion);
  /// The position of byte `offset` of the value at `path`, followed back through
  /// interpolation, quotes, escapes, line folding and block scalars (`|`, `>-`, ...); else
  /// the position of the path itself.
  Mark find_in_value(std::string_view path, std::size_t offset) const;
  /// The scalar at `path` as written, before interpolation (empty unless it holds a '$' or
  /// a '{'); nullptr when there is none.
  const std::string* raw(std::string_view path) const;
  /// The position of byte `offset` of raw(path).
  Mark find_in_raw(std::string_view path, std::size_t offset) const;
  /// The position of byte `offset` of `raw`, the content of the scalar node at `mark`.
  Mark locate(Mark mark, std::string_view raw, std::size_t offset) const;

 private:
  struct Scalar {
    Mark mark;
    std::string raw;
    Expansion expansion;
  };
  std::size_t index_of(Mark mark) const;
  Mark mark_at(std::size_t index) const;

  std::map<std::string, Mark, std::less<>> marks_;
  std::map<std::string, Scalar, std::less<>> values_;
  std::shared_ptr<const std::string> text_;
  std::vector<std::size_t> line_starts_;
};

/// A parsed YAML file as JSON, with positions.
struct JsonFile {
  std::string file;
  rapidjson::Document json;
  SourceMap marks;
  /// A value that ${...} interpolation changed.
  struct Interpolated {
    /// The first reference that found a value ("${NAME}", "${file:PATH}"; empty when only
    /// defaults were used): what set a value that came out empty.
    std::string reference;
    /// The value as written, references unexpanded: what the admin API may show.
    std::string written;
  };
  /// Option path → its interpolation, for every value interpolation changed.
  std::map<std::string, Interpolated, std::less<>> interpolated;
  /// Paths whose ${...} could not be expanded: already reported, and null in `json`, so a
  /// check that then finds the option missing should stay quiet (one error, not two).
  std::set<std::string, std::less<>> unresolved;

  /// A diagnostic for `path` positioned at the path's mark.
  Diagnostic error(const std::string& path, std::string message) const;
};

/// Largest configuration file read by default (pipelines.max_file_size).
inline constexpr std::uint64_t kDefaultMaxFileBytes = 1 << 20;
/// A file's values may expand (aliases, interpolation) to this many times its size cap.
inline constexpr std::uint64_t kExpansionFactor = 16;

/// What a YAML file may cost and read. A file is refused before parsing when larger than
/// max_file_bytes, and its conversion stops (an error at the value that crossed it) once
/// its keys and values, aliases expanded and interpolated, pass max_expanded_bytes.
struct YamlLimits {
  std::uint64_t max_file_bytes = kDefaultMaxFileBytes;
  std::uint64_t max_expanded_bytes = kDefaultMaxFileBytes * kExpansionFactor;
  InterpolationScope interpolation;
  /// The configuration key that sets max_file_bytes, named in errors; empty: none.
  std::string size_key;

  /// The limits of a pipeline file capped at `max_file_bytes` (pipelines.max_file_size),
  /// reading within `interpolation`.
  static YamlLimits of(std::uint64_t max_file_bytes, InterpolationScope interpolation) {
    return YamlLimits{max_file_bytes, max_file_bytes * kExpansionFactor, std::move(interpolation),
                      "pipelines.max_file_size"};
  }
};

/// Reads and converts a YAML file. Appends diagnostics (syntax errors with their position,
/// duplicate keys, failed interpolations, limits); an error when the file could not be read
/// or parsed, or went past a limit. Other findings leave a document (null where a value was
/// wrong) so that later checks report theirs too.
Status load_yaml_file(const std::string& file, JsonFile& out, Diagnostics& diagnostics,
                      const YamlLimits& limits = {});

/// Same, from text already in memory (`file` names it in diagnostics).
Status load_yaml_text(const std::string& file, std::string_view text, JsonFile& out,
                      Diagnostics& diagnostics, const YamlLimits& limits = {});

}  // namespace switchyard::config
