// Pure pieces of supervision: the spawn throttle, agent ids and the agent table.
#include "tests/catch.hpp"

#include <filesystem>

#include "daemon/agents/agent_record.hpp"
#include "daemon/patrol/alerts.hpp"
#include "daemon/store/feed.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/agents/spawn_throttle.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace vermas;
using namespace std::chrono_literals;

using vermas::test::TempDir;

TEST_CASE("spawn throttle allows a burst of `rate`, then one start per 1/rate", "[supervision]") {
  SpawnThrottle t;
  auto now = SpawnThrottle::Clock::now();
  for (int i = 0; i < 5; ++i) CHECK(t.take(5, now).count() == 0);
  auto wait = t.take(5, now);
  CHECK(wait.count() == Approx(0.2));
  // Nothing was taken by the refused call: after 0.2 s exactly one more start.
  CHECK(t.take(5, now + 200ms).count() == 0);
  CHECK(t.take(5, now + 200ms).count() > 0);
  // The bucket never holds more than the burst, however long it idles.
  now += 1h;
  for (int i = 0; i < 5; ++i) CHECK(t.take(5, now).count() == 0);
  CHECK(t.take(5, now).count() > 0);
}

TEST_CASE("spawn throttle: a fractional rate still allows one start, and <= 0 means no limit", "[supervision]") {
  SpawnThrottle t;
  auto now = SpawnThrottle::Clock::now();
  CHECK(t.take(0.5, now).count() == 0);
  CHECK(t.take(0.5, now).count() == Approx(2.0));
  SpawnThrottle unlimited;
  for (int i = 0; i < 1000; ++i) REQUIRE(unlimited.take(0, now).count() == 0);
}

TEST_CASE("agent ids and tmux session names follow spec section 2", "[supervision]") {
  CHECK(agent_id_for("web", AgentRole::supervisor) == "web/supervisor");
  CHECK(agent_id_for("web", AgentRole::qa) == "web/qa");
  CHECK(agent_id_for("web", AgentRole::worker, 3) == "web/workers/slot3");
  CHECK(session_for("web", AgentRole::supervisor) == "supervisor-web");
  CHECK(session_for("web", AgentRole::qa) == "qa-web");
  CHECK(session_for("web", AgentRole::worker, 0) == "worker-web-slot0");
  CHECK(parse_agent_role("qa") == AgentRole::qa);
  CHECK_FALSE(parse_agent_role("boss"));
}

TEST_CASE("agent records round-trip through the agents table with their event", "[supervision]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  FeedWriter feed(dir.path / "feed.jsonl", 1 << 20, 2);
  Journal journal(store, feed);

  AgentRecord r;
  r.id = "web/workers/slot2";
  r.factory = "web";
  r.role = AgentRole::worker;
  r.slot = 2;
  r.status = AgentStatus::running;
  r.reason = "started";
  r.want_running = false;
  r.runner = "tmux";
  r.session = "worker-web-slot2";
  r.pid = 4242;
  r.start_time = 123456789;
  r.boot_id = "boot";
  r.pane = "%7";
  r.started_at = "2026-11-22T00:00:00.000Z";
  r.restart_count = 3;
  r.error_streak = 2;
  r.last_exit = "signal 9 (SIGKILL)";
  journal.commit([&](Store::Tx& tx) {
    agent_table::save(tx, r);
    tx.append({"agent.started", "operations", r.factory, r.id, {}});
  });
  agent_table::save_heartbeat(store, r.id, "2026-11-22T00:00:05.000Z", std::string("step 4"));

  auto all = agent_table::load_all(store);
  REQUIRE(all.size() == 1);
  const auto& got = all[0];
  CHECK(got.id == r.id);
  CHECK(got.factory == r.factory);
  CHECK(got.role == AgentRole::worker);
  CHECK(got.slot == 2);
  CHECK(got.status == AgentStatus::running);
  CHECK_FALSE(got.want_running);
  CHECK(got.runner == "tmux");
  CHECK(got.pid == 4242);
  CHECK(got.start_time == 123456789u);
  CHECK(got.pane == "%7");
  CHECK(got.restart_count == 3);
  CHECK(got.last_exit == r.last_exit);
  CHECK(got.last_heartbeat == std::string("2026-11-22T00:00:05.000Z"));
  CHECK(got.activity == std::string("step 4"));
  CHECK(store.last_event_id() == 1);

  journal.commit([&](Store::Tx& tx) { agent_table::remove(tx, r.id); });
  CHECK(agent_table::load_all(store).empty());
}

TEST_CASE("a failed transaction leaves neither the agent row nor its event", "[supervision]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  AgentRecord r;
  r.id = "web/qa";
  r.factory = "web";
  r.role = AgentRole::qa;
  r.runner = "direct";
  r.session = "qa-web";
  CHECK_THROWS(store.transact([&](Store::Tx& tx) {
    agent_table::save(tx, r);
    tx.append({"agent.created", "operations", r.factory, r.id, {}});
    throw std::runtime_error("boom");
  }));
  CHECK(agent_table::load_all(store).empty());
  CHECK(store.last_event_id() == 0);
}

TEST_CASE("alerts are raised with an event, listed, and resolved once", "[supervision][alerts]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  FeedWriter feed(dir.path / "feed.jsonl", 1 << 20, 2);
  Journal journal(store, feed);
  alerts::Raised raised;
  journal.commit([&](Store::Tx& tx) {
    raised = alerts::raise(tx, alerts::about_agent(alerts::Severity::critical, "start_limit", "web/qa",
                                                   std::string("web"), "crash loop"));
  });
  const std::int64_t id = raised.id;
  CHECK(raised.opened);
  CHECK(alerts::open_count(store) == 1);
  auto open = alerts::list(store, false);
  REQUIRE(open.size() == 1);
  CHECK(open[0]["type"] == "start_limit");
  CHECK(open[0]["kind"] == "start_limit");
  CHECK(open[0]["subject"] == "web/qa");
  CHECK(open[0]["agent"] == "web/qa");
  CHECK(open[0]["factory"] == "web");
  CHECK(open[0]["count"] == 1);
  CHECK(open[0]["resolved"] == false);
  CHECK(open[0]["first_at"] == open[0]["last_at"]);
  CHECK(open[0]["created_at"] == open[0]["first_at"]);
  auto events = store.query({});
  REQUIRE(events.size() == 1);
  CHECK(events[0].event_type == "alert.raised");
  CHECK(events[0].data["alert_id"] == id);
  CHECK(events[0].data["type"] == "start_limit");

  auto resolved = alerts::resolve(journal, id, "operator");
  CHECK_FALSE(resolved["resolved_at"].is_null());
  CHECK(resolved["resolved"] == true);
  CHECK(resolved["resolved_by"] == "operator");
  CHECK(alerts::open_count(store) == 0);
  alerts::resolve(journal, id, "operator");  // again: no second event
  CHECK(store.query({}).size() == 2);
  CHECK_THROWS(alerts::resolve(journal, 999, "operator"));
}

TEST_CASE("an open alert of the same type and subject is repeated, not opened twice", "[supervision][alerts]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  int tick = 0;  // a clock of our own: first and last times differ by the events' times
  store.now_rfc3339 = [&] {
    const int t = tick++;
    return "2026-01-01T00:00:" + std::string(t < 10 ? "0" : "") + std::to_string(t) + ".000Z";
  };
  FeedWriter feed(dir.path / "feed.jsonl", 1 << 20, 2);
  Journal journal(store, feed);
  auto raise = [&](const alerts::Draft& d) {
    alerts::Raised r;
    journal.commit([&](Store::Tx& tx) { r = alerts::raise(tx, d); });
    return r;
  };
  using alerts::Severity;
  const auto first = raise(alerts::about_agent(Severity::warning, "error_streak", "web/qa", std::string("web"), "3 in a row"));
  const auto again = raise(alerts::about_agent(Severity::warning, "error_streak", "web/qa", std::string("web"), "4 in a row",
                                               {{"error_streak", 4}}));
  CHECK(first.opened);
  CHECK_FALSE(again.opened);
  CHECK(again.id == first.id);
  // Another type or another subject is another alert.
  const auto other_type = raise(alerts::about_agent(Severity::critical, "start_limit", "web/qa", std::string("web"), "m"));
  const auto other_subject = raise(alerts::about_agent(Severity::warning, "error_streak", "web/supervisor", std::string("web"), "m"));
  CHECK(other_type.opened);
  CHECK(other_subject.opened);
  CHECK(other_type.id != first.id);
  // A subject that is no agent: a work order.
  alerts::Draft about_wo;
  about_wo.type = "loop_detected";
  about_wo.subject = "wo-abc123";
  about_wo.factory = "web";
  about_wo.message = "loop";
  const auto loop = raise(about_wo);
  CHECK(loop.opened);
  CHECK(alerts::get(store, loop.id)["agent"].is_null());
  CHECK(alerts::get(store, loop.id)["subject"] == "wo-abc123");

  nlohmann::json a = alerts::get(store, first.id);
  CHECK(a["count"] == 2);
  CHECK(a["message"] == "4 in a row");  // the latest
  CHECK(a["data"]["error_streak"] == 4);
  CHECK(a["first_at"] == "2026-01-01T00:00:00.000Z");
  CHECK(a["last_at"] == "2026-01-01T00:00:01.000Z");
  auto of_type = [&](const char* type) {
    EventFilter f;
    f.type = type;
    return store.query(f).size();
  };
  CHECK(of_type("alert.repeated") == 1);
  CHECK(of_type("alert.raised") == 4);

  // Resolved by the daemon (by type and subject), the next raise opens a new alert.
  journal.commit([&](Store::Tx& tx) {
    CHECK(alerts::resolve_open(tx, {"error_streak", "start_limit"}, "web/qa", "operations") ==
          std::vector<std::int64_t>{first.id, other_type.id});
  });
  CHECK(alerts::get(store, first.id)["resolved_by"] == "operations");
  CHECK(alerts::get(store, other_subject.id)["resolved"] == false);
  const auto fresh = raise(alerts::about_agent(Severity::warning, "error_streak", "web/qa", std::string("web"), "again"));
  CHECK(fresh.opened);
  CHECK(fresh.id > loop.id);

  // Listing by severity: that severity and above.
  CHECK(alerts::list(store, std::nullopt, Severity::critical).size() == 1);
  CHECK(alerts::list(store, std::nullopt, Severity::warning).size() == 5);
  CHECK(alerts::list(store, false, Severity::info).size() == 3);
  CHECK(alerts::list(store, true, std::nullopt).size() == 2);
}
