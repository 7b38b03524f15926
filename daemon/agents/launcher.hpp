#pragma once
// The start queue and the launcher: agents wait in line under max_agents and the spawn
// rate, are launched through their runner (direct or tmux), and their processes are
// watched. It decides nothing about restarts: what happens to a process (it started, it
// could not start, it exited) goes back up as a report to whoever set them (the
// lifecycle), which decides. Calls go down only: to the registry and the runners.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/agents/registry.hpp"
#include "daemon/agents/runner.hpp"
#include "daemon/agents/spawn_throttle.hpp"
#include "daemon/factories.hpp"

namespace vermas {

class Launcher {
 public:
  // Reports, each about an agent still in the registry, on the io thread.
  struct Reports {
    std::function<void(Agent&)> refused;  // the start limit: it started too often to start again
    std::function<void(Agent&, const std::string& why, AgentStatus from)> failed;  // the launch failed
    std::function<void(Agent&)> started;                          // committed soon by the registry
    std::function<void(Agent&, const proc::ExitInfo&)> exited;    // as the runner refined it
  };

  Launcher(boost::asio::io_context& io, const Config& config, const Paths& paths, AgentRegistry& registry,
           Factories& factories, std::string socket_path);
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;
  void set_reports(Reports reports) { reports_ = std::move(reports); }

  // Joins the queue (no-op when queued, launching or running); launched in turn.
  void enqueue(Agent& a);
  void dequeue(Agent& a);
  // Launches what the queue, max_agents and the spawn rate allow now (after an exit, a reload).
  void pump();
  // Daemon shutdown: the queue empties and takes nothing more.
  void close();
  // A squad pause: the queue keeps what it has but launches nothing until released (no
  // restarts, no patrol starts); release() launches what waited.
  void hold(bool held) {
    held_ = held;
    if (!held_) pump();
  }
  bool held() const { return held_; }
  // Watches a running process (a launch, a re-adoption); its exit is reported.
  void attach(Agent& a, Launched launched);

  Runner& runner(const std::string& name) { return name == "direct" ? *direct_ : *tmux_; }
  std::string runner_name_for(const std::string& factory, AgentRole role) const;
  const std::string& boot_id() const { return boot_id_; }

 private:
  boost::asio::awaitable<void> launch(std::string id);
  LaunchRequest launch_request(const Agent& a, std::string& error) const;
  void on_exit(const std::string& id, std::uint64_t generation, proc::ExitInfo exit);
  boost::asio::awaitable<void> after_exit(std::string id, std::uint64_t generation, proc::ExitInfo exit);

  boost::asio::io_context& io_;
  const Config& config_;
  Paths paths_;
  AgentRegistry& registry_;
  Factories& factories_;
  std::string socket_path_;
  std::string boot_id_;
  std::string bin_dir_;  // the daemon's own directory: agents find `co` there first
  std::unique_ptr<Runner> direct_;
  std::unique_ptr<Runner> tmux_;
  Reports reports_;
  std::vector<std::string> queue_;
  SpawnThrottle throttle_;
  boost::asio::steady_timer throttle_timer_;
  bool throttle_armed_ = false;
  // The next launch of a mass start waits for this (due at once): it is run by the reactor,
  // so the socket is polled between two launches.
  boost::asio::steady_timer turn_timer_;
  bool turn_armed_ = false;
  int launched_this_turn_ = 0;
  // ~0.7 ms each (vfork + exec): a request waits at most about this many launches.
  static constexpr int kLaunchesPerTurn = 4;
  bool closed_ = false;
  bool held_ = false;
  std::uint64_t next_generation_ = 1;
};

}  // namespace vermas
