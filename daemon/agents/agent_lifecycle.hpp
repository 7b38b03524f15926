#pragma once
// The agent lifecycle (spec §4) as one table, after s6-supervise's actions[state][event]:
// for every status and every event, the next status and the effects the supervisor must
// carry out, or a refusal. Every change of an agent's status goes through next(); a move
// the table does not have is refused (an rpc conflict for a request, a bug otherwise),
// never applied and logged.
//
// The table is keyed by the status alone, so an event whose outcome depends on more than
// the status is split into events a pure classifier chooses between: an exit is one of
// exit_restart / exit_failed / exit_stays_down / exit_as_asked / exit_at_shutdown /
// exit_for_restart (classify_exit), a launch ends in spawned / spawn_retry / spawn_failed.
#include <cstdint>
#include <optional>
#include <string_view>

#include "daemon/agents/agent_state.hpp"
#include "daemon/agents/restart_policy.hpp"

namespace vermas {

enum class AgentEvent {
  start,             // the start queue launches it (an operator's start, the patrol's, a dispatch's)
  backoff_elapsed,   // the start queue launches it after its restart delay
  spawned,           // the launch succeeded: the process runs
  spawn_retry,       // the launch failed; the restart policy tries again after a delay
  spawn_failed,      // the launch failed for good (a worker, or after an operator's start)
  start_limit,       // about to start, but it started too often within the window: failed
  exit_restart,      // an exit nobody asked for; the policy restarts it after a delay
  exit_failed,       // an exit nobody asked for, past the start limit
  exit_stays_down,   // an exit nobody asked for that leaves it down (policy, a worker done, quarantine)
  exit_as_asked,     // the exit an operator's stop or kill asked for
  exit_at_shutdown,  // the exit the daemon's own stop asked for (slots stay assigned)
  exit_for_restart,  // the exit an operator's restart asked for: queued to start again
  stop,              // TERM to the process group, KILL after stop_timeout_seconds
  kill,              // KILL at once
  restart,           // stop, then start again (a restart of an agent without a process is a start)
  adopt,             // re-adopted after a daemon restart: the recorded process still runs
  lost,              // recorded with a process that is gone after a daemon restart
  idle_timeout,      // no activity for [worker] idle_timeout_minutes
  stuck_timeout,     // no activity for stuck_timeout_minutes while holding a work order
  activity,          // a heartbeat, an RPC, new output
  pause,             // an operator's pause: SIGSTOP to the process group
  resume,            // SIGCONT
  quarantine,        // held out of work (stopped first: worktree saved, work returned) until released
  release,           // ends a quarantine: stopped, startable again
  reset,             // clears counters and the start limit; a failed agent becomes stopped
  budget_exceeded,   // its spend passed a cap ([budgets] on_exceed = "pause")
  squad_pause,       // every agent frozen at once
  squad_resume,      // undoes squad_pause
};
inline constexpr int kAgentEventCount = static_cast<int>(AgentEvent::squad_resume) + 1;

const char* to_string(AgentEvent event);
std::optional<AgentEvent> parse_agent_event(std::string_view text);

// What the supervisor does when a move is taken (several may be set).
namespace effect {
inline constexpr std::uint32_t none = 0;
inline constexpr std::uint32_t launch = 1u << 0;          // spawn the process now (into starting only)
inline constexpr std::uint32_t terminate = 1u << 1;       // TERM (+CONT) to the group, KILL after the grace
inline constexpr std::uint32_t kill_now = 1u << 2;        // KILL to the group
inline constexpr std::uint32_t freeze = 1u << 3;          // SIGSTOP to the group
inline constexpr std::uint32_t thaw = 1u << 4;            // SIGCONT to the group
inline constexpr std::uint32_t arm_backoff = 1u << 5;     // start the restart timer
inline constexpr std::uint32_t cancel_backoff = 1u << 6;  // drop the restart timer and a queued start
inline constexpr std::uint32_t clear_history = 1u << 7;   // forget starts and failures (start limit)
inline constexpr std::uint32_t raise_alert = 1u << 8;     // an alert (start limit)
inline constexpr std::uint32_t nudge = 1u << 9;           // NUDGE mail (and into a tmux pane)
inline constexpr std::uint32_t hand_back = 1u << 10;      // a worker is gone for good: its slot goes back
inline constexpr std::uint32_t enqueue_start = 1u << 11;  // join the start queue (max_agents, spawn rate)
}  // namespace effect

struct AgentMove {
  AgentStatus to;
  std::uint32_t effects = effect::none;
};

// The move for `event` in status `from`; nullopt when the table refuses it.
std::optional<AgentMove> next(AgentStatus from, AgentEvent event);

// What an exit means, from everything that decides it (pure; the supervisor supplies it).
enum class ExitIntent { none, stop, kill, restart, shutdown };
struct ExitContext {
  AgentStatus status = AgentStatus::running;
  ExitIntent intent = ExitIntent::none;
  bool worker = false;
  bool worker_has_work = false;  // its work order is still in its hands: restart it
  bool shutting_down = false;
  bool held = false;  // paused by an operator or a budget (not a squad pause): never restarted
  bool on_demand = false;  // the CEO: an operator starts it (co ceo), nothing restarts it
  RestartDecision::Action policy = RestartDecision::Action::restart;  // decide_restart's verdict
};
AgentEvent classify_exit(const ExitContext& context);

}  // namespace vermas
