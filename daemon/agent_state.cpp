#include "daemon/agent_state.hpp"

#include <array>
#include <initializer_list>

namespace vermas {

namespace {

using S = AgentStatus;

struct Row {
  S from;
  std::initializer_list<S> to;
};

// The whole machine. `lost` is where a recorded agent lands when the daemon restarts and
// its process identity no longer matches; it is then handled like an exit.
const Row kTable[] = {
    {S::stopped, {S::starting}},
    {S::starting, {S::running, S::backoff, S::failed, S::stopping, S::stopped}},
    {S::running, {S::idle, S::stuck, S::backoff, S::paused, S::quarantined, S::stopping, S::stopped, S::failed, S::lost}},
    {S::idle, {S::running, S::stuck, S::backoff, S::paused, S::quarantined, S::stopping, S::stopped, S::failed, S::lost}},
    {S::stuck, {S::running, S::idle, S::backoff, S::paused, S::quarantined, S::stopping, S::stopped, S::failed, S::lost}},
    {S::backoff, {S::starting, S::stopped, S::failed, S::quarantined}},
    {S::paused, {S::running, S::stopping, S::quarantined, S::backoff, S::stopped, S::failed, S::lost}},
    {S::quarantined, {S::stopping, S::stopped, S::backoff, S::failed, S::lost}},
    {S::stopping, {S::stopped, S::failed}},
    {S::failed, {S::starting, S::stopped}},
    {S::lost, {S::starting, S::backoff, S::stopped, S::failed}},
};

constexpr std::array<const char*, 11> kNames = {"starting", "running", "idle",    "stuck",  "backoff", "paused",
                                                "quarantined", "stopping", "stopped", "failed", "lost"};

}  // namespace

const char* to_string(AgentStatus status) { return kNames[static_cast<std::size_t>(status)]; }

std::optional<AgentStatus> parse_agent_status(std::string_view text) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (text == kNames[i]) return static_cast<AgentStatus>(i);
  return std::nullopt;
}

const std::vector<AgentStatus>& all_agent_statuses() {
  static const std::vector<AgentStatus> all = [] {
    std::vector<AgentStatus> v;
    for (std::size_t i = 0; i < kNames.size(); ++i) v.push_back(static_cast<AgentStatus>(i));
    return v;
  }();
  return all;
}

bool agent_transition_allowed(AgentStatus from, AgentStatus to) {
  for (const auto& row : kTable)
    if (row.from == from)
      for (auto t : row.to)
        if (t == to) return true;
  return false;
}

bool has_process(AgentStatus s) {
  return s == S::starting || s == S::running || s == S::idle || s == S::stuck || s == S::paused ||
         s == S::quarantined || s == S::stopping;
}

bool held_by_operator(AgentStatus s) { return s == S::stopped || s == S::quarantined || s == S::paused; }

}  // namespace vermas
