// The checkpointer: with it wired, no commit of the store checkpoints (SQLite's automatic
// checkpoint is off); its thread does, past the threshold, and the writer then reuses the
// WAL from its start instead of growing it, also under a stream of writes that never lets
// a pass on the thread copy the whole WAL.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include <sqlite3.h>

#include "daemon/store/checkpointer.hpp"
#include "daemon/store/store.hpp"
#include "tests/catch.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

// ~`pages` pages of WAL: events of 40 KiB each, one per commit.
void write_pages(vermas::Store& store, int pages) {
  const std::string pad(40 * 1024, 'x');
  for (int i = 0; i < pages / 10; ++i)
    store.transact([&](vermas::Store::Tx& tx) { tx.append({"test.big", "operations", {}, {}, {{"pad", pad}}}); });
}

// Runs until `done` or 10 s.
template <class Pred>
bool wait_until(Pred done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return done();
}

}  // namespace

TEST_CASE("checkpointer: commits never checkpoint, its thread does past the threshold, and the WAL is reused",
          "[checkpointer]") {
  vermas::test::TempDir dir;
  const auto db = dir.path / "operations.db";
  const auto wal = dir.path / "operations.db-wal";
  vermas::Store store(db);
  vermas::Checkpointer checkpointer(db, 50);
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  checkpointer.before_each([&] {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return go; });
  });
  // The migrations' pages into the database file first: the WAL starts empty.
  REQUIRE(sqlite3_wal_checkpoint_v2(store.db(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr) == SQLITE_OK);
  store.on_wal([&](sqlite3* writer, int pages) { checkpointer.wal_pages(writer, pages); });

  // Past SQLite's own threshold (1,000 pages) while the checkpoint is held back: nothing
  // reaches the database file, so no commit checkpointed.
  const auto db_size = std::filesystem::file_size(db);
  write_pages(store, 1200);
  CHECK(std::filesystem::file_size(wal) > 1100 * 4096);
  CHECK(std::filesystem::file_size(db) == db_size);
  CHECK(checkpointer.stats().checkpoints == 0);

  {
    std::lock_guard lock(m);
    go = true;
  }
  cv.notify_all();
  REQUIRE(wait_until([&] { return checkpointer.stats().checkpoints >= 1; }));
  CHECK(std::filesystem::file_size(db) > db_size + 1000 * 4096);
  CHECK(checkpointer.stats().failures == 0);

  // All was copied: the next writes start the WAL over, so it does not grow.
  const auto wal_size = std::filesystem::file_size(wal);
  write_pages(store, 500);
  CHECK(std::filesystem::file_size(wal) == wal_size);
  store.on_wal(nullptr);
}

TEST_CASE("checkpointer: under a steady stream of writes the WAL stays bounded", "[checkpointer]") {
  vermas::test::TempDir dir;
  const auto db = dir.path / "operations.db";
  vermas::Store store(db);
  vermas::Checkpointer checkpointer(db, 50);
  // A slow disk: each pass on the thread takes a while, and commits keep coming meanwhile,
  // so no pass ever ends with the whole WAL copied before the next write.
  checkpointer.before_each([] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); });
  store.on_wal([&](sqlite3* writer, int pages) { checkpointer.wal_pages(writer, pages); });
  write_pages(store, 3000);
  // The threshold, plus what a pass lets through: far below the 3,000 pages written.
  CHECK(std::filesystem::file_size(dir.path / "operations.db-wal") < 1000 * 4096);
  CHECK(checkpointer.stats().finished > 0);
  CHECK(checkpointer.stats().checkpoints > 0);
  store.on_wal(nullptr);
}
