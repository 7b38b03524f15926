#include "common/time.hpp"

#include "tests/catch.hpp"

using namespace vermas;
using namespace std::chrono;

namespace {

SystemTime at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  const sys_days day = year{y} / month{mo} / std::chrono::day{d};
  return time_point_cast<SystemTime::duration>(day + hours(h) + minutes(mi) + seconds(s) + milliseconds(ms));
}

double secs(std::string_view text) {
  auto d = parse_duration(text);
  REQUIRE(d.has_value());
  return d->count();
}

}  // namespace

TEST_CASE("format_rfc3339_ms") {
  CHECK(format_rfc3339_ms(at(2026, 11, 22, 3, 47, 40, 123)) == "2026-11-22T03:47:40.123Z");
  CHECK(format_rfc3339_ms(at(2026, 1, 2)) == "2026-01-02T00:00:00.000Z");
  CHECK(format_rfc3339_ms(SystemTime{}) == "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are truncated, never rounded up into the next second.
  CHECK(format_rfc3339_ms(at(2026, 12, 31, 23, 59, 59, 999) + microseconds(999)) == "2026-12-31T23:59:59.999Z");
  // Before the epoch the fields stay positive.
  CHECK(format_rfc3339_ms(SystemTime{} - milliseconds(1)) == "1969-12-31T23:59:59.999Z");
  const std::string now = now_rfc3339_ms();
  CHECK(now.size() == 24);
  CHECK(now.back() == 'Z');
  CHECK(parse_rfc3339(now).has_value());
}

TEST_CASE("parse_rfc3339 accepts the documented forms") {
  CHECK(parse_rfc3339("2026-11-22T03:47:40.123Z") == at(2026, 11, 22, 3, 47, 40, 123));
  CHECK(parse_rfc3339("2026-11-22T03:47:40Z") == at(2026, 11, 22, 3, 47, 40));
  CHECK(parse_rfc3339("2026-11-22T03:47:40+02:00") == at(2026, 11, 22, 1, 47, 40));
  CHECK(parse_rfc3339("2026-11-22T03:47:40-05:30") == at(2026, 11, 22, 9, 17, 40));
  CHECK(parse_rfc3339("2026-11-22T00:30:00+01:00") == at(2026, 11, 21, 23, 30));
  CHECK(parse_rfc3339("2026-11-22") == at(2026, 11, 22));
  CHECK(parse_rfc3339("2026-11-22t03:47:40z") == at(2026, 11, 22, 3, 47, 40));
  CHECK(parse_rfc3339("2026-11-22 03:47:40Z") == at(2026, 11, 22, 3, 47, 40));
  CHECK(parse_rfc3339("2026-11-22T03:47:40.5Z") == at(2026, 11, 22, 3, 47, 40, 500));
  CHECK(parse_rfc3339("2026-11-22T03:47:40.123456789Z") ==
        at(2026, 11, 22, 3, 47, 40, 123) + duration_cast<SystemTime::duration>(nanoseconds(456789)));
  CHECK(parse_rfc3339("2024-02-29") == at(2024, 2, 29));
}

TEST_CASE("parse_rfc3339 round-trips format_rfc3339_ms") {
  for (SystemTime t : {at(2026, 11, 22, 3, 47, 40, 123), at(2000, 2, 29, 12), at(1999, 12, 31, 23, 59, 59, 999),
                       SystemTime{}}) {
    const std::string text = format_rfc3339_ms(t);
    INFO(text);
    CHECK(parse_rfc3339(text) == t);
    CHECK(format_rfc3339_ms(*parse_rfc3339(text)) == text);
  }
}

TEST_CASE("parse_rfc3339 rejects garbage") {
  for (const char* bad : {"", "2026", "2026-11", "2026-13-01", "2026-02-30", "2023-02-29", "2026-11-22T",
                          "2026-11-22T03:47:40", "2026-11-22T03:47Z", "2026-11-22T24:00:00Z", "2026-11-22T03:60:00Z",
                          "2026-11-22T03:47:40.Z", "2026-11-22T03:47:40+0200", "2026-11-22T03:47:40+24:00",
                          "2026-11-22T03:47:40Zjunk", "2026-11-22x", " 2026-11-22", "2026-11-22 ", "26-11-22",
                          "2026/11/22", "yesterday", "1h"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}

TEST_CASE("parse_duration") {
  CHECK(secs("90s") == 90);
  CHECK(secs("30m") == 1800);
  CHECK(secs("1h") == 3600);
  CHECK(secs("7d") == 7 * 86400);
  CHECK(secs("2w") == 14 * 86400);
  CHECK(secs("1.5h") == 5400);
  CHECK(secs("45") == 45);
  CHECK(secs("0") == 0);
  CHECK(secs("0.5") == 0.5);
  CHECK(secs("0.02m") == Approx(1.2));
  for (const char* bad : {"", "-5s", "+5s", "h", "1x", "1hh", "1 h", " 1h", "1h ", "1.h", ".5h", "1..5h", "1e3",
                          "inf", "nan", "1h30m", "5s junk", "0x10"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("parse_since") {
  const SystemTime now = at(2026, 11, 22, 12);
  CHECK(parse_since("1h", now) == at(2026, 11, 22, 11));
  CHECK(parse_since("90s", now) == at(2026, 11, 22, 11, 58, 30));
  CHECK(parse_since("1.5h", now) == at(2026, 11, 22, 10, 30));
  CHECK(parse_since("7d", now) == at(2026, 11, 15, 12));
  CHECK(parse_since("45", now) == at(2026, 11, 22, 11, 59, 15));
  CHECK(parse_since("0s", now) == now);
  CHECK(parse_since("2026-11-01T00:00:00Z", now) == at(2026, 11, 1));
  CHECK(parse_since("2026-11-01", now) == at(2026, 11, 1));
  CHECK(parse_since("100000w", now) == SystemTime{});  // clamped, no overflow
  CHECK_FALSE(parse_since("", now).has_value());
  CHECK_FALSE(parse_since("last week", now).has_value());
  CHECK_FALSE(parse_since("-1h", now).has_value());
}

TEST_CASE("format_age") {
  CHECK(format_age(duration<double>(0)) == "0s");
  CHECK(format_age(duration<double>(4.9)) == "4s");
  CHECK(format_age(duration<double>(59)) == "59s");
  CHECK(format_age(duration<double>(60)) == "1m");
  CHECK(format_age(duration<double>(12 * 60 + 59)) == "12m");
  CHECK(format_age(duration<double>(3 * 3600 + 5)) == "3h");
  CHECK(format_age(duration<double>(2 * 86400 + 7200)) == "2d");
  CHECK(format_age(duration<double>(400 * 86400)) == "400d");
  CHECK(format_age(duration<double>(-5)) == "0s");
  CHECK(format_age(hours(2)) == "2h");
}

TEST_CASE("parse_time_of_day: HH:MM and HH:MM:SS, 24-hour UTC") {
  auto t = parse_time_of_day("09:00");
  REQUIRE(t);
  CHECK(t->hour == 9);
  CHECK(t->minute == 0);
  CHECK(t->second == 0);
  t = parse_time_of_day("23:59:58");
  REQUIRE(t);
  CHECK(t->hour == 23);
  CHECK(t->minute == 59);
  CHECK(t->second == 58);
  CHECK(parse_time_of_day("00:00"));
  for (const char* bad : {"", "9:00", "09:0", "24:00", "12:60", "12:00:60", "12:00:", "12-00", "12:00 ", " 12:00",
                          "12:00:00:00", "ab:cd", "12:00Z", "+1:00"}) {
    INFO(bad);
    CHECK_FALSE(parse_time_of_day(bad).has_value());
  }
}

TEST_CASE("next_time_of_day: today's while ahead or now, else tomorrow's") {
  const TimeOfDay nine{9, 0, 0};
  CHECK(next_time_of_day(at(2026, 11, 22, 8, 59, 59), nine) == at(2026, 11, 22, 9));
  CHECK(next_time_of_day(at(2026, 11, 22, 9), nine) == at(2026, 11, 22, 9));
  CHECK(next_time_of_day(at(2026, 11, 22, 9, 0, 1), nine) == at(2026, 11, 23, 9));
  CHECK(next_time_of_day(at(2026, 12, 31, 23, 0), nine) == at(2027, 1, 1, 9));
  CHECK(next_time_of_day(at(2026, 11, 22, 23, 59, 59), TimeOfDay{0, 0, 0}) == at(2026, 11, 23));
  CHECK(utc_date(at(2026, 2, 3, 23, 59, 59)) == "2026-02-03");
  // The cached today is the formatted one (either side of it, should midnight pass).
  const std::string before = utc_date(std::chrono::system_clock::now());
  const std::string today = utc_today();
  const std::string after = utc_date(std::chrono::system_clock::now());
  CHECK((today == before || today == after));
}
