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

TEST_CASE("alerts are raised with an event, listed, and resolved once", "[supervision]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  FeedWriter feed(dir.path / "feed.jsonl", 1 << 20, 2);
  Journal journal(store, feed);
  std::int64_t id = 0;
  journal.commit([&](Store::Tx& tx) {
    id = alerts::raise(tx, {"critical", "start_limit", std::string("web/qa"), std::string("web"), "crash loop", {}});
  });
  CHECK(alerts::open_count(store) == 1);
  auto open = alerts::list(store, false);
  REQUIRE(open.size() == 1);
  CHECK(open[0]["kind"] == "start_limit");
  CHECK(open[0]["agent"] == "web/qa");
  auto events = store.query({});
  REQUIRE(events.size() == 1);
  CHECK(events[0].event_type == "alert.raised");
  CHECK(events[0].data["alert_id"] == id);

  auto resolved = alerts::resolve(journal, id, "operator");
  CHECK_FALSE(resolved["resolved_at"].is_null());
  CHECK(alerts::open_count(store) == 0);
  alerts::resolve(journal, id, "operator");  // again: no second event
  CHECK(store.query({}).size() == 2);
  CHECK_THROWS(alerts::resolve(journal, 999, "operator"));
}
