#include "tests/catch.hpp"

#include "daemon/agents/agent_state.hpp"
#include "daemon/agents/restart_policy.hpp"

using namespace vermas;
using namespace std::chrono_literals;

TEST_CASE("agent statuses round-trip through their names") {
  CHECK(all_agent_statuses().size() == 11);
  for (auto s : all_agent_statuses()) CHECK(parse_agent_status(to_string(s)) == s);
  CHECK(!parse_agent_status("active"));
  CHECK(!parse_agent_status(""));
}

TEST_CASE("the agent status machine allows the supervised paths and nothing else") {
  using S = AgentStatus;
  // start, run, crash, back off, start again
  CHECK(agent_transition_allowed(S::stopped, S::starting));
  CHECK(agent_transition_allowed(S::starting, S::running));
  CHECK(agent_transition_allowed(S::running, S::backoff));
  CHECK(agent_transition_allowed(S::backoff, S::starting));
  // a crash loop ends in failed; an operator can start it again
  CHECK(agent_transition_allowed(S::running, S::failed));
  CHECK(agent_transition_allowed(S::failed, S::starting));
  // operator stop goes through stopping
  CHECK(agent_transition_allowed(S::running, S::stopping));
  CHECK(agent_transition_allowed(S::stopping, S::stopped));
  // what it must not do
  CHECK(!agent_transition_allowed(S::stopped, S::running));   // never running without a start
  CHECK(!agent_transition_allowed(S::stopping, S::running));  // a stop is not undone by activity
  CHECK(!agent_transition_allowed(S::failed, S::running));
  CHECK(!agent_transition_allowed(S::backoff, S::running));
  CHECK(!agent_transition_allowed(S::stopped, S::stopped));
  for (auto s : all_agent_statuses()) CHECK(!agent_transition_allowed(s, s));
}

TEST_CASE("every status is reachable and every status can be left") {
  for (auto target : all_agent_statuses()) {
    bool reachable = false, leavable = false;
    for (auto other : all_agent_statuses()) {
      reachable = reachable || agent_transition_allowed(other, target);
      leavable = leavable || agent_transition_allowed(target, other);
    }
    INFO(to_string(target));
    CHECK(reachable);
    CHECK(leavable);
  }
}

TEST_CASE("backoff doubles from the initial delay and is capped") {
  Config::Restart r;
  r.backoff_initial_seconds = 1;
  r.backoff_max_seconds = 60;
  CHECK(backoff_seconds(r, 1) == 1);
  CHECK(backoff_seconds(r, 2) == 2);
  CHECK(backoff_seconds(r, 3) == 4);
  CHECK(backoff_seconds(r, 7) == 60);
  CHECK(backoff_seconds(r, 100000) == 60);
  r.backoff_initial_seconds = 0;
  CHECK(backoff_seconds(r, 5) == 0);
}

TEST_CASE("restart decisions follow the policy") {
  Config::Restart r;
  RestartHistory h;
  auto now = std::chrono::steady_clock::now();
  ExitFacts crash{false, false, 0.5};
  ExitFacts clean{true, false, 0.5};

  SECTION("on-failure restarts a crash, not a clean exit") {
    CHECK(decide_restart(r, true, crash, h, now).action == RestartDecision::Action::restart);
    auto d = decide_restart(r, true, clean, h, now);
    CHECK(d.action == RestartDecision::Action::stay_stopped);
    CHECK(d.reason == "exit");
  }
  SECTION("always restarts a clean exit too") {
    r.policy = "always";
    CHECK(decide_restart(r, true, clean, h, now).action == RestartDecision::Action::restart);
  }
  SECTION("never, or restart_on_failure = false, never restarts") {
    r.policy = "never";
    CHECK(decide_restart(r, true, crash, h, now).reason == "policy_never");
    r.policy = "always";
    CHECK(decide_restart(r, false, crash, h, now).action == RestartDecision::Action::stay_stopped);
  }
  SECTION("an operator's stop is never undone") {
    r.policy = "always";
    auto d = decide_restart(r, true, ExitFacts{false, true, 0.1}, h, now);
    CHECK(d.action == RestartDecision::Action::stay_stopped);
    CHECK(d.reason == "operator");
  }
}

TEST_CASE("a crash loop backs off, then fails at the start limit, however long it ran before") {
  Config::Restart r;
  r.backoff_initial_seconds = 1;
  r.backoff_max_seconds = 8;
  r.start_limit_burst = 3;
  r.start_limit_interval_seconds = 300;
  r.reset_after_stable_seconds = 60;
  RestartHistory h;
  auto t = std::chrono::steady_clock::now();
  REQUIRE(admit_start(r, h, t));  // the first start
  std::vector<double> delays;
  RestartDecision d;
  for (int i = 0; i < 10; ++i) {
    t += 1s;
    d = decide_restart(r, true, ExitFacts{false, false, 1.0}, h, t);
    if (d.action != RestartDecision::Action::restart) break;
    delays.push_back(d.delay_seconds);
    t += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(d.delay_seconds));
    REQUIRE(admit_start(r, h, t));
  }
  CHECK(delays == std::vector<double>{1, 2});
  CHECK(d.action == RestartDecision::Action::give_up);
  CHECK(d.reason == "start_limit");
  CHECK(!admit_start(r, h, t));
}

TEST_CASE("a stable run resets the backoff and the start-limit window") {
  Config::Restart r;
  r.backoff_initial_seconds = 1;
  r.start_limit_burst = 2;
  r.reset_after_stable_seconds = 60;
  RestartHistory h;
  auto t = std::chrono::steady_clock::now();
  REQUIRE(admit_start(r, h, t));
  CHECK(decide_restart(r, true, ExitFacts{false, false, 1}, h, t).delay_seconds == 1);
  REQUIRE(admit_start(r, h, t));
  // ran 61 s: a fresh slate, so no give-up even though two starts are in the window
  auto d = decide_restart(r, true, ExitFacts{false, false, 61}, h, t + 61s);
  CHECK(d.action == RestartDecision::Action::restart);
  CHECK(d.delay_seconds == 1);
}

TEST_CASE("starts older than the window no longer count") {
  Config::Restart r;
  r.start_limit_burst = 2;
  r.start_limit_interval_seconds = 10;
  RestartHistory h;
  auto t = std::chrono::steady_clock::now();
  REQUIRE(admit_start(r, h, t));
  SECTION("all of them") {
    REQUIRE(admit_start(r, h, t + 1s));
    CHECK(!admit_start(r, h, t + 2s));
    CHECK(admit_start(r, h, t + 12s));
  }
  SECTION("only those, the newer ones still count") {
    REQUIRE(admit_start(r, h, t + 5s));
    CHECK(admit_start(r, h, t + 11s));   // the first is 11 s old: forgotten; the second counts
    CHECK(!admit_start(r, h, t + 12s));  // t+5 s and t+11 s are both inside the window
    CHECK(h.starts.size() == 2);
  }
}
