#pragma once
// Heartbeats and their deadlines. A heartbeat is cheap: it updates the agent in memory and
// is written to its row with every other heartbeat of the next second in one transaction,
// never an event of its own. What changes is an event: an agent that has heartbeated in
// this run and then not for [operations] heartbeat_stale_seconds becomes stale
// (agent.heartbeat_missed, a heartbeat_missed alert, health's agents "degraded"); its next
// heartbeat makes it fresh again (agent.heartbeat_resumed, the alert resolved).
//
// The deadline is one timer at the earliest one due, not a scan on every patrol: a daemon
// with many quiet agents wakes only when a deadline can have passed.
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "daemon/agents/registry.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Heartbeats {
 public:
  Heartbeats(boost::asio::io_context& io, const Config& config, AgentRegistry& registry, Journal& journal)
      : config_(config), registry_(registry), journal_(journal), deadline_(io), flush_timer_(io) {}
  Heartbeats(const Heartbeats&) = delete;
  Heartbeats& operator=(const Heartbeats&) = delete;

  // {id, last_heartbeat}; not_found for an unknown agent.
  nlohmann::json beat(const std::string& id, const std::optional<std::string>& activity);
  int stale_count() const;
  void config_changed() { arm_deadline(); }
  // Writes what is pending and stops the timers (daemon shutdown).
  void stop();

 private:
  void flush();
  void arm_deadline();
  void check_deadlines();

  const Config& config_;
  AgentRegistry& registry_;
  Journal& journal_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
  std::optional<Agent::Clock::time_point> armed_for_;
  bool stopped_ = false;
};

}  // namespace vermas
