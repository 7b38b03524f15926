// The patrol's timeouts (daemon/patrol/timeouts.*): what is due next, and when.
#include <chrono>

#include "daemon/patrol/timeouts.hpp"
#include "tests/catch.hpp"

using namespace vermas;
using namespace std::chrono_literals;
namespace to = vermas::timeouts;

namespace {

to::Quiet quiet_agent(AgentStatus status, AgentRole role, bool holds_work) {
  to::Quiet q;
  q.status = status;
  q.role = role;
  q.holds_work = holds_work;
  q.has_process = true;
  q.since = to::Clock::time_point{} + 1000s;
  q.idle_after = 60s;
  q.stuck_after = 300s;
  return q;
}

}  // namespace

TEST_CASE("timeouts: a running agent without work goes idle after idle_after", "[timeouts]") {
  for (AgentRole role : {AgentRole::supervisor, AgentRole::qa, AgentRole::worker}) {
    auto n = to::next(quiet_agent(AgentStatus::running, role, false));
    REQUIRE(n);
    CHECK(n->what == to::Due::idle);
    CHECK(n->at == to::Clock::time_point{} + 1060s);
  }
}

TEST_CASE("timeouts: an idle worker without work is reclaimed after another idle_after, others never",
          "[timeouts]") {
  auto n = to::next(quiet_agent(AgentStatus::idle, AgentRole::worker, false));
  REQUIRE(n);
  CHECK(n->what == to::Due::reclaim);
  CHECK(n->at == to::Clock::time_point{} + 1120s);
  CHECK_FALSE(to::next(quiet_agent(AgentStatus::idle, AgentRole::supervisor, false)));
  CHECK_FALSE(to::next(quiet_agent(AgentStatus::idle, AgentRole::qa, false)));
  // The CEO is an operator's session: never idle, stuck or reclaimed.
  for (AgentStatus s : {AgentStatus::running, AgentStatus::idle, AgentStatus::stuck})
    CHECK_FALSE(to::next(quiet_agent(s, AgentRole::ceo, true)));
  auto asked = quiet_agent(AgentStatus::idle, AgentRole::worker, false);
  asked.remedy_asked = true;  // a reclaim under way is not asked again
  CHECK_FALSE(to::next(asked));
}

TEST_CASE("timeouts: a worker holding work is idle first, then stuck, then remedied", "[timeouts]") {
  auto running = to::next(quiet_agent(AgentStatus::running, AgentRole::worker, true));
  REQUIRE(running);
  CHECK(running->what == to::Due::idle);  // idle_after 60 s < stuck_after 300 s
  auto idle = to::next(quiet_agent(AgentStatus::idle, AgentRole::worker, true));
  REQUIRE(idle);
  CHECK(idle->what == to::Due::stuck);  // never reclaimed while it holds work
  CHECK(idle->at == to::Clock::time_point{} + 1300s);
  auto stuck = to::next(quiet_agent(AgentStatus::stuck, AgentRole::worker, true));
  REQUIRE(stuck);
  CHECK(stuck->what == to::Due::remedy);
  CHECK(stuck->at == to::Clock::time_point{} + 1600s);
  auto asked = quiet_agent(AgentStatus::stuck, AgentRole::worker, true);
  asked.remedy_asked = true;
  CHECK_FALSE(to::next(asked));
}

TEST_CASE("timeouts: stuck comes first when stuck_after is no longer than idle_after", "[timeouts]") {
  auto q = quiet_agent(AgentStatus::running, AgentRole::worker, true);
  q.stuck_after = 60s;
  auto n = to::next(q);
  REQUIRE(n);
  CHECK(n->what == to::Due::stuck);
}

TEST_CASE("timeouts: nothing is due without a process or outside running, idle and stuck", "[timeouts]") {
  auto q = quiet_agent(AgentStatus::running, AgentRole::worker, true);
  q.has_process = false;
  CHECK_FALSE(to::next(q));
  for (AgentStatus s : {AgentStatus::starting, AgentStatus::paused, AgentStatus::quarantined, AgentStatus::stopping,
                        AgentStatus::stopped, AgentStatus::backoff, AgentStatus::failed, AgentStatus::lost})
    CHECK_FALSE(to::next(quiet_agent(s, AgentRole::worker, true)));
  // Stuck, but the work left its hands: the dispatcher frees the slot; no remedy.
  CHECK_FALSE(to::next(quiet_agent(AgentStatus::stuck, AgentRole::worker, false)));
}
