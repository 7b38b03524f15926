#pragma once
// The supervisor: every agent's record and process, the patrol that keeps each factory's
// supervisor and QA running, restarts with backoff and a start limit, operator stops that
// stay stopped, re-adoption after a daemon restart and the ordered stop.
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

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/agent_lifecycle.hpp"
#include "daemon/agent_record.hpp"
#include "daemon/alerts.hpp"
#include "daemon/factories.hpp"
#include "daemon/journal.hpp"
#include "daemon/restart_policy.hpp"
#include "daemon/runner.hpp"
#include "daemon/spawn_throttle.hpp"

namespace vermas {

struct AgentFilter {
  std::optional<std::string> factory;
  std::optional<AgentRole> role;
  std::optional<AgentStatus> status;
  bool slot_holders_only = false;  // workers: only those holding a slot
  std::string sort = "id";         // id | status | started_at | restarts | last_heartbeat | today_spend
};

class Supervisor {
 public:
  // `config` is read at each use, so a reload takes effect at the next decision.
  Supervisor(boost::asio::io_context& io, const Config& config, const Paths& paths, Journal& journal,
             Factories& factories, std::string socket_path);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Loads the records, re-adopts what still runs (the rest is `lost`), then patrols.
  boost::asio::awaitable<void> start();
  void patrol_soon();
  void config_changed();

  // Operator and agent actions. Each answers once the change is committed and done
  // (a stop answers when the process has exited). Errors are rpc::Error.
  boost::asio::awaitable<nlohmann::json> start_agent(std::string id, std::string actor);
  boost::asio::awaitable<nlohmann::json> stop_agent(std::string id, std::string actor, bool kill);
  boost::asio::awaitable<nlohmann::json> restart_agent(std::string id, std::string actor);
  // Starts the worker of a slot (dispatch, worker.spawn) in `worktree` (empty: the slot's
  // own), holding `work_order` (its WORK_ORDER at every start); answers once it runs.
  boost::asio::awaitable<nlohmann::json> start_worker(std::string factory, int slot,
                                                      std::optional<std::string> work_order, std::string worktree,
                                                      std::string actor);
  // Records (or clears) the work order a worker holds. A worker that holds one is restarted
  // when it crashes; once the work leaves its hands (the dispatcher says so), it is not.
  void assign_work(const std::string& id, const std::optional<std::string>& work_order);
  // A process runs or is about to (launching, queued, waiting to restart).
  bool is_live(const std::string& id) const;
  // Stops every agent of a factory and forgets them (factory.remove); returns their ids.
  boost::asio::awaitable<std::vector<std::string>> retire_factory(std::string factory, std::string actor);

  nlohmann::json heartbeat(const std::string& id, const std::optional<std::string>& activity);
  nlohmann::json agent_json(const std::string& id) const;  // -32001 when unknown
  nlohmann::json list(const AgentFilter& filter) const;
  std::optional<std::string> log_file(const std::string& id) const;
  // {total, by_status}, for status, health and factory listings.
  nlohmann::json counts(const std::optional<std::string>& factory = std::nullopt) const;
  int failed_count() const;

  // The agent whose process tree holds `pid` (its session, group or an ancestor).
  std::optional<std::string> agent_for_pid(pid_t pid) const;
  void note_activity(const std::string& id);

  // Daemon shutdown: workers, then QA, then supervisors, each stopped (TERM, KILL after
  // stop_timeout_seconds) and waited for; `done` runs once all have exited.
  void stop_all(std::function<void()> done);
  // Daemon shutdown with --keep-agents: stop watching, signal nothing.
  void release_all();
  int live_process_count() const;

 private:
  struct Agent;
  enum class Intent { none, stop, kill, restart, shutdown };

  // The agent named by `pid`'s environment, if that agent is being launched right now.
  std::optional<std::string> launching_agent_in_environ(pid_t pid) const;
  Agent* find(const std::string& id);
  const Agent* find(const std::string& id) const;
  Agent& require(const std::string& id);
  Agent& ensure_agent(const std::string& factory, AgentRole role, int slot);
  nlohmann::json to_json(const Agent& a) const;

  // Applies `to` (checked against the status table), saves the row and appends the
  // events in one transaction, then wakes anyone waiting on the agent.
  void commit(Agent& a, std::vector<EventDraft> events, const std::optional<alerts::Draft>& alert = std::nullopt);
  // The one way an agent's status changes: the lifecycle table's move for `e`, or a
  // std::logic_error when the table refuses it. Clears the history when the move says so.
  AgentMove move(Agent& a, AgentEvent e, std::string reason);
  EventDraft event(const Agent& a, std::string type, nlohmann::json data, std::string actor = "operations") const;

  void enqueue_start(Agent& a);
  void pump_starts();
  boost::asio::awaitable<void> launch(std::string id);
  void attach_process(Agent& a, Launched launched);
  void on_exit(const std::string& id, std::uint64_t generation, proc::ExitInfo exit);
  boost::asio::awaitable<void> finish_exit(std::string id, std::uint64_t generation, proc::ExitInfo exit);
  void handle_exit(Agent& a, const proc::ExitInfo& exit);
  void schedule_restart(Agent& a, double delay_seconds);
  // `batch`: signal now, leave the commit to commit_batch (one transaction for many).
  void begin_stop(Agent& a, Intent intent, const std::string& actor, const std::string& reason,
                  std::vector<Agent*>* batch = nullptr);
  void commit_batch(std::vector<Agent*>& batch);
  void schedule_flush();
  void wake(Agent& a);
  boost::asio::awaitable<void> adopt(std::string id);
  void handle_lost(Agent& a, const std::string& why);

  void patrol();
  void arm_patrol();
  void rotate_logs();
  bool would_exceed_max(const Agent& a) const;
  LaunchRequest launch_request(const Agent& a, std::string& error) const;
  Runner& runner_for(const std::string& name);
  std::string runner_name_for(const std::string& factory, AgentRole role) const;
  void stop_phase(std::size_t phase);

  boost::asio::io_context& io_;
  const Config& config_;
  Paths paths_;
  Journal& journal_;
  Factories& factories_;
  std::string socket_path_;
  std::string boot_id_;
  std::string bin_dir_;  // the daemon's own directory: agents find `co` there first
  std::unique_ptr<Runner> direct_;
  std::unique_ptr<Runner> tmux_;
  std::map<std::string, std::unique_ptr<Agent>> agents_;
  std::map<pid_t, std::string> by_pid_;
  std::vector<std::string> start_queue_;
  SpawnThrottle throttle_;
  boost::asio::steady_timer throttle_timer_;
  bool throttle_armed_ = false;
  boost::asio::steady_timer patrol_timer_;
  bool patrol_posted_ = false;
  bool flush_posted_ = false;
  bool started_ = false;
  bool shutting_down_ = false;
  bool max_agents_warned_ = false;
  std::function<void()> shutdown_done_;
  std::size_t shutdown_phase_ = 0;
  std::uint64_t next_generation_ = 1;
};

}  // namespace vermas
