#pragma once
// One supervised agent as the daemon holds it: the stored record (what a restart of the
// daemon finds again) and the live state beside it (its process, timers, who waits on it).
// The registry owns every Agent; the other parts of supervision hold ids, never an Agent&
// across a co_await (an agent can be removed meanwhile: factory.remove).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "daemon/agents/agent_lifecycle.hpp"
#include "daemon/agents/agent_record.hpp"
#include "daemon/agents/restart_policy.hpp"
#include "daemon/agents/runner.hpp"
#include "daemon/store/store.hpp"

namespace vermas {

struct Agent {
  using Clock = std::chrono::steady_clock;

  AgentRecord rec;
  std::optional<Launched> proc;
  std::uint64_t generation = 0;  // of the current process: a stale exit callback is ignored
  RestartHistory history;
  Clock::time_point started_steady{};
  std::unique_ptr<boost::asio::steady_timer> restart_timer;
  std::unique_ptr<boost::asio::steady_timer> stable_timer;  // reset_after_stable_seconds into a run
  std::optional<Clock::time_point> restart_at;
  bool queued = false;
  bool busy = false;  // launching, adopting or preparing a worktree: the patrol leaves it alone
  bool deferred_noted = false;
  ExitIntent intent = ExitIntent::none;  // what the coming exit was asked for
  std::string intent_reason;             // ... why (operator, idle_timeout, stuck_timeout ...)
  std::string intent_actor;              // ... and by whom (operator, operations, an agent)
  std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
  std::vector<EventDraft> pending;  // events of a change signalled but not yet committed

  // Activity (a heartbeat, any RPC from its process tree): the idle deadline counts from it,
  // or from the start of the process when there was none since.
  std::optional<Clock::time_point> last_activity_steady;
  // The patrol's remedy (reclaim, restart, give back) asked for the quiet spell that began
  // here: not asked again until the agent shows activity or runs a new process.
  std::optional<Clock::time_point> remedy_for;
  // A nudge typed into its tmux pane echoes there, and so into its log: that output is ours,
  // not its activity.
  std::chrono::system_clock::time_point own_output_until{};

  // Heartbeats (patrol/heartbeats.*): kept here, written to the row in batches.
  bool beat_this_run = false;  // only an agent that has heartbeated can miss a heartbeat
  Clock::time_point last_beat{};
  bool heartbeat_dirty = false;
  bool stale = false;
  std::optional<std::int64_t> stale_alert;  // the open heartbeat_missed alert
};

}  // namespace vermas
