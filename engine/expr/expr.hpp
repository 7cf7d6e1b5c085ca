// Switchyard expressions: GitHub-Actions-style `${{ }}` expressions and
// templates evaluated over RapidJSON values.
//
// Semantics follow GitHub's "Evaluate expressions in workflows and actions"
// (loose equality with GitHub's coercion table, case-insensitive string
// comparison, short-circuit && / || returning operands, object filters).
// Where GitHub is silent or where Switchyard deliberately differs, the choice
// is documented in engine/expr/README.md.
//
// Lifetimes: a Value returned by Expression::evaluate may borrow strings and
// JSON nodes from the Scope's documents and from the Expression's literals.
// Keep both alive while you use the Value (or convert it with to_string /
// to_json). Compiled Expressions and Templates are immutable and can be
// shared between threads; evaluation is const and never throws.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::expr {

struct ParseError {
  std::size_t offset = 0;  // byte offset inside the text that was parsed
                           // (for a template: inside the template string)
  std::string message;     // one line, e.g. "unknown function 'foo'"
  std::string path;        // JSON-tree template: path of the offending string,
                           // e.g. "embeds[0].title"; empty otherwise
};

// Where names resolve. All pointers borrowed, may be null (then the context
// is null).
struct Scope {
  const rapidjson::Value* event = nullptr;  // envelope: id, source, type, subject, time, data, ...
  const rapidjson::Value* payload = nullptr;
  const rapidjson::Value* meta = nullptr;
  const rapidjson::Value* env = nullptr;
};

namespace detail {
struct NodeList;         // result of an object filter (a.*.b)
struct Program;          // compiled expression
struct TemplateProgram;  // compiled template
struct Access;           // internal accessor for Value's representation
}  // namespace detail

// Result of an evaluation. Null, bool, number (double), string (borrowed or
// owned), object or array (borrowed JSON node, owned JSON document, or the
// list produced by an object filter). Scalars read from JSON are unwrapped
// into Null/Bool/Number/String, so kind() never reports a JSON scalar as
// Object/Array. Copying is cheap (owned JSON is reference counted).
class Value {
 public:
  enum class Kind : std::uint8_t { Null, Bool, Number, String, Object, Array };

  Value() noexcept = default;  // null

  static Value make_null() noexcept { return Value(); }
  static Value make_bool(bool b) noexcept;
  static Value make_number(double d) noexcept;
  // Borrowed: the caller keeps the characters alive.
  static Value make_string_ref(std::string_view s) noexcept;
  static Value make_string(std::string s);
  // Borrowed JSON node; scalars are unwrapped (a JSON string becomes a
  // borrowed String, etc.).
  static Value make_json_ref(const rapidjson::Value& node) noexcept;
  // Owned JSON document (kept alive by the returned Value and its copies).
  static Value make_json(std::shared_ptr<const rapidjson::Document> doc);

  Kind kind() const noexcept;
  bool is_null() const noexcept { return kind() == Kind::Null; }
  bool is_bool() const noexcept { return kind() == Kind::Bool; }
  bool is_number() const noexcept { return kind() == Kind::Number; }
  bool is_string() const noexcept { return kind() == Kind::String; }
  bool is_object() const noexcept { return kind() == Kind::Object; }
  bool is_array() const noexcept { return kind() == Kind::Array; }
  bool is_primitive() const noexcept;  // null, bool, number or string

  // Raw accessors; return false / 0 / "" when the kind does not match.
  bool bool_value() const noexcept;
  double number_value() const noexcept;
  std::string_view string_value() const noexcept;
  // The JSON node behind an Object/Array, or nullptr (e.g. filter results).
  const rapidjson::Value* json_node() const noexcept;

  // Arrays: element count; objects: member count; otherwise 0.
  std::size_t size() const noexcept;
  // Array element i (null when out of range or not an array).
  Value at(std::size_t i) const;
  // Object member (exact name first, then ASCII case-insensitive); null when
  // missing or not an object.
  Value get(std::string_view key) const;

  // GitHub truthiness: null, false, 0, NaN and '' are falsy; everything else
  // (including empty objects/arrays) is truthy.
  bool as_bool() const noexcept;
  // GitHub number coercion: null 0, bool 1/0, string parsed ('' is 0,
  // unparsable is NaN), objects/arrays NaN.
  double as_number() const noexcept;
  // String conversion: null '', bool 'true'/'false', numbers as GitHub
  // formats them (G15), objects/arrays as compact JSON.
  std::string to_string() const;
  void append_string(std::string& out) const;  // appends to_string()
  // JSON text of the value (toJSON uses pretty = true, 2-space indent).
  std::string to_json_string(bool pretty = false) const;
  // Deep copy into a RapidJSON value (NaN/Infinity become null).
  void to_json(rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc) const;

  // GitHub `==` (loose equality with type coercion).
  bool loose_equals(const Value& other) const noexcept;

 private:
  friend struct detail::Access;
  struct Num {
    double d = 0;
    std::uint64_t bits = 0;    // exact integer from JSON when exact != 0
    std::uint8_t exact = 0;    // 0 none, 1 int64, 2 uint64
  };
  struct OwnedNode {
    std::shared_ptr<const rapidjson::Document> doc;
    const rapidjson::Value* node = nullptr;  // inside *doc; string/object/array
  };
  // omit(): null everywhere, except that a template leaves out the map member
  // or list item whose string yields it.
  struct Omit {};
  using Storage = std::variant<std::monostate,                            // null
                               bool,                                      // bool
                               Num,                                       // number
                               std::string_view,                          // borrowed string
                               std::string,                               // owned string
                               const rapidjson::Value*,                   // borrowed object/array
                               OwnedNode,                                 // owned JSON node
                               std::shared_ptr<const detail::NodeList>,   // filter result (array)
                               Omit>;                                     // omit() (a null)
  Storage v_;
};

class Expression {
 public:
  // `text` is the inside of ${{ }}.
  static Result<Expression, ParseError> parse(std::string_view text);

  // Never throws, never crashes, whatever the shape of the scope's JSON.
  // Errors at run time (e.g. fromJSON of bad JSON) evaluate to null.
  Value evaluate(const Scope& scope) const;
  bool evaluate_bool(const Scope& scope) const;  // GitHub truthiness
  // True if the expression references the `event` context.
  bool uses_event() const noexcept;
  // The text the expression was parsed from.
  std::string_view source() const noexcept;

 private:
  friend struct detail::Access;
  explicit Expression(std::shared_ptr<const detail::Program> p) noexcept;
  std::shared_ptr<const detail::Program> prog_;
};

// Where a template reads env.NAME (or env['NAME']): so the engine can check
// the name against the variables it lets expressions see.
struct EnvReference {
  std::string name;
  std::size_t offset = 0;  // of `env` inside the template string
  std::string path;        // JSON-tree template: path of the string; empty otherwise
};

class Template {
 public:
  // One string: no `${{` => constant; exactly one `${{ expr }}` (whitespace
  // around allowed) => typed value; text mixed with expressions => string.
  // Text that another template language would evaluate (`{{ payload.x }}`,
  // `$payload.x`, `${payload.x}`) is an error suggesting `${{ payload.x }}`.
  // In a JSON tree, a member or item whose string has an expression yielding
  // omit() is left out; elsewhere such a string renders as null ('' as text).
  static Result<Template, ParseError> compile(std::string_view text);
  // JSON tree: every string leaf is compiled as above; object keys and
  // non-string leaves are constants.
  static Result<Template, ParseError> compile(const rapidjson::Value& tree);

  bool is_constant() const noexcept;
  bool uses_event() const noexcept;
  // Every env.NAME / env['NAME'] its expressions read (dynamic env[...] is not listed).
  const std::vector<EnvReference>& env_references() const noexcept;

  // Typed result (single-expression strings keep their type; trees yield
  // trees). `out` is overwritten; strings are copied into `alloc`.
  void render(const Scope& scope, rapidjson::Value& out,
              rapidjson::Document::AllocatorType& alloc) const;
  // String result: strings as-is, other scalars as GitHub converts them,
  // objects/arrays (and trees) as compact JSON.
  std::string render_string(const Scope& scope) const;
  void render_string(const Scope& scope, std::string& out) const;  // appends

 private:
  friend struct detail::Access;
  explicit Template(std::shared_ptr<const detail::TemplateProgram> p) noexcept;
  std::shared_ptr<const detail::TemplateProgram> prog_;
};

}  // namespace switchyard::expr
