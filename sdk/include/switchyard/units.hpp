#pragma once
// Parsing of the human-friendly scalar forms used in configuration: durations ("1h30m",
// "250ms") and sizes ("25MiB", "64KB").

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace switchyard {

/// The longest duration a configuration may give: 100 years. The clocks count nanoseconds in
/// 64 bits (292 years, and system_clock only to 2262), so a longer one would overflow when
/// added to now: a dedup window of 100000d made its entries expire in the past.
inline constexpr std::chrono::milliseconds kMaxDuration{std::int64_t{36'525} * 86'400'000};

namespace detail {
/// parse_duration() in milliseconds, without its upper bound.
inline std::optional<double> duration_ms(std::string_view text) {
  if (text == "0") return 0.0;
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    double whole = 0;
    bool digits = false;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      whole = whole * 10 + (text[i] - '0');
      ++i;
      digits = true;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        whole += (text[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits || i == start) return std::nullopt;
    double unit_ms = 0;
    if (text.substr(i, 2) == "ms") { unit_ms = 1; i += 2; }
    else if (text.substr(i, 1) == "s") { unit_ms = 1000; i += 1; }
    else if (text.substr(i, 1) == "m") { unit_ms = 60'000; i += 1; }
    else if (text.substr(i, 1) == "h") { unit_ms = 3'600'000; i += 1; }
    else if (text.substr(i, 1) == "d") { unit_ms = 86'400'000; i += 1; }
    else return std::nullopt;
    total_ms += whole * unit_ms;
  }
  return total_ms;
}
}  // namespace detail

/// Parses "500ms", "10s", "1.5s", "5m", "24h", "7d", "1h30m" or "0". Returns nullopt when
/// malformed or longer than kMaxDuration.
inline std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto ms = detail::duration_ms(text);
  if (!ms || *ms > static_cast<double>(kMaxDuration.count())) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(*ms + 0.5));
}

/// Parses "1024", "512B", "64KB"/"64kB" (10^3), "25MiB" (2^20), "1GB", "2GiB". Nullopt when malformed.
inline std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = text.substr(i);
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KB" || unit == "kB" || unit == "K" || unit == "k") mult = 1000ULL;
  else if (unit == "MB" || unit == "M") mult = 1000ULL * 1000;
  else if (unit == "GB" || unit == "G") mult = 1000ULL * 1000 * 1000;
  else if (unit == "KiB" || unit == "Ki") mult = 1ULL << 10;
  else if (unit == "MiB" || unit == "Mi") mult = 1ULL << 20;
  else if (unit == "GiB" || unit == "Gi") mult = 1ULL << 30;
  else return std::nullopt;
  if (value > UINT64_MAX / mult) return std::nullopt;
  return value * mult;
}

}  // namespace switchyard
