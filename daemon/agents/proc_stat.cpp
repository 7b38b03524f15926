#include "daemon/agents/proc_stat.hpp"

#include <algorithm>
#include <charconv>

namespace vermas::proc {

namespace {

template <class T>
bool parse_stat_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::optional<StatLine> parse_stat_line(std::string_view text) {
  const auto open = text.find(" (");
  const auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open + 2) return std::nullopt;
  StatLine s;
  int pid = 0;
  if (!parse_stat_number(text.substr(0, open), pid) || pid <= 0) return std::nullopt;
  s.pid = static_cast<pid_t>(pid);
  s.comm = std::string(text.substr(open + 2, close - open - 2));
  if (close + 2 > text.size() || text[close + 1] != ' ') return std::nullopt;
  // Fields 3.. after comm, one space apart.
  std::string_view rest = text.substr(close + 2);
  int field = 3;
  while (field <= 24) {
    if (rest.empty()) return std::nullopt;
    auto sp = rest.find_first_of(" \n");
    std::string_view value = rest.substr(0, sp);
    if (field == 3) {
      if (value.size() != 1) return std::nullopt;
      s.state = value[0];
    } else if (field == 4 || field == 5 || field == 6 || field == 14 || field == 15 || field == 20 || field == 22 || field == 24) {
      long long n = 0;  // rss (24) is signed in proc(5); none is negative in practice
      if (!parse_stat_number(value, n) || n < 0) return std::nullopt;
      const auto u = static_cast<std::uint64_t>(n);
      switch (field) {
        case 4: s.ppid = static_cast<pid_t>(n); break;
        case 5: s.pgrp = static_cast<pid_t>(n); break;
        case 6: s.session = static_cast<pid_t>(n); break;
        case 14: s.utime = u; break;
        case 15: s.stime = u; break;
        case 20: s.threads = u; break;
        case 22: s.start_time = u; break;
        default: s.rss_pages = u; break;
      }
    }
    ++field;
    if (sp == std::string_view::npos) rest = {};
    else rest = rest.substr(sp + 1);
  }
  return s;
}

std::vector<pid_t> parse_pid_list(std::string_view text) {
  std::vector<pid_t> out;
  while (!text.empty()) {
    auto start = text.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    auto end = std::min(text.find_first_of(" \n"), text.size());
    int pid = 0;
    if (parse_stat_number(text.substr(0, end), pid) && pid > 0) out.push_back(static_cast<pid_t>(pid));
    text.remove_prefix(end);
  }
  return out;
}

CpuTrack next_cpu_track(const std::optional<CpuTrack>& previous, const CpuSample& now, long ticks_per_second) {
  const double hz = ticks_per_second > 0 ? static_cast<double>(ticks_per_second) : 100.0;
  auto percent = [&](std::uint64_t ticks, double seconds) {
    return seconds > 0 ? std::max(0.0, static_cast<double>(ticks) / hz / seconds * 100.0) : 0.0;
  };
  if (previous && previous->base.start_time == now.start_time) {
    const double window = now.at - previous->base.at;
    if (window < kMinCpuWindowSeconds) return *previous;
    const std::uint64_t used = now.ticks >= previous->base.ticks ? now.ticks - previous->base.ticks : 0;
    return {now, percent(used, window)};
  }
  return {now, percent(now.ticks, now.at - static_cast<double>(now.start_time) / hz)};
}

}  // namespace vermas::proc
