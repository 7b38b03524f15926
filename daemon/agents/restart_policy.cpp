#include "daemon/agents/restart_policy.hpp"

#include <algorithm>
#include <cmath>

namespace vermas {

namespace {

void forget_old_starts(const Config::Restart& r, RestartHistory& h, SteadyTime now) {
  auto window = std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(r.start_limit_interval_seconds));
  // In start order: the expired ones are a prefix.
  const auto first_kept = std::find_if(h.starts.begin(), h.starts.end(), [&](SteadyTime t) { return now - t <= window; });
  h.starts.erase(h.starts.begin(), first_kept);
}

}  // namespace

double backoff_seconds(const Config::Restart& r, int n) {
  if (n <= 0) return 0;
  // 2^(n-1) overflows nothing here: the exponent is capped well before doubles misbehave.
  double d = r.backoff_initial_seconds * std::pow(2.0, std::min(n - 1, 62));
  return std::min(d, r.backoff_max_seconds);
}

bool admit_start(const Config::Restart& r, RestartHistory& h, SteadyTime now) {
  forget_old_starts(r, h, now);
  if (static_cast<int>(h.starts.size()) >= r.start_limit_burst) return false;
  h.starts.push_back(now);
  return true;
}

RestartDecision decide_restart(const Config::Restart& r, bool restart_on_failure, const ExitFacts& exit,
                               RestartHistory& h, SteadyTime now) {
  RestartDecision d;
  if (exit.ran_seconds >= r.reset_after_stable_seconds) {
    // A stable run earns a clean slate: backoff and the start-limit window both reset.
    h.consecutive_failures = 0;
    h.starts.clear();
  }
  if (exit.operator_requested) {
    d.reason = "operator";
    return d;
  }
  bool wanted = restart_on_failure && (r.policy == "always" || (r.policy == "on-failure" && !exit.clean));
  if (!wanted) {
    d.reason = r.policy == "never" || !restart_on_failure ? "policy_never" : "exit";
    return d;
  }
  forget_old_starts(r, h, now);
  if (static_cast<int>(h.starts.size()) >= r.start_limit_burst) {
    d.action = RestartDecision::Action::give_up;
    d.reason = "start_limit";
    return d;
  }
  ++h.consecutive_failures;
  d.action = RestartDecision::Action::restart;
  d.delay_seconds = backoff_seconds(r, h.consecutive_failures);
  d.reason = exit.clean ? "exit" : "failure";
  return d;
}

}  // namespace vermas
