#pragma once
// Times from outside the engine (RFC 3339 strings in payloads and messages, Unix seconds in
// headers) as system_clock time points, for plugins that read them.
//
// The clock holds only part of what those forms can say: libstdc++ counts nanoseconds in 64
// bits, from 1677-09-21 to 2262-04-11. A time beyond would overflow (undefined behaviour, in
// practice a wrap to a time anywhere else, now included) when converted, so these refuse it
// instead: a replay window compares the time it was given, a far-future one stays far off.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace switchyard {

/// The time `seconds` after the Unix epoch; nullopt when the clock cannot hold it (and any
/// fraction of a second after it).
inline std::optional<std::chrono::system_clock::time_point> time_from_unix_seconds(std::int64_t seconds) {
  using std::chrono::system_clock;
  constexpr std::int64_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(system_clock::duration::max()).count();
  if (seconds >= kLimit || seconds <= -kLimit) return std::nullopt;
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(std::chrono::seconds(seconds)));
}

/// Whether `seconds` after the Unix epoch is at most `max_age` (under a few centuries) from
/// `now`, either way: a signed request's timestamp inside its replay window. Compared without
/// building a time point from `seconds` or subtracting two far apart, either of which could
/// overflow and wrap a timestamp centuries off into the window.
inline bool unix_seconds_within(std::int64_t seconds, std::chrono::system_clock::time_point now,
                                std::chrono::milliseconds max_age) {
  using std::chrono::duration_cast;
  const std::int64_t now_s = duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t age_s = duration_cast<std::chrono::seconds>(max_age).count() + 1;
  if (seconds < now_s - age_s || seconds > now_s + age_s) return false;
  const auto sent = std::chrono::system_clock::time_point(std::chrono::seconds(seconds));  // near now: no overflow
  return (now > sent ? now - sent : sent - now) <= max_age;
}

namespace detail {
/// Exactly `text.size()` decimal digits.
inline bool rfc3339_digits(std::string_view text, int& out) {
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}
}  // namespace detail

/// An RFC 3339 date-time ("1985-04-12T23:20:50.52Z", "1996-12-19T16:39:57-08:00"): "T" or
/// "t" between date and time, a leap second (:60) as the next minute's first, a fraction
/// kept to nanoseconds (further digits are dropped), "Z", "z" or an offset. nullopt for
/// anything else, and for a time the clock cannot hold (time_from_unix_seconds()).
inline std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  using detail::rfc3339_digits;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!rfc3339_digits(s.substr(0, 4), year) || !rfc3339_digits(s.substr(5, 2), month) ||
      !rfc3339_digits(s.substr(8, 2), day) || !rfc3339_digits(s.substr(11, 2), hour) ||
      !rfc3339_digits(s.substr(14, 2), minute) || !rfc3339_digits(s.substr(17, 2), second)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::string_view rest = s.substr(19);
  std::int64_t nanos = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    for (; !rest.empty() && rest.front() >= '0' && rest.front() <= '9'; rest.remove_prefix(1)) {
      if (digits < 9) nanos = nanos * 10 + (rest.front() - '0'), ++digits;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  std::int64_t offset = 0;  // seconds east of UTC
  if (rest != "Z" && rest != "z") {
    int oh = 0, om = 0;
    if (rest.size() != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' ||
        !rfc3339_digits(rest.substr(1, 2), oh) || !rfc3339_digits(rest.substr(4, 2), om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (rest[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  }
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  const auto whole = time_from_unix_seconds(days * 86'400 + hour * 3'600 + minute * 60 + second - offset);
  if (!whole) return std::nullopt;
  return *whole + std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanos));
}

}  // namespace switchyard
