#include "daemon/patrol/timeouts.hpp"

namespace vermas::timeouts {

const char* to_string(Due due) {
  switch (due) {
    case Due::idle: return "idle";
    case Due::reclaim: return "reclaim";
    case Due::stuck: return "stuck";
    case Due::remedy: return "remedy";
  }
  return "?";
}

std::optional<Next> next(const Quiet& q) {
  if (!q.has_process) return std::nullopt;
  // The CEO is an operator's session (co ceo): a person at the keyboard, not a worker to nudge.
  if (q.role == AgentRole::ceo) return std::nullopt;
  const bool worker = q.role == AgentRole::worker;
  switch (q.status) {
    case AgentStatus::running: {
      Next idle{Due::idle, q.since + q.idle_after};
      if (!q.holds_work) return idle;
      Next stuck{Due::stuck, q.since + q.stuck_after};
      return stuck.at <= idle.at ? stuck : idle;  // stuck first when it is due no later
    }
    case AgentStatus::idle:
      if (q.holds_work) return Next{Due::stuck, q.since + q.stuck_after};
      // Supervisors and QA are nudged, never reclaimed.
      if (!worker || q.remedy_asked) return std::nullopt;
      return Next{Due::reclaim, q.since + 2 * q.idle_after};
    case AgentStatus::stuck:
      if (!q.holds_work || q.remedy_asked) return std::nullopt;  // its work left its hands: the dispatcher frees it
      return Next{Due::remedy, q.since + 2 * q.stuck_after};
    default: return std::nullopt;
  }
}

}  // namespace vermas::timeouts
