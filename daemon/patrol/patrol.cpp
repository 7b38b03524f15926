#include "daemon/patrol/patrol.hpp"

#include <algorithm>
#include <filesystem>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"

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
  arm();
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

}  // namespace vermas
