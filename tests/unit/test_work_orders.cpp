// Work orders as logic: the state table of spec §5, id syntax, the reducer, and the proof
// that a replay of the log (checkpoint + remaining events) equals the live projections
// after a random workload, across an archive.
#include <cstdio>
#include <fstream>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "common/jsonrpc.hpp"
#include "common/work_order.hpp"
#include "daemon/factories.hpp"
#include "daemon/store/feed.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/store/log_maintenance.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/work/slot_reservation.hpp"
#include "daemon/work/wo_sync.hpp"
#include "daemon/work/work_orders.hpp"
#include "tests/catch.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace vermas;
namespace fs = std::filesystem;
using wo::Status;
using nlohmann::json;

namespace {

using vermas::test::TempDir;

// A store, journal and work-order service on a temporary root, with a clock the test moves.
struct Bench {
  TempDir dir;
  Paths paths{dir.path};
  Store store{paths.db_file()};
  FeedWriter feed{paths.feed_file(), 64u << 20, 1};
  Journal journal{store, feed};
  Factories factories{journal, paths};
  WorkOrders wos{journal, factories};
  long long clock_ms = 0;
  Bench() {
    store.now_rfc3339 = [this] { return ts(clock_ms); };
    // Durability is not what this tests; an fsync per event would make it slow.
    sql::exec(store.db(), "PRAGMA synchronous=OFF", "speeding up");
  }
  static std::string ts(long long ms) {
    // 2026-01-01 plus ms: days, hours ... formatted like the store's own timestamps.
    long long s = ms / 1000;
    char buf[40];
    std::snprintf(buf, sizeof buf, "2026-01-%02lldT%02lld:%02lld:%02lld.%03lldZ", 1 + s / 86400, (s / 3600) % 24,
                  (s / 60) % 60, s % 60, ms % 1000);
    return buf;
  }
  // A copy of the live projections, to compare with after a rebuild.
  void snapshot() {
    sql::exec(store.db(), (projections::drop_tables("snapshot_") + projections::create_tables("snapshot_", false)).c_str(),
              "snapshot");
    projections::copy(store.statements(), projections::kLive, "snapshot_");
  }
  std::int64_t differences_from_snapshot() {
    return projections::differences(store.statements(), projections::kLive, "snapshot_");
  }
  std::int64_t rows(const std::string& table) {
    sql::Stmt s(store.statements(), "SELECT count(*) FROM " + table, "counting");
    return s.step() ? s.int64(0) : 0;
  }
  boost::asio::io_context io;
  json run(boost::asio::awaitable<json> task) {
    io.restart();
    json out;
    std::exception_ptr error;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, json j) {
      error = e;
      out = std::move(j);
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return out;
  }
};

}  // namespace

TEST_CASE("the work-order state table is spec §5, and nothing else", "[work_orders]") {
  const std::set<std::pair<std::string, std::string>> allowed = {
      {"open", "assigned"},           {"open", "canceled"},           {"assigned", "in_progress"},
      {"assigned", "open"},           {"assigned", "blocked"},        {"assigned", "canceled"},
      {"in_progress", "review"},      {"in_progress", "blocked"},     {"in_progress", "needs_approval"},
      {"in_progress", "failed"},      {"in_progress", "canceled"},    {"in_progress", "assigned"},
      {"review", "done"},             {"review", "in_progress"},      {"review", "blocked"},
      {"review", "needs_approval"},   {"review", "failed"},           {"needs_approval", "assigned"},
      {"needs_approval", "in_progress"}, {"needs_approval", "review"}, {"needs_approval", "canceled"},
      {"blocked", "open"},            {"blocked", "assigned"},        {"blocked", "in_progress"},
      {"blocked", "canceled"},        {"failed", "open"},             {"failed", "canceled"}};
  int count = 0;
  for (Status from : wo::kStatuses)
    for (Status to : wo::kStatuses) {
      const bool expected = allowed.count({wo::to_string(from), wo::to_string(to)}) > 0;
      INFO(wo::to_string(from) << " -> " << wo::to_string(to));
      CHECK(wo::transition_allowed(from, to) == expected);
      count += expected;
    }
  CHECK(count == 27);
  CHECK(wo::terminal(Status::done));
  CHECK(wo::terminal(Status::canceled));
  CHECK_FALSE(wo::terminal(Status::failed));
  for (Status s : wo::kStatuses) CHECK(wo::parse_status(wo::to_string(s)) == s);
  CHECK_FALSE(wo::parse_status("finished"));
  CHECK_FALSE(wo::parse_status("Open"));
  // The worker keeps its slot while the work is in its hands.
  CHECK(wo::held_by_worker(Status::in_progress));
  CHECK(wo::held_by_worker(Status::blocked));
  CHECK_FALSE(wo::held_by_worker(Status::review));
  CHECK_FALSE(wo::held_by_worker(Status::open));
}

TEST_CASE("work-order ids are <prefix>-<6+ lowercase alphanumerics>", "[work_orders]") {
  std::mt19937_64 rng(42);
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string id = wo::make_id("mp", rng());
    CHECK(wo::valid_id(id));
    CHECK(id.size() == 9);
    seen.insert(id);
  }
  CHECK(seen.size() == 2000);
  CHECK(wo::valid_id("wo-abc123"));
  CHECK(wo::valid_id("wo-abc123xyz"));
  CHECK_FALSE(wo::valid_id("wo-abc12"));     // too short
  CHECK_FALSE(wo::valid_id("wo-ABC123"));    // uppercase
  CHECK_FALSE(wo::valid_id("../x-abc123"));  // not a prefix
  CHECK_FALSE(wo::valid_id("-abc123"));
  CHECK_FALSE(wo::valid_id("wo_abc123"));
  CHECK_FALSE(wo::valid_id("wo-abc 123"));
  CHECK(wo::valid_type("bug"));
  CHECK_FALSE(wo::valid_type("epic"));
}

TEST_CASE("transitions go through the table, keys are per work order, refusals write nothing", "[work_orders]") {
  Bench b;
  WoActor op;
  json a = wo::to_json(b.wos.create({"first", "bug", 1, std::nullopt, "", std::nullopt}, op));
  json c = wo::to_json(b.wos.create({"second", "task", 2, std::nullopt, "", std::nullopt}, op));
  const std::string id = a["id"], other = c["id"];
  CHECK(a["status"] == "open");
  CHECK(a["priority"] == 1);

  const auto before = b.store.last_event_id();
  try {
    wo::to_json(b.wos.transition({id, Status::done, "skip ahead", std::nullopt, std::nullopt, std::nullopt}, op));
    FAIL("open -> done was accepted");
  } catch (const vermas::Error& e) {
    CHECK(e.code() == vermas::Errc::conflict);
    CHECK(e.details()["from"] == "open");
    CHECK(e.details()["to"] == "done");
    CHECK(e.details()["allowed"] == json::array({"assigned", "canceled"}));
  }
  CHECK(b.store.last_event_id() == before);

  json first = wo::to_json(b.wos.transition({id, Status::assigned, "go", std::string("k1"), std::nullopt, std::nullopt}, op));
  CHECK(first["status"] == "assigned");
  const auto after_first = b.store.last_event_id();
  // The same key again: the first result, nothing written, even with another target.
  json again = wo::to_json(b.wos.transition({id, Status::canceled, "again", std::string("k1"), std::nullopt, std::nullopt}, op));
  CHECK(again == first);
  CHECK(b.store.last_event_id() == after_first);
  // The same key on another work order is its own.
  json other_first = wo::to_json(b.wos.transition({other, Status::canceled, "no", std::string("k1"), std::nullopt, std::nullopt}, op));
  CHECK(other_first["status"] == "canceled");
  CHECK(b.store.last_event_id() == after_first + 1);

  // An agent is who its peer is: a worker moves only what is assigned to it.
  WoActor worker{"f/workers/slot0", std::string("worker"), std::string("f"), std::nullopt};
  try {
    wo::to_json(b.wos.transition({id, Status::in_progress, "mine", std::nullopt, std::nullopt, std::nullopt}, worker));
    FAIL("a worker moved a work order not assigned to it");
  } catch (const vermas::Error& e) {
    CHECK(e.code() == vermas::Errc::permission_denied);
  }
  wo::to_json(b.wos.update(id, {{"assignee", "f/workers/slot0"}}, op));
  CHECK(wo::to_json(b.wos.transition({id, Status::in_progress, "mine", std::nullopt, std::nullopt, std::nullopt}, worker))["status"] ==
        "in_progress");
  // Counters follow from the events alone.
  wo::to_json(b.wos.transition({id, Status::review, "ready", std::nullopt, std::nullopt, std::nullopt}, worker));
  wo::to_json(b.wos.transition({id, Status::in_progress, "changes", std::nullopt, std::nullopt, std::nullopt}, op));
  json w = wo::to_json(b.wos.transition({id, Status::review, "again", std::nullopt, std::nullopt, std::nullopt}, worker));
  CHECK(w["review_cycles"] == 1);
  CHECK(w["transitions"] == 5);
}

TEST_CASE("replay equals the live projections after a random workload, across an archive", "[work_orders]") {
  const unsigned seed = GENERATE(1u, 2u, 3u);
  INFO("seed " << seed);
  Bench b;
  std::mt19937_64 rng(seed);
  LogMaintenance maintenance(b.io, b.journal, b.paths);
  maintenance.set_chunk(7);  // many chunks, and events appended between them
  WoActor op;
  WoActor qa{"f/qa", std::string("qa"), std::string("f"), std::nullopt};
  std::vector<std::string> ids;
  auto pick = [&] { return ids[rng() % ids.size()]; };
  int refused = 0, archived = 0;
  for (int step = 0; step < 700; ++step) {
    b.clock_ms += static_cast<long long>(rng() % 5000);
    const int action = ids.empty() ? 0 : static_cast<int>(rng() % 10);
    try {
      if (action <= 1) {
        std::optional<std::string> key;
        if (rng() % 3 == 0) key = "create-" + std::to_string(rng() % 20);  // repeats return the first
        json w = wo::to_json(b.wos.create({"t" + std::to_string(step), "task", static_cast<int>(rng() % 5), std::nullopt, "", key}, op));
        if (std::find(ids.begin(), ids.end(), w["id"].get<std::string>()) == ids.end()) ids.push_back(w["id"]);
      } else if (action <= 6) {
        std::optional<std::string> key;
        if (rng() % 4 == 0) key = "k" + std::to_string(rng() % 5);
        const Status to = wo::kStatuses[rng() % wo::kStatuses.size()];
        wo::to_json(b.wos.transition({pick(), to, "step " + std::to_string(step), key, std::nullopt, std::nullopt}, rng() % 2 ? op : WoActor::operations()));
      } else if (action == 7) {
        json set = {{"priority", static_cast<int>(rng() % 5)}};
        if (rng() % 2) set["assignee"] = rng() % 2 ? json("f/workers/slot1") : json(nullptr);
        wo::to_json(b.wos.update(pick(), set, op));
      } else if (action == 8) {
        b.wos.verify(pick(), "check" + std::to_string(rng() % 3), rng() % 2, rng() % 2, "", rng() % 2 ? op : qa);
      } else {
        const int slot = static_cast<int>(rng() % 3);
        if (rng() % 2)
          b.journal.record({"slot.assigned", "operator", std::string("f"), pick(),
                            {{"factory", "f"}, {"slot", slot}, {"work_order", pick()}, {"agent", "f/workers/slot"},
                             {"branch", "work/x"}, {"worktree", "/w"}, {"team", nullptr}}});
        else
          b.journal.record({"slot.freed", "operations", std::string("f"), std::nullopt, {{"factory", "f"}, {"slot", slot}}});
      }
    } catch (const vermas::Error& e) {
      REQUIRE(e.code() == vermas::Errc::conflict);  // a transition the table refuses
      ++refused;
    }
    if (step == 350) {
      json a = b.run(maintenance.archive(Bench::ts(b.clock_ms - 200000), true, "operator"));
      archived = a["archived"];
      REQUIRE(archived > 0);
      REQUIRE(!a["files"].empty());
    }
  }
  CHECK(refused > 0);
  REQUIRE(b.rows("work_orders") > 10);
  b.snapshot();
  json r = b.run(maintenance.rebuild("operator"));
  CHECK(r["matched_live"] == true);
  CHECK(r["differences"] == 0);
  CHECK(r["checkpoint_event_id"].get<std::int64_t>() >= archived);
  CHECK(b.differences_from_snapshot() == 0);
  CHECK(b.rows("work_orders") == r["work_orders"].get<std::int64_t>());

  SECTION("a projection that drifted from the log is found and replaced") {
    sql::exec(b.store.db(), "UPDATE work_orders SET title = 'drift' WHERE rowid = (SELECT min(rowid) FROM work_orders)",
              "tampering");
    json again = b.run(maintenance.rebuild("operator"));
    CHECK(again["matched_live"] == false);
    CHECK(again["differences"] == 2);  // the row as it is, and as it should be
    CHECK(again["replaced"] == json::array({"work_orders"}));  // only the table that drifted
    CHECK(b.differences_from_snapshot() == 0);
    auto count_of = [&](const std::string& query) {
      vermas::sql::Stmt s(b.store.statements(), query, "inspecting the schema");
      s.step();
      return s.int64(0);
    };
    // The rebuilt table came with its indexes, named by the rebuild's generation; the
    // others kept theirs; nothing of a rebuilt or replaced set is left.
    CHECK(count_of("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'work_orders' "
                   "AND name LIKE '%\\_g_' ESCAPE '\\'") == 2);
    CHECK(count_of("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' "
                   "AND name LIKE '%\\_g_' ESCAPE '\\'") == 0);
    CHECK(count_of("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND (name LIKE 'retired\\_%' ESCAPE "
                   "'\\' OR name LIKE 'rebuild\\_%' ESCAPE '\\')") == 0);
  }
}

TEST_CASE("synced records from a branch are checked field by field", "[work_orders]") {
  json good = {{"id", "mp-abc123"},       {"title", "t"},       {"description", ""},
               {"type", "bug"},           {"priority", 1},      {"status", "open"},
               {"factory", "mp"},         {"assignee", nullptr}, {"created_at", "2026-01-01T00:00:00.000Z"},
               {"updated_at", "2026-01-01T00:00:01.000Z"}, {"artifacts", json::array()}};
  CHECK(check_synced_record(good, "mp").empty());
  auto with = [&](const char* key, json value) {
    json r = good;
    r[key] = std::move(value);
    return check_synced_record(r, "mp");
  };
  CHECK_FALSE(with("id", "../../etc").empty());
  CHECK_FALSE(with("id", 7).empty());
  CHECK_FALSE(with("title", "").empty());
  CHECK_FALSE(with("title", std::string(600, 'x')).empty());
  CHECK_FALSE(with("type", "epic").empty());
  CHECK_FALSE(with("status", "finished").empty());
  CHECK_FALSE(with("priority", 9).empty());
  CHECK_FALSE(with("priority", "high").empty());
  CHECK_FALSE(with("updated_at", "yesterday").empty());
  CHECK_FALSE(with("factory", "other").empty());
  CHECK_FALSE(with("artifacts", "x").empty());
  CHECK_FALSE(check_synced_record(json::array(), "mp").empty());
  CHECK(with("assignee", "mp/workers/slot1").empty());
}

TEST_CASE("an archive interrupted after writing its file writes no event twice", "[work_orders]") {
  Bench b;
  LogMaintenance maintenance(b.io, b.journal, b.paths);
  maintenance.set_chunk(4);
  for (int i = 0; i < 10; ++i) {
    b.clock_ms += 1000;
    wo::to_json(b.wos.create({"t" + std::to_string(i), "task", 2, std::nullopt, "", std::nullopt}, WoActor{}));
  }
  // The crash: the first 6 events reached the day file, the database still has them all.
  fs::create_directories(b.paths.archive_dir());
  const fs::path file = b.paths.archive_dir() / "events-2026-01-01.jsonl";
  std::string text;
  EventFilter all;
  all.limit = 6;
  for (const auto& e : b.store.query(all)) text += to_json(e).dump() + "\n";
  {
    std::ofstream out(file);
    out << text;
  }
  b.clock_ms += 1000;
  json r = b.run(maintenance.archive(Bench::ts(b.clock_ms), true, "operator"));
  CHECK(r["archived"] == 10);
  std::ifstream in(file);
  std::vector<std::int64_t> ids;
  for (std::string line; std::getline(in, line);) ids.push_back(json::parse(line)["id"].get<std::int64_t>());
  std::vector<std::int64_t> expected;
  for (std::int64_t i = 1; i <= 10; ++i) expected.push_back(i);
  CHECK(ids == expected);
  auto left = b.store.query(EventFilter{});
  REQUIRE(left.size() == 1);
  CHECK(left[0].event_type == "events.archived");
  json rebuilt = b.run(maintenance.rebuild("operator"));
  CHECK(rebuilt["matched_live"] == true);
  CHECK(rebuilt["work_orders"] == 10);
}

TEST_CASE("a rebuild while events keep arriving compares at one position and swaps in the whole log", "[work_orders]") {
  Bench b;
  LogMaintenance maintenance(b.io, b.journal, b.paths);
  maintenance.set_chunk(5);  // many yields: the writer below gets in between every chunk
  WoActor op;
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i)
    ids.push_back(wo::to_json(b.wos.create({"w" + std::to_string(i), "task", 2, std::nullopt, "", std::nullopt}, op))["id"]);
  int written = 0;
  bool rebuilding = true;
  // A writer on the same io thread, as requests would be, until the rebuild has answered.
  auto writer = [&]() -> boost::asio::awaitable<void> {
    for (std::size_t i = 0;; ++i) {
      if (!rebuilding) break;  // cleared by the other coroutine once the rebuild answered
      b.clock_ms += 10;
      const std::string& id = ids[i % ids.size()];
      const std::string status = wo::to_json(b.wos.require(id))["status"];
      const Status to = status == "open" ? Status::assigned : status == "assigned" ? Status::open : Status::canceled;
      if (status != "canceled") {
        wo::to_json(b.wos.transition({id, to, "meanwhile", std::nullopt, std::nullopt, std::nullopt}, op));
        ++written;
      }
      co_await boost::asio::post(b.io, boost::asio::use_awaitable);
    }
  };
  boost::asio::co_spawn(b.io, writer(), boost::asio::detached);
  json r;
  boost::asio::co_spawn(b.io, maintenance.rebuild("operator"), [&](std::exception_ptr e, json j) {
    rebuilding = false;
    if (e) std::rethrow_exception(e);
    r = std::move(j);
  });
  b.io.run();
  CHECK(written > 10);
  CHECK(r["matched_live"] == true);  // no drift invented by the concurrent writes
  CHECK(r["compared_at_event_id"].get<std::int64_t>() >= 40);
  // What was swapped in is the fold of the whole log, the writes during the rebuild included.
  b.snapshot();
  json again = b.run(maintenance.rebuild("operator"));
  CHECK(again["matched_live"] == true);
  CHECK(b.differences_from_snapshot() == 0);
  // Nothing differed, so nothing was swapped: the live tables keep their own indexes, and
  // nothing of a rebuilt, replaced or scratch set is left.
  CHECK(r["replaced"] == json::array());
  CHECK(again["replaced"] == json::array());
  auto count_of = [&](const std::string& query) {
    vermas::sql::Stmt s(b.journal.store().statements(), query, "inspecting the schema");
    s.step();
    return s.int64(0);
  };
  CHECK(count_of("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'work_orders' "
                 "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'") == 2);
  CHECK(count_of("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND (name LIKE 'retired\\_%' ESCAPE '\\' "
                 "OR name LIKE 'rebuild\\_%' ESCAPE '\\' OR name LIKE 'replay\\_%' ESCAPE '\\')") == 0);
}

TEST_CASE("invalid UTF-8 in an event: the live projections fold what is stored, so replay agrees", "[work_orders]") {
  // Found by fuzz_work_order: the store kept U+FFFD while the projection took the raw bytes.
  Bench b;
  LogMaintenance maintenance(b.io, b.journal, b.paths);
  WoActor op;
  json w = wo::to_json(b.wos.create({"caf\xe9", "task", 2, std::nullopt, "d\xff", std::nullopt}, op));
  b.journal.record({"slot.assigned", "operator", std::string("f"), w["id"].get<std::string>(),
                    {{"factory", "f"}, {"slot", 0}, {"work_order", w["id"]}, {"agent", "f/workers/slot0"},
                     {"branch", "work/x"}, {"worktree", "/r\xc3/w"}, {"team", nullptr}}});
  b.snapshot();
  json r = b.run(maintenance.rebuild("operator"));
  CHECK(r["matched_live"] == true);
  CHECK(r["differences"] == 0);
  CHECK(b.differences_from_snapshot() == 0);
}

TEST_CASE("a slot reservation whose set is gone (a coroutine destroyed with the io_context) releases nothing",
          "[work_orders]") {
  // The daemon's shape at shutdown: the dispatcher (owner of the set) is destroyed first, then
  // the io_context destroys a coroutine still suspended with a reservation in its frame. Under
  // ASan the old reference to the set is a use after free; in CI it hung the daemon.
  std::weak_ptr<vermas::ReservedSlots> watch;
  {
    boost::asio::io_context io;
    auto set = std::make_shared<vermas::ReservedSlots>();
    watch = set;
    auto hold = [](std::weak_ptr<vermas::ReservedSlots> slots) -> boost::asio::awaitable<void> {
      vermas::Reservation reservation(slots.lock(), {"f", 0});
      boost::asio::steady_timer never(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
      co_await never.async_wait(boost::asio::use_awaitable);
    };
    boost::asio::co_spawn(io, hold(set), boost::asio::detached);
    io.run_for(std::chrono::milliseconds(20));
    CHECK(set->count({"f", 0}) == 1);  // reserved while the coroutine is suspended
    set.reset();                       // the dispatcher goes first
    CHECK(watch.expired());
  }  // the io_context destroys the suspended coroutine, and its reservation with it
  CHECK(watch.expired());
}
