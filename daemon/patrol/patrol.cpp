#include "daemon/patrol/patrol.hpp"

#include <algorithm>
#include <filesystem>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "daemon/patrol/mail.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;

void Patrol::start() {
  started_ = true;
  round();
}

void Patrol::stop() {
  stopped_ = true;
  timer_.cancel();
  timeouts_timer_.cancel();
}

void Patrol::soon() {
  if (posted_) return;
  posted_ = true;
  asio::post(io_, [this] {
    posted_ = false;
    try {
      round();
    } catch (const std::exception& e) {
      spdlog::error("patrol: {}", e.what());
    }
  });
}

void Patrol::rearm() {
  if (started_) arm();
}

void Patrol::arm() {
  if (stopped_) return;
  timer_.expires_after(to_ms(std::max(0.01, config_.operations.patrol_interval_seconds)));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    try {
      round();
    } catch (const std::exception& e) {
      spdlog::error("patrol: {}", e.what());
      arm();
    }
  });
}

void Patrol::round() {
  if (!started_ || stopped_) return;
  for (const auto& [name, f] : factories_.all()) {
    registry_.ensure(name, AgentRole::supervisor, 0, launcher_.runner_name_for(name, AgentRole::supervisor));
    registry_.ensure(name, AgentRole::qa, 0, launcher_.runner_name_for(name, AgentRole::qa));
  }
  for (auto& [id, a] : registry_.all()) {
    if (a->rec.role == AgentRole::worker || !a->rec.want_running) continue;
    if (a->proc || a->busy || a->queued || a->restart_at) continue;
    if (!a->rec.factory || !factories_.find(*a->rec.factory)) continue;
    const AgentStatus s = a->rec.status;
    if (s == AgentStatus::stopped || s == AgentStatus::lost || s == AgentStatus::backoff) launcher_.enqueue(*a);
  }
  // A frozen agent stays frozen: one found running (SIGCONT by hand) is stopped again.
  for (auto& entry : registry_.all())
    if (frozen(entry.second->rec.status)) lifecycle_.refreeze(*entry.second);
  rotate_logs();
  arm_timeouts();
  arm();
}

// ---------------------------------------------------------------------------------------
// Timeouts

const Patrol::Spans& Patrol::spans(const Agent& a, SpansMemo& memo) const {
  const std::string factory = a.rec.factory.value_or("");
  if (auto it = memo.find(factory); it != memo.end()) return it->second;
  double idle = config_.worker.idle_timeout_minutes, stuck = config_.worker.stuck_timeout_minutes;
  if (!factory.empty()) {
    const auto& over = factories_.config(factory).value.worker;
    idle = over.idle_timeout_minutes.value_or(idle);
    stuck = over.stuck_timeout_minutes.value_or(stuck);
  }
  auto span = [](double minutes) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(std::max(0.001, minutes) * 60));
  };
  return memo[factory] = Spans{span(idle), span(stuck)};
}

timeouts::Quiet Patrol::quiet(const Agent& a, SpansMemo& memo) const {
  timeouts::Quiet q;
  q.status = a.rec.status;
  q.role = a.rec.role;
  q.has_process = a.proc.has_value() && !a.busy;
  q.holds_work = a.rec.role == AgentRole::worker && a.rec.current_work_order.has_value();
  // The quiet spell began at its last activity, or at the start of this process if later
  // (a restarted agent does not inherit its predecessor's silence).
  q.since = std::max(a.last_activity_steady.value_or(a.started_steady), a.started_steady);
  q.remedy_asked = a.remedy_for == q.since;
  const Spans& s = spans(a, memo);
  q.idle_after = s.idle;
  q.stuck_after = s.stuck;
  return q;
}

// A process that runs now: only its own deadline can be earlier than the armed one (an
// O(1) check, so a start of 200 agents is not 200 passes over all of them).
void Patrol::noticed(const Agent& a) {
  if (!started_ || stopped_) return;
  SpansMemo memo;
  auto n = timeouts::next(quiet(a, memo));
  if (n && (!timeouts_at_ || n->at < *timeouts_at_)) arm_timeouts();
}

// One timer at the earliest deadline over all agents. Activity only moves deadlines later,
// so a timer that fires early finds nothing due and re-arms; a new process may bring an
// earlier one, and says so (timeouts_changed).
void Patrol::arm_timeouts() {
  if (stopped_) return;
  std::optional<Agent::Clock::time_point> earliest;
  SpansMemo memo;
  for (const auto& entry : registry_.all()) {
    if (auto n = timeouts::next(quiet(*entry.second, memo)))
      if (!earliest || n->at < *earliest) earliest = n->at;
  }
  if (earliest == timeouts_at_) return;
  timeouts_at_ = earliest;
  if (!earliest) {
    timeouts_timer_.cancel();
    return;
  }
  timeouts_timer_.expires_at(*earliest);
  timeouts_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    timeouts_at_.reset();
    try {
      check_timeouts();
    } catch (const std::exception& e) {
      spdlog::error("patrol timeouts: {}", e.what());
    }
    arm_timeouts();
  });
}

void Patrol::check_timeouts() {
  const auto now = Agent::Clock::now();
  SpansMemo memo;
  std::vector<Remedy> remedies;
  for (auto& entry : registry_.all()) {
    Agent& a = *entry.second;
    const timeouts::Quiet q = quiet(a, memo);
    auto due = timeouts::next(q);
    if (!due || now < due->at) continue;
    // New output since the quiet spell began is activity: looked at only when a deadline is
    // due (one stat), so a busy agent's output costs nothing.
    if (auto wrote = output_since(a, q.since)) {
      registry_.note_output(a, *wrote);
      continue;
    }
    const double seconds = std::chrono::duration<double>(now - q.since).count();
    switch (due->what) {
      case timeouts::Due::idle: go_idle(a, seconds); break;
      case timeouts::Due::stuck: go_stuck(a, seconds); break;
      case timeouts::Due::reclaim:
      case timeouts::Due::remedy:
        a.remedy_for = q.since;  // asked once for this quiet spell
        remedies.push_back({due->what, a.rec.id, a.rec.factory.value_or(""), a.rec.slot.value_or(0),
                            a.rec.current_work_order, seconds});
        break;
    }
  }
  // Handed over after the pass: the handler may change the registry.
  for (const Remedy& r : remedies) {
    spdlog::info("agent {}: {} after {:.1f} s without activity", r.agent, timeouts::to_string(r.what), r.quiet_seconds);
    if (remedy_) remedy_(r);
  }
}

std::optional<std::chrono::system_clock::time_point> Patrol::output_since(const Agent& a,
                                                                         Agent::Clock::time_point since) const {
  std::error_code ec;
  const auto written = fs::last_write_time(registry_.log_path(a), ec);
  if (ec) return std::nullopt;
  const auto at = std::chrono::file_clock::to_sys(written);
  if (at <= a.own_output_until) return std::nullopt;
  const auto ago = std::chrono::system_clock::now() - at;
  if (Agent::Clock::now() - std::chrono::duration_cast<Agent::Clock::duration>(ago) <= since) return std::nullopt;
  return at;
}

void Patrol::go_idle(Agent& a, double seconds) {
  const AgentMove m = registry_.move(a, AgentEvent::idle_timeout, "idle_timeout");  // running -> idle
  registry_.commit(a, {registry_.event(a, "agent.idle", {{"idle_seconds", seconds}})});
  spdlog::info("agent {}: idle for {:.1f} s", a.rec.id, seconds);
  if (!(m.effects & effect::nudge)) return;
  const std::string quiet = std::to_string(static_cast<long>(seconds)) + " s";
  std::string body = a.rec.id + " has shown no activity for " + quiet +
                     " (idle_timeout_minutes). If you are working, say so: co heartbeat --activity "
                     "\"what you are doing\". If you are done, finish your work order.";
  if (a.rec.role == AgentRole::worker && !a.rec.current_work_order)
    body += " A worker without a work order that stays idle as long again is reclaimed: its worktree saved, "
            "its slot freed.";
  nudge(a, body, "NUDGE: no activity for " + quiet + "; read your mail: co mail inbox");
}

void Patrol::go_stuck(Agent& a, double seconds) {
  const std::string wo = a.rec.current_work_order.value_or("");
  const AgentMove m = registry_.move(a, AgentEvent::stuck_timeout, "stuck_timeout");  // running|idle -> stuck
  registry_.commit(a, {registry_.event(a, "agent.stuck", {{"work_order", wo}, {"quiet_seconds", seconds}})});
  spdlog::warn("agent {}: stuck on {} ({:.1f} s without activity)", a.rec.id, wo, seconds);
  if (!(m.effects & effect::nudge)) return;
  const std::string quiet = std::to_string(static_cast<long>(seconds)) + " s";
  const std::string body =
      a.rec.id + " holds work order " + wo + " and has shown no activity for " + quiet +
      " (stuck_timeout_minutes). Say what you are doing (co heartbeat --activity \"...\"), move " + wo +
      " on (wo transition " + wo + " --to review), or block it with a reason (wo transition " + wo +
      " --to blocked --reason \"...\"). Still no activity as long again and you are restarted in your slot "
      "(your worktree saved first); after that, the work order goes back to open.";
  nudge(a, body, "NUDGE: stuck on " + wo + " for " + quiet + "; read your mail: co mail inbox");
}

void Patrol::tell(const Agent& a, const std::string& subject, const std::string& body, const std::string& line) {
  mail::send(registry_.journal(), "operations", a.rec.id, subject, body);
  type_into(a, line);
}

bool Patrol::type_into(const Agent& a, const std::string& line) {
  if (!a.proc || a.proc->pane.empty()) return false;
  asio::co_spawn(io_, type_nudge(a.rec.runner, {a.rec.id, a.rec.session, a.proc->identity, a.proc->pane}, line),
                 asio::detached);
  return true;
}

void Patrol::rotate_logs() {
  const auto max_bytes = static_cast<std::uintmax_t>(config_.operations.log_max_mb * 1024 * 1024);
  const int keep = std::max(1, config_.operations.log_keep);
  for (auto& [id, a] : registry_.all()) {
    if (!a->proc) continue;
    const fs::path log = registry_.log_path(*a);
    std::error_code ec;
    auto size = fs::file_size(log, ec);
    if (ec || size < max_bytes) continue;
    // copytruncate: the writer (the agent itself, or tmux's pipe) holds an O_APPEND fd we
    // cannot reopen, so the file is copied aside and truncated in place. A few lines
    // written between the two may be lost: the price of a log the daemon needn't feed.
    for (int i = keep - 1; i >= 1; --i) {
      fs::rename(log.string() + "." + std::to_string(i), log.string() + "." + std::to_string(i + 1), ec);
    }
    fs::copy_file(log, log.string() + ".1", fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::resize_file(log, 0, ec);
    spdlog::info("agent {}: rotated {} at {} bytes", id, log.string(), size);
  }
}

asio::awaitable<void> Patrol::type_nudge(std::string runner, RecordedProcess pane, std::string line) {
  bool typed = false;
  try {
    typed = co_await launcher_.runner(runner).type_text(pane, line);
  } catch (const std::exception& e) {
    spdlog::warn("agent {}: typing its nudge: {}", pane.agent_id, e.what());
  }
  // The pane echoes what was typed into the log a moment later (tmux's pipe): ours.
  if (Agent* a = registry_.find(pane.agent_id))
    a->own_output_until = std::chrono::system_clock::now() + std::chrono::seconds(1);
  if (!typed) spdlog::warn("agent {}: its nudge could not be typed into pane {}", pane.agent_id, pane.pane);
}

}  // namespace vermas
