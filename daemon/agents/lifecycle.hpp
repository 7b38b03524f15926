#pragma once
// The lifecycle's executor: what happens to an agent when something happens to it. The
// lifecycle table (agent_lifecycle.hpp) decides the next status and the effects; this
// carries them out: exits (restart with backoff, the start limit, a worker handing back
// its slot), stops and kills, backoff timers, agents lost across a daemon restart, and the
// ordered shutdown (workers, then QA, then supervisors).
//
// It calls down only, to the launcher and the registry; the launcher's reports (started,
// could not start, exited) come up into it.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/config.hpp"
#include "daemon/agents/launcher.hpp"
#include "daemon/agents/registry.hpp"

namespace vermas {

class Lifecycle {
 public:
  // Takes the launcher's reports.
  Lifecycle(boost::asio::io_context& io, const Config& config, AgentRegistry& registry, Launcher& launcher);
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // Asks the process to go (TERM, KILL after stop_timeout_seconds; `kill`: KILL now); the
  // exit comes back through the launcher. Without a process: backoff and lost become
  // stopped. `batch`: signal now, leave the commit to the registry's commit_batch.
  void begin_stop(Agent& a, ExitIntent intent, const std::string& actor, const std::string& reason,
                  std::vector<Agent*>* batch = nullptr);
  // A re-adopted process the previous daemon was stopping: finish the job.
  void resume_stop(Agent& a);
  // Recorded with a process that is gone (re-adoption): handled as an exit.
  void lost(Agent& a, const std::string& why);
  // The restart timer: enqueued when it fires (at once for a delay <= 0).
  void schedule_restart(Agent& a, double delay_seconds);
  // Arms the agent's stable-run deadline (started_steady + [restart]
  // reset_after_stable_seconds): then its error streak is reset and its start_limit and
  // error_streak alerts are resolved. At each start, and for a re-adopted process.
  void watch_stable(Agent& a);

  // Freezes or thaws its process group through the table: `event` is pause, budget_exceeded,
  // squad_pause, quarantine (freeze) or resume, squad_resume, release (thaw). The move is
  // taken first (an illegal one throws before any signal); the signal goes before the commit.
  // Returns false when the table's move has no freeze/thaw effect (already frozen).
  bool freeze(Agent& a, AgentEvent event, const std::string& reason, const std::string& actor,
              nlohmann::json data = nlohmann::json::object());
  bool thaw(Agent& a, AgentEvent event, const std::string& reason, const std::string& actor);
  // The runbook's reset: error streak, restart counters, backoff and start limit cleared (a
  // failed agent becomes stopped, startable again; one waiting out a backoff starts now), its
  // crash-loop alerts resolved. History stays in the log.
  void reset(Agent& a, const std::string& actor);
  // A frozen agent whose process runs (someone sent SIGCONT by hand, or it was adopted):
  // stopped again, and that is an event. Returns whether it had to be.
  bool refreeze(Agent& a);

  // Daemon shutdown: everything stopped in order; `done` runs once all have exited.
  void stop_all(std::function<void()> done);
  // Daemon shutdown with --keep-agents: stop watching, signal nothing.
  void release_all();
  bool shutting_down() const { return shutting_down_; }
  // Told of every process that runs now (a start, a restart): the patrol's deadlines.
  void on_running(std::function<void(Agent&)> hook) { on_running_ = std::move(hook); }
  // Told of each new process only (not of a thaw): governance freezes one that starts under
  // a cap that is already past.
  void on_started(std::function<void(Agent&)> hook) { on_started_ = std::move(hook); }

 private:
  // The launcher's reports.
  void refused(Agent& a);
  void failed(Agent& a, const std::string& why, AgentStatus from);
  void started(Agent& a);
  void exited(Agent& a, const proc::ExitInfo& exit);
  void ran_stable(Agent& a);
  void stop_phase(std::size_t phase);

  boost::asio::io_context& io_;
  const Config& config_;
  AgentRegistry& registry_;
  Launcher& launcher_;
  bool shutting_down_ = false;
  std::function<void(Agent&)> on_running_;
  std::function<void(Agent&)> on_started_;
  std::function<void()> shutdown_done_;
  std::size_t shutdown_phase_ = 0;
};

}  // namespace vermas
