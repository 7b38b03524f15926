#pragma once
// What to do when a supervised agent exits: restart after a backoff, or give up. Pure
// logic over [restart] and the agent's recent history, so it is tested without processes.
// The throttle holds for every crash loop, not only during start-up (supervisord's gap).
#include <chrono>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace vermas {

using SteadyTime = std::chrono::steady_clock::time_point;

struct RestartHistory {
  int consecutive_failures = 0;    // exits since the last stable run; drives the backoff
  // Start times inside the start-limit window, a few (start_limit_burst). A vector: an empty
  // std::deque holds 576 bytes, the largest part of an agent after its record (heaptrack).
  std::vector<SteadyTime> starts;
};

struct ExitFacts {
  bool clean = false;             // exit code 0
  bool operator_requested = false;  // stop/kill by an operator: never restarted
  double ran_seconds = 0;         // how long the process ran before it exited
};

struct RestartDecision {
  enum class Action { restart, stay_stopped, give_up };
  Action action = Action::stay_stopped;
  double delay_seconds = 0;
  std::string reason;  // exit | operator | policy_never | start_limit
};

// Updates `history` and decides. `now` is when the exit was observed.
RestartDecision decide_restart(const Config::Restart& restart, bool restart_on_failure, const ExitFacts& exit,
                               RestartHistory& history, SteadyTime now);

// Call when a start happens; false when it would exceed the start limit (then don't start).
bool admit_start(const Config::Restart& restart, RestartHistory& history, SteadyTime now);

// The backoff for the n-th consecutive failure (n >= 1): initial * 2^(n-1), capped at max.
double backoff_seconds(const Config::Restart& restart, int consecutive_failures);

}  // namespace vermas
