#include "daemon/store/group_commit.hpp"
#include "daemon/store/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace vermas {

namespace asio = boost::asio;

GroupCommit::GroupCommit(asio::io_context& io, SyncFn sync, Run run)
    : io_(io), sync_(std::move(sync)), run_(run), gather_(io) {}

GroupCommit::~GroupCommit() {
  *alive_ = false;
  thread_.join();  // a sync in flight finishes; its completion finds alive_ false
}

void GroupCommit::joined(bool opened) {
  if (opened) {
    open_ = last_opened_ = committed_ + 1;
    joined_ = 0;
    ending_ = false;
  }
  ++joined_;
  ++transactions_;
  if (ending_) return;
  if (joined_ >= last_batch_) {
    end_soon();
  } else if (opened) {
    gather_.expires_after(kGather);
    gather_.async_wait([this, alive = alive_, batch = open_](boost::system::error_code ec) {
      if (!*alive || ec || open_ != batch || ending_) return;  // cancelled, or it ended already
      end_soon();
    });
  }
}

// Posted: the requests already read in this loop turn join first.
void GroupCommit::end_soon() {
  ending_ = true;
  gather_.cancel();
  asio::post(io_, [this, alive = alive_, batch = open_] {
    if (*alive && open_ == batch && end_) end_();
  });
}

void GroupCommit::rolled_back(std::string why) {
  const std::uint64_t batch = last_opened_;
  open_ = 0;
  ++rolled_back_;
  lost_because_ = std::move(why);
  // Its commit hook may have counted it already: the waiters are known by the number.
  std::deque<Waiter> failed;
  while (!waiting_.empty() && waiting_.back().upto >= batch) {
    failed.push_front(std::move(waiting_.back()));
    waiting_.pop_back();
  }
  spdlog::error("a shared transaction was rolled back ({}); the {} answer(s) waiting for it are errors",
                lost_because_, failed.size());
  for (auto& w : failed) w.fn(Outcome::rolled_back);
}

void GroupCommit::committed() {
  if (open_ == committed_ + 1) {  // the shared transaction's commit
    last_batch_ = std::max<std::uint64_t>(joined_, 1);
    open_ = 0;
    gather_.cancel();
  } else {
    ++transactions_;  // one of its own
  }
  ++committed_;
  // Every commit is synced soon, also one nobody waits for (a patrol's own record): the
  // window in which a power cut can take a commit stays one sync long.
  schedule();
}

void GroupCommit::after_durable(std::function<void(bool)> fn) {
  after_settled([fn = std::move(fn)](Outcome o) { fn(o == Outcome::durable); });
}

void GroupCommit::after_settled(std::function<void(Outcome)> fn) {
  if (!pending()) {
    fn(Outcome::durable);
    return;
  }
  waiting_.push_back({open_ ? open_ : committed_, std::move(fn)});
  schedule();
}

// A lone commit of one transaction after a sync of one such: nobody else is writing.
bool GroupCommit::lone() const { return committed_ - durable_ == 1 && last_group_ == 1 && last_batch_ == 1; }

asio::awaitable<GroupCommit::Outcome> GroupCommit::durable() {
  if (!pending()) co_return Outcome::durable;
  struct Wait {
    bool done = false;
    Outcome outcome = Outcome::durable;
    asio::steady_timer wake;
    explicit Wait(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
  };
  auto out = std::make_shared<Wait>(io_);
  after_settled([out](Outcome o) {
    out->done = true;
    out->outcome = o;
    out->wake.cancel();
  });
  if (!out->done) co_await out->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return out->outcome;
}

void GroupCommit::schedule() {
  if (scheduled_ || syncing_ || durable_ >= committed_) return;  // a sync in flight schedules the next
  scheduled_ = true;
  // Posted: the commit that called this returns first.
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    scheduled_ = false;
    start_sync();
  });
}

void GroupCommit::start_sync() {
  if (durable_ >= committed_ || syncing_) return;
  syncing_ = true;
  const std::uint64_t upto = committed_;
  // A lone commit after a lone commit (one writer, nobody else around; the requests read in
  // the same turn had their chance to join): synced here, as a store without group commit
  // would, sparing the hand-off to the thread and back. A second writer makes the batches
  // larger than one, and their syncs go to the thread.
  if (run_ == Run::inline_on_io || lone()) {
    synced(upto, sync_());
    return;
  }
  asio::post(thread_, [this, upto, alive = alive_] {
    const std::error_code ec = sync_();
    asio::post(io_, [this, upto, ec, alive] {
      if (*alive) synced(upto, ec);
    });
  });
}

void GroupCommit::synced(std::uint64_t upto, std::error_code ec) {
  syncing_ = false;
  ++syncs_;
  if (!ec) failing_.reset();
  if (ec) {
    ++failures_;
    failing_ = "syncing the database's WAL failed: " + ec.message();
    spdlog::error("syncing the database's WAL failed: {}; the {} answer(s) waiting for it are errors",
                  ec.message(), waiting_.size());
  }
  if (upto > durable_) {
    last_group_ = upto - durable_;
    durable_ = upto;
  }
  // A callback may commit (and so queue behind): take the covered ones off first.
  std::deque<Waiter> ready;
  while (!waiting_.empty() && waiting_.front().upto <= upto) {
    ready.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  for (auto& w : ready) w.fn(ec ? Outcome::sync_failed : Outcome::durable);
  if (round_end_) round_end_();
  schedule();
}

void GroupCommit::flush() {
  if (open_ && end_) end_();
  if (!pending() && waiting_.empty()) return;
  // WalSync is thread-safe, so a sync still running on the thread does no harm; its
  // completion, if it is ever run, covers nothing new.
  synced(committed_, sync_());
  scheduled_ = false;
  gather_.cancel();
}

void share_transactions(Store& store, GroupCommit& group) {
  group.end_batches_with([&store] { store.end_batch(); });
  store.batch_with([&group](bool opened) { group.joined(opened); },
                   [&group](const std::string& why) { group.rolled_back(why); });
}

WalSync::WalSync(std::filesystem::path db_file) : db_file_(std::move(db_file)) {
  wal_file_ = db_file_;
  wal_file_ += "-wal";
}

WalSync::~WalSync() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {
std::error_code last_error() { return {errno, std::generic_category()}; }

// fdatasync of a file by name (O_RDONLY is enough for Linux's fsync).
std::error_code sync_path(const std::filesystem::path& path, int extra_flags = 0) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | extra_flags);
  if (fd < 0) return last_error();
  std::error_code ec;
  if (::fsync(fd) != 0) ec = last_error();
  ::close(fd);
  return ec;
}
}  // namespace

std::error_code WalSync::operator()() {
  std::lock_guard lock(mutex_);
  struct stat on_disk {};
  if (::stat(wal_file_.c_str(), &on_disk) != 0) {
    // No WAL: everything was checkpointed into the database file and the WAL removed.
    if (errno == ENOENT) return sync_path(db_file_);
    return last_error();
  }
  struct stat ours {};
  if (fd_ < 0 || ::fstat(fd_, &ours) != 0 || ours.st_ino != on_disk.st_ino || ours.st_dev != on_disk.st_dev) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(wal_file_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return last_error();
    // A new file survives a power cut only once its directory entry does.
    if (auto ec = sync_path(db_file_.parent_path(), O_DIRECTORY)) return ec;
  }
  if (::fdatasync(fd_) != 0) return last_error();
  return {};
}

}  // namespace vermas
