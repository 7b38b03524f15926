#include "daemon/backup/backups.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/json.hpp"
#include "common/time.hpp"
#include "daemon/agents/process.hpp"
#include "daemon/backup/manifest.hpp"
#include "daemon/backup/snapshot.hpp"
#include "daemon/error.hpp"
#include "daemon/store/verify.hpp"

namespace vermas {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

// Long enough for gzip of a very large database; a hung tar is stopped.
constexpr auto kTarTimeout = std::chrono::hours(2);

class BackupBusy {
 public:
  explicit BackupBusy(bool& flag) : flag_(flag) {
    if (flag_) throw Error(Errc::conflict, "a backup is already running");
    flag_ = true;
  }
  ~BackupBusy() { flag_ = false; }
  BackupBusy(const BackupBusy&) = delete;
  BackupBusy& operator=(const BackupBusy&) = delete;

 private:
  bool& flag_;
};

// The staging directory goes whatever happens (on a thread of its own when it can).
struct StagingGuard {
  fs::path dir;
  ~StagingGuard() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

// After tar: private, durable, in place under its final name, older ones rotated away.
json backup_finish(const fs::path& partial, const fs::path& out, const fs::path& staging, const fs::path& dir, int keep) {
  std::error_code ec;
  fs::remove_all(staging, ec);
  ::chmod(partial.c_str(), 0600);
  if (!backup::sync_path(partial))
    throw std::runtime_error("fsync " + partial.string() + ": " + std::strerror(errno));
  fs::rename(partial, out, ec);
  if (ec) throw std::runtime_error("renaming " + partial.string() + " to " + out.string() + ": " + ec.message());
  backup::sync_path(out.parent_path());
  const auto bytes = fs::file_size(out, ec);
  json removed = json::array();
  if (out.parent_path() == dir && backup::is_backup_file_name(out.filename().string()))
    for (const auto& name : backup::rotate_backups(dir, keep)) removed.push_back(name);
  return {{"bytes", ec ? 0 : bytes}, {"removed", removed}};
}

}  // namespace

fs::path backup_dir(const Paths& paths, const std::optional<std::string>& configured) {
  if (!configured || configured->empty()) return paths.root / "backups";
  fs::path p(*configured);
  return (p.is_absolute() ? p : paths.root / p).lexically_normal();
}

Backups::~Backups() { stop_ = true; }

asio::awaitable<json> Backups::create(Request r) {
  BackupBusy busy(busy_);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string now = now_rfc3339_ms();
  const fs::path out = r.file ? r.file->lexically_normal() : r.dir / backup::backup_file_name(now);
  if (!out.is_absolute()) throw Error(Errc::invalid_argument, "file: expected an absolute path", json{{"field", "file"}});
  std::error_code ec;
  if (fs::exists(fs::symlink_status(out, ec)))
    throw Error(Errc::conflict, out.string() + " exists already; a backup never overwrites a file",
                json{{"file", out.string()}});
  fs::create_directories(out.parent_path(), ec);
  if (ec) throw Error(Errc::unavailable, "creating " + out.parent_path().string() + ": " + ec.message());
  if (!r.file) ::chmod(r.dir.c_str(), 0700);  // our own directory: backups hold the whole company
  StagingGuard staging{out.parent_path() / (".staging-" + backup::compact_stamp(now))};
  fs::create_directories(staging.dir, ec);
  if (ec) throw Error(Errc::unavailable, "creating " + staging.dir.string() + ": " + ec.message());
  ::chmod(staging.dir.c_str(), 0700);

  const Paths paths = paths_;
  const fs::path staging_dir = staging.dir;
  const std::string company = r.company;
  backup::Manifest manifest;
  // Each function is a named local, not a temporary inside the co_await expression: GCC 12
  // destroys such a temporary twice (see git.hpp's argv).
  std::function<backup::Manifest()> stage = [this, paths, staging_dir, company] {
    return backup::stage_backup(paths, staging_dir, company, stop_);
  };
  try {
    manifest = co_await threads_.run<backup::Manifest>(std::move(stage));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(Errc::unavailable, e.what());
  }

  const fs::path partial = out.parent_path() / ("." + out.filename().string() + ".partial");
  proc::SpawnSpec spec;
  spec.argv = backup::tar_create_argv(partial, staging.dir, manifest);
  auto tar = co_await proc::run_command(std::move(spec), kTarTimeout, 64 << 10);
  if (!tar.ok()) {
    fs::remove(partial, ec);
    throw Error(Errc::unavailable, "backup: tar failed: " + tar.describe());
  }
  json finished;
  try {
    const fs::path dir = r.dir;
    const int keep = r.keep;
    std::function<json()> finish = [partial, out, staging_dir, dir, keep] {
      return backup_finish(partial, out, staging_dir, dir, keep);
    };
    finished = co_await threads_.run<json>(std::move(finish));
  } catch (const std::exception& e) {
    fs::remove(partial, ec);
    throw Error(Errc::unavailable, std::string("backup: ") + e.what());
  }
  staging.dir.clear();  // removed by backup_finish
  json files = backup::to_json(manifest)["files"];
  json result = {{"file", out.string()},
                 {"bytes", finished["bytes"]},
                 {"highest_event_id", manifest.highest_event_id},
                 {"checkpoint_event_id", manifest.checkpoint_event_id},
                 {"schema_version", manifest.schema_version},
                 {"created_at", manifest.created_at},
                 {"files", files},
                 {"removed", finished["removed"]},
                 {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  journal_.record({"db.backed_up", r.actor, std::nullopt, std::nullopt,
                   {{"file", out.string()},
                    {"bytes", result["bytes"]},
                    {"highest_event_id", manifest.highest_event_id},
                    {"removed", finished["removed"]}}});
  spdlog::info("backup {} ({} bytes, events up to {}) in {:.1f} s", out.string(), result["bytes"].get<std::uint64_t>(),
               manifest.highest_event_id, result["seconds"].get<double>());
  co_return result;
}

asio::awaitable<json> Backups::verify() {
  const Paths paths = paths_;
  std::function<json()> check = [paths] { return to_json(verify_database(paths)); };
  auto report = co_await threads_.run<json>(std::move(check));
  co_return report;
}

}  // namespace vermas
