#include "daemon/store/checkpointer.hpp"

#include <sqlite3.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace vermas {

Checkpointer::Checkpointer(std::filesystem::path db_file, int threshold_pages)
    : db_file_(std::move(db_file)), threshold_(threshold_pages < 1 ? 1 : threshold_pages) {}

Checkpointer::~Checkpointer() {
  thread_.join();
  if (db_) sqlite3_close_v2(db_);
}

void Checkpointer::wal_pages(sqlite3* writer, int pages) {
  // Only this thread starts passes on the thread: while none runs, none starts meanwhile.
  if (running_) return;
  if (copied_.exchange(false) && pages >= threshold_) {
    // The thread copied (nearly) all of it: the rest here, so the next write starts over.
    if (passive(writer)) ++finished_;
    return;
  }
  if (pages < threshold_) return;
  running_ = true;
  boost::asio::post(thread_, [this] {
    checkpoint();
    running_ = false;
  });
}

bool Checkpointer::passive(sqlite3* db) {
  int wal_pages = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_pages, &copied);
  if (rc == SQLITE_OK) return true;
  if (rc != SQLITE_BUSY) {  // BUSY: another checkpoint runs (the store closing)
    ++failures_;
    spdlog::warn("checkpointer: checkpoint of {} failed: {} (the WAL keeps the pages; tried again later)",
                 db_file_.string(), sqlite3_errmsg(db));
  }
  return false;
}

void Checkpointer::checkpoint() {
  if (before_each_) before_each_();
  if (!db_) {
    // NOMUTEX: only this thread uses the connection. synchronous=NORMAL, as the store's: the
    // WAL is synced before pages are copied from it, the database file after.
    if (sqlite3_open_v2(db_file_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK ||
        sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr) != SQLITE_OK) {
      ++failures_;
      spdlog::warn("checkpointer: opening {}: {}", db_file_.string(), db_ ? sqlite3_errmsg(db_) : "out of memory");
      sqlite3_close_v2(db_);
      db_ = nullptr;
      return;
    }
  }
  if (passive(db_)) {
    ++checkpoints_;
    copied_ = true;
  }
}

}  // namespace vermas
