#include "daemon/agents/agent_state.hpp"

#include "daemon/agents/agent_lifecycle.hpp"

#include <array>

namespace vermas {

namespace {

using S = AgentStatus;

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

// The moves of the lifecycle table (daemon/agents/agent_lifecycle.cpp), whatever the event.
bool agent_transition_allowed(AgentStatus from, AgentStatus to) {
  if (from == to) return false;
  for (int i = 0; i < kAgentEventCount; ++i)
    if (auto m = next(from, static_cast<AgentEvent>(i)); m && m->to == to) return true;
  return false;
}

bool has_process(AgentStatus s) {
  return s == S::starting || s == S::running || s == S::idle || s == S::stuck || s == S::paused || s == S::stopping;
}

bool held_by_operator(AgentStatus s) { return s == S::stopped || s == S::quarantined || s == S::paused; }

}  // namespace vermas
