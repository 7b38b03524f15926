#pragma once
// Group commit. The daemon's store commits with synchronous=NORMAL: a COMMIT writes the WAL
// but does not sync it. One sync of the WAL, on a thread of its own, then makes every commit
// before it durable at once, and what must not run before that (answers to clients, the feed
// and subscribers) waits for it through after_durable(). The io thread never waits for the
// disk (an fsync of a small file took ~4 ms on the CI machine's disk).
//
// Requests that arrive together also share one transaction (Store::batch_with): the first
// write opens it, each request's writes are a SAVEPOINT inside it (a failed request rolls
// back only its own), and it commits once as many requests have joined as joined the last
// one, or kGather after it opened: the clients just answered come back within a round trip,
// and without the wait N closed-loop clients split into cohorts that take turns. A lone
// writer (batches of one) never waits. Sharing the transaction writes each page the requests
// share (the log's last leaf, each index's) to the WAL once per batch instead of once per
// request: at 8 clients, ~20 WAL frames per batch instead of ~13 per request.
//
// While a sync runs the next batch gathers: at most one sync is in flight. A lone commit
// after a lone one is synced on the io thread (no hand-off). A sync that fails fails every
// waiter it covered; a batch SQLite rolled back (its COMMIT failed: disk full, I/O error)
// fails every waiter that joined it (-32005: nothing of it was acknowledged), and its
// events are not published. What its handlers did beyond the database stays done, as after
// a failed sync; the log is the truth again at the next start.
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
  enum class Outcome {
    durable,
    sync_failed,  // the commits are in the database and may yet reach the disk
    rolled_back,  // the shared transaction was rolled back: they are gone
  };
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
  // Shared transactions. `end` commits the open one (the store's end_batch).
  void end_batches_with(std::function<void()> end) { end_ = std::move(end); }
  // From the store: a transaction joined the shared one (`opened`: it began it). What waits
  // from now on waits for the shared one's commit too.
  void joined(bool opened);
  // From the store: SQLite rolled the shared transaction back (`why`): every waiter that
  // joined it fails.
  void rolled_back(std::string why);
  bool pending() const { return open_ != 0 || durable_ < committed_; }
  // fn(ok) once every commit made so far is durable: now if it already is, otherwise after
  // the sync that covers it. Callbacks run on the io thread, in the order they were given.
  void after_durable(std::function<void(bool ok)> fn);
  // The same, told why it was not.
  void after_settled(std::function<void(Outcome)> fn);
  // fn() after each sync's waiters have run (the journal writes the feed lines they gathered).
  void on_round_end(std::function<void()> fn) { round_end_ = std::move(fn); }
  // For coroutines (a connection's answer), once settled: it resumes after the round ends.
  boost::asio::awaitable<Outcome> durable();
  // Syncs on the calling thread and runs every waiter: the daemon's last step.
  void flush();

  struct Stats {
    std::uint64_t transactions = 0;  // writes: transactions / commits is the mean batch
    std::uint64_t commits = 0;       // commits seen
    std::uint64_t syncs = 0;         // syncs completed: commits / syncs is the mean group
    std::uint64_t failures = 0;      // syncs that failed
    std::uint64_t rolled_back = 0;   // shared transactions SQLite rolled back
  };
  Stats stats() const { return {transactions_, committed_, syncs_, failures_, rolled_back_}; }
  // Why the last shared transaction was rolled back, for the answers it fails.
  const std::string& lost_because() const { return lost_because_; }
  // Why the last sync failed; nullopt once one succeeds again.
  const std::optional<std::string>& failing() const { return failing_; }

 private:
  void schedule();
  void end_soon();
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
  std::uint64_t transactions_ = 0;
  std::uint64_t rolled_back_ = 0;
  std::optional<std::string> failing_;
  std::function<void()> end_;
  std::function<void()> round_end_;
  std::uint64_t open_ = 0;         // the commit the open shared transaction will be; 0: none
  std::uint64_t last_opened_ = 0;  // the last one opened: the one a rollback is about
  std::uint64_t joined_ = 0;       // transactions in the open one
  std::uint64_t last_batch_ = 1;   // transactions in the last one committed
  std::uint64_t last_group_ = 1;   // commits the last sync covered
  bool ending_ = false;            // its end is posted
  std::string lost_because_;
  bool scheduled_ = false;  // a sync's start is posted
  bool syncing_ = false;    // a sync is in flight
  struct Waiter {
    std::uint64_t upto;
    std::function<void(Outcome)> fn;
  };
  std::deque<Waiter> waiting_;        // upto never decreases along it
  boost::asio::steady_timer gather_;  // the open shared transaction's longest wait
  // Completions posted back after this object is gone find the flag false.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  boost::asio::thread_pool thread_{1};
};

class Store;
// Wires a grouped store's shared transactions to `group` (Store::batch_with): the daemon's
// way, and the tests'. Both must outlive the writes.
void share_transactions(Store& store, GroupCommit& group);

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
