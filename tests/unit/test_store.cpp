#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "daemon/patrol/alerts.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/store.hpp"
#include "tests/catch.hpp"
#include "tests/unit/temp_dir.hpp"

using vermas::Event;
using vermas::EventDraft;
using vermas::EventFilter;
using vermas::Store;

using vermas::Errc;
namespace fs = std::filesystem;

namespace {

using vermas::test::TempDir;

EventDraft draft(std::string type, std::string actor = "operations", std::optional<std::string> factory = {},
                 nlohmann::json data = nlohmann::json::object()) {
  EventDraft d;
  d.event_type = std::move(type);
  d.actor = std::move(actor);
  d.factory = std::move(factory);
  d.data = std::move(data);
  return d;
}

// A clock the test advances by hand: ts = 2026-01-01T00:00:SS.000Z.
struct FakeClock {
  int second = 0;
  std::string operator()() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2026-01-01T00:00:%02d.000Z", second);
    return buf;
  }
};

std::string pragma_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(stmt) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  return out;
}

int exec_rc(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

// A database as a build of schema `version` left it: the first `version` migrations run and
// user_version set, nothing else. The caller fills it and closes it.
sqlite3* open_at_version(const fs::path& file, int version) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  for (int i = 0; i < version; ++i)
    REQUIRE(exec_rc(db, vermas::store_migrations()[static_cast<std::size_t>(i)].c_str()) == SQLITE_OK);
  REQUIRE(exec_rc(db, ("PRAGMA user_version=" + std::to_string(version)).c_str()) == SQLITE_OK);
  return db;
}

}  // namespace

TEST_CASE("store: open creates a WAL database at the newest schema", "[store]") {
  TempDir dir;
  auto file = dir.path / "sub" / "operations.db";  // parent directory is created
  Store store(file);
  CHECK(fs::exists(file));
  CHECK(pragma_text(store.db(), "PRAGMA journal_mode") == "wal");
  CHECK(pragma_text(store.db(), "PRAGMA synchronous") == "2");  // FULL
  CHECK(pragma_text(store.db(), "PRAGMA foreign_keys") == "1");
  CHECK(store.schema_version() == static_cast<int>(vermas::store_migrations().size()));
  CHECK(store.healthy());
  CHECK(store.last_event_id() == 0);

  SECTION("the database file descriptor is close-on-exec") {
    auto target = fs::canonical(file);
    int found = 0;
    for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      auto link = fs::read_symlink(entry.path(), ec);
      if (ec || link != target) continue;
      int fd = std::stoi(entry.path().filename().string());
      INFO("fd " << fd);
      CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
      ++found;
    }
    CHECK(found >= 1);
  }
}

TEST_CASE("store: reopening keeps the data and the schema", "[store]") {
  TempDir dir;
  auto file = dir.path / "operations.db";
  {
    Store store(file);
    store.append(draft("agent.started", "ceo"));
    store.append(draft("agent.stopped", "ceo"));
  }
  Store store(file);
  CHECK(store.schema_version() == static_cast<int>(vermas::store_migrations().size()));
  CHECK(store.last_event_id() == 2);
  auto events = store.query({});
  REQUIRE(events.size() == 2);
  CHECK(events[1].event_type == "agent.stopped");
  CHECK(store.append(draft("agent.started")).id == 3);
}

TEST_CASE("store: a newer schema version is refused", "[store]") {
  TempDir dir;
  auto file = dir.path / "operations.db";
  { Store store(file); }
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    CHECK(exec_rc(db, "PRAGMA user_version=99") == SQLITE_OK);
    sqlite3_close(db);
  }
  bool refused = false;
  try {
    Store store(file);
  } catch (const vermas::Error& e) {
    refused = true;
    CHECK(e.code() == Errc::internal);
    CHECK(std::string(e.what()).find("schema version 99 is newer") != std::string::npos);
  }
  CHECK(refused);
}

TEST_CASE("store: a file that is not a database is reported as corrupt", "[store]") {
  TempDir dir;
  auto file = dir.path / "operations.db";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f);
    for (int i = 0; i < 200; ++i) std::fputs("this is not an sqlite database\n", f);
    std::fclose(f);
  }
  bool refused = false;
  try {
    Store store(file);
  } catch (const vermas::Error& e) {
    refused = true;
    CHECK(e.code() == Errc::corrupt);
  }
  CHECK(refused);
}

TEST_CASE("store: append assigns increasing ids and the clock's ts", "[store]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  FakeClock clock;
  store.now_rfc3339 = [&] { return clock(); };
  auto a = store.append(draft("wo.created", "operator", "alpha", {{"title", "x"}}));
  clock.second = 5;
  auto b = store.append(draft("wo.created"));
  CHECK(a.id == 1);
  CHECK(b.id == 2);
  CHECK(a.ts == "2026-01-01T00:00:00.000Z");
  CHECK(b.ts == "2026-01-01T00:00:05.000Z");
  CHECK(store.last_event_id() == 2);

  auto got = store.query({});
  REQUIRE(got.size() == 2);
  CHECK(got[0].factory == std::optional<std::string>("alpha"));
  CHECK(got[0].actor == "operator");
  CHECK(got[0].data == nlohmann::json{{"title", "x"}});
  CHECK(!got[1].factory);
  CHECK(!got[1].subject);

  SECTION("to_json has the spec's shape") {
    auto j = vermas::to_json(got[1]);
    CHECK(j["id"] == 2);
    CHECK(j["ts"] == "2026-01-01T00:00:05.000Z");
    CHECK(j["event_type"] == "wo.created");
    CHECK(j["actor"] == "operations");
    CHECK(j["factory"].is_null());
    CHECK(j["subject"].is_null());
    CHECK(j["data"] == nlohmann::json::object());
    CHECK(j.size() == 7);
  }
}

TEST_CASE("store: the default clock writes RFC 3339 UTC with milliseconds", "[store]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  auto ts = store.append(draft("x.y")).ts;
  INFO(ts);
  REQUIRE(ts.size() == 24);
  CHECK(ts[4] == '-');
  CHECK(ts[10] == 'T');
  CHECK(ts[19] == '.');
  CHECK(ts[23] == 'Z');
}

TEST_CASE("store: transact commits all or nothing", "[store]") {
  TempDir dir;
  Store store(dir.path / "operations.db");

  auto appended = store.transact([](Store::Tx& tx) {
    tx.append(draft("a.one"));
    tx.append(draft("a.two"));
  });
  REQUIRE(appended.size() == 2);
  CHECK(appended[0].id == 1);
  CHECK(appended[1].id == 2);

  SECTION("an exception rolls back and is rethrown") {
    CHECK_THROWS_AS(store.transact([](Store::Tx& tx) {
      tx.append(draft("b.one"));
      throw std::runtime_error("boom");
    }),
                    std::runtime_error);
    CHECK(store.query({}).size() == 2);
    CHECK(store.last_event_id() == 2);
    CHECK(store.append(draft("c.one")).id == 3);  // the store stays usable
  }
  SECTION("nested transact is a logic error and rolls back the outer one") {
    CHECK_THROWS_AS(store.transact([&](Store::Tx& tx) {
      tx.append(draft("b.one"));
      store.append(draft("b.two"));
    }),
                    std::logic_error);
    CHECK(store.query({}).size() == 2);
  }
  SECTION("other writes through tx.db() share the transaction") {
    CHECK_THROWS_AS(store.transact([](Store::Tx& tx) {
      REQUIRE(exec_rc(tx.db(), "INSERT INTO meta(key, value) VALUES('k', '1')") == SQLITE_OK);
      throw std::runtime_error("boom");
    }),
                    std::runtime_error);
    CHECK(pragma_text(store.db(), "SELECT count(*) FROM meta") == "0");
  }
}

TEST_CASE("store: events are append-only", "[store]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  store.append(draft("a.one"));
  sqlite3* db = store.db();
  CHECK(exec_rc(db, "UPDATE events SET actor = 'x'") == SQLITE_CONSTRAINT_TRIGGER);
  CHECK(std::string(sqlite3_errmsg(db)) == "events are append-only");
  CHECK(exec_rc(db, "DELETE FROM events") == SQLITE_CONSTRAINT_TRIGGER);
  CHECK(store.query({}).size() == 1);

  SECTION("deleting is allowed only while the archiving flag is set") {
    CHECK(exec_rc(db, "BEGIN; INSERT INTO meta VALUES('archiving', '1'); DELETE FROM events;"
                      "DELETE FROM meta WHERE key = 'archiving'; COMMIT;") == SQLITE_OK);
    CHECK(store.query({}).empty());
    CHECK(store.last_event_id() == 1);              // ids are never reused
    CHECK(store.append(draft("a.two")).id == 2);
    CHECK(exec_rc(db, "DELETE FROM events") == SQLITE_CONSTRAINT_TRIGGER);
  }
}

TEST_CASE("store: query filters", "[store]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  FakeClock clock;
  store.now_rfc3339 = [&] { return clock(); };
  // id:  1 agent.started@0  2 agent.stopped@1  3 wo.created@2  4 agentx.y@3  5 agent%_.z@4  6 wo.transitioned@5
  const char* types[] = {"agent.started", "agent.stopped",  "wo.created",
                         "agentx.y",      "agent%_.z",      "wo.transitioned"};
  const char* actors[] = {"ceo", "alpha/supervisor", "operator", "ceo", "operator", "alpha/qa"};
  const char* factories[] = {"", "alpha", "alpha", "beta", "", "alpha"};
  for (int i = 0; i < 6; ++i) {
    clock.second = i;
    std::optional<std::string> f;
    if (*factories[i]) f = factories[i];
    store.append(draft(types[i], actors[i], f));
  }
  auto ids = [&](const EventFilter& filter) {
    std::vector<std::int64_t> out;
    for (const auto& e : store.query(filter)) out.push_back(e.id);
    return out;
  };
  using V = std::vector<std::int64_t>;
  EventFilter f;

  CHECK(ids(f) == V{1, 2, 3, 4, 5, 6});
  SECTION("type exact") {
    f.type = "wo.created";
    CHECK(ids(f) == V{3});
    f.type = "agent";
    CHECK(ids(f).empty());
  }
  SECTION("type prefix with '.' or '*'; wildcards are literal") {
    f.type = "agent.";
    CHECK(ids(f) == V{1, 2});
    f.type = "agent.*";
    CHECK(ids(f) == V{1, 2});
    f.type = "agent*";
    CHECK(ids(f) == V{1, 2, 4, 5});
    f.type = "agent%_.*";
    CHECK(ids(f) == V{5});
    f.type = "AGENT.*";  // case-sensitive
    CHECK(ids(f).empty());
    f.type = "*";
    CHECK(ids(f).size() == 6);
  }
  SECTION("actor and factory") {
    f.actor = "operator";
    CHECK(ids(f) == V{3, 5});
    f.factory = "alpha";
    CHECK(ids(f) == V{3});
    f.actor.reset();
    CHECK(ids(f) == V{2, 3, 6});
  }
  SECTION("since inclusive, until exclusive") {
    f.since = "2026-01-01T00:00:02.000Z";
    CHECK(ids(f) == V{3, 4, 5, 6});
    f.until = "2026-01-01T00:00:04.000Z";
    CHECK(ids(f) == V{3, 4});
  }
  SECTION("after_id") {
    f.after_id = 4;
    CHECK(ids(f) == V{5, 6});
    f.after_id = 6;
    CHECK(ids(f).empty());
  }
  SECTION("limit and newest_first") {
    f.limit = 2;
    CHECK(ids(f) == V{1, 2});
    f.newest_first = true;
    CHECK(ids(f) == V{5, 6});  // the last two, oldest first
    f.limit = 0;               // clamped to 1
    CHECK(ids(f) == V{6});
    f.limit = 1'000'000;  // clamped to 10000
    CHECK(ids(f).size() == 6);
  }
  SECTION("combined filters") {
    f.type = "wo.";
    f.factory = "alpha";
    f.since = "2026-01-01T00:00:03.000Z";
    CHECK(ids(f) == V{6});
  }
  SECTION("values are bound, never spliced into SQL") {
    f.actor = "x' OR '1'='1";
    CHECK(ids(f).empty());
  }
}

TEST_CASE("store: stats counts by type", "[store]") {
  TempDir dir;
  Store store(dir.path / "operations.db");
  FakeClock clock;
  store.now_rfc3339 = [&] { return clock(); };
  CHECK(store.stats(std::nullopt).total == 0);
  const char* types[] = {"wo.created", "agent.started", "wo.created", "agent.started", "wo.created"};
  for (int i = 0; i < 5; ++i) {
    clock.second = i;
    store.append(draft(types[i]));
  }
  auto all = store.stats(std::nullopt);
  CHECK(all.total == 5);
  using P = std::vector<std::pair<std::string, std::int64_t>>;
  CHECK(all.by_type == P{{"agent.started", 2}, {"wo.created", 3}});
  auto recent = store.stats(std::string("2026-01-01T00:00:02.000Z"));
  CHECK(recent.total == 3);
  CHECK(recent.by_type == P{{"agent.started", 1}, {"wo.created", 2}});
  auto none = store.stats(std::string("2027-01-01T00:00:00.000Z"));
  CHECK(none.total == 0);
  CHECK(none.by_type.empty());
  CHECK(store.stats(std::string("2000-01-01T00:00:00.000Z")).by_type == all.by_type);
  // Since a time with fewer events before it than after: those before are counted and taken
  // from the totals (the other side of the same answer; bench_work_orders shows the choice).
  CHECK(store.stats(std::string("2026-01-01T00:00:01.000Z")).by_type == P{{"agent.started", 2}, {"wo.created", 2}});
  CHECK(store.stats(std::string("2026-01-01T00:00:00.500Z")).by_type == P{{"agent.started", 2}, {"wo.created", 2}});
  // An archive's delete uncounts (only while 'archiving' is set; the log is append-only).
  REQUIRE(exec_rc(store.db(), "INSERT INTO meta(key, value) VALUES('archiving', '1')") == SQLITE_OK);
  REQUIRE(exec_rc(store.db(), "DELETE FROM events WHERE id <= 2") == SQLITE_OK);
  CHECK(store.stats(std::nullopt).by_type == P{{"agent.started", 1}, {"wo.created", 2}});
  CHECK(store.stats(std::string("2026-01-01T00:00:03.000Z")).by_type == P{{"agent.started", 1}, {"wo.created", 1}});
  CHECK(store.stats(std::string("2026-01-01T00:00:02.000Z")).total == 3);
}

TEST_CASE("store: migration 13 counts the events a version-12 database holds", "[store]") {
  TempDir dir;
  const auto file = dir.path / "operations.db";
  {
    sqlite3* db = open_at_version(file, 12);
    REQUIRE(exec_rc(db, R"sql(
      INSERT INTO events(ts, event_type, actor, data) VALUES
        ('2026-01-01T00:00:00.000Z', 'mail.sent', 'a', '{}'), ('2026-01-01T00:00:01.000Z', 'mail.sent', 'a', '{}'),
        ('2026-01-01T00:00:02.000Z', 'cost.reported', 'a', '{}');
    )sql") == SQLITE_OK);
    sqlite3_close(db);
  }
  Store store(file);
  using P = std::vector<std::pair<std::string, std::int64_t>>;
  CHECK(store.stats(std::nullopt).by_type == P{{"cost.reported", 1}, {"mail.sent", 2}});
  store.append(draft("mail.sent"));
  CHECK(store.stats(std::nullopt).by_type == P{{"cost.reported", 1}, {"mail.sent", 3}});
}

TEST_CASE("store: data round-trips, including unicode and invalid UTF-8", "[store]") {
  TempDir dir;
  auto file = dir.path / "operations.db";
  nlohmann::json data = {{"text", "Grüße, 世界 🚀"}, {"n", 3}, {"nested", {{"a", {1, 2, nullptr}}}}};
  {
    Store store(file);
    auto d = draft("mail.sent", "alpha/qa", "alpha", data);
    d.subject = "WO-ü1";
    store.append(d);
    store.append(draft("mail.sent", "ceo", {}, {{"bad", std::string("a\xff" "b")}}));
  }
  Store store(file);
  auto events = store.query({});
  REQUIRE(events.size() == 2);
  CHECK(events[0].data == data);
  CHECK(events[0].subject == std::optional<std::string>("WO-ü1"));
  CHECK(events[1].data["bad"] == "a\xEF\xBF\xBD" "b");  // replaced by U+FFFD, not thrown
}

TEST_CASE("event type patterns: exact, or a prefix ending in '.' or '*'") {
  using vermas::event_type_matches;
  CHECK(event_type_matches("agent.started", "agent.started"));
  CHECK(!event_type_matches("agent.started", "agent.started2"));
  CHECK(event_type_matches("agent.*", "agent.started"));
  CHECK(event_type_matches("agent.", "agent.started"));
  CHECK(!event_type_matches("agent.*", "agents.x"));
  CHECK(event_type_matches("agent*", "agents.x"));  // a bare '*' is a byte prefix, as in SQL
  CHECK(event_type_matches("*", "anything"));
  CHECK(!event_type_matches("config.", "operations.started"));
}

TEST_CASE("store: the frozen migrations give the projections' current shape", "[store]") {
  // A change to projections::create_tables() needs a migration of its own (and this test
  // says so), never an edit of an old migration's text.
  TempDir dir;
  Store store(dir.path / "operations.db");
  sqlite3* scratch = nullptr;
  REQUIRE(sqlite3_open(":memory:", &scratch) == SQLITE_OK);
  const std::string shape = vermas::projections::create_tables(vermas::projections::kLive, true) +
                            vermas::projections::create_tables(vermas::projections::kCheckpoint, false);
  REQUIRE(exec_rc(scratch, shape.c_str()) == SQLITE_OK);
  auto schema = [](sqlite3* db) {
    std::map<std::string, std::string> out;
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL", -1, &stmt, nullptr) ==
            SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW)
      out[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))] =
          reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
    sqlite3_finalize(stmt);
    return out;
  };
  const auto want = schema(scratch);
  const auto have = schema(store.db());
  sqlite3_close(scratch);
  REQUIRE(want.size() >= 10);
  for (const auto& [name, sql] : want) {
    INFO(name);
    REQUIRE(have.count(name) == 1);
    CHECK(have.at(name) == sql);
  }
}

TEST_CASE("store: migration 5 makes factories, teams and alerts projections that a replay gives back",
          "[store]") {
  // A version-4 database as that build left it: rows written beside their events (a few ms
  // off the events' times), and some events archived already (gone from the log).
  TempDir dir;
  const auto file = dir.path / "operations.db";
  {
    sqlite3* db = open_at_version(file, 4);
    const char* rows = R"sql(
      INSERT INTO events(id, ts, event_type, actor, factory, subject, data) VALUES
        (10, '2026-01-02T00:00:00.010Z', 'factory.added', 'operator', 'b', 'b', '{"url":"u","prefix":"B","path":"/r/b"}'),
        (11, '2026-01-02T00:00:01.010Z', 'team.added', 'operator', 'b', 'b/t1', '{"path":"/r/b/t","branch":"team/t1"}'),
        (12, '2026-01-02T00:00:02.010Z', 'alert.resolved', 'operator', 'a', 'a/qa', '{"alert_id":1,"kind":"start_limit"}'),
        (13, '2026-01-02T00:00:03.010Z', 'alert.raised', 'operations', 'b', 'b/qa',
             '{"alert_id":2,"severity":"critical","kind":"start_limit","message":"m2","data":{"k":1}}');
      INSERT INTO factories VALUES ('a', 'ua', 'A', '/r/a', '2026-01-01T00:00:00.000Z'),
                                   ('b', 'u', 'B', '/r/b', '2026-01-02T00:00:00.004Z');
      INSERT INTO teams VALUES ('b', 't1', '/r/b/t', 'team/t1', '2026-01-02T00:00:01.002Z');
      INSERT INTO alerts(id, created_at, severity, kind, agent, factory, message, data, resolved_at) VALUES
        (1, '2026-01-01T00:00:05.000Z', 'critical', 'start_limit', 'a/qa', 'a', 'm1', '{}', '2026-01-02T00:00:02.001Z'),
        (2, '2026-01-02T00:00:03.001Z', 'critical', 'start_limit', 'b/qa', 'b', 'm2', '{"k":1}', NULL);
    )sql";
    REQUIRE(exec_rc(db, rows) == SQLITE_OK);
    sqlite3_close(db);
  }
  Store store(file);
  REQUIRE(store.schema_version() == static_cast<int>(vermas::store_migrations().size()));
  namespace P = vermas::projections;
  auto count = [&](const char* table) {
    return std::stoll(pragma_text(store.db(), (std::string("SELECT count(*) FROM ") + table).c_str()));
  };
  // What was archived stands in the checkpoint, as of the archived events only.
  CHECK(count("checkpoint_factories") == 1);
  CHECK(count("checkpoint_teams") == 0);
  CHECK(count("checkpoint_alerts") == 1);
  CHECK(pragma_text(store.db(), "SELECT resolved_at IS NULL FROM checkpoint_alerts WHERE id = 1") == "1");
  // Checkpoint + the log replayed equals the live tables, row for row.
  auto& st = store.statements();
  REQUIRE(exec_rc(store.db(), P::create_tables(P::kRebuild, false).c_str()) == SQLITE_OK);
  P::copy(st, P::kCheckpoint, P::kRebuild);
  store.scan(0, INT64_MAX, 1000, {"factory.", "team.", "alert."},
             [&](const vermas::Event& e) { P::apply(st, P::kRebuild, e); });
  CHECK(P::differences(st, P::kLive, P::kRebuild) == 0);
  CHECK(count("factories") == 2);
  CHECK(count("alerts") == 2);
  // And the next alert gets the next id through the reducer.
  vermas::alerts::Draft d;
  d.type = "test";
  d.factory = "b";
  d.message = "m3";
  store.transact([&](Store::Tx& tx) { CHECK(vermas::alerts::raise(tx, d).id == 3); });
  CHECK(pragma_text(store.db(), "SELECT message FROM alerts WHERE id = 3") == "m3");
}

TEST_CASE("store: the alert-model migration (10) gives alerts a type, subject, count and resolved_by that a replay gives back",
          "[store][alerts]") {
  // A database just before it: alerts as issue 11 found them, one raised and resolved in the
  // log, one open, one whose events were archived (it stands in the checkpoint).
  // The migration found by its text, not its number: merged branches renumber migrations.
  const auto& migrations = vermas::store_migrations();
  std::size_t alert_model = 0;
  while (alert_model < migrations.size() && migrations[alert_model].find("RENAME TO alerts_v6") == std::string::npos)
    ++alert_model;
  REQUIRE(alert_model < migrations.size());
  TempDir dir;
  const auto file = dir.path / "operations.db";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    for (std::size_t i = 0; i < alert_model; ++i) REQUIRE(exec_rc(db, migrations[i].c_str()) == SQLITE_OK);
    REQUIRE(exec_rc(db, ("PRAGMA user_version=" + std::to_string(alert_model)).c_str()) == SQLITE_OK);
    const char* rows = R"sql(
      INSERT INTO events(id, ts, event_type, actor, factory, subject, data) VALUES
        (20, '2026-01-03T00:00:00.000Z', 'alert.raised', 'operations', 'a', 'a/qa',
             '{"alert_id":2,"severity":"critical","kind":"start_limit","message":"m2","data":{}}'),
        (21, '2026-01-03T00:00:01.000Z', 'alert.resolved', 'operator', 'a', 'a/qa', '{"alert_id":2,"kind":"start_limit"}'),
        (22, '2026-01-03T00:00:02.000Z', 'alert.raised', 'operations', 'b', 'b/supervisor',
             '{"alert_id":3,"severity":"warning","kind":"heartbeat_missed","message":"m3","data":{"s":1}}');
      INSERT INTO alerts(id, created_at, severity, kind, agent, factory, message, data, resolved_at) VALUES
        (1, '2026-01-02T00:00:00.000Z', 'critical', 'start_limit', 'a/supervisor', 'a', 'm1', '{}', '2026-01-02T00:00:01.000Z'),
        (2, '2026-01-03T00:00:00.000Z', 'critical', 'start_limit', 'a/qa', 'a', 'm2', '{}', '2026-01-03T00:00:01.000Z'),
        (3, '2026-01-03T00:00:02.000Z', 'warning', 'heartbeat_missed', 'b/supervisor', 'b', 'm3', '{"s":1}', NULL);
      INSERT INTO checkpoint_alerts(id, created_at, severity, kind, agent, factory, message, data, resolved_at) VALUES
        (1, '2026-01-02T00:00:00.000Z', 'critical', 'start_limit', 'a/supervisor', 'a', 'm1', '{}', '2026-01-02T00:00:01.000Z');
    )sql";
    REQUIRE(exec_rc(db, rows) == SQLITE_OK);
    sqlite3_close(db);
  }
  Store store(file);
  REQUIRE(store.schema_version() == static_cast<int>(vermas::store_migrations().size()));
  auto text = [&](const std::string& sql) { return pragma_text(store.db(), sql.c_str()); };
  CHECK(text("SELECT count(*) FROM alerts") == "3");
  CHECK(text("SELECT type || ' ' || subject || ' ' || agent || ' ' || count || ' ' || first_at || ' ' || last_at"
             " FROM alerts WHERE id = 3") ==
        "heartbeat_missed b/supervisor b/supervisor 1 2026-01-03T00:00:02.000Z 2026-01-03T00:00:02.000Z");
  CHECK(text("SELECT resolved_by FROM alerts WHERE id = 2") == "operator");
  CHECK(text("SELECT resolved_by IS NULL FROM alerts WHERE id = 1") == "1");  // its event is archived
  CHECK(text("SELECT resolved_by IS NULL AND resolved_at IS NULL FROM alerts WHERE id = 3") == "1");
  CHECK(text("SELECT count(*) FROM checkpoint_alerts") == "1");
  CHECK(text("SELECT count(*) FROM sqlite_master WHERE name LIKE '%alerts_v6%'") == "0");

  // Checkpoint + the log replayed equals the live tables, row for row.
  namespace P = vermas::projections;
  auto& st = store.statements();
  REQUIRE(exec_rc(store.db(), P::create_tables(P::kRebuild, false).c_str()) == SQLITE_OK);
  P::copy(st, P::kCheckpoint, P::kRebuild);
  store.scan(0, INT64_MAX, 1000, {"alert."}, [&](const vermas::Event& e) { P::apply(st, P::kRebuild, e); });
  CHECK(P::differences(st, P::kLive, P::kRebuild) == 0);

  // The open heartbeat alert of an old daemon is repeated, not opened again.
  store.transact([&](Store::Tx& tx) {
    auto r = vermas::alerts::raise(tx, vermas::alerts::about_agent(vermas::alerts::Severity::warning, "heartbeat_missed",
                                                                   "b/supervisor", std::string("b"), "again"));
    CHECK(r.id == 3);
    CHECK_FALSE(r.opened);
  });
  CHECK(text("SELECT count FROM alerts WHERE id = 3") == "2");
}
