#pragma once
// The pure parts of reading /proc (proc(5)): a /proc/<pid>/stat line, a children file, and
// the CPU share of a process between two samples. No I/O here (test_proc_stat.cpp);
// process.cpp and usage.cpp do the reading.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vermas::proc {

// The fields of /proc/<pid>/stat that the daemon uses, numbered as in proc(5).
struct StatLine {
  pid_t pid = 0;               // 1
  std::string comm;            // 2, without its parentheses
  char state = '?';            // 3
  pid_t ppid = 0;              // 4
  pid_t pgrp = 0;              // 5
  pid_t session = 0;           // 6
  std::uint64_t utime = 0;     // 14, clock ticks
  std::uint64_t stime = 0;     // 15, clock ticks
  std::uint64_t threads = 0;   // 20, num_threads
  std::uint64_t start_time = 0;  // 22, clock ticks after boot
  std::uint64_t rss_pages = 0;   // 24, resident pages (statm's second field)
};

// "pid (comm) state ppid ...": comm may hold spaces, parentheses and ") ", so it ends at the
// last ')'. nullopt for a line cut short or malformed.
std::optional<StatLine> parse_stat_line(std::string_view text);

// A /proc/<pid>/task/<tid>/children file: "12 345 " -> {12, 345}; anything else is skipped.
std::vector<pid_t> parse_pid_list(std::string_view text);

// One process's CPU time at one moment.
struct CpuSample {
  std::uint64_t start_time = 0;  // which process (with the pid): a reused pid starts again
  std::uint64_t ticks = 0;       // utime + stime
  double at = 0;                 // seconds since boot (CLOCK_BOOTTIME: the clock of start_time)
};

// What the daemon keeps of a process between requests: the sample the next percent is
// measured from, and the percent last measured.
struct CpuTrack {
  CpuSample base;
  double percent = 0;  // of one CPU: 100 is one core busy all the time
};

// Windows shorter than this give the last percent again rather than a jumpy one measured
// over a few ticks (two clients asking at once).
constexpr double kMinCpuWindowSeconds = 0.2;

// The percent of `now` and the track to keep: since `previous` (the same process, at least
// kMinCpuWindowSeconds before), else its lifetime average, ticks / (now.at - start).
CpuTrack next_cpu_track(const std::optional<CpuTrack>& previous, const CpuSample& now, long ticks_per_second);

}  // namespace vermas::proc
