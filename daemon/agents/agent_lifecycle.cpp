#include "daemon/agents/agent_lifecycle.hpp"

#include <array>

namespace vermas {

namespace {

using S = AgentStatus;
using E = AgentEvent;
namespace fx = effect;

constexpr int kStatusCount = static_cast<int>(S::lost) + 1;

struct Row {
  S from;
  E event;
  S to;
  std::uint32_t effects;
};

// Every move there is. What is not here is refused. Grouped by the status moved from.
constexpr Row kRows[] = {
    // stopped: no process. An operator's start, the patrol or a dispatch puts it in the start
    // queue; the queue's launch is the `start` event.
    {S::stopped, E::start, S::starting, fx::launch},                          // stopped -> starting
    {S::stopped, E::start_limit, S::failed, fx::raise_alert | fx::hand_back},  // too many starts: failed
    {S::stopped, E::stop, S::stopped, fx::none},                              // already stopped
    {S::stopped, E::kill, S::stopped, fx::none},
    {S::stopped, E::reset, S::stopped, fx::clear_history},
    {S::stopped, E::quarantine, S::quarantined, fx::none},                    // held: never started again

    // starting: the launch is under way (a stop asked meanwhile waits for its outcome).
    {S::starting, E::spawned, S::running, fx::none},                          // it runs
    {S::starting, E::spawn_retry, S::backoff, fx::arm_backoff},               // could not start: try again later
    {S::starting, E::spawn_failed, S::failed, fx::hand_back},                 // could not start, for good
    {S::starting, E::adopt, S::running, fx::none},                            // the old daemon's launch got a pid
    {S::starting, E::lost, S::lost, fx::none},

    // running, idle, stuck: a process works (or is thought idle or stuck).
    {S::running, E::exit_restart, S::backoff, fx::arm_backoff},               // crashed: restart after the backoff
    {S::running, E::exit_failed, S::failed, fx::raise_alert | fx::hand_back},  // crashed past the start limit
    {S::running, E::exit_stays_down, S::stopped, fx::hand_back},              // exited; the policy leaves it down
    {S::running, E::exit_at_shutdown, S::stopped, fx::none},
    {S::running, E::stop, S::stopping, fx::terminate},
    {S::running, E::kill, S::stopping, fx::kill_now},
    {S::running, E::restart, S::stopping, fx::terminate},                     // then exit_for_restart
    {S::running, E::adopt, S::running, fx::none},                             // still ours after a daemon restart
    {S::running, E::lost, S::lost, fx::none},
    {S::running, E::idle_timeout, S::idle, fx::nudge},
    {S::running, E::stuck_timeout, S::stuck, fx::nudge},
    {S::running, E::activity, S::running, fx::none},
    {S::running, E::pause, S::paused, fx::freeze},
    {S::running, E::budget_exceeded, S::paused, fx::freeze},
    {S::running, E::squad_pause, S::paused, fx::freeze},
    {S::running, E::reset, S::running, fx::clear_history},

    {S::idle, E::exit_restart, S::backoff, fx::arm_backoff},
    {S::idle, E::exit_failed, S::failed, fx::raise_alert | fx::hand_back},
    {S::idle, E::exit_stays_down, S::stopped, fx::hand_back},
    {S::idle, E::exit_at_shutdown, S::stopped, fx::none},
    {S::idle, E::stop, S::stopping, fx::terminate},                           // also the reclaim of an idle worker
    {S::idle, E::kill, S::stopping, fx::kill_now},
    {S::idle, E::restart, S::stopping, fx::terminate},
    {S::idle, E::adopt, S::idle, fx::none},
    {S::idle, E::lost, S::lost, fx::none},
    {S::idle, E::activity, S::running, fx::none},                             // it woke up
    {S::idle, E::stuck_timeout, S::stuck, fx::nudge},
    {S::idle, E::pause, S::paused, fx::freeze},
    {S::idle, E::budget_exceeded, S::paused, fx::freeze},
    {S::idle, E::squad_pause, S::paused, fx::freeze},
    {S::idle, E::reset, S::idle, fx::clear_history},

    {S::stuck, E::exit_restart, S::backoff, fx::arm_backoff},
    {S::stuck, E::exit_failed, S::failed, fx::raise_alert | fx::hand_back},
    {S::stuck, E::exit_stays_down, S::stopped, fx::hand_back},
    {S::stuck, E::exit_at_shutdown, S::stopped, fx::none},
    {S::stuck, E::stop, S::stopping, fx::terminate},
    {S::stuck, E::kill, S::stopping, fx::kill_now},
    {S::stuck, E::restart, S::stopping, fx::terminate},                       // the stuck agent's second remedy
    {S::stuck, E::adopt, S::stuck, fx::none},
    {S::stuck, E::lost, S::lost, fx::none},
    {S::stuck, E::activity, S::running, fx::none},
    {S::stuck, E::pause, S::paused, fx::freeze},
    {S::stuck, E::budget_exceeded, S::paused, fx::freeze},
    {S::stuck, E::squad_pause, S::paused, fx::freeze},
    {S::stuck, E::reset, S::stuck, fx::clear_history},

    // paused: frozen (SIGSTOP) by an operator, a budget or a squad pause.
    {S::paused, E::resume, S::running, fx::thaw},
    {S::paused, E::squad_resume, S::running, fx::thaw},
    {S::paused, E::exit_restart, S::backoff, fx::arm_backoff},                // killed from outside while frozen
    {S::paused, E::exit_failed, S::failed, fx::raise_alert | fx::hand_back},
    {S::paused, E::exit_stays_down, S::stopped, fx::hand_back},
    {S::paused, E::exit_at_shutdown, S::stopped, fx::none},
    {S::paused, E::stop, S::stopping, fx::terminate},                         // TERM and CONT, so it can act on it
    {S::paused, E::kill, S::stopping, fx::kill_now},
    {S::paused, E::restart, S::stopping, fx::terminate},
    {S::paused, E::adopt, S::paused, fx::none},
    {S::paused, E::lost, S::lost, fx::none},
    {S::paused, E::pause, S::paused, fx::none},
    {S::paused, E::budget_exceeded, S::paused, fx::none},
    {S::paused, E::squad_pause, S::paused, fx::none},
    {S::paused, E::activity, S::paused, fx::none},                            // a frozen agent stays frozen
    {S::paused, E::reset, S::paused, fx::clear_history},

    // quarantined: stopped (its worktree saved, its work returned: the supervisor stops it
    // first) and held out of work: never started, restarted or dispatched to, until an
    // operator releases it, which makes it stopped (startable) again.
    {S::quarantined, E::release, S::stopped, fx::none},
    {S::quarantined, E::stop, S::quarantined, fx::none},
    {S::quarantined, E::kill, S::quarantined, fx::none},
    {S::quarantined, E::quarantine, S::quarantined, fx::none},
    {S::quarantined, E::reset, S::quarantined, fx::clear_history},

    // backoff: waiting for the restart timer; no process.
    {S::backoff, E::backoff_elapsed, S::starting, fx::launch},
    {S::backoff, E::start, S::starting, fx::launch | fx::cancel_backoff},     // an operator does not wait
    {S::backoff, E::start_limit, S::failed, fx::raise_alert | fx::hand_back},
    {S::backoff, E::stop, S::stopped, fx::cancel_backoff},
    {S::backoff, E::kill, S::stopped, fx::cancel_backoff},
    {S::backoff, E::reset, S::backoff, fx::clear_history},
    {S::backoff, E::quarantine, S::quarantined, fx::cancel_backoff},

    // stopping: TERM (or KILL) sent; the exit is what was asked for.
    {S::stopping, E::exit_as_asked, S::stopped, fx::hand_back},
    {S::stopping, E::exit_at_shutdown, S::stopped, fx::none},                 // slots stay assigned across a daemon stop
    {S::stopping, E::exit_for_restart, S::stopped, fx::enqueue_start | fx::clear_history},
    {S::stopping, E::stop, S::stopping, fx::terminate},                       // again: no harm
    {S::stopping, E::kill, S::stopping, fx::kill_now},                        // escalate
    {S::stopping, E::adopt, S::stopping, fx::terminate},                      // the old daemon was stopping it: finish
    {S::stopping, E::lost, S::stopped, fx::none},                             // it went while we were away
    {S::stopping, E::activity, S::stopping, fx::none},

    // failed: past the start limit or could not start. Only an operator's start queues it, and
    // that request clears the start limit (like systemctl reset-failed) before it is queued.
    {S::failed, E::start, S::starting, fx::launch},
    {S::failed, E::stop, S::failed, fx::none},
    {S::failed, E::kill, S::failed, fx::none},
    {S::failed, E::reset, S::stopped, fx::clear_history},
    {S::failed, E::quarantine, S::quarantined, fx::none},

    // lost: recorded with a process that is gone after a daemon restart; handled as an exit.
    {S::lost, E::exit_restart, S::backoff, fx::arm_backoff},
    // A lost worker's slot is not handed back here: the dispatcher reconciles its slots with
    // what runs once re-adoption is done (and restarts a worker that still holds its work).
    {S::lost, E::exit_failed, S::failed, fx::raise_alert},
    {S::lost, E::exit_stays_down, S::stopped, fx::none},
    {S::lost, E::start, S::starting, fx::launch},
    {S::lost, E::start_limit, S::failed, fx::raise_alert | fx::hand_back},
    {S::lost, E::stop, S::stopped, fx::none},
    {S::lost, E::kill, S::stopped, fx::none},
};

using Table = std::array<std::array<std::optional<AgentMove>, kAgentEventCount>, kStatusCount>;

const Table& table() {
  static const Table t = [] {
    Table out{};
    for (const auto& r : kRows)
      out[static_cast<std::size_t>(r.from)][static_cast<std::size_t>(r.event)] = AgentMove{r.to, r.effects};
    return out;
  }();
  return t;
}

constexpr std::array<const char*, kAgentEventCount> kEventNames = {
    "start",          "backoff_elapsed", "spawned",       "spawn_retry",     "spawn_failed", "start_limit",
    "exit_restart",   "exit_failed",     "exit_stays_down", "exit_as_asked", "exit_at_shutdown",
    "exit_for_restart", "stop",          "kill",          "restart",         "adopt",        "lost",
    "idle_timeout",   "stuck_timeout",   "activity",      "pause",           "resume",       "quarantine",
    "release",        "reset",           "budget_exceeded", "squad_pause",   "squad_resume"};

}  // namespace

const char* to_string(AgentEvent event) { return kEventNames[static_cast<std::size_t>(event)]; }

std::optional<AgentEvent> parse_agent_event(std::string_view text) {
  for (std::size_t i = 0; i < kEventNames.size(); ++i)
    if (text == kEventNames[i]) return static_cast<AgentEvent>(i);
  return std::nullopt;
}

std::optional<AgentMove> next(AgentStatus from, AgentEvent event) {
  return table()[static_cast<std::size_t>(from)][static_cast<std::size_t>(event)];
}

AgentEvent classify_exit(const ExitContext& c) {
  switch (c.intent) {
    case ExitIntent::stop:
    case ExitIntent::kill: return AgentEvent::exit_as_asked;
    case ExitIntent::shutdown: return AgentEvent::exit_at_shutdown;
    case ExitIntent::restart: return AgentEvent::exit_for_restart;
    case ExitIntent::none: break;
  }
  if (c.status == AgentStatus::stopping) return AgentEvent::exit_as_asked;  // its stop came from an older daemon
  if (c.shutting_down) return AgentEvent::exit_at_shutdown;  // nothing restarts; slots stay assigned
  if (c.status == AgentStatus::quarantined) return AgentEvent::exit_stays_down;  // held: never restarted
  // Paused by an operator or a budget: a process that dies frozen is not brought back (it
  // would run past the pause). A squad pause only holds the restart until it ends.
  if (c.status == AgentStatus::paused && c.held) return AgentEvent::exit_stays_down;
  if (c.on_demand) return AgentEvent::exit_stays_down;
  // A worker whose work order is still in its hands is restarted like a supervisor (its
  // slot, branch and WORK_ORDER stay); any other worker exit frees the slot.
  if (c.worker && !c.worker_has_work) return AgentEvent::exit_stays_down;
  switch (c.policy) {
    case RestartDecision::Action::restart: return AgentEvent::exit_restart;
    case RestartDecision::Action::give_up: return AgentEvent::exit_failed;
    case RestartDecision::Action::stay_stopped: return AgentEvent::exit_stays_down;
  }
  return AgentEvent::exit_stays_down;
}

}  // namespace vermas
