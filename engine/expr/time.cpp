// Time functions: fromISO8601, toISO8601, seconds_between, format_time.
//
// A time is either an ISO 8601 / RFC 3339 string (what webhooks carry:
// `2024-05-01T10:00:00Z`, `2024-05-01T12:00:00+02:00`) or a number of
// seconds since 1970-01-01T00:00:00Z (what arithmetic works on). Everything is
// UTC; years 0000 to 9999. Anything else is null (at parse time, a literal that
// cannot be a time is an error).
#include <chrono>
#include <cmath>

#include "expr/internal.hpp"

namespace switchyard::expr::detail {

namespace {

using namespace std::chrono;

constexpr std::int64_t kMinSeconds = -62167219200;  // 0000-01-01T00:00:00Z
constexpr std::int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z

struct Instant {
  std::int64_t sec = 0;   // since the epoch, floored
  std::int32_t nsec = 0;  // [0, 1e9)
};

bool in_range(std::int64_t sec) noexcept { return sec >= kMinSeconds && sec <= kMaxSeconds; }

// Reads exactly `n` digits at s[i].
bool digits(std::string_view s, std::size_t& i, int n, int& out) noexcept {
  if (i + static_cast<std::size_t>(n) > s.size()) return false;
  out = 0;
  for (int k = 0; k < n; ++k, ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// YYYY-MM-DD, optionally followed by [T|t|space]HH:MM[:SS[.fraction]] and a
// zone (Z, z, +HH:MM, +HHMM, +HH). No zone means UTC.
bool parse_iso8601(std::string_view s, Instant& out) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  std::size_t i = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, i, 4, y) || i >= s.size() || s[i++] != '-' || !digits(s, i, 2, mo) || i >= s.size() ||
      s[i++] != '-' || !digits(s, i, 2, d)) {
    return false;
  }
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) return false;
  std::int64_t nsec = 0, offset = 0;
  if (i < s.size()) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
    ++i;
    if (!digits(s, i, 2, h) || i >= s.size() || s[i++] != ':' || !digits(s, i, 2, mi)) return false;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(s, i, 2, sec)) return false;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        std::size_t start = i;
        std::int64_t scale = 100000000;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
          nsec += (s[i] - '0') * scale;  // digits past nanoseconds are dropped
          scale /= 10;
        }
        if (i == start) return false;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return false;  // 60: a leap second, counted as the next one
    if (i < s.size()) {
      char z = s[i++];
      if (z == 'Z' || z == 'z') {
        if (i != s.size()) return false;
      } else if (z == '+' || z == '-') {
        int oh = 0, om = 0;
        if (!digits(s, i, 2, oh)) return false;
        if (i < s.size() && s[i] == ':') ++i;
        if (i < s.size() && !digits(s, i, 2, om)) return false;
        if (i != s.size() || oh > 23 || om > 59) return false;
        offset = (oh * 3600 + om * 60) * (z == '-' ? -1 : 1);
      } else {
        return false;
      }
    }
  }
  const std::int64_t days = sys_days{date}.time_since_epoch().count();
  out.sec = days * 86400 + h * 3600 + mi * 60 + sec - offset;
  out.nsec = static_cast<std::int32_t>(nsec);
  return in_range(out.sec);
}

bool from_seconds(double d, Instant& out) noexcept {
  if (!std::isfinite(d)) return false;
  double whole = std::floor(d);
  if (whole < static_cast<double>(kMinSeconds) || whole > static_cast<double>(kMaxSeconds)) return false;
  out.sec = static_cast<std::int64_t>(whole);
  // To the microsecond: a double near today's epoch holds about 0.2 us, so
  // 1714557600.123 reads as .123000 rather than .122999906.
  auto nsec = static_cast<std::int64_t>(std::llround((d - whole) * 1e6)) * 1000;
  if (nsec >= 1000000000) {
    ++out.sec;
    nsec -= 1000000000;
  }
  out.nsec = static_cast<std::int32_t>(nsec);
  return in_range(out.sec);
}

bool to_instant(const Value& v, Instant& out) {
  if (v.is_number()) {
    std::int64_t i;
    if (Access::exact_int(v, i)) {
      out = Instant{i, 0};
      return in_range(i);
    }
    return from_seconds(v.number_value(), out);
  }
  if (v.is_string()) return parse_iso8601(v.string_value(), out);
  return false;
}

Value seconds_value(std::int64_t sec, std::int32_t nsec) {
  if (nsec == 0) return Access::make_int(sec);
  return Value::make_number(static_cast<double>(sec) + nsec / 1e9);
}

struct Civil {
  int year, month, day, hour, minute, second, yday;
  unsigned weekday;  // 0 = Sunday
};

Civil civil(std::int64_t sec) {
  std::int64_t days = sec / 86400, rest = sec % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  const sys_days sd{std::chrono::days{days}};
  const year_month_day ymd{sd};
  const sys_days jan1{ymd.year() / January / 1};
  return Civil{static_cast<int>(ymd.year()),
               static_cast<int>(static_cast<unsigned>(ymd.month())),
               static_cast<int>(static_cast<unsigned>(ymd.day())),
               static_cast<int>(rest / 3600),
               static_cast<int>(rest / 60 % 60),
               static_cast<int>(rest % 60),
               static_cast<int>((sd - jan1).count()) + 1,
               weekday{sd}.c_encoding()};
}

void pad(std::string& out, std::int64_t v, int width, char fill = '0') {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width) out.append(static_cast<std::size_t>(width) - s.size(), fill);
  out += s;
}

constexpr const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};

// strftime-like, UTC, English names, no locale. With out == nullptr only
// validates the layout.
bool apply_layout(std::string_view layout, const Instant& t, std::string* out, std::string* error) {
  Civil c{};
  if (out) c = civil(t.sec);
  for (std::size_t i = 0; i < layout.size(); ++i) {
    if (layout[i] != '%') {
      if (out) *out += layout[i];
      continue;
    }
    if (++i >= layout.size()) {
      if (error) *error = "time layout ends with a lone '%' (write %% for a percent sign)";
      return false;
    }
    char d = layout[i];
    if (!out) {
      if (std::string_view("YymdejHIMSpaAbBuwFTRszZL%").find(d) == std::string_view::npos) {
        if (error) *error = std::string("unknown directive '%") + d + "' in time layout";
        return false;
      }
      continue;
    }
    std::string& o = *out;
    switch (d) {
      case 'Y': pad(o, c.year, 4); break;
      case 'y': pad(o, c.year % 100, 2); break;
      case 'm': pad(o, c.month, 2); break;
      case 'd': pad(o, c.day, 2); break;
      case 'e': pad(o, c.day, 2, ' '); break;
      case 'j': pad(o, c.yday, 3); break;
      case 'H': pad(o, c.hour, 2); break;
      case 'I': pad(o, c.hour % 12 == 0 ? 12 : c.hour % 12, 2); break;
      case 'M': pad(o, c.minute, 2); break;
      case 'S': pad(o, c.second, 2); break;
      case 'p': o += c.hour < 12 ? "AM" : "PM"; break;
      case 'a': o.append(kDays[c.weekday], 3); break;
      case 'A': o += kDays[c.weekday]; break;
      case 'b': o.append(kMonths[c.month - 1], 3); break;
      case 'B': o += kMonths[c.month - 1]; break;
      case 'u': pad(o, c.weekday == 0 ? 7 : c.weekday, 1); break;
      case 'w': pad(o, c.weekday, 1); break;
      case 'F': pad(o, c.year, 4), o += '-', pad(o, c.month, 2), o += '-', pad(o, c.day, 2); break;
      case 'T': pad(o, c.hour, 2), o += ':', pad(o, c.minute, 2), o += ':', pad(o, c.second, 2); break;
      case 'R': pad(o, c.hour, 2), o += ':', pad(o, c.minute, 2); break;
      case 's': o += std::to_string(t.sec); break;
      case 'z': o += "+0000"; break;
      case 'Z': o += "UTC"; break;
      case 'L': pad(o, t.nsec / 1000000, 3); break;
      case '%': o += '%'; break;
      default:
        if (error) *error = std::string("unknown directive '%") + d + "' in time layout";
        return false;
    }
  }
  return true;
}

std::string iso8601(const Instant& t) {
  std::string out;
  apply_layout("%FT%T", t, &out, nullptr);
  if (t.nsec >= 1000000) {  // milliseconds, when there are any
    out += '.';
    pad(out, t.nsec / 1000000, 3);
  }
  out += 'Z';
  return out;
}

}  // namespace

Status check_time_layout(std::string_view layout) {
  std::string error;
  if (!apply_layout(layout, Instant{}, nullptr, &error)) return invalid_config(std::move(error));
  return {};
}

bool is_time_literal(std::string_view text) {
  Instant t;
  return parse_iso8601(text, t);
}

Value time_function(const Node& call, const Scope& scope) {
  Instant a;
  Value first = eval_node(*call.kids[0], scope);
  if (!to_instant(first, a)) return Value();
  switch (call.fn) {
    case Fn::FromIso8601: return seconds_value(a.sec, a.nsec);
    case Fn::ToIso8601: return Value::make_string(iso8601(a));
    case Fn::SecondsBetween: {
      Instant b;
      if (!to_instant(eval_node(*call.kids[1], scope), b)) return Value();
      std::int64_t sec = b.sec - a.sec;
      std::int32_t nsec = b.nsec - a.nsec;
      if (nsec < 0) {
        nsec += 1000000000;
        --sec;
      }
      return seconds_value(sec, nsec);
    }
    default: {  // FormatTime
      std::string buf, out;
      Value layout = eval_node(*call.kids[1], scope);
      if (!apply_layout(view_of(layout, buf), a, &out, nullptr)) return Value();
      return Value::make_string(std::move(out));
    }
  }
}

}  // namespace switchyard::expr::detail
