#include "daemon/agents/usage.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace vermas {

namespace {

// A runaway fork loop under one agent costs a request no more than this many reads.
constexpr std::size_t kMaxTreeProcesses = 512;
// A process not seen for this long is gone, or no longer anybody's: its track is dropped.
constexpr double kForgetSeconds = 300;

// /proc opened once: each read below is an openat() relative to it, one path lookup less.
int proc_dir() {
  static const int fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd;
}

// A /proc file whole (they are small); false when it cannot be read (the process is gone).
bool read_proc_file(const char* path, std::string& out) {
  int fd = ::openat(proc_dir(), path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    // A stat line or a children list fits one read: only a short read would need another.
    if (static_cast<std::size_t>(n) < sizeof buf || out.size() > (1u << 20)) break;
  }
  ::close(fd);
  return true;
}

std::optional<proc::StatLine> stat_of(pid_t pid) {
  char path[48];
  std::snprintf(path, sizeof path, "%d/stat", static_cast<int>(pid));
  std::string text;
  if (!read_proc_file(path, text)) return std::nullopt;
  return proc::parse_stat_line(text);
}

// The same clock as a process's start time in /proc/<pid>/stat.
double boot_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

bool is_pid_name(const char* name) {
  if (!*name) return false;
  for (; *name; ++name)
    if (*name < '0' || *name > '9') return false;
  return true;
}

// Whether this kernel has /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN).
bool have_children_files() {
  static const bool have = ::access("/proc/thread-self/children", R_OK) == 0;
  return have;
}

// The children of every thread of `p` (a thread's children are listed under it). A
// single-threaded process (most agents' processes) has one file to read, no directory.
std::vector<pid_t> children_of(const proc::StatLine& p) {
  std::vector<pid_t> out;
  std::string text;
  char path[64];
  if (p.threads == 1) {
    std::snprintf(path, sizeof path, "%d/task/%d/children", static_cast<int>(p.pid), static_cast<int>(p.pid));
    if (read_proc_file(path, text)) out = proc::parse_pid_list(text);
    return out;
  }
  std::snprintf(path, sizeof path, "%d/task", static_cast<int>(p.pid));
  int dfd = ::openat(proc_dir(), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* dir = dfd < 0 ? nullptr : ::fdopendir(dfd);
  if (!dir) {
    if (dfd >= 0) ::close(dfd);
    return out;
  }
  while (const dirent* e = ::readdir(dir)) {
    if (!is_pid_name(e->d_name)) continue;
    const int tid = std::atoi(e->d_name);  // a pid name: digits only
    std::snprintf(path, sizeof path, "%d/task/%d/children", static_cast<int>(p.pid), tid);
    if (!read_proc_file(path, text)) continue;
    for (pid_t child : proc::parse_pid_list(text)) out.push_back(child);
  }
  ::closedir(dir);
  return out;
}

// The processes of the agent: the tree under `leader` (its stat line first).
std::vector<proc::StatLine> processes_of(proc::StatLine leader) {
  std::vector<proc::StatLine> out;
  const pid_t root = leader.pid;
  out.push_back(std::move(leader));
  if (have_children_files()) {
    for (std::size_t i = 0; i < out.size() && out.size() < kMaxTreeProcesses; ++i)
      for (pid_t child : children_of(out[i])) {
        if (out.size() >= kMaxTreeProcesses) break;
        if (auto s = stat_of(child)) out.push_back(std::move(*s));
      }
    return out;
  }
  // Without children files: every process of the agent's session (the runners start each
  // agent as a session leader), found by one pass over /proc.
  DIR* dir = ::opendir("/proc");
  if (!dir) return out;
  while (const dirent* e = ::readdir(dir)) {
    if (out.size() >= kMaxTreeProcesses) break;
    if (!is_pid_name(e->d_name)) continue;
    const auto pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    if (pid == root) continue;
    if (auto s = stat_of(pid); s && s->session == root) out.push_back(std::move(*s));
  }
  ::closedir(dir);
  return out;
}

}  // namespace

std::optional<ProcessUsage> UsageSampler::sample(const proc::ProcessIdentity& leader) {
  static const long hz = ::sysconf(_SC_CLK_TCK);
  static const long page = ::sysconf(_SC_PAGESIZE);
  if (leader.pid <= 0) return std::nullopt;
  const double now = boot_seconds();
  // The caller knows the leader runs (its pidfd has not fired): recent figures stand.
  if (auto it = recent_.find(leader.pid);
      it != recent_.end() && it->second.start_time == leader.start_time && now - it->second.at < kReuseSeconds)
    return it->second.usage;
  auto first = stat_of(leader.pid);
  if (!first || first->start_time != leader.start_time) return std::nullopt;
  ProcessUsage usage;
  for (const proc::StatLine& p : processes_of(std::move(*first))) {
    const proc::CpuSample s{p.start_time, p.utime + p.stime, now};
    auto it = tracks_.find(p.pid);
    std::optional<proc::CpuTrack> previous;
    if (it != tracks_.end()) previous = it->second.track;
    const proc::CpuTrack track = proc::next_cpu_track(previous, s, hz);
    tracks_[p.pid] = Seen{track, now};
    usage.cpu_percent += track.percent;
    usage.rss_bytes += p.rss_pages * static_cast<std::uint64_t>(page > 0 ? page : 4096);
    ++usage.processes;
  }
  recent_[leader.pid] = Recent{leader.start_time, now, usage};
  forget_old(now);
  return usage;
}

void UsageSampler::forget_old(double now) {
  if (now - last_sweep_ < 60) return;
  last_sweep_ = now;
  std::erase_if(tracks_, [&](const auto& entry) { return now - entry.second.last_seen > kForgetSeconds; });
  std::erase_if(recent_, [&](const auto& entry) { return now - entry.second.at > kForgetSeconds; });
}

}  // namespace vermas
