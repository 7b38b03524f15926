#include "daemon/backup/restore.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "common/time.hpp"
#include "daemon/agents/process.hpp"
#include "daemon/backup/manifest.hpp"
#include "daemon/backup/snapshot.hpp"
#include "daemon/pidfile.hpp"

namespace vermas::backup {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uintmax_t kMaxManifestBytes = 16u << 20;

[[noreturn]] void invalid(const std::string& why) { throw RestoreError("invalid", why); }

// tar as a child (see tar_create_argv), awaited on an io_context of our own: this runs in a
// short-lived process with no other work.
proc::CommandResult restore_tar(std::vector<std::string> argv) {
  boost::asio::io_context io;
  proc::SpawnSpec spec;
  spec.argv = std::move(argv);
  auto done = boost::asio::co_spawn(io, proc::run_command(std::move(spec), std::chrono::hours(2), 64u << 10),
                                    boost::asio::use_future);
  io.run();
  return done.get();
}

void restore_extract(const fs::path& archive, const fs::path& into, const std::vector<std::string>& members) {
  std::vector<std::string> argv{"tar", "--extract", "--gzip", "--file=" + archive.string(), "--directory=" + into.string(),
                                "--no-same-owner", "--no-same-permissions", "--"};
  argv.insert(argv.end(), members.begin(), members.end());
  auto r = restore_tar(std::move(argv));
  if (!r.ok()) invalid("cannot read " + archive.string() + " as a backup: tar: " + r.describe());
}

// A regular file, not a link or anything else a crafted archive may put there.
bool restore_regular(const fs::path& p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() == fs::file_type::regular;
}

void restore_move(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::rename(from, to, ec);
  if (ec) throw RestoreError("io", "moving " + from.string() + " to " + to.string() + ": " + ec.message());
}

// The restored database: sound, and holding the events the manifest promises.
void restore_check_database(const fs::path& db_file, const Manifest& m) {
  sqlite3* db = nullptr;
  // immutable: nobody else has this staging copy, and nothing (no -wal, -shm) is created.
  const std::string uri = "file:" + db_file.string() + "?immutable=1";
  int rc = sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  std::string error;
  std::int64_t highest = -1;
  if (rc != SQLITE_OK) {
    error = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  } else {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(s, 0);
      std::string line = t ? reinterpret_cast<const char*>(t) : "";
      if (line != "ok") error = "quick_check: " + line;
    } else {
      error = sqlite3_errmsg(db);
    }
    sqlite3_finalize(s);
    if (error.empty() &&
        sqlite3_prepare_v2(db, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)", -1, &s,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      highest = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  if (!error.empty()) invalid("the backup's database is not sound: " + error);
  if (highest != m.highest_event_id)
    invalid("the backup's database ends at event " + std::to_string(highest) + ", its manifest says " +
            std::to_string(m.highest_event_id));
}

// The staging directory goes whatever happens.
struct RestoreStaging {
  fs::path dir;
  ~RestoreStaging() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

}  // namespace

json restore_backup(const Paths& paths, const fs::path& archive_arg) {
  std::error_code ec;
  const fs::path archive = fs::absolute(archive_arg, ec);
  if (!restore_regular(archive)) invalid(archive.string() + " is not a file");
  if (!fs::is_directory(paths.vermas_dir(), ec))
    throw RestoreError("invalid", paths.root.string() + " is not a company root (no .vermas/); create one with: co init");
  fs::create_directories(paths.work_dir(), ec);
  // Held to the end: no daemon runs on this root while its files are swapped.
  std::string lock_error;
  auto lock = PidFile::acquire(paths.pid_file(), lock_error);
  if (!lock) {
    auto holder = PidFile::holder(paths.pid_file());
    if (holder)
      throw RestoreError("running", "the daemon is running (pid " + std::to_string(*holder) + ") on " +
                                        paths.root.string() + "; stop it first: co operations stop");
    throw RestoreError("io", lock_error);
  }
  const std::string stamp = compact_stamp(now_rfc3339_ms());
  RestoreStaging staging{paths.work_dir() / ("restore-" + stamp)};
  fs::create_directories(staging.dir, ec);
  if (ec) throw RestoreError("io", "creating " + staging.dir.string() + ": " + ec.message());
  ::chmod(staging.dir.c_str(), 0700);

  // 1. The manifest alone, then only the members it lists.
  restore_extract(archive, staging.dir, {kManifestName});
  const fs::path manifest_file = staging.dir / kManifestName;
  if (!restore_regular(manifest_file)) invalid("manifest.json in " + archive.string() + " is not a file");
  if (fs::file_size(manifest_file, ec) > kMaxManifestBytes) invalid("manifest.json is too large");
  Manifest m;
  {
    std::ifstream in(manifest_file, std::ios::binary);
    json j = json::parse(in, nullptr, false);
    try {
      m = parse_manifest(j);
    } catch (const std::exception& e) {
      invalid(e.what());
    }
  }
  std::vector<std::string> members;
  for (const auto& f : m.files) members.push_back(f.path);
  restore_extract(archive, staging.dir, members);

  // 2. Every file as the manifest describes it.
  for (const auto& f : m.files) {
    const fs::path p = staging.dir / f.path;
    if (!restore_regular(p)) invalid(f.path + " is missing from the archive, or not a regular file");
    std::uint64_t bytes = 0;
    const std::string sha = sha256_file(p, bytes);
    if (bytes != f.bytes)
      invalid(f.path + ": " + std::to_string(bytes) + " bytes, the manifest says " + std::to_string(f.bytes));
    if (sha != f.sha256) invalid(f.path + ": sha256 mismatch (" + sha + ", the manifest says " + f.sha256 + ")");
  }
  restore_check_database(staging.dir / kDatabasePath, m);

  // 3. What the restore replaces goes aside, in the root's layout.
  std::set<std::string> aside = {".work/operations.db", ".work/operations.db-wal", ".work/operations.db-shm",
                                 ".work/archive"};
  bool has_templates = false;
  for (const auto& f : m.files) {
    if (f.path.rfind(".work/templates/", 0) == 0) has_templates = true;
    else if (f.path.rfind(".work/archive/", 0) != 0) aside.insert(f.path);
  }
  if (has_templates) aside.insert(".work/templates");
  // The feed mirrors the old log; the daemon writes it anew from the restored one.
  for (const auto& d : fs::directory_iterator(paths.work_dir(), ec)) {
    const std::string name = d.path().filename().string();
    if (name == "feed.jsonl" || name.rfind("feed.jsonl.", 0) == 0) aside.insert(".work/" + name);
  }
  const fs::path pre = paths.work_dir() / ("pre-restore-" + stamp);
  json moved = json::array();
  for (const auto& rel : aside) {
    const fs::path from = paths.root / rel;
    if (!fs::exists(fs::symlink_status(from, ec))) continue;
    restore_move(from, pre / rel);
    moved.push_back(rel);
  }
  json files = json::array();
  for (const auto& f : m.files) {
    restore_move(staging.dir / f.path, paths.root / f.path);
    sync_path(paths.root / f.path);
    files.push_back(f.path);
  }
  sync_path(paths.work_dir());
  return {{"restored", archive.string()},
          {"created_at", m.created_at},
          {"highest_event_id", m.highest_event_id},
          {"checkpoint_event_id", m.checkpoint_event_id},
          {"schema_version", m.schema_version},
          {"files", files},
          {"pre_restore_dir", moved.empty() ? json(nullptr) : json(pre.string())},
          {"moved_aside", moved}};
}

}  // namespace vermas::backup
