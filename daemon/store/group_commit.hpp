#pragma once
// Group commit. The daemon's store commits with synchronous=NORMAL: a COMMIT writes the WAL
// but does not sync it. One sync of the WAL, on a thread of its own, then makes every commit
// before it durable at once, and what must not run before that (answers to clients, the feed
// and subscribers) waits for it through after_durable(). Requests that arrive together
// share one fsync; nothing is answered or published before it is on disk; and the io thread
// never waits for the disk (an fsync of a small file took ~4 ms on the CI machine's disk).
//
// A sync starts one loop turn after the first commit that needs it (so the other requests
// already read in that turn join it), and while it runs the next group gathers: at most one
// sync is in flight. After a group of g commits the next sync waits until g commits are
// pending again, or kGather at most: the clients just answered come back within a round
// trip, and without the wait N closed-loop clients split into two cohorts that take turns,
// halving the group. A lone client (g = 1) never waits, and a lone commit after a lone one
// is synced on the io thread (no hand-off). A sync that fails fails every waiter it covered
// (ok = false).
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

namespace vermas {

class GroupCommit {
 public:
  // Makes every commit that has returned durable; an error says it may not be.
  using SyncFn = std::function<std::error_code()>;
  static constexpr std::chrono::microseconds kGather{300};
  enum class Run {
    on_thread,     // the daemon: the sync runs on a thread of its own
    inline_on_io,  // tests whose sync is not thread-safe (the power-cut VFS shim)
  };
  GroupCommit(boost::asio::io_context& io, SyncFn sync, Run run = Run::on_thread);
  ~GroupCommit();  // waits for a sync in flight; runs nothing that still waits (flush first)
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // From the store's commit hook: one more commit that is not yet durable.
  void committed();
  bool pending() const { return durable_ < committed_; }
  // fn(ok) once every commit made so far is durable: now if it already is, otherwise after
  // the sync that covers it. Callbacks run on the io thread, in the order they were given.
  void after_durable(std::function<void(bool ok)> fn);
  // For coroutines (a connection's answer): true once durable, false if the sync failed.
  boost::asio::awaitable<bool> durable();
  // Syncs on the calling thread and runs every waiter: the daemon's last step.
  void flush();

  struct Stats {
    std::uint64_t commits = 0;   // commits seen
    std::uint64_t syncs = 0;     // syncs completed: commits / syncs is the mean group
    std::uint64_t failures = 0;  // syncs that failed
  };
  Stats stats() const { return {committed_, syncs_, failures_}; }
  // Why the last sync failed; nullopt once one succeeds again.
  const std::optional<std::string>& failing() const { return failing_; }

 private:
  void schedule();
  void start_sync();
  bool lone() const;
  void synced(std::uint64_t upto, std::error_code ec);

  boost::asio::io_context& io_;
  SyncFn sync_;
  Run run_;
  std::uint64_t committed_ = 0;
  std::uint64_t durable_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t failures_ = 0;
  std::optional<std::string> failing_;
  std::uint64_t last_group_ = 1;  // commits the last sync covered
  bool scheduled_ = false;  // a start is posted
  bool gathering_ = false;  // waiting (gather_) for the group to fill
  bool syncing_ = false;    // a sync is in flight
  struct Waiter {
    std::uint64_t upto;
    std::function<void(bool)> fn;
  };
  std::deque<Waiter> waiting_;
  boost::asio::steady_timer gather_;  // upto never decreases along the queue
  // Completions posted back after this object is gone find the flag false.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  boost::asio::thread_pool thread_{1};
};

// The daemon's SyncFn: fdatasync of the database's WAL (`<db>-wal`) through a descriptor of
// our own. fsync works on the file, not the descriptor, so this flushes what SQLite wrote
// through its own. The WAL keeps its inode while the daemon's connection is open (a
// checkpoint rewrites it in place); if it is ever replaced the new one is opened, and its
// directory synced once so the file itself survives. Thread-safe.
class WalSync {
 public:
  explicit WalSync(std::filesystem::path db_file);
  ~WalSync();
  WalSync(const WalSync&) = delete;
  WalSync& operator=(const WalSync&) = delete;
  std::error_code operator()();

 private:
  std::filesystem::path db_file_;
  std::filesystem::path wal_file_;
  std::mutex mutex_;
  int fd_ = -1;
};

}  // namespace vermas
