#pragma once
// The agent statuses of spec §4. Which moves between them exist, and on which events, is the
// lifecycle table's (daemon/agents/agent_lifecycle.hpp); every change carries a reason and is an event.
#include <optional>
#include <string_view>
#include <vector>

namespace vermas {

enum class AgentStatus {
  starting,
  running,
  idle,
  stuck,
  backoff,
  paused,
  quarantined,
  stopping,
  stopped,
  failed,
  lost,
};

const char* to_string(AgentStatus status);
std::optional<AgentStatus> parse_agent_status(std::string_view text);
const std::vector<AgentStatus>& all_agent_statuses();

// Whether some event of the lifecycle table moves `from` to `to` (from != to).
bool agent_transition_allowed(AgentStatus from, AgentStatus to);

// A process is expected to exist in these states (so its exit is news).
bool has_process(AgentStatus status);
// States an operator put the agent in; the patrol never starts it from here on its own.
bool held_by_operator(AgentStatus status);
// Its process group is stopped (SIGSTOP): paused. (A quarantined agent has no process.)
inline bool frozen(AgentStatus status) { return status == AgentStatus::paused; }

}  // namespace vermas
