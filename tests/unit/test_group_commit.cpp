// Group commit: what waits for a sync runs only after the sync that covers it, in order;
// commits that come together share one sync; a failed sync fails what it covered; writes
// of one loop turn share one transaction, a failed one undoes only its own, and a shared
// transaction rolled back fails every waiter that joined it. The
// syncs here are stand-ins that count, block or fail (the power-cut tests check the real
// store's durability through the same class).
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "daemon/error.hpp"
#include "daemon/store/feed.hpp"
#include "daemon/store/group_commit.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/store/store.hpp"
#include "tests/catch.hpp"
#include "tests/unit/helpers.hpp"
#include "tests/unit/temp_dir.hpp"

using vermas::GroupCommit;
using namespace std::chrono_literals;

namespace {

// A sync that waits until the test opens the gate, and counts how often it ran.
class GatedSync {
 public:
  std::error_code operator()() {
    std::unique_lock lock(mutex_);
    ++started_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return opened_ > 0 || all_open_; });
    if (!all_open_) --opened_;
    return fail_next_.exchange(false) ? std::error_code(EIO, std::generic_category()) : std::error_code{};
  }
  void open_once() {
    std::lock_guard lock(mutex_);
    ++opened_;
    changed_.notify_all();
  }
  void open_all() {
    std::lock_guard lock(mutex_);
    all_open_ = true;
    changed_.notify_all();
  }
  void fail_next() { fail_next_ = true; }
  int started() {
    std::lock_guard lock(mutex_);
    return started_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int started_ = 0;
  int opened_ = 0;
  bool all_open_ = false;
  std::atomic<bool> fail_next_{false};
};

}  // namespace

TEST_CASE("group commit: commits that come together share one sync, and their waiters run after it, in order",
          "[group_commit]") {
  boost::asio::io_context io;
  auto gate = std::make_shared<GatedSync>();
  GroupCommit group(io, [gate] { return (*gate)(); });
  std::vector<int> order;

  REQUIRE_FALSE(group.pending());
  group.after_durable([&](bool ok) { order.push_back(ok ? 0 : -1); });  // nothing pending: at once
  REQUIRE(order == std::vector<int>{0});

  for (int i = 1; i <= 5; ++i) {
    group.committed();
    group.after_durable([&, i](bool ok) { order.push_back(ok ? i : -i); });
  }
  REQUIRE(group.pending());
  REQUIRE(vermas::test::run_until(io, [&] { return gate->started() == 1; }));
  CHECK(order.size() == 1);  // nothing runs before the sync ends

  // While that sync runs, a second group gathers behind it.
  group.committed();
  group.after_durable([&](bool ok) { order.push_back(ok ? 6 : -6); });
  io.restart();
  io.run_for(20ms);
  CHECK(gate->started() == 1);  // one sync at a time

  gate->open_once();
  REQUIRE(vermas::test::run_until(io, [&] { return order.size() == 6; }));
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
  REQUIRE(vermas::test::run_until(io, [&] { return gate->started() == 2; }));
  gate->open_once();
  REQUIRE(vermas::test::run_until(io, [&] { return order.size() == 7; }));
  CHECK(order.back() == 6);
  CHECK_FALSE(group.pending());
  CHECK(group.stats().commits == 6);
  CHECK(group.stats().syncs == 2);
  CHECK(group.stats().failures == 0);
}

TEST_CASE("group commit: a failed sync fails what it covered, and the next one succeeds", "[group_commit]") {
  boost::asio::io_context io;
  auto gate = std::make_shared<GatedSync>();
  gate->open_all();
  GroupCommit group(io, [gate] { return (*gate)(); });
  std::vector<bool> results;

  gate->fail_next();
  group.committed();
  group.after_durable([&](bool ok) { results.push_back(ok); });
  REQUIRE(vermas::test::run_until(io, [&] { return results.size() == 1; }));
  CHECK(results[0] == false);
  CHECK(group.failing().has_value());
  CHECK(group.stats().failures == 1);

  group.committed();
  group.after_durable([&](bool ok) { results.push_back(ok); });
  REQUIRE(vermas::test::run_until(io, [&] { return results.size() == 2; }));
  CHECK(results[1] == true);
  CHECK_FALSE(group.failing().has_value());
}

TEST_CASE("group commit: a commit nobody waits for is synced too, and flush syncs what is left at once",
          "[group_commit]") {
  boost::asio::io_context io;
  auto gate = std::make_shared<GatedSync>();
  gate->open_all();
  GroupCommit group(io, [gate] { return (*gate)(); });
  group.committed();
  REQUIRE(vermas::test::run_until(io, [&] { return !group.pending(); }));
  CHECK(gate->started() == 1);

  // flush: no loop turn needed (the daemon's last step, after its loop has ended).
  bool ran = false;
  group.committed();
  group.after_durable([&](bool ok) { ran = ok; });
  group.flush();
  CHECK(ran);
  CHECK_FALSE(group.pending());
}

TEST_CASE("group commit: the journal publishes an event only after its sync", "[group_commit][journal]") {
  vermas::test::TempDir dir;
  boost::asio::io_context io;
  vermas::Store store(dir.path / "operations.db", vermas::Store::Durability::grouped);
  const auto feed_file = dir.path / "feed.jsonl";
  std::vector<std::int64_t> seen;
  // What the subscriber and the feed had when the sync ran (on the io thread or its own).
  std::atomic<int> syncs{0};
  std::atomic<std::size_t> seen_at_sync{99};
  std::atomic<bool> feed_empty_at_sync{false};
  GroupCommit group(io, [&] {
    seen_at_sync = seen.size();
    feed_empty_at_sync = !std::filesystem::exists(feed_file) || std::filesystem::file_size(feed_file) == 0;
    ++syncs;
    return std::error_code{};
  });
  store.on_commit([&group] { group.committed(); });
  vermas::FeedWriter feed(feed_file, 0, 2);
  vermas::Journal journal(store, feed);
  journal.set_group_commit(&group);
  journal.subscribe([&](const vermas::Event& e) {
    seen.push_back(e.id);
    return true;
  });

  const auto e = journal.record({"test.event", "operations", std::nullopt, std::nullopt, {}});
  CHECK(e.id == store.last_event_id());  // committed: readable at once
  CHECK(seen.empty());                   // not yet published
  REQUIRE(vermas::test::run_until(io, [&] { return seen.size() == 1; }));
  CHECK(syncs == 1);
  CHECK(seen_at_sync == 0);
  CHECK(feed_empty_at_sync);
  CHECK(seen[0] == e.id);
  CHECK(std::filesystem::file_size(feed_file) > 0);
}

TEST_CASE("group commit: WalSync syncs the store's WAL, and the database file when there is no WAL",
          "[group_commit]") {
  vermas::test::TempDir dir;
  const auto db = dir.path / "operations.db";
  vermas::WalSync sync(db);
  {
    vermas::Store store(db, vermas::Store::Durability::grouped);
    store.append({"test.event", "operations", std::nullopt, std::nullopt, {}});
    REQUIRE(std::filesystem::exists(dir.path / "operations.db-wal"));
    CHECK_FALSE(sync());
    CHECK_FALSE(sync());  // the descriptor is kept
  }
  // The last connection closed: SQLite checkpointed and removed the WAL.
  REQUIRE_FALSE(std::filesystem::exists(dir.path / "operations.db-wal"));
  CHECK_FALSE(sync());
  vermas::WalSync missing(dir.path / "absent" / "operations.db");
  CHECK(missing());  // neither file: an error, not a false success
}

namespace {

// A grouped store wired as the daemon wires it (share_transactions), a journal over it, and
// a second connection that sees only what is committed.
struct SharedStore {
  vermas::test::TempDir dir;
  boost::asio::io_context io;
  vermas::Store store{dir.path / "operations.db", vermas::Store::Durability::grouped};
  std::atomic<int> syncs{0};
  GroupCommit group{io, [this] {
                      ++syncs;
                      return std::error_code{};
                    }};
  vermas::FeedWriter feed{dir.path / "feed.jsonl", 0, 2};
  vermas::Journal journal{store, feed};
  std::vector<std::string> published;
  sqlite3* other = nullptr;

  SharedStore() {
    store.on_commit([this] { group.committed(); });
    vermas::share_transactions(store, group);
    journal.set_group_commit(&group);
    journal.subscribe([this](const vermas::Event& e) {
      published.push_back(e.event_type);
      return true;
    });
    REQUIRE(sqlite3_open((dir.path / "operations.db").c_str(), &other) == SQLITE_OK);
  }
  ~SharedStore() {
    sqlite3_close(other);
    store.batch_with(nullptr, nullptr);
  }
  // Events of `type` a second connection sees: the committed ones.
  long committed(const std::string& type) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(other, "SELECT count(*) FROM events WHERE event_type = ?", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, type.c_str(), -1, SQLITE_TRANSIENT);
    long n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
  }
  vermas::Event record(const std::string& type) {
    return journal.record({type, "operations", std::nullopt, std::nullopt, {}});
  }
};

}  // namespace

TEST_CASE("group commit: writes of one loop turn share one transaction, one commit and one sync",
          "[group_commit][journal]") {
  SharedStore s;
  std::vector<bool> answered;
  for (int i = 0; i < 3; ++i) {
    s.record("test.shared");
    s.group.after_durable([&](bool ok) { answered.push_back(ok); });
  }
  CHECK(s.store.batch_open());
  CHECK(s.store.last_event_id() == 3);     // this connection reads its own writes
  CHECK(s.committed("test.shared") == 0);  // nobody else does before the commit
  CHECK(s.published.empty());
  CHECK(answered.empty());
  REQUIRE(vermas::test::run_until(s.io, [&] { return answered.size() == 3; }));
  CHECK(answered == std::vector<bool>{true, true, true});
  CHECK(s.committed("test.shared") == 3);
  CHECK(s.published == std::vector<std::string>{"test.shared", "test.shared", "test.shared"});
  const auto stats = s.group.stats();
  CHECK(stats.transactions == 3);
  CHECK(stats.commits == 1);
  CHECK(stats.syncs == 1);
  CHECK_FALSE(s.store.batch_open());
  CHECK_FALSE(s.group.pending());
}

TEST_CASE("group commit: the feed lines of one sync are written together, after its waiters, before an answer resumes",
          "[group_commit][journal]") {
  SharedStore s;
  const auto file = s.dir.path / "feed.jsonl";
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(s.record("test.fed").id);
  // A waiter queued after the three events' publications runs in the same round: the lines
  // are gathered, not yet written.
  std::optional<std::size_t> lines_in_round;
  s.group.after_durable([&](bool) { lines_in_round = vermas::test::feed_ids(file).size(); });
  // An answer: a coroutine resumed once durable, as a connection's is.
  std::optional<std::vector<std::int64_t>> at_answer;
  boost::asio::co_spawn(
      s.io,
      [&]() -> boost::asio::awaitable<void> {
        co_await s.group.durable();
        at_answer = vermas::test::feed_ids(file);
      },
      boost::asio::detached);
  REQUIRE(vermas::test::run_until(s.io, [&] { return at_answer.has_value(); }));
  CHECK(s.published.size() == 3);
  REQUIRE(lines_in_round);
  CHECK(*lines_in_round == 0);
  CHECK(*at_answer == ids);
  CHECK(s.group.stats().syncs == 1);
}

TEST_CASE("group commit: a feed write that fails for a gathered round leaves no gap and no duplicate",
          "[group_commit][journal]") {
  SharedStore s;
  const auto file = s.dir.path / "feed.jsonl";
  // The feed file is /dev/full: every write fails (ENOSPC), for the feed only.
  std::filesystem::create_symlink("/dev/full", file);
  for (int i = 0; i < 3; ++i) s.record("test.lost");
  REQUIRE(vermas::test::run_until(s.io, [&] { return !s.group.pending() && s.published.size() == 3; }));
  // Space again: the next round's flush reopens the feed, and the three it lacked come first.
  std::filesystem::remove(file);
  for (int i = 0; i < 2; ++i) s.record("test.after");
  REQUIRE(vermas::test::run_until(s.io, [&] { return !s.group.pending() && s.published.size() == 5; }));
  CHECK(vermas::test::feed_ids(file) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
}

// Whether the process holds one of SQLite's temp files (etilqs_*, unlinked once opened).
bool sqlite_temp_file_open() {
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(fd.path(), ec).string().find("etilqs_") != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("group commit: a request's savepoint journal stays in memory however many pages it changes",
          "[group_commit]") {
  SharedStore s;
  s.store.transact(
      [&](vermas::Store::Tx&) {
        vermas::sql::exec(s.store.db(),
                          "CREATE TABLE big(v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                          "WHERE i < 2000) INSERT INTO big SELECT printf('%0200d', i) FROM n;",
                          "filling ~100 pages");
      },
      vermas::Store::Share::own);
  // A request in the shared transaction changes every one of those pages: its savepoint
  // journals ~400 KiB, past SQLite's default spill threshold (64 KiB).
  bool temp_file = true;
  s.store.transact([&](vermas::Store::Tx&) {
    vermas::sql::exec(s.store.db(), "UPDATE big SET v = v || 'x'", "changing every page");
    temp_file = sqlite_temp_file_open();
  });
  CHECK(s.store.batch_open());
  CHECK_FALSE(temp_file);
  REQUIRE(vermas::test::run_until(s.io, [&] { return !s.group.pending(); }));
}

TEST_CASE("group commit: a write that fails in a shared transaction undoes only its own changes",
          "[group_commit][journal]") {
  SharedStore s;
  s.record("test.before");
  CHECK_THROWS_AS(s.journal.commit([](vermas::Store::Tx& tx) {
    tx.append({"test.failed", "operations", std::nullopt, std::nullopt, {}});
    throw vermas::Error(vermas::Errc::invalid_argument, "refused half-way");
  }),
                  vermas::Error);
  s.record("test.after");
  bool ok = false;
  s.group.after_durable([&](bool r) { ok = r; });
  REQUIRE(vermas::test::run_until(s.io, [&] { return ok; }));
  CHECK(s.committed("test.before") == 1);
  CHECK(s.committed("test.failed") == 0);
  CHECK(s.committed("test.after") == 1);
  CHECK(s.published == std::vector<std::string>{"test.before", "test.after"});
  CHECK(s.group.stats().commits == 1);
}

TEST_CASE("group commit: a shared transaction whose COMMIT fails is rolled back whole, its waiters fail",
          "[group_commit][journal]") {
  SharedStore s;
  // A deferred foreign key is checked at COMMIT: the one way to make a COMMIT fail here
  // without a failing disk (the disk-full integration test fails it for real).
  vermas::sql::exec(s.store.db(),
                    "CREATE TABLE t_parent(id INTEGER PRIMARY KEY);"
                    "CREATE TABLE t_child(p INTEGER REFERENCES t_parent(id) DEFERRABLE INITIALLY DEFERRED);",
                    "test tables");
  s.record("test.earlier");
  std::vector<GroupCommit::Outcome> outcomes;
  s.group.after_settled([&](GroupCommit::Outcome o) { outcomes.push_back(o); });
  REQUIRE(vermas::test::run_until(s.io, [&] { return outcomes.size() == 1; }));
  CHECK(outcomes[0] == GroupCommit::Outcome::durable);

  s.record("test.neighbour");
  s.group.after_settled([&](GroupCommit::Outcome o) { outcomes.push_back(o); });
  s.journal.commit([](vermas::Store::Tx& tx) {
    tx.append({"test.orphan", "operations", std::nullopt, std::nullopt, {}});
    vermas::sql::exec(tx.db(), "INSERT INTO t_child VALUES(99)", "an orphan");
  });
  s.group.after_settled([&](GroupCommit::Outcome o) { outcomes.push_back(o); });
  REQUIRE(vermas::test::run_until(s.io, [&] { return outcomes.size() == 3; }));
  CHECK(outcomes[1] == GroupCommit::Outcome::rolled_back);
  CHECK(outcomes[2] == GroupCommit::Outcome::rolled_back);
  CHECK(s.committed("test.neighbour") == 0);
  CHECK(s.committed("test.orphan") == 0);
  CHECK(s.published == std::vector<std::string>{"test.earlier"});  // nothing of the lost batch
  CHECK(s.group.stats().rolled_back == 1);
  CHECK(s.group.lost_because().find("FOREIGN KEY") != std::string::npos);
  CHECK_FALSE(s.store.batch_open());
  CHECK_FALSE(s.group.pending());

  // The next writes open a new one and commit.
  s.record("test.later");
  bool ok = false;
  s.group.after_durable([&](bool r) { ok = r; });
  REQUIRE(vermas::test::run_until(s.io, [&] { return ok; }));
  CHECK(s.committed("test.later") == 1);
}

TEST_CASE("group commit: a transaction of its own commits the shared one first, then itself, before it returns",
          "[group_commit]") {
  SharedStore s;
  s.record("test.shared");
  REQUIRE(s.store.batch_open());
  s.journal.commit([](vermas::Store::Tx& tx) { tx.append({"test.own", "operations", std::nullopt, std::nullopt, {}}); },
                   vermas::Store::Share::own);
  CHECK_FALSE(s.store.batch_open());
  CHECK(s.committed("test.shared") == 1);
  CHECK(s.committed("test.own") == 1);
  CHECK(s.group.stats().commits == 2);
  CHECK(s.group.stats().transactions == 2);
  // Both published once synced.
  REQUIRE(vermas::test::run_until(s.io, [&] { return s.published.size() == 2; }));
  CHECK(s.published == std::vector<std::string>{"test.shared", "test.own"});
}
