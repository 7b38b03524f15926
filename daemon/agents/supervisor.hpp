#pragma once
// Supervision as the rest of the daemon sees it: the requests on agents (start, stop,
// restart, start a worker, retire a factory's agents), each answering once its change is
// committed and done, over the parts that do the work. They call one way:
//
//   Supervisor (requests) ─┬─> Patrol, Heartbeats┐
//                          ├─> Readoption ──────┤
//                          └─> Lifecycle ───────┼─> Launcher ─> runners (direct, tmux)
//                                  ^            └─> AgentRegistry ─> Journal (SQLite)
//                                  └── the launcher's reports: started, failed, exited
//
// It knows nothing of slots and work orders beyond what it is told: the dispatcher calls it
// (start_worker, assign_work, stop_agent, is_live), never the other way round. A worker gone
// for good is news in the log: its exit event carries data.gone ("exited", "operator",
// "failed"), which the dispatcher, a journal subscriber, acts on.
//
// Everything runs on the daemon's io_context thread. A process exit arrives as an event
// (pidfd); the exit is committed (row + event in one transaction) before anything reacts
// to it. Coroutines never hold an Agent& across a co_await: they look the agent up again
// by id, because an agent can be removed meanwhile (factory.remove).
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/agents/launcher.hpp"
#include "daemon/agents/lifecycle.hpp"
#include "daemon/agents/readoption.hpp"
#include "daemon/agents/registry.hpp"
#include "daemon/agents/usage.hpp"
#include "daemon/factories.hpp"
#include "daemon/patrol/heartbeats.hpp"
#include "daemon/patrol/patrol.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Supervisor {
 public:
  // `config` is read at each use, so a reload takes effect at the next decision.
  Supervisor(boost::asio::io_context& io, const Config& config, const Paths& paths, Journal& journal,
             Factories& factories, std::string socket_path);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Loads the records, re-adopts what still runs (the rest is `lost`), then patrols.
  boost::asio::awaitable<void> start();
  void patrol_soon() { patrol_.soon(); }
  // Today's spend and cap in the agents' views (see AgentRegistry::Money).
  void money(AgentRegistry::Money m) { registry_.money(std::move(m)); }
  // Who carries out the patrol's remedies (the dispatcher: they need slots and worktrees).
  void on_remedy(std::function<void(const Remedy&)> handler) { patrol_.on_remedy(std::move(handler)); }
  // Told of each agent whose new process runs now (governance: a start under a past cap).
  void on_started(std::function<void(const std::string& agent)> hook) {
    lifecycle_.on_started([hook = std::move(hook)](Agent& a) { hook(a.rec.id); });
  }
  void config_changed();

  // Operator and agent actions. Each answers once the change is committed and done
  // (a stop answers when the process has exited). Errors are vermas::Error.
  boost::asio::awaitable<AgentView> start_agent(std::string id, std::string actor);
  // `reason` is the status reason the stop leaves (the daemon's own stops say why).
  boost::asio::awaitable<AgentView> stop_agent(std::string id, std::string actor, bool kill,
                                               std::string reason = "operator");
  boost::asio::awaitable<AgentView> restart_agent(std::string id, std::string actor,
                                                  std::string reason = "operator_restart");
  // Freezes (SIGSTOP) / thaws (SIGCONT) its process group; status paused / back to running.
  // `event`: pause (an operator), budget_exceeded (a cap), squad_pause. -32002 without a
  // process or from a status the table does not pause.
  AgentView pause_agent(const std::string& id, const std::string& actor, const std::string& reason,
                        AgentEvent event = AgentEvent::pause, nlohmann::json data = nlohmann::json::object());
  AgentView resume_agent(const std::string& id, const std::string& actor, AgentEvent event = AgentEvent::resume);
  // Quarantine: an agent without a process (the caller stopped it, its worktree saved) held
  // out of work: never started, restarted or dispatched to. Release makes it stopped again
  // (the patrol starts a supervisor or QA; a worker waits for dispatch). -32002 from a status
  // the table does not quarantine (a process still runs).
  AgentView quarantine_agent(const std::string& id, const std::string& actor, const std::string& why);
  AgentView release_agent(const std::string& id, const std::string& actor);
  bool is_quarantined(const std::string& id) const {
    const Agent* a = registry_.find(id);
    return a && a->rec.status == AgentStatus::quarantined;
  }
  // The runbook's reset (Lifecycle::reset); the patrol then starts supervisors and QA.
  AgentView reset_agent(const std::string& id, const std::string& actor);
  // A squad pause: every agent with a process frozen (reason squad; one paused already keeps
  // its own reason), and nothing started until it ends. Returns the ids it froze.
  std::vector<std::string> pause_all(const std::string& actor);
  // Ends it: thaws only what the squad pause froze (paused, reason squad); starts resume.
  std::vector<std::string> resume_all(const std::string& actor);
  // Starts are held (a squad pause): the start queue launches nothing.
  void hold_starts(bool held) { launcher_.hold(held); }
  bool starts_held() const { return launcher_.held(); }
  // Starts the worker of a slot (dispatch, worker.spawn) in `worktree` (empty: the slot's
  // own), holding `work_order` (its WORK_ORDER at every start); answers once it runs.
  boost::asio::awaitable<AgentView> start_worker(std::string factory, int slot,
                                                 std::optional<std::string> work_order, std::string worktree,
                                                 std::string actor);
  // Records (or clears) the work order a worker holds. A worker that holds one is restarted
  // when it crashes; once the work leaves its hands (the dispatcher says so), it is not.
  void assign_work(const std::string& id, const std::optional<std::string>& work_order);
  // A process runs or is about to (launching, queued, waiting to restart).
  bool is_live(const std::string& id) const;
  // It has a process now (running, idle, stuck, paused, stopping), or one is being started.
  bool has_process(const std::string& id) const {
    const Agent* a = registry_.find(id);
    return a && (a->proc || a->busy);
  }
  // Stops every agent of a factory and forgets them (factory.remove); returns their ids.
  boost::asio::awaitable<std::vector<std::string>> retire_factory(std::string factory, std::string actor);

  nlohmann::json heartbeat(const std::string& id, const std::optional<std::string>& activity) {
    return heartbeats_.beat(id, activity);
  }
  int stale_count() const { return heartbeats_.stale_count(); }
  AgentView agent(const std::string& id) const { return registry_.view(id); }  // not_found when unknown
  std::vector<AgentView> list(const AgentFilter& filter) const { return registry_.list(filter); }
  // Read-only, for answers written one agent at a time (status).
  const AgentRegistry& registry() const { return registry_; }
  // The same with each live agent's CPU and memory, read from /proc now (usage.hpp):
  // agent.get and agent.list. Not const: the CPU samples are kept for the next request.
  AgentView agent_with_usage(const std::string& id);
  // Each agent `filter` selects, in its order, as one view reused from agent to agent (its
  // strings keep their storage), with its CPU and memory when `usage`.
  void each_view(const AgentFilter& filter, bool usage, const std::function<void(const AgentView&)>& fn);
  std::optional<std::string> log_file(const std::string& id) const { return registry_.log_file(id); }
  // {total, by_status}, for status, health and factory listings.
  nlohmann::json counts(const std::optional<std::string>& factory = std::nullopt) const {
    return registry_.counts(factory);
  }
  int failed_count() const { return registry_.failed_count(); }
  std::optional<std::string> agent_for_pid(pid_t pid) const { return registry_.agent_for_pid(pid); }
  void note_activity(const std::string& id) { registry_.note_activity(id); }
  // Mail from operations to a running agent, also typed into its pane under tmux.
  void tell(const std::string& id, const std::string& subject, const std::string& body, const std::string& line) {
    if (const Agent* a = registry_.find(id)) patrol_.tell(*a, subject, body, line);
  }
  // One line typed into a running agent's pane; false when it has none (not running, or
  // not under tmux).
  bool type_into(const std::string& id, const std::string& line) {
    const Agent* a = registry_.find(id);
    return a && patrol_.type_into(*a, line);
  }
  int live_process_count() const { return registry_.live_process_count(); }

  // Daemon shutdown: workers, then QA, then supervisors, each stopped (TERM, KILL after
  // stop_timeout_seconds) and waited for; `done` runs once all have exited.
  void stop_all(std::function<void()> done);
  // Daemon shutdown with --keep-agents: stop watching, signal nothing.
  void release_all();

 private:
  void ensure_ceo();
  // Waits (up to `deadline`) until `settled` holds for the agent; -32001 if it was removed.
  void add_usage(AgentView& view);
  boost::asio::awaitable<void> wait_for(const std::string& id, std::chrono::steady_clock::time_point deadline,
                                        std::function<bool(const Agent&)> settled);

  boost::asio::io_context& io_;
  const Config& config_;
  Factories& factories_;
  AgentRegistry registry_;
  Launcher launcher_;
  Lifecycle lifecycle_;
  Patrol patrol_;
  Heartbeats heartbeats_;
  Readoption readoption_;
  UsageSampler usage_;
};

}  // namespace vermas
