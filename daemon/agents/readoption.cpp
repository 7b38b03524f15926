#include "daemon/agents/readoption.hpp"

#include <spdlog/spdlog.h>

#include "common/json.hpp"
#include "common/time.hpp"

namespace vermas {

namespace asio = boost::asio;
using Clock = Agent::Clock;

asio::awaitable<void> Readoption::run() {
  registry_.load();
  const std::string& boot = launcher_.boot_id();
  for (const auto& id : registry_.ids()) {
    Agent* a = registry_.find(id);
    if (!a) continue;
    const AgentStatus s = a->rec.status;
    if (has_process(s)) {
      if (a->rec.pid > 0 && a->rec.boot_id == boot && proc::identity_matches({a->rec.pid, a->rec.start_time})) {
        co_await adopt(id);
      } else {
        lifecycle_.lost(*a, a->rec.pid <= 0          ? "no process recorded"
                            : a->rec.boot_id != boot ? "the machine rebooted"
                                                     : "pid " + std::to_string(a->rec.pid) + " is gone or was reused");
      }
    } else if (s == AgentStatus::backoff) {
      // The old daemon's timer died with it: restart after the first backoff step.
      lifecycle_.schedule_restart(*a, config_.restart.backoff_initial_seconds);
    }
  }
}

asio::awaitable<void> Readoption::adopt(std::string id) {
  Agent* a = registry_.find(id);
  if (!a) co_return;
  a->busy = true;
  RecordedProcess recorded{a->rec.id, a->rec.session, {a->rec.pid, a->rec.start_time}, a->rec.pane};
  LaunchResult res = co_await launcher_.runner(a->rec.runner).adopt(recorded);
  a = registry_.find(id);
  if (!a) co_return;
  a->busy = false;
  if (!res.launched) {
    lifecycle_.lost(*a, res.error);
    co_return;
  }
  std::optional<std::string> started_at = a->rec.started_at;
  launcher_.attach(*a, *res.launched);
  const AgentMove m = registry_.move(*a, AgentEvent::adopt, a->rec.reason.empty() ? "adopted" : a->rec.reason);
  // Uptime continues from the recorded start.
  a->rec.started_at = started_at;
  if (started_at)
    if (auto t = parse_rfc3339(*started_at))
      a->started_steady = Clock::now() - std::chrono::duration_cast<Clock::duration>(std::chrono::system_clock::now() - *t);
  // Its idle and stuck spans start over: while no daemon ran, its heartbeats found no one,
  // and a nudge must come before any restart.
  a->last_activity_steady = Clock::now();
  // The status keeps its reason (a paused agent stays paused for its budget); the event says
  // why the daemon took it back.
  registry_.commit(*a, {registry_.event(*a, "agent.adopted",
                                        {{"pid", a->rec.pid}, {"runner", a->rec.runner}, {"reason", "daemon_restart"}})});
  lifecycle_.watch_stable(*a);  // a crash loop's alerts end with a stable run, across daemons too
  spdlog::info("agent {}: re-adopted pid {}", id, a->rec.pid);
  // The previous daemon was stopping it: finish the job.
  if (m.effects & effect::terminate) lifecycle_.resume_stop(*a);
  // Paused or quarantined: frozen it stays (stopped again if someone continued it meanwhile).
  lifecycle_.refreeze(*a);
}

}  // namespace vermas
