// Costs and runs on the real daemon: an agent reports its own spend with `co cost report`,
// runs sum their reports, summaries and today's spend agree, hostile reports change nothing,
// and everything is a projection of the log (a rebuild and a restart give it back).
#include "tests/catch.hpp"

#include <cmath>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;

namespace {

double money_of(const json& j, const char* key) { return j.at(key).get<double>(); }

bool near(double a, double b) { return std::fabs(a - b) < 1e-9; }

json run_named(const json& runs, const std::string& id) {
  for (const auto& r : runs)
    if (r["id"] == id) return r;
  return nullptr;
}

}  // namespace

TEST_CASE("costs: an agent reports its own spend, runs sum it, summaries and today's spend agree", "[costs]") {
  Settings s;
  Company c(s);
  const std::string box = c.root.path("costs");
  // The QA agent reports three costs (two in one run), then tries to report for another
  // agent, which it may not.
  s.qa = {"/bin/sh", c.script("qa-costs.sh", "box=\"" + box + "\"\n" + R"SH(
co cost report 0.25 --tokens-in 100 --tokens-out 50 --model m1 --run r1 >"$box.1" 2>&1
co cost report 0.5 --tokens-in 10 --run r1 >"$box.2" 2>&1
co --json cost report 1 >"$box.3" 2>&1
co --json cost report 5 --agent f/supervisor >"$box.other" 2>&1; echo "$?" >"$box.other_exit"
touch "$box.done"
exec sleep 300
)SH")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  REQUIRE(eventually([&] { return file_exists(box + ".done"); }, 20s));
  INFO(read_file(box + ".1") << read_file(box + ".2") << read_file(box + ".3") << read_file(box + ".other"));
  CHECK(contains(read_file(box + ".1"), "reported $0.25 for f/qa (run r1)"));
  const json third = parse_json(read_file(box + ".3"));
  CHECK(third["agent"] == "f/qa");
  CHECK(third["exceeded"] == false);
  CHECK(near(money_of(third, "today_spend"), 1.75));
  const std::string own_run = third["run_id"];
  CHECK(own_run != "r1");
  // Another agent's spend: -32003, exit 1, nothing recorded.
  CHECK(read_file(box + ".other_exit") == "1\n");
  CHECK(contains(read_file(box + ".other"), "-32003"));
  CHECK(near(money_of(c.agent("f/supervisor"), "today_spend"), 0));

  // The operator names the agent.
  const json op = c.co_json({"cost", "report", "0.1", "--agent", "f/qa", "--model", "m2"});
  CHECK(near(money_of(op, "today_spend"), 1.85));
  const auto reported = c.events("cost.reported", "f/qa");
  REQUIRE(reported.size() == 4);
  CHECK(reported[0]["actor"] == "f/qa");
  CHECK(reported[3]["actor"] == "operator");

  const json runs = c.result("run.list", {{"agent", "f/qa"}})["runs"];
  REQUIRE(runs.size() == 3);
  const json r1 = run_named(runs, "r1");
  REQUIRE(r1.is_object());
  CHECK(near(money_of(r1, "cost"), 0.75));
  CHECK(r1["reports"] == 2);
  CHECK(r1["tokens_in"] == 110);
  CHECK(r1["tokens_out"] == 50);
  CHECK(r1["model"] == "m1");
  CHECK(r1["factory"] == "f");
  const json by_cost = c.result("run.list", {{"sort", "cost"}})["runs"];
  CHECK(by_cost[0]["id"] == own_run);  // $1, then r1's $0.75, then $0.10
  CHECK(by_cost[1]["id"] == "r1");
  CHECK(c.result("run.list", {{"sort", "cost"}, {"limit", 1}})["runs"].size() == 1);

  const json qa = c.agent("f/qa");
  CHECK(near(money_of(qa, "today_spend"), 1.85));
  const json listed = c.result("agent.list", {{"sort", "today_spend"}})["agents"];
  CHECK(listed[0]["id"] == "f/qa");  // the biggest spender first
  CHECK(near(money_of(c.result("status"), "today_spend"), 1.85));
  const json by_agent = c.result("cost.summary", {{"by", "agent"}});
  REQUIRE(by_agent["rows"].size() == 1);
  CHECK(by_agent["rows"][0]["key"] == "f/qa");
  CHECK(by_agent["rows"][0]["reports"] == 4);
  CHECK(near(money_of(by_agent, "total"), 1.85));
  const json by_day = c.result("cost.summary", {{"by", "day"}, {"since", "2020-01-01"}});
  REQUIRE(by_day["rows"].size() == 1);
  CHECK(by_day["rows"][0]["key"].get<std::string>().size() == 10);
  CHECK(c.result("cost.summary", {{"by", "factory"}, {"since", "2999-01-01"}})["rows"].empty());
  auto daily = c.root.co({"cost", "daily"});
  CHECK(contains(daily.out, "$1.85"));
  auto show = c.root.co({"cost", "show", "f/qa"});
  CHECK(contains(show.out, "f/qa: today $1.85"));
  CHECK(contains(show.out, "r1"));
  auto listing = c.root.co({"runs", "--sort", "cost"});
  CHECK(contains(listing.out, "r1"));

  // A projection of the log: a rebuild agrees, and a restarted daemon has the same totals.
  CHECK(c.co_json({"wo", "rebuild-projections"})["differences"] == 0);
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  CHECK(near(money_of(c.agent("f/qa"), "today_spend"), 1.85));
  CHECK(near(money_of(c.result("status"), "today_spend"), 1.85));
  c.root.stop();
}

TEST_CASE("costs: bad reports are refused with a clear error and change nothing", "[costs]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f");
  c.running_pid("f/qa");
  const auto before = c.events("cost.reported").size();
  auto code = [&](const json& params) { return error_code(c.call("cost.report", params)); };
  CHECK(code({{"agent", "f/qa"}, {"amount", -1}}) == -32602);
  CHECK(code({{"agent", "f/qa"}, {"amount", 1e10}}) == -32602);
  CHECK(code({{"agent", "f/qa"}, {"amount", "1"}}) == -32602);
  CHECK(code({{"agent", "f/qa"}}) == -32602);
  CHECK(code({{"amount", 1}}) == -32602);  // the operator must name the agent
  CHECK(code({{"agent", "f/qa"}, {"amount", 1}, {"tokens_in", -5}}) == -32602);
  CHECK(code({{"agent", "f/qa"}, {"amount", 1}, {"model", ""}}) == -32602);
  CHECK(code({{"agent", "f/qa"}, {"amount", 1}, {"run_id", "a\nb"}}) == -32602);
  CHECK(code({{"agent", "f/nobody"}, {"amount", 1}}) == -32001);
  CHECK(code({{"agent", "f/qa"}, {"amount", 1}, {"work_order", "wo-nosuch"}}) == -32001);
  CHECK(code({{"agent", "f/qa"}, {"amount", 1}, {"colour", "red"}}) == -32602);
  CHECK(c.events("cost.reported").size() == before);
  CHECK(error_code(c.call("cost.summary", {{"by", "week"}})) == -32602);
  CHECK(error_code(c.call("cost.summary", {{"since", "yesterday"}})) == -32602);
  CHECK(error_code(c.call("run.list", {{"sort", "size"}})) == -32602);
  auto bad = c.root.co({"cost", "report", "abc", "--agent", "f/qa"});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "AMOUNT"));
  CHECK(c.root.co({"cost", "report", "-1", "--agent", "f/qa"}).exit_code != 0);
  CHECK(c.events("cost.reported").size() == before);

  // A report with a work order counts toward its type.
  auto created = c.root.wo({"create", "--title=fix it", "--type", "bug", "--factory", "f"});
  REQUIRE(created.exit_code == 0);
  const std::string wo = created.out.substr(0, created.out.find('\n'));
  c.co_json({"cost", "report", "2", "--agent", "f/qa", "--wo", wo});
  const json by_type = c.result("cost.summary", {{"by", "type"}});
  REQUIRE(by_type["rows"].size() == 1);
  CHECK(by_type["rows"][0]["key"] == "bug");
  c.root.stop();
}

TEST_CASE("budgets: caps per scope, the report that crosses one alerts, later ones are refused", "[costs][budgets]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f");
  c.running_pid("f/qa");
  // Defaults from [budgets]; the operator sets one scope.
  json all = c.result("budget.get");
  CHECK(all["company"]["daily_cap"] == 0);
  CHECK(all["on_exceed"] == "pause");
  const json set = c.co_json({"budget", "set", "agent", "f/qa", "--daily-cap", "1"});
  CHECK(set["previous"] == 10);
  CHECK(set["budget"]["daily_cap"] == 1);
  CHECK(set["budget"]["source"] == "set");
  CHECK(c.agent("f/qa")["daily_cap"] == 1);
  CHECK(c.events("budget.set").size() == 1);
  CHECK(error_code(c.call("budget.set", {{"scope", "factory"}, {"id", "nope"}, {"daily_cap", 1}})) == -32001);
  CHECK(error_code(c.call("budget.set", {{"scope", "team"}, {"id", "f"}, {"daily_cap", 1}})) == -32602);
  CHECK(error_code(c.call("budget.set", {{"scope", "company"}, {"daily_cap", -2}})) == -32602);
  CHECK(error_code(c.call("budget.set", {{"scope", "agent"}, {"daily_cap", 2}})) == -32602);

  const json first = c.result("cost.report", {{"agent", "f/qa"}, {"amount", 0.6}});
  CHECK(first["exceeded"] == false);
  const json crossing = c.result("cost.report", {{"agent", "f/qa"}, {"amount", 0.6}});
  CHECK(crossing["exceeded"] == true);
  REQUIRE(crossing["crossed"].size() == 1);
  CHECK(crossing["crossed"][0]["scope"] == "agent");
  CHECK(crossing["crossed"][0]["cap"] == 1);
  json alert;
  const json open_alerts = c.result("alert.list", {{"resolved", false}});
  for (const auto& a : open_alerts["alerts"])
    if (a.value("kind", a.value("type", "")) == "budget_exceeded") alert = a;
  REQUIRE(alert.is_object());
  CHECK(alert["severity"] == "critical");
  // Past the cap: the next report is -32004 and records nothing; the supervisor's is fine.
  const auto before = c.events("cost.reported").size();
  const json refused = c.call("cost.report", {{"agent", "f/qa"}, {"amount", 0.01}});
  CHECK(error_code(refused) == -32004);
  CHECK(refused["error"]["data"]["scope"] == "agent");
  CHECK(c.events("cost.reported").size() == before);
  CHECK(c.result("cost.report", {{"agent", "f/supervisor"}, {"amount", 0.5}})["exceeded"] == false);
  // Raising the cap lets reports in again.
  c.co_json({"budget", "set", "agent", "f/qa", "--daily-cap", "5"});
  CHECK(c.result("cost.report", {{"agent", "f/qa"}, {"amount", 0.1}})["exceeded"] == false);
  // A factory cap covers its agents together; the caps survive a restart (a projection).
  c.co_json({"budget", "set", "factory", "f", "--daily-cap", "2"});
  CHECK(c.result("cost.report", {{"agent", "f/supervisor"}, {"amount", 0.3}})["crossed"][0]["scope"] == "factory");
  CHECK(c.co_json({"wo", "rebuild-projections"})["differences"] == 0);
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  CHECK(c.result("budget.get", {{"scope", "factory"}, {"id", "f"}})["daily_cap"] == 2);
  CHECK(error_code(c.call("cost.report", {{"agent", "f/qa"}, {"amount", 0.01}})) == -32004);
  auto shown = c.root.co({"budget", "show"});
  CHECK(contains(shown.out, "f/qa"));
  c.root.stop();
}

TEST_CASE("budgets: with on_exceed alert a crossed cap only alerts, reports go on", "[costs][budgets]") {
  Settings s;
  s.on_exceed = "alert";
  Company c(s);
  c.start();
  c.add_factory("f");
  c.co_json({"budget", "set", "company", "--daily-cap", "1"});
  CHECK(c.result("cost.report", {{"agent", "f/qa"}, {"amount", 2}})["exceeded"] == true);
  CHECK(c.result("cost.report", {{"agent", "f/qa"}, {"amount", 2}})["exceeded"] == false);  // counted, past already
  CHECK(c.result("status")["today_spend"] == 4);
  c.root.stop();
}
