#pragma once
// Checkpoints the WAL from a connection and a thread of its own. SQLite's automatic
// checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages, on the io thread:
// it copies the pages into the database file and syncs both files (two fsyncs, and ~15 % of
// the system calls under a stream of writes: a pread and a pwrite per page) while every
// request waits. Wired to a store (Store::on_wal), which turns SQLite's own off, a commit
// only notes the WAL's size; past the threshold a PASSIVE checkpoint copies the pages on the
// thread, never blocking the writer.
//
// The writer starts the WAL from its beginning again only when a checkpoint copied all of it
// before the writer's next transaction began; under a steady stream of writes a checkpoint
// on another thread never does (measured: the WAL grew to 138 MB in 10 s, and appending to
// a growing file made every fdatasync a journal commit). So after each pass on the thread
// the io thread finishes the job at the next commit: the few pages written during the pass,
// then the syncs of the WAL and of a database file the thread synced a moment ago. The WAL
// cycles at about the threshold, as with SQLite's own checkpoint, without the io thread
// copying the pages.
// A checkpoint that fails (disk full) is logged and tried again at a later commit; the WAL
// keeps everything meanwhile.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <boost/asio/thread_pool.hpp>

struct sqlite3;

namespace vermas {

class Checkpointer {
 public:
  static constexpr int kThresholdPages = 1000;  // SQLite's wal_autocheckpoint default
  explicit Checkpointer(std::filesystem::path db_file, int threshold_pages = kThresholdPages);
  ~Checkpointer();  // waits for a checkpoint in flight, then closes its connection
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // From the store's WAL hook (io thread, `writer` the store's connection): the WAL holds
  // `pages` pages after a commit.
  void wal_pages(sqlite3* writer, int pages);

  struct Stats {
    std::uint64_t checkpoints = 0;  // passes on the thread (all the WAL copied or not: PASSIVE)
    std::uint64_t finished = 0;     // passes on the io thread, each after one on the thread
    std::uint64_t failures = 0;
  };
  Stats stats() const { return {checkpoints_.load(), finished_, failures_.load()}; }
  // Tests: runs on the thread before each checkpoint (to hold one back).
  void before_each(std::function<void()> fn) { before_each_ = std::move(fn); }

 private:
  void checkpoint();  // on the thread
  bool passive(sqlite3* db);

  std::filesystem::path db_file_;
  int threshold_;
  sqlite3* db_ = nullptr;  // only the thread uses it, once opened
  std::atomic<bool> running_{false};
  std::atomic<bool> copied_{false};  // a pass on the thread completed; the io thread finishes
  std::atomic<std::uint64_t> checkpoints_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::uint64_t finished_ = 0;  // io thread only
  std::function<void()> before_each_;
  boost::asio::thread_pool thread_{1};
};

}  // namespace vermas
