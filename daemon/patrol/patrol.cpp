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
  idle_timer_.cancel();
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
  rotate_logs();
  arm_idle();
  arm();
}

// ---------------------------------------------------------------------------------------
// Idle

std::chrono::steady_clock::duration Patrol::idle_after(const Agent& a, IdleTimeouts& memo) const {
  const std::string factory = a.rec.factory.value_or("");
  if (auto it = memo.find(factory); it != memo.end()) return it->second;
  double minutes = config_.worker.idle_timeout_minutes;
  if (!factory.empty())
    if (auto m = factories_.config(factory).value.worker.idle_timeout_minutes) minutes = *m;
  return memo[factory] = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             std::chrono::duration<double>(std::max(0.001, minutes) * 60));
}

// Due: the last activity (or the start of the process) plus the idle timeout.
void Patrol::arm_idle() {
  if (stopped_) return;
  std::optional<Agent::Clock::time_point> earliest;
  IdleTimeouts memo;
  for (const auto& [id, a] : registry_.all()) {
    if (a->rec.status != AgentStatus::running || !a->proc) continue;
    const auto due = a->last_activity_steady.value_or(a->started_steady) + idle_after(*a, memo);
    if (!earliest || due < *earliest) earliest = due;
  }
  if (!earliest) return;
  idle_timer_.expires_at(*earliest);
  idle_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    try {
      check_idle();
    } catch (const std::exception& e) {
      spdlog::error("idle deadlines: {}", e.what());
    }
    arm_idle();
  });
}

void Patrol::check_idle() {
  const auto now = Agent::Clock::now();
  IdleTimeouts memo;
  for (auto& entry : registry_.all()) {
    Agent& a = *entry.second;
    if (a.rec.status != AgentStatus::running || !a.proc) continue;
    const auto since = a.last_activity_steady.value_or(a.started_steady);
    if (now < since + idle_after(a, memo)) continue;
    const double seconds = std::chrono::duration<double>(now - since).count();
    const AgentMove m = registry_.move(a, AgentEvent::idle_timeout, "idle_timeout");  // running -> idle
    registry_.commit(a, {registry_.event(a, "agent.idle", {{"idle_seconds", seconds}})});
    spdlog::info("agent {}: idle for {:.1f} s", a.rec.id, seconds);
    if (m.effects & effect::nudge) {
      const std::string body = a.rec.id + " has shown no activity for " + std::to_string(static_cast<long>(seconds)) +
                               " s (idle_timeout_minutes). If you are working, say so: co heartbeat --activity "
                               "\"what you are doing\". If you are done, finish your work order.";
      mail::send(registry_.journal(), "operations", a.rec.id, "NUDGE", body);
      if (!a.proc->pane.empty()) {
        const std::string line = "NUDGE: no activity for " + std::to_string(static_cast<long>(seconds)) +
                                 " s; read your mail: co mail inbox";
        asio::co_spawn(io_, type_nudge(a.rec.runner, {a.rec.id, a.rec.session, a.proc->identity, a.proc->pane}, line),
                       asio::detached);
      }
    }
  }
}

void Patrol::rotate_logs() {
  const auto max_bytes = static_cast<std::uintmax_t>(config_.operations.log_max_mb * 1024 * 1024);
  const int keep = std::max(1, config_.operations.log_keep);
  for (auto& [id, a] : registry_.all()) {
    if (!a->proc || a->log.empty()) continue;
    std::error_code ec;
    auto size = fs::file_size(a->log, ec);
    if (ec || size < max_bytes) continue;
    // copytruncate: the writer (the agent itself, or tmux's pipe) holds an O_APPEND fd we
    // cannot reopen, so the file is copied aside and truncated in place. A few lines
    // written between the two may be lost: the price of a log the daemon needn't feed.
    fs::path log = a->log;
    for (int i = keep - 1; i >= 1; --i) {
      fs::rename(log.string() + "." + std::to_string(i), log.string() + "." + std::to_string(i + 1), ec);
    }
    fs::copy_file(log, log.string() + ".1", fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::resize_file(log, 0, ec);
    spdlog::info("agent {}: rotated {} at {} bytes", id, a->log, size);
  }
}

asio::awaitable<void> Patrol::type_nudge(std::string runner, RecordedProcess pane, std::string line) {
  bool typed = false;
  try {
    typed = co_await launcher_.runner(runner).type_text(pane, line);
  } catch (const std::exception& e) {
    spdlog::warn("agent {}: typing its nudge: {}", pane.agent_id, e.what());
  }
  if (!typed) spdlog::warn("agent {}: its nudge could not be typed into pane {}", pane.agent_id, pane.pane);
}

}  // namespace vermas
