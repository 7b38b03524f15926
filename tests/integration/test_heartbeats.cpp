// Heartbeats (spec §4, issue 11): cheap (no event each), and a missed one is news: stale,
// an event, a heartbeat_missed alert and health's agents degraded, all undone by the next.
#include "tests/catch.hpp"
#include "tests/integration/company.hpp"

using namespace it;

TEST_CASE("an agent whose heartbeats stop is stale with an alert until it heartbeats again", "[heartbeats]") {
  Settings s;
  s.heartbeat_stale = 0.4;
  Company c(s);
  const std::string mark = c.root.path("beat");
  // The supervisor heartbeats five times, then waits to be told to heartbeat once more.
  const std::string sup = c.script("beating.sh", "mark=\"" + mark + "\"\n" + R"SH(
for i in 1 2 3 4 5; do co heartbeat --activity "step $i" >/dev/null || exit 3; done
touch "$mark.first"
while [ ! -e "$mark.again" ]; do sleep 0.02; done
co heartbeat --activity "back" >/dev/null || exit 3
touch "$mark.second"
exec sleep 300
)SH");
  s.supervisor = {"/bin/sh", sup};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  REQUIRE(eventually([&] { return file_exists(mark + ".first"); }, 30s));
  const long long since = c.result("status")["last_event_id"].get<long long>();
  auto a = c.agent("f1/supervisor");
  CHECK(a["activity"] == "step 5");
  CHECK(a["last_heartbeat"].is_string());

  // Its heartbeats stop: stale, one event, one alert, health degraded. The QA agent, which
  // never heartbeated in this run, is not stale.
  REQUIRE(eventually([&] { return c.agent("f1/supervisor")["stale"] == true; }, 10s));
  CHECK(c.agent("f1/qa")["stale"] == false);
  CHECK(c.events_after(since, "agent.heartbeat_missed").size() == 1);
  json alerts = c.co_json({"alert", "list"})["alerts"];
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["kind"] == "heartbeat_missed");
  CHECK(alerts[0]["severity"] == "warning");
  CHECK(alerts[0]["agent"] == "f1/supervisor");
  json health = c.result("health");
  CHECK(health["status"] == "degraded");
  CHECK(health["services"]["agents"] == "degraded");
  // Deadlines, not scans: no second event while it stays stale.
  CHECK(c.events_after(since, "agent.heartbeat_missed").size() == 1);

  // It heartbeats again: fresh, the alert resolved, health ok.
  write_file(mark + ".again", "");
  REQUIRE(eventually([&] { return file_exists(mark + ".second"); }, 10s));
  CHECK(c.agent("f1/supervisor")["stale"] == false);
  CHECK(c.agent("f1/supervisor")["activity"] == "back");
  CHECK(c.events_after(since, "agent.heartbeat_resumed").size() == 1);
  CHECK(c.co_json({"alert", "list"})["alerts"].empty());
  CHECK(c.result("health")["status"] == "ok");
  // Heartbeats are no events of their own: five and one, and none in the log.
  CHECK(c.events_after(since - 1000, "agent.heartbeat").empty());

  // The row has the latest heartbeat once the batch is written: the next daemon (the agents
  // kept running, so nothing heartbeats meanwhile) sees it.
  const std::string last = c.agent("f1/supervisor")["last_heartbeat"];
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  CHECK(c.agent("f1/supervisor")["last_heartbeat"] == last);
  c.root.stop();
}
