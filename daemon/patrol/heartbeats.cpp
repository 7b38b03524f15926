#include "daemon/patrol/heartbeats.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "common/json.hpp"
#include "common/time.hpp"
#include "daemon/patrol/alerts.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {

using Clock = Agent::Clock;

namespace {
constexpr auto kFlushAfter = std::chrono::seconds(1);

Clock::duration stale_after(const Config& config) {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(std::max(0.01, config.operations.heartbeat_stale_seconds)));
}
}  // namespace

json Heartbeats::beat(const std::string& id, const std::optional<std::string>& activity) {
  Agent& a = registry_.require(id);
  const std::string now = now_rfc3339_ms();
  a.rec.last_heartbeat = now;
  a.rec.last_activity = now;
  if (activity) a.rec.activity = activity;
  if (!a.beat_this_run && !a.stale) {
    // Its first heartbeat of this daemon's run: a heartbeat_missed alert a previous daemon
    // left open (it knew the agent stale; this one does not) ends here too.
    if (auto open = alerts::open_id(journal_.store().statements(), "heartbeat_missed", id)) a.stale_alert = open;
  }
  a.beat_this_run = true;
  a.last_beat = Clock::now();
  registry_.note_activity(id);  // a heartbeat is activity (an idle agent runs again)
  a.heartbeat_dirty = true;
  if (a.stale || a.stale_alert) {
    // Fresh again: the event and the alert's resolution are news, written now, together.
    const bool was_stale = std::exchange(a.stale, false);
    const auto alert = std::exchange(a.stale_alert, std::nullopt);
    journal_.commit([&](Store::Tx& tx) {
      if (was_stale) tx.append(registry_.event(a, "agent.heartbeat_resumed", {{"last_heartbeat", now}}));
      if (alert) alerts::resolve_open(tx, {"heartbeat_missed"}, id, "operations");
    });
    spdlog::info("agent {}: heartbeats resumed", id);
  }
  if (!flush_armed_ && !stopped_) {
    flush_armed_ = true;
    flush_timer_.expires_after(kFlushAfter);
    flush_timer_.async_wait([this](boost::system::error_code ec) {
      flush_armed_ = false;
      if (!ec) flush();
    });
  }
  if (!armed_for_) arm_deadline();
  return {{"id", id}, {"last_heartbeat", now}};
}

// One transaction for every heartbeat since the last flush.
void Heartbeats::flush() {
  std::vector<Agent*> dirty;
  for (auto& [id, a] : registry_.all())
    if (a->heartbeat_dirty) dirty.push_back(a.get());
  if (dirty.empty()) return;
  try {
    journal_.store().transact([&](Store::Tx&) {
      for (Agent* a : dirty)
        agent_table::save_heartbeat(journal_.store(), a->rec.id, a->rec.last_heartbeat.value_or(""), a->rec.activity);
    });
    for (Agent* a : dirty) a->heartbeat_dirty = false;
  } catch (const std::exception& e) {
    spdlog::error("recording heartbeats: {}", e.what());  // kept dirty: the next flush tries again
  }
}

int Heartbeats::stale_count() const {
  int n = 0;
  for (const auto& [id, a] : registry_.all()) n += a->stale;
  return n;
}

// The timer waits for the earliest deadline of an agent that can still miss one.
void Heartbeats::arm_deadline() {
  if (stopped_) return;
  std::optional<Clock::time_point> earliest;
  for (const auto& [id, a] : registry_.all())
    if (a->beat_this_run && !a->stale && !frozen(a->rec.status)) {
      const auto due = a->last_beat + stale_after(config_);
      if (!earliest || due < *earliest) earliest = due;
    }
  armed_for_ = earliest;
  if (!earliest) {
    deadline_.cancel();
    return;
  }
  deadline_.expires_at(*earliest);
  deadline_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    armed_for_.reset();
    try {
      check_deadlines();
    } catch (const std::exception& e) {
      spdlog::error("heartbeat deadlines: {}", e.what());
    }
    arm_deadline();
  });
}

void Heartbeats::check_deadlines() {
  const auto now = Clock::now();
  const auto after = stale_after(config_);
  for (auto& entry : registry_.all()) {
    const std::string& id = entry.first;  // named: clang 14 cannot capture a structured binding
    Agent* a = entry.second.get();
    // A frozen agent cannot heartbeat: it misses nothing while paused or quarantined.
    if (!a->beat_this_run || a->stale || frozen(a->rec.status) || now < a->last_beat + after) continue;
    a->stale = true;
    const double seconds = std::chrono::duration<double>(now - a->last_beat).count();
    const std::string msg = id + " has not heartbeated for " + std::to_string(static_cast<long>(seconds)) +
                            " s (heartbeat_stale_seconds = " + std::to_string(config_.operations.heartbeat_stale_seconds) +
                            ")";
    spdlog::warn("{}", msg);
    journal_.commit([&](Store::Tx& tx) {
      tx.append(registry_.event(*a, "agent.heartbeat_missed",
                                {{"last_heartbeat", a->rec.last_heartbeat.value_or("")}, {"seconds", seconds}}));
      a->stale_alert =
          alerts::raise(tx, alerts::about_agent(alerts::Severity::warning, "heartbeat_missed", id, a->rec.factory, msg,
                                                {{"seconds", seconds}}))
              .id;
    });
  }
}

void Heartbeats::stop() {
  stopped_ = true;
  deadline_.cancel();
  flush_timer_.cancel();
  flush();
}

}  // namespace vermas
