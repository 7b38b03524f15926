#pragma once
// Time formats shared by client and daemon: RFC 3339 timestamps and human durations.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vermas {

using SystemTime = std::chrono::system_clock::time_point;

// 2026-11-22T03:47:40.123Z
std::string format_rfc3339_ms(SystemTime t);
std::string now_rfc3339_ms();
// Accepts "2026-11-22T03:47:40.123Z", "2026-11-22T03:47:40Z", "2026-11-22T03:47:40+02:00",
// "2026-11-22" (midnight UTC).
std::optional<SystemTime> parse_rfc3339(std::string_view text);
// "90s", "30m", "1h", "7d", "1.5h", "2w", plain "45" = seconds. Never negative.
std::optional<std::chrono::duration<double>> parse_duration(std::string_view text);
// A "since" value: an RFC 3339 time, or a duration meaning "that long ago".
std::optional<SystemTime> parse_since(std::string_view text, SystemTime now);
// A configured duration in seconds as a timer's milliseconds: negatives are 0 and absurd
// values are clamped to a year, so a hostile config cannot overflow a time_point.
std::chrono::milliseconds to_ms(double seconds);
// A time of day (UTC), as [reports] standup_at gives it: "HH:MM" or "HH:MM:SS", 24-hour.
struct TimeOfDay {
  int hour = 0, minute = 0, second = 0;
};
std::optional<TimeOfDay> parse_time_of_day(std::string_view text);
// The first moment at `at` (UTC) that is not before `from`: today's if still ahead (or now),
// else tomorrow's.
SystemTime next_time_of_day(SystemTime from, TimeOfDay at);
// `t`'s UTC date, "2026-11-22".
std::string utc_date(SystemTime t);
// Today's UTC date: formatted once a day (each thread caches it), so code that asks per agent
// and per request (the spend totals, the day's waivers) does not format a time each time.
std::string utc_today();

// Compact age for tables: "4s", "12m", "3h", "2d".
std::string format_age(std::chrono::duration<double> d);

}  // namespace vermas
