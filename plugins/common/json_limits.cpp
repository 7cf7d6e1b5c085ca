#include "common/json_limits.hpp"

#include <rapidjson/reader.h>

#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <optional>
#include <vector>

#ifdef SWITCHYARD_HAVE_SIMDJSON
#include <simdjson.h>
#endif

namespace switchyard::json_limits {
namespace {

// Bodies up to this size are parsed with per-thread scratch state kept between parses;
// a larger one gets its own, so one huge payload does not stay allocated.
constexpr std::size_t kReuseUpTo = 1 << 20;
// simdjson's scratch buffers take about 15 bytes per byte of text and are kept, so only
// bodies up to this size are read with it: a thread keeps at most ~3.7 MiB per plugin that
// parses payloads (less resident: most of it is never touched).
constexpr std::size_t kSimdjsonUpTo = 256 << 10;

// A UTF-8 byte order mark before the text is skipped, as RapidJSON's encoded streams do
// (some senders write one); returns its length.
std::size_t skip_bom(std::string_view& json) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (json.substr(0, kBom.size()) != kBom) return 0;
  json.remove_prefix(kBom.size());
  return kBom.size();
}

// Forwards SAX events to `Handler` (a document) and stops the parse when arrays and
// objects nest deeper than the limit. Recursion in the parser is bounded by the same limit.
template <class Handler>
class DepthLimited {
 public:
  using Ch = char;
  DepthLimited(Handler& handler, int max_depth) : handler_(handler), max_(max_depth) {}

  bool Null() { return handler_.Null(); }
  bool Bool(bool b) { return handler_.Bool(b); }
  bool Int(int i) { return handler_.Int(i); }
  bool Uint(unsigned u) { return handler_.Uint(u); }
  bool Int64(std::int64_t i) { return handler_.Int64(i); }
  bool Uint64(std::uint64_t u) { return handler_.Uint64(u); }
  // RapidJSON's fast reading turns a literal beyond the double range (9.9e308) into
  // infinity, which JSON cannot hold and no writer can serialise: refused as invalid.
  bool Double(double d) { return std::isfinite(d) && handler_.Double(d); }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) { return handler_.RawNumber(s, n, copy); }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) { return handler_.String(s, n, copy); }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) { return handler_.Key(s, n, copy); }
  bool StartObject() { return enter() && handler_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) { --depth_; return handler_.EndObject(members); }
  bool StartArray() { return enter() && handler_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { --depth_; return handler_.EndArray(elements); }

  bool exceeded() const { return exceeded_; }

 private:
  bool enter() {
    if (++depth_ <= max_) return true;
    exceeded_ = true;
    return false;
  }

  Handler& handler_;
  const int max_;
  int depth_ = 0;
  bool exceeded_ = false;
};

#ifdef SWITCHYARD_HAVE_SIMDJSON
// Replays a simdjson document as SAX events into `handler` (a RapidJSON document), which
// builds its values exactly as when its own reader calls it. Recursion is bounded by the
// depth simdjson already enforced.
template <class Handler>
bool replay(simdjson::dom::element element, Handler& handler) {
  using Type = simdjson::dom::element_type;
  switch (element.type()) {
    case Type::OBJECT: {
      simdjson::dom::object object;
      if (element.get(object) != simdjson::SUCCESS || !handler.StartObject()) return false;
      rapidjson::SizeType members = 0;
      for (const auto field : object) {
        if (!handler.Key(field.key.data(), static_cast<rapidjson::SizeType>(field.key.size()), true) ||
            !replay(field.value, handler)) {
          return false;
        }
        ++members;
      }
      return handler.EndObject(members);
    }
    case Type::ARRAY: {
      simdjson::dom::array array;
      if (element.get(array) != simdjson::SUCCESS || !handler.StartArray()) return false;
      rapidjson::SizeType elements = 0;
      for (const auto item : array) {
        if (!replay(item, handler)) return false;
        ++elements;
      }
      return handler.EndArray(elements);
    }
    case Type::STRING: {
      std::string_view s;
      return element.get(s) == simdjson::SUCCESS &&
             handler.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), true);
    }
    // RapidJSON's reader reports integers by the smallest kind that holds them; the
    // document stores them the same way whichever it is told, so int64/uint64 suffice.
    case Type::INT64: {
      std::int64_t i = 0;
      return element.get(i) == simdjson::SUCCESS && handler.Int64(i);
    }
    case Type::UINT64: {
      std::uint64_t u = 0;
      return element.get(u) == simdjson::SUCCESS && handler.Uint64(u);
    }
    case Type::DOUBLE: {
      double d = 0;
      return element.get(d) == simdjson::SUCCESS && handler.Double(d);
    }
    case Type::BOOL: {
      bool b = false;
      return element.get(b) == simdjson::SUCCESS && handler.Bool(b);
    }
    case Type::NULL_VALUE:
      return handler.Null();
  }
  return false;
}

// The thread's simdjson parser (its buffers are kept between parses), and how many texts it
// has read: PayloadFields without a tree read the root of the parse they were made from.
simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}
thread_local std::uint64_t t_parses = 0;
thread_local simdjson::dom::element t_root;

// True when simdjson read `json`; `root` is then its value, valid until the thread's next parse.
bool read_simdjson(std::string_view json, int max_depth, simdjson::dom::element& root) {
  auto& parser = thread_parser();
  const auto depth = static_cast<std::size_t>(max_depth);
  if (parser.max_depth() != depth &&
      parser.allocate(std::max(parser.capacity(), json.size()), depth) != simdjson::SUCCESS) {
    return false;
  }
  ++t_parses;
  // `true`: the text is copied into simdjson's padded buffer (it reads past the end).
  if (parser.parse(json.data(), json.size(), true).get(root) != simdjson::SUCCESS) return false;
  t_root = root;
  return true;
}

// True when simdjson read `json` and `doc` now holds it; false leaves `doc` alone.
bool parse_simdjson(rapidjson::Document& doc, std::string_view json, int max_depth) {
  simdjson::dom::element root;
  if (!read_simdjson(json, max_depth, root)) return false;
  bool built = false;
  auto generate = [&](rapidjson::Document& handler) { return built = replay(root, handler); };
  doc.Populate(generate);
  return built;
}
#endif

// Where `text` stops being UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), or npos.
std::size_t invalid_utf8(std::string_view text) {
#ifdef SWITCHYARD_HAVE_SIMDJSON
  if (simdjson::validate_utf8(text.data(), text.size())) return std::string_view::npos;
#endif
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;  // nothing past U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xbf) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::string_view key_of(const rapidjson::Value& name) { return {name.GetString(), name.GetStringLength()}; }

// The first of `n` names (in order) that an earlier one repeats, by index, if any: by
// comparing pairs for a few names, by hashing for more. A webhook payload has dozens of
// objects of 10 to 100 members, and this runs on every request: sorting each object's names
// took about as long as building the document.
template <class NameAt>
std::optional<std::size_t> repeated_index(std::size_t n, NameAt name_at) {
  if (n <= 8) {
    for (std::size_t a = 1; a < n; ++a) {
      for (std::size_t b = 0; b < a; ++b) {
        if (name_at(a) == name_at(b)) return a;
      }
    }
    return std::nullopt;
  }
  // Open addressing over name indices (+1; 0 is empty), at most half full, reused by the
  // thread. Names chosen to collide could make probing quadratic: past a bound on the probes
  // the names are sorted instead, which is n log n whatever they are.
  thread_local std::vector<std::uint32_t> slots;
  std::size_t size = 16;
  while (size < 2 * n) size *= 2;
  if (slots.size() < size) slots.resize(size);
  std::fill_n(slots.begin(), size, 0u);
  const std::size_t mask = size - 1;
  std::size_t probes = 0;
  const std::size_t max_probes = 8 * n;
  for (std::size_t a = 0; a < n; ++a) {
    const std::string_view key = name_at(a);
    for (std::size_t i = detail::key_hash(key) & mask;; i = (i + 1) & mask) {
      if (slots[i] == 0) {
        slots[i] = static_cast<std::uint32_t>(a + 1);
        break;
      }
      if (name_at(slots[i] - 1) == key) return a;
      if (++probes > max_probes) {
        std::vector<std::size_t> order(n);
        for (std::size_t k = 0; k < n; ++k) order[k] = k;
        std::stable_sort(order.begin(), order.end(), [&](auto x, auto y) { return name_at(x) < name_at(y); });
        // Of each run of equal names, the one after the first in order is a repeat; the
        // earliest such name is the one the hashing would have found.
        std::optional<std::size_t> found;
        for (std::size_t k = 1; k < order.size(); ++k) {
          if (name_at(order[k]) == name_at(order[k - 1]) && (!found || order[k] < *found)) found = order[k];
        }
        return found;
      }
    }
  }
  return std::nullopt;
}

// The first member of `object` whose name an earlier member has, if any.
const rapidjson::Value* repeated_name(const rapidjson::Value& object) {
  const auto first = object.MemberBegin();
  const auto at = repeated_index(object.MemberCount(), [&](std::size_t i) { return key_of(first[i].name); });
  return at ? &first[*at].name : nullptr;
}

// The first key some object of `value` names twice, if any (depth is bounded by the parse).
const rapidjson::Value* duplicate_key(const rapidjson::Value& value) {
  if (value.IsArray()) {
    for (const auto& item : value.GetArray()) {
      if (auto* d = duplicate_key(item)) return d;
    }
    return nullptr;
  }
  if (!value.IsObject()) return nullptr;
  if (const auto* repeated = repeated_name(value)) return repeated;
  for (const auto& m : value.GetObject()) {
    if (auto* d = duplicate_key(m.value)) return d;
  }
  return nullptr;
}

// Refuses a parsed document with a duplicate key, leaving `doc` as it was before.
ParseResult refuse_duplicates(rapidjson::Document& doc, rapidjson::Document& parsed) {
  if (const auto* key = duplicate_key(parsed)) {
    return JsonError{.outcome = Outcome::duplicate_key,
                     .offset = 0,
                     .key = std::string(key->GetString(), std::min<std::size_t>(key->GetStringLength(), 64))};
  }
  // Both live in doc's allocator: the value moves over (RapidJSON's assignment moves).
  static_cast<rapidjson::Value&>(doc) = static_cast<rapidjson::Value&>(parsed);
  return {};
}

#ifdef SWITCHYARD_HAVE_SIMDJSON
// Walks a simdjson value as duplicate_key() walks a tree (an object's own names, then its
// members' values, in order) and stops at the first repeated name or decimal number.
class Screen {
 public:
  // `names`: scratch space the thread keeps between checks (reached once: a thread_local
  // of a shared library costs a call each time it is named).
  explicit Screen(std::vector<std::string_view>& names) : names_(names) { names_.clear(); }

  std::optional<std::string_view> repeated;  // the first name an object repeats
  bool decimal = false;                       // a number RapidJSON could read as another double

  bool value(simdjson::dom::element element) {  // false: stopped
    using Type = simdjson::dom::element_type;
    switch (element.type()) {
      case Type::OBJECT: {
        const simdjson::dom::object object = element.get_object().value_unsafe();  // the type says it is one
        return members(object);
      }
      case Type::ARRAY: {
        const simdjson::dom::array items = element.get_array().value_unsafe();
        for (const auto item : items) {
          if (!value(item)) return false;
        }
        return true;
      }
      case Type::DOUBLE:
        decimal = true;
        return false;
      default:
        return true;
    }
  }

 private:
  bool members(simdjson::dom::object object) {
    const std::size_t base = names_.size();
    for (auto it = object.begin(); it != object.end(); ++it) names_.emplace_back(it.key_c_str(), it.key_length());
    const std::string_view* names = names_.data() + base;
    if (const auto at = repeated_index(names_.size() - base, [names](std::size_t i) { return names[i]; })) {
      repeated = names[*at];
      return false;
    }
    names_.resize(base);
    for (auto it = object.begin(); it != object.end(); ++it) {  // the values only: names are not read again
      if (!value(it.value())) return false;
    }
    return true;
  }

  std::vector<std::string_view>& names_;  // of the objects being visited, innermost last
};
#endif

}  // namespace

std::size_t first_invalid_utf8(std::string_view text) { return invalid_utf8(text); }

bool PayloadFields::is_object() const {
  if (tree_ != nullptr) return tree_->IsObject();
#ifdef SWITCHYARD_HAVE_SIMDJSON
  return parse_ == t_parses && t_root.is_object();
#else
  return false;
#endif
}

std::string PayloadFields::read(std::initializer_list<std::string_view> path, bool integers) const {
  if (tree_ != nullptr) {
    const rapidjson::Value* v = tree_;
    for (const std::string_view name : path) {
      if (!v->IsObject()) return {};
      const auto it = v->FindMember(rapidjson::StringRef(name.data(), name.size()));
      if (it == v->MemberEnd()) return {};
      v = &it->value;
    }
    if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    if (integers && v->IsInt64()) return std::to_string(v->GetInt64());
    if (integers && v->IsUint64()) return std::to_string(v->GetUint64());
    return {};
  }
#ifdef SWITCHYARD_HAVE_SIMDJSON
  if (parse_ != t_parses) return {};  // another parse since: these fields are gone
  simdjson::dom::element v = t_root;
  for (const std::string_view name : path) {
    if (!v.is_object() || v.get_object().at_key(name).get(v) != simdjson::SUCCESS) return {};
  }
  if (std::string_view s; v.get(s) == simdjson::SUCCESS) return std::string(s);
  if (std::int64_t i = 0; integers && v.is_int64() && v.get(i) == simdjson::SUCCESS) return std::to_string(i);
  if (std::uint64_t u = 0; integers && v.is_uint64() && v.get(u) == simdjson::SUCCESS) return std::to_string(u);
#endif
  return {};
}

Result<PayloadFields, JsonError> check(rapidjson::Document& doc, std::string_view json, Tree tree, int max_depth) {
#ifdef SWITCHYARD_HAVE_SIMDJSON
  std::string_view text = json;
  skip_bom(text);
  simdjson::dom::element root;
  if (tree == Tree::if_needed && !text.empty() && text.size() <= kSimdjsonUpTo && read_simdjson(text, max_depth, root)) {
    thread_local std::vector<std::string_view> names;
    Screen screen(names);
    screen.value(root);
    if (screen.repeated) {
      return JsonError{
          .outcome = Outcome::duplicate_key, .offset = 0, .key = std::string(screen.repeated->substr(0, 64))};
    }
    if (!screen.decimal) {
      PayloadFields fields;
      fields.parse_ = t_parses;
      return fields;
    }
  }
#endif
  if (auto parsed = parse(doc, json, max_depth); !parsed) return parsed.error();
  return PayloadFields(doc);
}

ParseResult parse(rapidjson::Document& doc, std::string_view json, int max_depth) {
#ifdef SWITCHYARD_HAVE_SIMDJSON
  std::string_view text = json;
  skip_bom(text);
  if (!text.empty() && text.size() <= kSimdjsonUpTo) {
    rapidjson::Document parsed(&doc.GetAllocator());
    if (parse_simdjson(parsed, text, max_depth)) return refuse_duplicates(doc, parsed);
  }
#endif
  return detail::parse_rapidjson(doc, json, max_depth);
}

namespace detail {

std::uint64_t key_hash(std::string_view key) {
  // The first and last 8 bytes (4, or 3 of them, for shorter names) and the length: most
  // names whole, in a few loads and multiplications.
  const auto* p = key.data();
  const std::size_t n = key.size();
  std::uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
  } else if (n >= 4) {
    std::uint32_t x = 0, y = 0;
    std::memcpy(&x, p, 4);
    std::memcpy(&y, p + n - 4, 4);
    a = x;
    b = y;
  } else if (n > 0) {
    a = static_cast<unsigned char>(p[0]) | static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
        static_cast<std::uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16;
  }
  std::uint64_t h = (a ^ n) * 0x9e3779b97f4a7c15ull ^ b * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 31;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 29);
}

ParseResult parse_rapidjson(rapidjson::Document& doc, std::string_view json, int max_depth) {
  assert(json.empty() || json.data()[json.size()] == '\0');
  const std::size_t bom = skip_bom(json);
  if (json.empty()) return JsonError{.outcome = Outcome::invalid, .offset = bom};
  // RapidJSON reads a NUL as the end of its input; JSON text never holds one. Without a NUL
  // inside, the one it stops at is the terminator, so the whole text was read.
  if (const auto nul = json.find('\0'); nul != std::string_view::npos) {
    return JsonError{.outcome = Outcome::invalid, .offset = bom + nul};
  }
  // Invalid UTF-8 is refused, as simdjson refuses it: a payload is stored and passed on as
  // it came, and a strict consumer downstream could not read it. Checked before parsing:
  // RapidJSON's own check reads up to three bytes past a truncated sequence at the end.
  if (const auto bad = invalid_utf8(json); bad != std::string_view::npos) {
    return JsonError{.outcome = Outcome::invalid, .offset = bom + bad};
  }
  thread_local rapidjson::Reader shared_reader;  // keeps its scratch stack between parses
  std::optional<rapidjson::Reader> own_reader;
  rapidjson::Reader& reader = json.size() <= kReuseUpTo ? shared_reader : own_reader.emplace();

  std::optional<JsonError> error;
  rapidjson::Document parsed(&doc.GetAllocator());
  auto generate = [&](rapidjson::Document& handler) {
    DepthLimited<rapidjson::Document> limited(handler, max_depth);
    rapidjson::StringStream stream(json.data());
    const rapidjson::ParseResult parsed = reader.Parse<rapidjson::kParseDefaultFlags>(stream, limited);
    if (parsed) return true;
    error = JsonError{.outcome = limited.exceeded() ? Outcome::too_deep : Outcome::invalid,
                      .offset = bom + parsed.Offset(), .key = {}};
    return false;
  };
  parsed.Populate(generate);
  if (error) return std::move(*error);
  return refuse_duplicates(doc, parsed);
}

}  // namespace detail
}  // namespace switchyard::json_limits
