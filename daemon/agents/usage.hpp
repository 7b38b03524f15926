#pragma once
// CPU and memory of an agent's processes, read from /proc when agent.list or agent.get asks
// (nothing polls). An agent's processes are the tree under its process (runner direct: the
// child; tmux: the pane's process), found through /proc/<pid>/task/<tid>/children; on a
// kernel without those files (CONFIG_PROC_CHILDREN off), the processes of its session.
//
// cpu_percent is of one CPU (100: one core busy; a tree can pass 100), summed over the
// tree: for each process, since this sampler last saw it (an earlier request, at least
// kMinCpuWindowSeconds before; a repeat within that gets the same figure), or, the first
// time, its lifetime average. rss_bytes sums the processes' resident sets (shared pages
// count in each, as in ps). A request reads two small files per process (its stat line and
// its children), ~10 us of kernel work each: 200 agents cost 2-3 ms of the io thread, so
// agent.list reads them only when asked (`usage`), and an agent's figures are reused for
// kReuseSeconds (a second client, or a repeat, within that reads nothing). Nothing polls.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "daemon/agents/proc_stat.hpp"
#include "daemon/agents/process.hpp"

namespace vermas {

struct ProcessUsage {
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;
  int processes = 0;
};

class UsageSampler {
 public:
  static constexpr double kReuseSeconds = 1.0;

  // nullopt when `leader` no longer runs (or its pid is another process now).
  std::optional<ProcessUsage> sample(const proc::ProcessIdentity& leader);

 private:
  struct Seen {
    proc::CpuTrack track;
    double last_seen = 0;  // boot-time seconds: a process unseen for a while is forgotten
  };
  void forget_old(double now);

  struct Recent {
    std::uint64_t start_time = 0;  // the leader's: a reused pid is another process
    double at = 0;
    ProcessUsage usage;
  };

  std::unordered_map<pid_t, Seen> tracks_;
  std::unordered_map<pid_t, Recent> recent_;  // by leader: the last figures of each agent
  double last_sweep_ = 0;
};

}  // namespace vermas
