#pragma once
// The patrol's timeouts as one pure rule (spec §4, "Idle and stuck"): from an agent's
// status, whether it holds a work order and when its quiet spell began, the next thing due
// and when. The patrol keeps one timer at the earliest due over all agents, so an idle
// daemon wakes only for deadlines, never to scan.
//
//   running ─ idle_after ─────────────► idle (NUDGE) ─ idle_after ──► reclaim (a worker without work)
//   running/idle, holding work ─ stuck_after ─► stuck (NUDGE) ─ stuck_after ──► remedy
//                                          (restart in its slot, or give the work back)
//
// Every span counts from `since`: the last activity, or the start of the process when it
// has shown none since. Activity makes it running again and starts the spans over.
#include <chrono>
#include <optional>

#include "daemon/agents/agent_record.hpp"  // AgentRole
#include "daemon/agents/agent_state.hpp"

namespace vermas::timeouts {

using Clock = std::chrono::steady_clock;

enum class Due {
  idle,     // running -> idle, one NUDGE
  reclaim,  // an idle worker without a work order: saved, stopped, slot freed
  stuck,    // holding a work order: -> stuck, one NUDGE
  remedy,   // still stuck: saved and restarted in its slot, or its work order given back
};
const char* to_string(Due due);

struct Quiet {
  AgentStatus status = AgentStatus::running;
  AgentRole role = AgentRole::worker;
  bool has_process = false;
  bool holds_work = false;      // a worker with a work order in its hands
  bool remedy_asked = false;    // a reclaim or remedy was asked for this quiet spell already
  Clock::time_point since{};
  Clock::duration idle_after{};
  Clock::duration stuck_after{};
};

struct Next {
  Due what;
  Clock::time_point at;
};

// The next timeout of this agent, or nullopt when none can come (no process, paused,
// stopping, a supervisor already idle, a remedy under way ...).
std::optional<Next> next(const Quiet& q);

}  // namespace vermas::timeouts
