#include "daemon/store/group_commit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

void GroupCommit::committed() {
  ++committed_;
  // Every commit is synced soon, also one nobody waits for (a patrol's own record): the
  // window in which a power cut can take a commit stays one sync long.
  schedule();
}

void GroupCommit::after_durable(std::function<void(bool)> fn) {
  if (!pending()) {
    fn(true);
    return;
  }
  waiting_.push_back({committed_, std::move(fn)});
  schedule();
}

bool GroupCommit::lone() const { return committed_ - durable_ == 1 && last_group_ == 1; }

asio::awaitable<bool> GroupCommit::durable() {
  if (!pending()) co_return true;
  struct Outcome {
    bool done = false;
    bool ok = false;
    asio::steady_timer wake;
    explicit Outcome(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
  };
  auto out = std::make_shared<Outcome>(io_);
  after_durable([out](bool ok) {
    out->done = true;
    out->ok = ok;
    out->wake.cancel();
  });
  if (!out->done) co_await out->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return out->ok;
}

void GroupCommit::schedule() {
  if (scheduled_ || syncing_) return;  // a sync in flight schedules the next when it ends
  if (committed_ - durable_ < last_group_) {
    if (gathering_) return;
    gathering_ = true;
    gather_.expires_after(kGather);
    gather_.async_wait([this, alive = alive_](boost::system::error_code ec) {
      if (!*alive || ec) return;  // cancelled: the group filled first
      gathering_ = false;
      if (scheduled_ || syncing_) return;
      start_sync();
    });
    return;
  }
  if (gathering_) {
    gathering_ = false;
    gather_.cancel();
  }
  scheduled_ = true;
  // Posted: the requests already read in this loop turn commit first and share the sync.
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    scheduled_ = false;
    start_sync();
  });
}

void GroupCommit::start_sync() {
  if (!pending() || syncing_) return;
  syncing_ = true;
  const std::uint64_t upto = committed_;
  // A lone commit after a lone commit (one writer, nobody else around; the requests read in
  // the same turn had their chance to join): synced here, as a store without group commit
  // would, sparing the hand-off to the thread and back. A second writer makes the groups
  // larger than one, and they go to the thread.
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
  for (auto& w : ready) w.fn(!ec);
  if (pending()) schedule();
}

void GroupCommit::flush() {
  if (!pending() && waiting_.empty()) return;
  // WalSync is thread-safe, so a sync still running on the thread does no harm; its
  // completion, if it is ever run, covers nothing new.
  synced(committed_, sync_());
  scheduled_ = false;
  gathering_ = false;
  gather_.cancel();
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
