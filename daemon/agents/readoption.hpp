#pragma once
// Re-adoption at start-up: every stored agent that had a process is found again (same
// pid, start time and boot; the runner checks the rest, such as the tmux pane) and
// watched, or is lost and handled as an exit. An agent waiting out a backoff gets a new
// timer. Runs once, before the patrol; calls down to the lifecycle, launcher and registry.
#include <string>

#include <boost/asio/awaitable.hpp>

#include "common/config.hpp"
#include "daemon/agents/launcher.hpp"
#include "daemon/agents/lifecycle.hpp"
#include "daemon/agents/registry.hpp"

namespace vermas {

class Readoption {
 public:
  Readoption(const Config& config, AgentRegistry& registry, Launcher& launcher, Lifecycle& lifecycle)
      : config_(config), registry_(registry), launcher_(launcher), lifecycle_(lifecycle) {}

  // Loads the records into the registry, then adopts or loses each one with a process.
  boost::asio::awaitable<void> run();

 private:
  boost::asio::awaitable<void> adopt(std::string id);

  const Config& config_;
  AgentRegistry& registry_;
  Launcher& launcher_;
  Lifecycle& lifecycle_;
};

}  // namespace vermas
