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
  CHECK(contains(c.root.co({"agent", "list"}).out, "running, stale"));
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

TEST_CASE("an agent with no activity for idle_timeout_minutes is idle with one NUDGE, and runs again when active",
          "[heartbeats][idle]") {
  Settings s;
  s.idle_minutes = 0.006;  // 0.36 s
  Company c(s);
  const std::string mark = c.root.path("idle");
  // The QA agent does nothing until told; then it reads its mail and heartbeats.
  const std::string qa = c.script("quiet.sh", "mark=\"" + mark + "\"\n" + R"SH(
while [ ! -e "$mark.wake" ]; do sleep 0.02; done
co --json mail inbox >"$mark.inbox" 2>&1
co heartbeat --activity "awake" >/dev/null || exit 3
touch "$mark.done"
exec sleep 300
)SH");
  s.qa = {"/bin/sh", qa};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  c.running_pid("f1/qa");
  REQUIRE(c.wait_status("f1/qa", "idle", 10s));
  const auto idled = c.events("agent.idle", "f1/qa");
  REQUIRE(idled.size() == 1);
  CHECK(idled[0]["data"]["reason"] == "idle_timeout");
  CHECK(idled[0]["data"]["idle_seconds"].get<double>() >= 0.3);
  // One NUDGE, queued in its inbox; staying idle sends no second one.
  const json peek = c.co_json({"mail", "inbox", "--agent", "f1/qa"});
  REQUIRE(peek["messages"].size() == 1);
  CHECK(peek["messages"][0]["subject"] == "NUDGE");
  CHECK(peek["messages"][0]["from"] == "operations");
  CHECK(peek["messages"][0]["state"] == "queued");
  const long long pid = c.agent("f1/qa")["pid"];

  // Activity (any RPC from its process tree: here its inbox, then a heartbeat) makes it run.
  write_file(mark + ".wake", "");
  REQUIRE(eventually([&] { return file_exists(mark + ".done"); }, 10s));
  const json inbox = parse_json(read_file(mark + ".inbox"));
  CHECK(inbox["messages"][0]["state"] == "delivered");
  CHECK(c.agent("f1/qa")["activity"] == "awake");
  const auto active = c.events("agent.active", "f1/qa");
  REQUIRE(!active.empty());
  CHECK(active[0]["data"]["was"] == "idle");
  CHECK(active[0]["data"]["status"] == "running");
  CHECK(c.agent("f1/qa")["pid"] == pid);  // nudged, never restarted
  // Quiet again: idle again, a second NUDGE.
  REQUIRE(eventually([&] { return c.events("agent.idle", "f1/qa").size() == 2; }, 10s));
  CHECK(c.co_json({"mail", "inbox", "--agent", "f1/qa"})["messages"].size() == 2);
  c.root.stop();
}

TEST_CASE("a tmux agent's nudge is also typed into its pane, once", "[heartbeats][idle][tmux]") {
  if (!in_path("tmux")) {
    WARN("tmux is not installed: the tmux nudge test is skipped");
    return;
  }
  Settings s;
  s.idle_minutes = 0.006;
  EchoingPane pane(s);
  Company& c = pane.c;
  REQUIRE(c.wait_status("f1/supervisor", "idle", 10s));
  const std::string log = pane.pane_log();
  REQUIRE(eventually([&] { return contains(read_file(log), "NUDGE: no activity for"); }, 10s));
  // One nudge per idle spell: typing is not activity, so it stays idle, one NUDGE mail.
  CHECK(c.events("agent.idle", "f1/supervisor").size() == 1);
  CHECK(c.agent("f1/supervisor")["status"] == "idle");
  CHECK(c.co_json({"mail", "inbox", "--agent", "f1/supervisor"})["messages"].size() == 1);
  c.root.stop();
}
