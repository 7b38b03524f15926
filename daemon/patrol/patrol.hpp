#pragma once
// The patrol: on a timer ([operations] patrol_interval_seconds) and when asked, every
// registered factory gets its supervisor and QA agent, those that should run and do not
// join the start queue, and agents' output logs are rotated.
//
// The timeouts of spec §4 are one more timer, at the earliest deadline over all agents
// (daemon/patrol/timeouts.hpp says what is due when): no activity for [worker]
// idle_timeout_minutes (the factory's, else the company's) → idle and one NUDGE; holding a
// work order, stuck_timeout_minutes → stuck and one NUDGE. Those two it does itself,
// through the lifecycle table. What needs slots and worktrees (reclaiming an idle worker,
// restarting a stuck one or giving its work back) it hands to its remedy handler, the
// dispatcher, wired by the composition root: the patrol never calls up.
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "daemon/agents/launcher.hpp"
#include "daemon/agents/lifecycle.hpp"
#include "daemon/agents/registry.hpp"
#include "daemon/factories.hpp"
#include "daemon/patrol/timeouts.hpp"

namespace vermas {

// A remedy the patrol asks for: reclaim (an idle worker without work) or remedy (a stuck
// worker: restart it in its slot, or give its work order back).
struct Remedy {
  timeouts::Due what = timeouts::Due::reclaim;
  std::string agent;
  std::string factory;
  int slot = 0;
  std::optional<std::string> work_order;
  double quiet_seconds = 0;
};

class Patrol {
 public:
  Patrol(boost::asio::io_context& io, const Config& config, AgentRegistry& registry, Launcher& launcher,
         Lifecycle& lifecycle, Factories& factories)
      : io_(io), config_(config), registry_(registry), launcher_(launcher), lifecycle_(lifecycle),
        factories_(factories), timer_(io),
        timeouts_timer_(io) {}
  Patrol(const Patrol&) = delete;
  Patrol& operator=(const Patrol&) = delete;

  void start();  // the first round now, then on the timer
  void soon();   // a round at the next turn of the loop (a factory added, a config reload)
  void rearm();  // the interval may have changed
  void stop();
  void on_remedy(std::function<void(const Remedy&)> handler) { remedy_ = std::move(handler); }
  // A process runs now (a start, a restart): its deadline may come before the armed one.
  void noticed(const Agent& a);
  // Mail from operations to the agent; a tmux agent also sees `line` typed into its pane.
  void tell(const Agent& a, const std::string& subject, const std::string& body, const std::string& line);
  // Types `line` into the agent's pane (tmux); false when it runs in none.
  bool type_into(const Agent& a, const std::string& line);

 private:
  void round();
  void arm();
  void rotate_logs();
  // Each factory's timeouts, read once per pass (a factory's config is a file: a stat per
  // agent per pass would be 200 stats a round).
  struct Spans {
    std::chrono::steady_clock::duration idle, stuck;
  };
  using SpansMemo = std::map<std::string, Spans>;
  const Spans& spans(const Agent& a, SpansMemo& memo) const;
  timeouts::Quiet quiet(const Agent& a, SpansMemo& memo) const;
  void arm_timeouts();
  void check_timeouts();
  // When its log was last written, if that was after `since` (and not our own typing).
  std::optional<std::chrono::system_clock::time_point> output_since(const Agent& a,
                                                                    Agent::Clock::time_point since) const;
  void go_idle(Agent& a, double seconds);
  void go_stuck(Agent& a, double seconds);
  void nudge(const Agent& a, const std::string& body, const std::string& line) { tell(a, "NUDGE", body, line); }
  // A tmux agent also sees its nudge typed into its pane.
  boost::asio::awaitable<void> type_nudge(std::string runner, RecordedProcess pane, std::string line);

  boost::asio::io_context& io_;
  const Config& config_;
  AgentRegistry& registry_;
  Launcher& launcher_;
  Lifecycle& lifecycle_;
  Factories& factories_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer timeouts_timer_;
  std::optional<std::chrono::steady_clock::time_point> timeouts_at_;  // what the timer waits for
  std::function<void(const Remedy&)> remedy_;
  bool started_ = false;
  bool stopped_ = false;
  bool posted_ = false;
};

}  // namespace vermas
