#pragma once
// db.backup and db.verify in the running daemon. The snapshot, the file copies, the digests,
// the fsyncs and the verification run on threads of their own (OffThread); tar runs as an
// awaited child. The io thread only starts and finishes them, so requests keep being
// answered while a backup of a large database runs (bench/bench_work_orders measures it).
#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/paths.hpp"
#include "daemon/backup/off_thread.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Backups {
 public:
  Backups(boost::asio::io_context& io, Journal& journal, Paths paths) : io_(io), journal_(journal), paths_(std::move(paths)), threads_(io) {}
  ~Backups();  // stops a backup still running and waits for its thread
  Backups(const Backups&) = delete;
  Backups& operator=(const Backups&) = delete;

  struct Request {
    std::optional<std::filesystem::path> file;  // absolute; default <dir>/vermas-backup-<time>.tar.gz
    std::filesystem::path dir;                  // [backup] dir, resolved
    int keep = 14;                              // [backup] keep
    std::string company;
    std::string actor;
  };
  // Answers once the archive is complete and on disk: {file, bytes, highest_event_id,
  // checkpoint_event_id, files: [{path, bytes, sha256}], removed: [...], seconds}. One at a
  // time (-32002 otherwise). Records db.backed_up.
  boost::asio::awaitable<nlohmann::json> create(Request request);
  // verify_database on a thread of its own: its report as JSON.
  boost::asio::awaitable<nlohmann::json> verify();

 private:
  boost::asio::io_context& io_;
  Journal& journal_;
  Paths paths_;
  std::atomic<bool> stop_{false};
  bool busy_ = false;
  OffThread threads_;  // last: joined first, while the members its threads read still live
};

// [backup] dir as configured (absolute, or relative to the root), default R/backups.
std::filesystem::path backup_dir(const Paths& paths, const std::optional<std::string>& configured);

}  // namespace vermas
