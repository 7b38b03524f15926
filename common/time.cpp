#include "common/time.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cmath>
#include <cstdio>

// Calendar math uses C++20 <chrono> calendar types (present in GCC 12); only
// std::chrono::parse/format are missing there, so the text handling is written by hand.
namespace vermas {

using namespace std::chrono;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`.
bool read_digits(std::string_view s, size_t& pos, int n, int& out) {
  if (s.size() < pos + size_t(n)) return false;
  out = 0;
  for (int i = 0; i < n; ++i, ++pos) {
    if (!is_digit(s[pos])) return false;
    out = out * 10 + (s[pos] - '0');
  }
  return true;
}

bool read_char(std::string_view s, size_t& pos, std::string_view allowed) {
  if (pos >= s.size() || allowed.find(s[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

}  // namespace

std::string format_rfc3339_ms(SystemTime t) {
  const auto ms = floor<milliseconds>(t);  // floor: times before 1970 stay correct
  const auto midnight = floor<days>(ms);
  const year_month_day ymd{midnight};
  const hh_mm_ss hms{ms - midnight};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()), int(hms.hours().count()), int(hms.minutes().count()),
                int(hms.seconds().count()), int(hms.subseconds().count()));
  return buf;
}

std::string now_rfc3339_ms() { return format_rfc3339_ms(system_clock::now()); }

namespace {

// The clock counts nanoseconds in 64 bits (1677..2262): a time outside that range would wrap
// around in the cast (2999 became 1829), so it is clamped to the clock's ends instead.
SystemTime clamped(sys_seconds t, nanoseconds frac) {
  constexpr sys_seconds lo = ceil<seconds>(SystemTime::min()) + seconds(1);
  constexpr sys_seconds hi = floor<seconds>(SystemTime::max()) - seconds(1);
  if (t < lo) return SystemTime::min();
  if (t > hi) return SystemTime::max();
  return time_point_cast<SystemTime::duration>(t) + duration_cast<SystemTime::duration>(frac);
}

}  // namespace

std::optional<SystemTime> parse_rfc3339(std::string_view s) {
  size_t p = 0;
  int y = 0, mo = 0, d = 0;
  if (!read_digits(s, p, 4, y) || !read_char(s, p, "-") || !read_digits(s, p, 2, mo) || !read_char(s, p, "-") ||
      !read_digits(s, p, 2, d))
    return std::nullopt;
  const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok()) return std::nullopt;
  const sys_days date{ymd};
  if (p == s.size()) return clamped(date, nanoseconds(0));  // a date alone: midnight UTC

  int h = 0, mi = 0, sec = 0;
  if (!read_char(s, p, "Tt ") || !read_digits(s, p, 2, h) || !read_char(s, p, ":") || !read_digits(s, p, 2, mi) ||
      !read_char(s, p, ":") || !read_digits(s, p, 2, sec) || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  nanoseconds frac{0};
  if (read_char(s, p, ".")) {
    const size_t start = p;
    long long scale = 100'000'000;
    for (; p < s.size() && is_digit(s[p]); ++p, scale /= 10) frac += nanoseconds((s[p] - '0') * scale);
    if (p == start) return std::nullopt;
  }
  // An offset is required (RFC 3339): "Z" or "+hh:mm"/"-hh:mm".
  minutes offset{0};
  if (!read_char(s, p, "Zz")) {
    if (p >= s.size()) return std::nullopt;
    const int sign = s[p] == '+' ? 1 : s[p] == '-' ? -1 : 0;
    int oh = 0, om = 0;
    ++p;
    if (sign == 0 || !read_digits(s, p, 2, oh) || !read_char(s, p, ":") || !read_digits(s, p, 2, om) || oh > 23 ||
        om > 59)
      return std::nullopt;
    offset = minutes(sign * (oh * 60 + om));
  }
  if (p != s.size()) return std::nullopt;
  return clamped(date + hours(h) + minutes(mi) + seconds(sec) - offset, frac);
}

std::optional<duration<double>> parse_duration(std::string_view s) {
  // digits ['.' digits] [unit]: no sign, exponent, spaces, "inf" or "nan".
  size_t p = 0;
  while (p < s.size() && is_digit(s[p])) ++p;
  if (p == 0) return std::nullopt;
  if (p < s.size() && s[p] == '.') {
    const size_t start = ++p;
    while (p < s.size() && is_digit(s[p])) ++p;
    if (p == start) return std::nullopt;
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + p, value);
  if (ec != std::errc() || end != s.data() + p) return std::nullopt;  // e.g. out of range
  const std::string_view unit = s.substr(p);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else if (unit == "w") scale = 7 * 86400;
  else return std::nullopt;
  const double total = value * scale;
  if (!std::isfinite(total)) return std::nullopt;
  return duration<double>(total);
}

std::optional<SystemTime> parse_since(std::string_view text, SystemTime now) {
  if (auto t = parse_rfc3339(text)) return t;
  const auto ago = parse_duration(text);
  if (!ago) return std::nullopt;
  // Longer ago than 1970 clamps to the epoch: nothing is older, and the subtraction
  // cannot overflow the clock's range.
  if (*ago >= duration<double>(now.time_since_epoch())) return SystemTime{};
  return now - duration_cast<SystemTime::duration>(*ago);
}

std::string format_age(duration<double> d) {
  const double s = d.count();
  if (!(s > 0)) return "0s";  // negative (clock skew) or NaN
  char buf[48];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", std::floor(s));
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%.0fm", std::floor(s / 60));
  else if (s < 86400) std::snprintf(buf, sizeof buf, "%.0fh", std::floor(s / 3600));
  else if (s < 1e15) std::snprintf(buf, sizeof buf, "%.0fd", std::floor(s / 86400));
  else return "999999999d";  // absurd ages must not print hundreds of digits
  return buf;
}

std::chrono::milliseconds to_ms(double seconds) {
  constexpr double kYear = 365.0 * 24 * 3600;
  if (!(seconds > 0)) return std::chrono::milliseconds(0);  // also NaN
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(seconds, kYear) * 1000.0));
}

std::optional<TimeOfDay> parse_time_of_day(std::string_view s) {
  size_t p = 0;
  TimeOfDay t;
  if (!read_digits(s, p, 2, t.hour) || !read_char(s, p, ":") || !read_digits(s, p, 2, t.minute)) return std::nullopt;
  if (p < s.size() && (!read_char(s, p, ":") || !read_digits(s, p, 2, t.second))) return std::nullopt;
  if (p != s.size() || t.hour > 23 || t.minute > 59 || t.second > 59) return std::nullopt;
  return t;
}

SystemTime next_time_of_day(SystemTime from, TimeOfDay at) {
  const auto today = floor<days>(from);
  const auto offset = hours(at.hour) + minutes(at.minute) + seconds(at.second);
  SystemTime due = time_point_cast<SystemTime::duration>(today + offset);
  if (due < from) due += days(1);
  return due;
}

std::string utc_date(SystemTime t) { return format_rfc3339_ms(t).substr(0, 10); }

std::string utc_today() {
  thread_local std::int64_t cached_day = INT64_MIN;
  thread_local std::string cached;
  const auto now = system_clock::now();
  const std::int64_t day = floor<days>(now).time_since_epoch().count();
  if (day != cached_day) {
    cached = utc_date(now);
    cached_day = day;
  }
  return cached;
}

}  // namespace vermas
