// Built-in functions: GitHub's (contains, startsWith, endsWith, format, join,
// toJSON, fromJSON, case) and Switchyard's (truncate, lower, upper, replace,
// matches, now, coalesce, urlencode, length, floor, ceil, round, the time
// functions, substring, split, iif, omit, omit_nulls). Names are
// case-insensitive and ignore underscores.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

#include "expr/internal.hpp"

namespace switchyard::expr::detail {

namespace {

char lower_ascii(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr FnInfo kFunctions[] = {
    {"contains", Fn::Contains, 2, 2},    {"startswith", Fn::StartsWith, 2, 2},
    {"endswith", Fn::EndsWith, 2, 2},    {"format", Fn::Format, 1, kMaxArgs},
    {"join", Fn::Join, 1, 2},            {"tojson", Fn::ToJson, 1, 1},
    {"fromjson", Fn::FromJson, 1, 1},    {"truncate", Fn::Truncate, 2, 2},
    {"lower", Fn::Lower, 1, 1},          {"upper", Fn::Upper, 1, 1},
    {"replace", Fn::Replace, 3, 3},      {"matches", Fn::Matches, 2, 2},
    {"now", Fn::Now, 0, 0},              {"coalesce", Fn::Coalesce, 1, kMaxArgs},
    {"urlencode", Fn::UrlEncode, 1, 1},  {"length", Fn::Length, 1, 1},
    {"floor", Fn::Floor, 1, 1},          {"ceil", Fn::Ceil, 1, 1},
    {"round", Fn::Round, 1, 2},          {"fromiso8601", Fn::FromIso8601, 1, 1},
    {"toiso8601", Fn::ToIso8601, 1, 1},  {"secondsbetween", Fn::SecondsBetween, 2, 2},
    {"formattime", Fn::FormatTime, 2, 2}, {"substring", Fn::Substring, 2, 3},
    {"split", Fn::Split, 2, 2},          {"iif", Fn::Iif, 3, 3},
    {"case", Fn::Case, 3, kMaxArgs},     {"omit", Fn::Omit, 0, 0},
    {"omitnulls", Fn::OmitNulls, 1, 1},
};

// Function names compare ignoring ASCII case and underscores.
bool same_function_name(std::string_view table_name, std::string_view name) noexcept {
  std::size_t i = 0;
  for (char c : name) {
    if (c == '_') continue;
    if (i >= table_name.size() || lower_ascii(c) != table_name[i]) return false;
    ++i;
  }
  return i == table_name.size();
}

constexpr char kEllipsis[] = "\xE2\x80\xA6";  // U+2026 '…'

// Percent-encodes every byte but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~),
// so the result is safe as one path segment or one query value.
std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '.' ||
        b == '_' || b == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

char upper_char(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// Case-insensitive (ASCII) search in time linear in both lengths, whatever they hold: both
// upper-cased, then glibc's memmem (two-way). A position-by-position comparison costs
// haystack x needle, which two payload fields of a megabyte and a few kilobytes made seconds.
bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  if (needle.size() <= 8) {
    // Short needles (the usual case): the comparison is cheap at every position.
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
      if (iequals(hay.substr(i, needle.size()), needle)) return true;
    }
    return false;
  }
  std::string h(hay), n(needle);
  for (char& c : h) c = upper_char(c);
  for (char& c : n) c = upper_char(c);
  return ::memmem(h.data(), h.size(), n.data(), n.size()) != nullptr;
}

// libstdc++ accumulates `{n,m}` counts and `\N` escapes in a `long` without
// overflow checks; reject absurdly long digit runs there before compiling.
bool has_huge_count(std::string_view p) noexcept {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '{' && p[i] != '\\') continue;
    std::size_t run = 0;
    for (std::size_t j = i + 1; j < p.size(); ++j) {
      if (p[j] >= '0' && p[j] <= '9') {
        if (++run > 6) return true;
      } else if (p[i] == '{' && p[j] == ',') {
        run = 0;
      } else {
        break;
      }
    }
  }
  return false;
}

// Rough size of the NFA a pattern expands to: atoms count 1, groups the sum
// of their contents, and `{n,m}` multiplies the item before it. Bounds both
// compile time and the per-character cost of matching (Thompson NFA).
constexpr std::size_t kCap = std::size_t{1} << 40;  // saturation for regex_cost

std::size_t regex_cost(std::string_view p) noexcept {
  auto mul = [](std::size_t a, std::size_t b) { return (b != 0 && a > kCap / b) ? kCap : a * b; };
  struct Level {
    std::size_t total = 0, last = 0;
    void add(std::size_t n) {
      total = std::min(total + n, kCap);
      last = n;
    }
  };
  std::vector<Level> st(1);
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      ++i;
      st.back().add(1);
    } else if (c == '[') {  // character class: one state
      ++i;
      if (i < p.size() && p[i] == '^') ++i;
      if (i < p.size() && p[i] == ']') ++i;
      while (i < p.size() && p[i] != ']') i += p[i] == '\\' ? 2 : 1;
      st.back().add(1);
    } else if (c == '(') {
      st.emplace_back();
    } else if (c == ')' && st.size() > 1) {
      std::size_t group = std::min(st.back().total + 2, kCap);
      st.pop_back();
      st.back().add(group);
    } else if (c == '{') {
      std::size_t j = i + 1, n = 0, m = 0;
      bool digits = false;
      for (; j < p.size() && ((p[j] >= '0' && p[j] <= '9') || p[j] == ','); ++j) {
        if (p[j] == ',') continue;
        digits = true;
        std::size_t& v = (p.substr(i + 1, j - i).find(',') == std::string_view::npos) ? n : m;
        v = std::min<std::size_t>(v * 10 + static_cast<std::size_t>(p[j] - '0'), kCap);
      }
      if (digits && j < p.size() && p[j] == '}') {
        Level& l = st.back();
        std::size_t grown = mul(l.last, std::max(n, m) + 1);
        l.total = std::min(l.total - std::min(l.last, l.total) + grown, kCap);
        l.last = grown;
        i = j;
      } else {
        st.back().add(1);
      }
    } else {
      st.back().add(1);
    }
  }
  std::size_t total = 0;
  for (const Level& l : st) total = std::min(total + l.total, kCap);
  return total;
}

Result<std::unique_ptr<const CompiledRegex>> compile_regex(std::string_view pattern) {
  if (pattern.size() > kMaxRegexLength) {
    return invalid_config("regex too long (max " + std::to_string(kMaxRegexLength) + " bytes)");
  }
  if (has_huge_count(pattern)) return invalid_config("number too large in repetition count or escape");
  const std::size_t cost = regex_cost(pattern);
  if (cost > kMaxRegexCost) {
    return invalid_config("regex too complex (expands to more than " + std::to_string(kMaxRegexCost) + " states)");
  }
  auto flags = std::regex::ECMAScript;
#ifdef __GLIBCXX__
  // libstdc++: use the Thompson-NFA executor, whose stack use does not grow
  // with the subject's length (no back-references in this mode).
  flags |= std::regex_constants::__polynomial;
#endif
  try {
    // Validate the pattern as written, then compile it behind a lazy
    // any-prefix so a search is a single pass (see regex_matches): the
    // standard search retries at every position, O(n^2) on failing input.
    std::regex check(pattern.begin(), pattern.end(), flags);
    std::string wrapped = "[\\s\\S]*?(?:";
    wrapped.append(pattern);
    wrapped += ')';
    return std::make_unique<const CompiledRegex>(CompiledRegex{std::regex(wrapped, flags), std::max<std::size_t>(cost, 1)});
  } catch (const std::exception& e) {
    return invalid_config(e.what());
  }
}

bool regex_matches(const CompiledRegex& compiled, std::string_view s) noexcept {
  // The search is linear in the subject, but each byte may step through every state: a
  // large pattern over a large payload (25 MiB bodies are accepted) would take minutes.
  if (s.size() > kMaxRegexWork / compiled.cost) return false;
  try {
    return std::regex_search(s.begin(), s.end(), compiled.re, std::regex_constants::match_continuous);
  } catch (...) {  // error_complexity / error_stack / bad_alloc
    return false;
  }
}

Value arg(const Node& call, std::size_t i, const Scope& scope) { return eval_node(*call.kids[i], scope); }

// A value as a string Value: strings are passed through without copying.
Value stringify(Value v) {
  if (v.is_string()) return v;
  return Value::make_string(v.to_string());
}

Value truncate(const Value& sv, double limit) {
  std::string buf;
  std::string_view s = view_of(sv, buf);
  if (std::isnan(limit) || limit < 0) limit = 0;
  std::size_t n = limit >= static_cast<double>(s.size()) ? s.size() : static_cast<std::size_t>(limit);
  // Count code points (UTF-8 lead bytes); never cut inside a sequence.
  std::size_t points = 0;
  for (char c : s) points += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (points <= n) return stringify(sv);
  if (n == 0) return Value::make_string_ref("");
  std::size_t keep = n - 1, seen = 0, cut = 0;
  for (; cut < s.size(); ++cut) {
    if ((static_cast<unsigned char>(s[cut]) & 0xC0) != 0x80) {
      if (seen == keep) break;
      ++seen;
    }
  }
  std::string out(s.substr(0, cut));
  out += kEllipsis;
  return Value::make_string(std::move(out));
}

Value replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return Value::make_string(std::string(s));
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    std::size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return Value::make_string(std::move(out));
}

Value now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::size_t len = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return Value::make_string(std::string(buf, len));
}

Value from_json(const Value& text) {
  std::string buf;
  std::string_view s = view_of(text, buf);
  auto doc = std::make_shared<Doc>();
  doc->Parse<rapidjson::kParseIterativeFlag>(s.data(), s.size());
  if (doc->HasParseError()) return Value();  // documented: bad JSON -> null
  return Value::make_json(std::move(doc));
}

Value join(const Node& call, const Scope& scope) {
  Value items = arg(call, 0, scope);
  if (items.is_primitive()) return stringify(std::move(items));
  if (!items.is_array()) return Value::make_string_ref("");
  std::string sep_buf = ",";
  std::string_view sep = sep_buf;
  Value sep_val;
  if (call.kids.size() > 1) {
    sep_val = arg(call, 1, scope);
    if (sep_val.is_primitive()) sep = view_of(sep_val, sep_buf);
  }
  std::string out;
  for (std::size_t i = 0, n = items.size(); i < n; ++i) {
    if (i) out.append(sep);
    items.at(i).append_string(out);
  }
  return Value::make_string(std::move(out));
}

}  // namespace

const FnInfo* lookup_function(std::string_view name) noexcept {
  for (const FnInfo& f : kFunctions) {
    if (same_function_name(f.name, name)) return &f;
  }
  return nullptr;
}

bool apply_format(std::string_view fmt, const Value* args, std::size_t nargs, std::string* out, std::string* error) {
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return false;
  };
  std::size_t i = 0, run = 0;
  while (i < fmt.size()) {
    char c = fmt[i];
    if (c != '{' && c != '}') {
      ++i;
      continue;
    }
    if (out) out->append(fmt.substr(run, i - run));
    if (i + 1 < fmt.size() && fmt[i + 1] == c) {  // '{{' or '}}'
      if (out) *out += c;
      i += 2;
      run = i;
      continue;
    }
    if (c == '}') return fail("invalid format string: unmatched '}' at byte " + std::to_string(i));
    std::size_t j = i + 1, index = 0;
    while (j < fmt.size() && fmt[j] >= '0' && fmt[j] <= '9') {
      if (index < 1000000) index = index * 10 + static_cast<std::size_t>(fmt[j] - '0');
      ++j;
    }
    if (j == i + 1 || j >= fmt.size() || fmt[j] != '}') {
      return fail("invalid format string: expected '{N}' at byte " + std::to_string(i));
    }
    if (index >= nargs) {
      return fail("format string references argument {" + std::to_string(index) + "} but " +
                  std::to_string(nargs) + " argument(s) given");
    }
    if (out) args[index].append_string(*out);
    i = j + 1;
    run = i;
  }
  if (out) out->append(fmt.substr(run));
  return true;
}

std::string check_call(Node& call, std::uint32_t& offset) {
  auto literal_string = [&](std::size_t i) -> const Node* {
    const Node* k = call.kids[i].get();
    return (k->op == Op::Literal && k->literal.is_string()) ? k : nullptr;
  };
  if (call.fn == Fn::Format) {
    if (const Node* f = literal_string(0)) {
      std::string error;
      if (!apply_format(f->literal.string_value(), nullptr, call.kids.size() - 1, nullptr, &error)) {
        offset = f->offset;
        return error;
      }
    }
  } else if (call.fn == Fn::Case) {
    if (call.kids.size() % 2 == 0) {
      return "case() takes condition, value pairs and then a default value: an odd number of arguments, got " +
             std::to_string(call.kids.size());
    }
  } else if (call.fn == Fn::FormatTime || call.fn == Fn::FromIso8601 || call.fn == Fn::ToIso8601 ||
             call.fn == Fn::SecondsBetween) {
    std::size_t times = call.fn == Fn::SecondsBetween ? 2 : 1;
    for (std::size_t i = 0; i < times; ++i) {
      if (const Node* t = literal_string(i); t && !is_time_literal(t->literal.string_value())) {
        offset = t->offset;
        return "not an ISO 8601 time (e.g. '2024-05-01T10:00:00Z'): '" + std::string(t->literal.string_value()) +
               "'";
      }
    }
    if (call.fn == Fn::FormatTime) {
      if (const Node* l = literal_string(1)) {
        if (Status layout = check_time_layout(l->literal.string_value()); !layout) {
          offset = l->offset;
          return layout.error().message;
        }
      }
    }
  } else if (call.fn == Fn::Matches) {
    if (const Node* p = literal_string(1)) {
      auto re = compile_regex(p->literal.string_value());
      if (!re) {
        offset = p->offset;
        return "invalid regex: " + re.error().message;
      }
      call.re = std::move(*re);
    }
  }
  return {};
}

Value call_function(const Node& call, const Scope& scope) {
  std::string b1, b2;
  switch (call.fn) {
    case Fn::Contains: {
      Value hay = arg(call, 0, scope), item = arg(call, 1, scope);
      if (hay.is_primitive()) {
        return Value::make_bool(item.is_primitive() && icontains(view_of(hay, b1), view_of(item, b2)));
      }
      if (hay.is_array()) {
        for (std::size_t i = 0, n = hay.size(); i < n; ++i) {
          if (item.loose_equals(hay.at(i))) return Value::make_bool(true);
        }
      }
      return Value::make_bool(false);
    }
    case Fn::StartsWith:
    case Fn::EndsWith: {
      Value s = arg(call, 0, scope), affix = arg(call, 1, scope);
      if (!s.is_primitive() || !affix.is_primitive()) return Value::make_bool(false);
      std::string_view sv = view_of(s, b1), av = view_of(affix, b2);
      if (av.size() > sv.size()) return Value::make_bool(false);
      std::string_view part = call.fn == Fn::StartsWith ? sv.substr(0, av.size()) : sv.substr(sv.size() - av.size());
      return Value::make_bool(iequals(part, av));
    }
    case Fn::Format: {
      Value fmt = arg(call, 0, scope);
      std::vector<Value> args;
      args.reserve(call.kids.size() - 1);
      for (std::size_t i = 1; i < call.kids.size(); ++i) args.push_back(arg(call, i, scope));
      std::string out;
      if (!apply_format(view_of(fmt, b1), args.data(), args.size(), &out)) return Value();
      return Value::make_string(std::move(out));
    }
    case Fn::Join: return join(call, scope);
    case Fn::ToJson: return Value::make_string(arg(call, 0, scope).to_json_string(true));
    case Fn::FromJson: return from_json(arg(call, 0, scope));
    case Fn::Truncate: {
      Value s = arg(call, 0, scope);
      return truncate(s, arg(call, 1, scope).as_number());
    }
    case Fn::Lower:
    case Fn::Upper: {
      std::string s = arg(call, 0, scope).to_string();
      for (char& c : s) c = call.fn == Fn::Lower ? lower_ascii(c) : upper_char(c);
      return Value::make_string(std::move(s));
    }
    case Fn::Replace: {
      Value s = arg(call, 0, scope), from = arg(call, 1, scope), to = arg(call, 2, scope);
      std::string b3;
      return replace_all(view_of(s, b1), view_of(from, b2), view_of(to, b3));
    }
    case Fn::Matches: {
      Value s = arg(call, 0, scope);
      if (call.re) return Value::make_bool(regex_matches(*call.re, view_of(s, b1)));
      auto re = compile_regex(view_of(arg(call, 1, scope), b2));
      return Value::make_bool(re && regex_matches(**re, view_of(s, b1)));
    }
    case Fn::Now: return now_rfc3339();
    case Fn::UrlEncode: return Value::make_string(url_encode(arg(call, 0, scope).to_string()));
    case Fn::Length: {
      // Items of a list, members of an object, characters (not bytes) of anything else.
      Value v = arg(call, 0, scope);
      if (v.is_array() || v.is_object()) return Value::make_number(static_cast<double>(v.size()));
      std::size_t n = 0;
      for (char c : view_of(v, b1)) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      return Value::make_number(static_cast<double>(n));
    }
    case Fn::Coalesce:
      for (const auto& kid : call.kids) {
        Value v = eval_node(*kid, scope);
        if (!v.is_null() && !(v.is_string() && v.string_value().empty())) return v;
      }
      return Value();
    case Fn::Floor:
    case Fn::Ceil:
    case Fn::Round: {
      Value x = arg(call, 0, scope);
      if (call.kids.size() < 2) return round_number(call.fn, x, nullptr);
      Value digits = arg(call, 1, scope);
      return round_number(call.fn, x, &digits);
    }
    case Fn::FromIso8601:
    case Fn::ToIso8601:
    case Fn::SecondsBetween:
    case Fn::FormatTime: return time_function(call, scope);
    case Fn::Substring: {
      Value s = arg(call, 0, scope), start = arg(call, 1, scope);
      if (call.kids.size() < 3) return substring(s, start, nullptr);
      Value length = arg(call, 2, scope);
      return substring(s, start, &length);
    }
    case Fn::Split: return split(arg(call, 0, scope), arg(call, 1, scope));
    case Fn::Iif:  // only the chosen branch is evaluated
      return arg(call, arg(call, 0, scope).as_bool() ? 1 : 2, scope);
    case Fn::Case:
      for (std::size_t i = 0; i + 1 < call.kids.size(); i += 2) {
        if (arg(call, i, scope).as_bool()) return arg(call, i + 1, scope);
      }
      return arg(call, call.kids.size() - 1, scope);
    case Fn::Omit: return Access::make_omit();
    case Fn::OmitNulls: return omit_nulls(arg(call, 0, scope));
  }
  return Value();
}

}  // namespace switchyard::expr::detail
