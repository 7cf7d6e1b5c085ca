// Internal declarations shared by the expr implementation files. Not part of
// the public API; do not include from outside engine/expr.
#pragma once

#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "expr/expr.hpp"

namespace switchyard::expr::detail {

using Doc = rapidjson::Document;
using Alloc = rapidjson::Document::AllocatorType;
using DocPtr = std::shared_ptr<const Doc>;

// Deeper JSON than this is cut (written/copied as null); deeper expressions
// and templates are parse errors. Bounds every recursion in this module.
inline constexpr int kMaxJsonDepth = 256;
inline constexpr int kMaxExprDepth = 100;
inline constexpr std::size_t kMaxRegexLength = 512;
inline constexpr std::size_t kMaxRegexCost = 10000;  // see regex_cost()
// States times subject bytes one matches() may step through (about 6 ns each here): a
// subject longer than this over the pattern's states is not searched, and does not match.
inline constexpr std::size_t kMaxRegexWork = 100'000'000;

// A matches() pattern, compiled, with the states it expands to.
struct CompiledRegex {
  std::regex re;
  std::size_t cost = 1;
};
inline constexpr std::size_t kMaxArgs = 255;

// The result of an object filter: JSON nodes that all live in the scope's
// documents (keep == nullptr) or inside `keep`.
struct NodeList {
  std::vector<const rapidjson::Value*> items;
  DocPtr keep;
};

// Internal view of Value's representation.
struct Access {
  static const Value::Storage& storage(const Value& v) { return v.v_; }
  static Value from_list(std::shared_ptr<const NodeList> l);
  static Value from_node(const rapidjson::Value& n, const DocPtr* keep);
  // The NodeList behind a filter result, or nullptr.
  static const NodeList* list(const Value& v);
  // The keep-alive document of an owned JSON value, or nullptr.
  static const DocPtr* keep(const Value& v);
  // A number that is exactly `i` (prints all its digits, stays an integer in JSON).
  static Value make_int(std::int64_t i) noexcept;
  // omit()'s value, and whether a value is it.
  static Value make_omit() noexcept;
  static bool is_omit(const Value& v) noexcept;
  // Exact integer (from JSON or arithmetic) behind a number, if any.
  static bool exact_int(const Value& v, std::int64_t& i);
  static bool exact_uint(const Value& v, std::uint64_t& u);  // only above int64 range
  // Identity of an object/array (node or list address), nullptr otherwise.
  static const void* identity(const Value& v);
  static Expression make_expression(std::shared_ptr<const Program> p) { return Expression(std::move(p)); }
  static const Program* program(const Expression& e) { return e.prog_.get(); }
  static Template make_template(std::shared_ptr<const TemplateProgram> p) { return Template(std::move(p)); }
};

// --- values.cpp ------------------------------------------------------------
// Unwraps a JSON node into a Value; `keep` (may be null) keeps it alive.
Value from_node(const rapidjson::Value& n, const DocPtr* keep);
// Member lookup: exact name, then ASCII case-insensitive. nullptr if missing.
const rapidjson::Value* find_member(const rapidjson::Value& obj, std::string_view key) noexcept;
// GitHub's string -> number (trims whitespace; '' -> 0; decimal, exponent,
// 0x hex, 0o octal, Infinity, -Infinity; anything else NaN). With
// `strict`, '' and surrounding whitespace are NaN (used by the lexer).
double parse_number(std::string_view s, bool strict = false) noexcept;
// Whether `s` (white space around it allowed) is a decimal integer that fits int64: "-42",
// "1234567890123456789"; not "1e3", "0x10", "1.0" or "".
bool integer_text(std::string_view s, std::int64_t& out) noexcept;
void append_number(std::string& out, double d);        // GitHub G15
void append_json_string(std::string& out, std::string_view s);  // quoted + escaped
void write_json(std::string& out, const rapidjson::Value& n, bool pretty, int indent = 0, int depth = 0);
void write_json(std::string& out, const Value& v, bool pretty, int indent = 0);
void copy_json(rapidjson::Value& out, const rapidjson::Value& in, Alloc& alloc, int depth = 0);
bool iequals(std::string_view a, std::string_view b) noexcept;
int icompare(std::string_view a, std::string_view b) noexcept;  // by ASCII upper case
bool loose_less(const Value& a, const Value& b) noexcept;
bool loose_greater(const Value& a, const Value& b) noexcept;
// A string view of v: v's own characters when it is a string, else its
// to_string() written into `buf`.
std::string_view view_of(const Value& v, std::string& buf);

// --- parser.cpp ------------------------------------------------------------
enum class Op : std::uint8_t {
  Literal, Context, Property, Index, Wildcard, Not, And, Or,
  Eq, Ne, Lt, Le, Gt, Ge, Call,
  Add, Sub, Mul, Div, Mod, Neg, Plus  // arithmetic (arithmetic.cpp); Plus is unary '+'
};
enum class Ctx : std::uint8_t { Event, Payload, Meta, Env };
enum class Fn : std::uint8_t {
  Contains, StartsWith, EndsWith, Format, Join, ToJson, FromJson,
  Truncate, Lower, Upper, Replace, Matches, Now, Coalesce, UrlEncode, Length,
  Floor, Ceil, Round, FromIso8601, ToIso8601, SecondsBetween, FormatTime,
  Substring, Split, Iif, Case, Omit, OmitNulls
};

struct Node {
  Op op = Op::Literal;
  Ctx ctx = Ctx::Event;
  Fn fn = Fn::Contains;
  std::uint32_t offset = 0;   // byte offset of the node's first token
  std::uint32_t depth = 1;    // height of the subtree (bounded by kMaxExprDepth)
  bool path = false;          // Context or Property chain on a Context: resolves
                              // to a raw JSON node without building Values
  std::string text;           // property name / string literal storage
  Value literal;              // Literal (strings borrow `text`)
  std::vector<std::unique_ptr<Node>> kids;
  std::unique_ptr<const CompiledRegex> re;  // matches() with a literal pattern
};

struct Program {
  std::string source;
  std::unique_ptr<Node> root;
  bool uses_event = false;
};

// --- functions.cpp -----------------------------------------------------------
struct FnInfo {
  std::string_view name;  // lower case, without underscores
  Fn fn;
  std::size_t min_args;
  std::size_t max_args;
};
// Case-insensitive, and underscores do not count: seconds_between, secondsBetween.
const FnInfo* lookup_function(std::string_view name) noexcept;
// Parse-time checks of a call with literal arguments (format string, regex).
// Returns an error message (and sets `offset` to the offending argument), or
// "" when fine; may fill node.re.
std::string check_call(Node& call, std::uint32_t& offset);
Value call_function(const Node& call, const Scope& scope);
// format() core: false when `fmt` is invalid or references a missing arg.
// With out == nullptr only validates (args may then be null).
bool apply_format(std::string_view fmt, const Value* args, std::size_t nargs, std::string* out,
                  std::string* error = nullptr);

// --- arithmetic.cpp ----------------------------------------------------------
// Whether `v` takes part in arithmetic: a number, a boolean, or a string that
// reads as a number (null, '', objects and arrays do not).
bool arithmetic_operand(const Value& v) noexcept;
Value arithmetic(Op op, const Value& a, const Value& b) noexcept;  // Add, Sub, Mul, Div, Mod
Value arithmetic_unary(Op op, const Value& a) noexcept;            // Neg, Plus
Value round_number(Fn fn, const Value& x, const Value* digits) noexcept;  // Floor, Ceil, Round

// --- time.cpp ----------------------------------------------------------------
Value time_function(const Node& call, const Scope& scope);  // FromIso8601 .. FormatTime
// format_time() layouts: an error naming the unknown directive, if `layout` has one.
Status check_time_layout(std::string_view layout);
// Whether a literal string reads as an ISO 8601 time.
bool is_time_literal(std::string_view text);

// --- text.cpp ----------------------------------------------------------------
Value substring(const Value& s, const Value& start, const Value* length);
Value split(const Value& s, const Value& separator);
Value omit_nulls(const Value& v);

// --- evaluator.cpp -----------------------------------------------------------
Value eval_node(const Node& n, const Scope& scope);
Value eval_program(const Program& p, const Scope& scope) noexcept;

}  // namespace switchyard::expr::detail
