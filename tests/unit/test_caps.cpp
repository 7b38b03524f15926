// Daily caps (daemon/governance/caps.*): what a report crosses, and when it is refused.
#include "daemon/governance/caps.hpp"
#include "tests/catch.hpp"

using namespace vermas::caps;

namespace {

std::vector<Level> levels(double agent_spent, double agent_cap, double factory_spent = 0, double factory_cap = 0,
                          double company_spent = 0, double company_cap = 0) {
  return {{Scope::agent, "f/qa", agent_spent, agent_cap, false},
          {Scope::factory, "f", factory_spent, factory_cap, false},
          {Scope::company, "", company_spent, company_cap, false}};
}

}  // namespace

TEST_CASE("caps: a report that takes spend past a cap crosses it, up to the cap does not", "[caps]") {
  auto v = judge(levels(9, 10), 1, "pause");
  CHECK_FALSE(v.refused);
  CHECK(v.crossed.empty());  // exactly at the cap: not past it
  v = judge(levels(9, 10), 1.01, "pause");
  REQUIRE(v.crossed.size() == 1);
  CHECK(v.crossed[0].scope == Scope::agent);
  CHECK(v.crossed[0].spend == 10.01);
  CHECK(v.crossed[0].cap == 10);
  v = judge(levels(0, 0), 1e6, "pause");  // no cap
  CHECK(v.crossed.empty());
}

TEST_CASE("caps: every scope is judged, a factory and the company too", "[caps]") {
  auto v = judge(levels(1, 10, 49, 50, 99, 100), 2, "pause");
  REQUIRE(v.crossed.size() == 2);
  CHECK(v.crossed[0].scope == Scope::factory);
  CHECK(v.crossed[1].scope == Scope::company);
}

TEST_CASE("caps: a scope already past its cap refuses the report, unless waived or on_exceed alert", "[caps]") {
  auto v = judge(levels(10.5, 10), 0.1, "pause");
  REQUIRE(v.refused);
  CHECK(v.refused->scope == Scope::agent);
  CHECK(v.crossed.empty());
  CHECK(judge(levels(10.5, 10), 0.1, "stop").refused);
  CHECK_FALSE(judge(levels(10.5, 10), 0.1, "alert").refused);
  auto waived = levels(10.5, 10);
  waived[0].waived = true;
  CHECK_FALSE(judge(waived, 0.1, "pause").refused);
  // A raised cap lets reports in again.
  CHECK_FALSE(judge(levels(10.5, 20), 0.1, "pause").refused);
}

TEST_CASE("caps: what holds an agent is the first scope past its cap, not one at it or waived", "[caps]") {
  CHECK_FALSE(holding(levels(10, 10, 50, 50)));  // at the caps: nothing holds
  auto h = holding(levels(1, 10, 51, 50, 200, 100));
  REQUIRE(h);
  CHECK(h->scope == Scope::factory);  // the narrowest scope first
  CHECK(h->spend == 51);
  CHECK(h->cap == 50);
  auto waived = levels(1, 10, 51, 50, 200, 100);
  waived[1].waived = true;
  REQUIRE(holding(waived));
  CHECK(holding(waived)->scope == Scope::company);
  CHECK_FALSE(holding(levels(1e9, 0)));  // no cap
}

TEST_CASE("caps: scopes parse and print", "[caps]") {
  for (Scope s : {Scope::agent, Scope::factory, Scope::company}) CHECK(parse_scope(to_string(s)) == s);
  CHECK_FALSE(parse_scope("team"));
}
