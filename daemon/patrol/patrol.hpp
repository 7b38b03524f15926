#pragma once
// The patrol: on a timer ([operations] patrol_interval_seconds) and when asked, every
// registered factory gets its supervisor and QA agent, those that should run and do not
// join the start queue, and agents' output logs are rotated. The idle deadline is its own
// timer, at the earliest one due: a running agent with no activity for [worker]
// idle_timeout_minutes (its factory's, else the company's) becomes idle and gets one NUDGE
// (mail from `operations`); its next activity makes it running again (the registry). It
// calls down to the launcher and the registry.
#include <chrono>
#include <map>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "daemon/agents/launcher.hpp"
#include "daemon/agents/registry.hpp"
#include "daemon/factories.hpp"

namespace vermas {

class Patrol {
 public:
  Patrol(boost::asio::io_context& io, const Config& config, AgentRegistry& registry, Launcher& launcher,
         Factories& factories)
      : io_(io), config_(config), registry_(registry), launcher_(launcher), factories_(factories), timer_(io),
        idle_timer_(io) {}
  Patrol(const Patrol&) = delete;
  Patrol& operator=(const Patrol&) = delete;

  void start();  // the first round now, then on the timer
  void soon();   // a round at the next turn of the loop (a factory added, a config reload)
  void rearm();  // the interval may have changed
  void stop();

 private:
  void round();
  void arm();
  void rotate_logs();
  // The idle timeout of each factory's agents, read once per pass (a factory's config is a
  // file: a stat per agent per pass would be 200 stats a round).
  using IdleTimeouts = std::map<std::string, std::chrono::steady_clock::duration>;
  std::chrono::steady_clock::duration idle_after(const Agent& a, IdleTimeouts& memo) const;
  void arm_idle();
  void check_idle();
  // A tmux agent also sees its nudge typed into its pane.
  boost::asio::awaitable<void> type_nudge(std::string runner, RecordedProcess pane, std::string line);

  boost::asio::io_context& io_;
  const Config& config_;
  AgentRegistry& registry_;
  Launcher& launcher_;
  Factories& factories_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer idle_timer_;
  bool started_ = false;
  bool stopped_ = false;
  bool posted_ = false;
};

}  // namespace vermas
