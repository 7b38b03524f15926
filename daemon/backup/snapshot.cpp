#include "daemon/backup/snapshot.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "common/time.hpp"
#include "version.hpp"

namespace vermas::backup {

namespace fs = std::filesystem;

namespace {

// Pages per backup step: 4 MiB at SQLite's default page size. The stop flag is looked at
// between steps.
constexpr int kPagesPerStep = 1024;

[[noreturn]] void snapshot_fail(sqlite3* db, const std::string& doing) {
  throw std::runtime_error("backup: " + doing + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

struct SnapshotDb {
  sqlite3* db = nullptr;
  ~SnapshotDb() { sqlite3_close_v2(db); }
};

std::int64_t snapshot_int(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) snapshot_fail(db, std::string("reading: ") + sql);
  std::int64_t v = 0;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) snapshot_fail(db, std::string("reading: ") + sql);
  return v;
}

std::vector<std::string> snapshot_factories(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name FROM factories ORDER BY name", -1, &s, nullptr) != SQLITE_OK)
    snapshot_fail(db, "reading the factories");
  std::vector<std::string> out;
  while (sqlite3_step(s) == SQLITE_ROW)
    if (auto* p = sqlite3_column_text(s, 0)) out.emplace_back(reinterpret_cast<const char*>(p));
  sqlite3_finalize(s);
  return out;
}

void snapshot_mkdirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("backup: creating " + dir.string() + ": " + ec.message());
}

// A copy of `from` cut after its last newline: an archive file may be appended to while we
// read it, and a torn last line is not an event.
void copy_whole_lines(const fs::path& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw std::runtime_error("backup: reading " + from.string() + ": " + std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto last = data.rfind('\n');
  data.resize(last == std::string::npos ? 0 : last + 1);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) throw std::runtime_error("backup: writing " + to.string());
}

void copy_regular(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw std::runtime_error("backup: copying " + from.string() + ": " + ec.message());
}

// The database as of one read transaction, page by page into `to`.
void snapshot_database(const fs::path& from, const fs::path& to, Manifest& m, std::vector<std::string>& factories,
                       const std::atomic<bool>& stop) {
  SnapshotDb src, dst;
  if (sqlite3_open_v2(from.c_str(), &src.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    snapshot_fail(src.db, "opening " + from.string());
  sqlite3_busy_timeout(src.db, 5000);
  // The read transaction begins at the first read and holds the snapshot for every step:
  // the backup API then never restarts on a write by the daemon's connection, and the
  // highest event id read here is the copy's.
  if (sqlite3_exec(src.db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) snapshot_fail(src.db, "BEGIN");
  m.highest_event_id = snapshot_int(src.db, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)");
  m.schema_version = static_cast<int>(snapshot_int(src.db, "PRAGMA user_version"));
  m.checkpoint_event_id =
      snapshot_int(src.db, "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'checkpoint_event_id'), 0)");
  factories = snapshot_factories(src.db);
  if (sqlite3_open_v2(to.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK)
    snapshot_fail(dst.db, "creating " + to.string());
  sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
  if (!b) snapshot_fail(dst.db, "starting the copy");
  int rc = SQLITE_OK;
  while (!stop.load()) {
    rc = sqlite3_backup_step(b, kPagesPerStep);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (rc != SQLITE_OK) break;
  }
  sqlite3_backup_finish(b);
  sqlite3_exec(src.db, "ROLLBACK", nullptr, nullptr, nullptr);
  if (stop.load()) throw std::runtime_error("backup: stopped (the daemon is shutting down)");
  if (rc != SQLITE_DONE) throw std::runtime_error(std::string("backup: copying the database: ") + sqlite3_errstr(rc));
}

}  // namespace

bool sync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

Manifest stage_backup(const Paths& paths, const fs::path& staging, const std::string& company,
                      const std::atomic<bool>& stop) {
  Manifest m;
  m.created_at = now_rfc3339_ms();
  m.daemon_version = kVersion;
  m.company = company;
  std::vector<std::string> rel;  // what the archive holds, in order
  snapshot_mkdirs(staging / ".work");
  std::vector<std::string> factories;
  snapshot_database(paths.db_file(), staging / kDatabasePath, m, factories, stop);
  rel.push_back(kDatabasePath);
  std::error_code ec;
  // The configuration and the archive are read after the snapshot: an archive file then
  // holds at least every event the snapshot's checkpoint says left the database.
  auto take = [&](const fs::path& from, const std::string& to, bool whole_lines) {
    if (!fs::is_regular_file(fs::symlink_status(from, ec))) return;
    snapshot_mkdirs((staging / to).parent_path());
    if (whole_lines) copy_whole_lines(from, staging / to);
    else copy_regular(from, staging / to);
    rel.push_back(to);
  };
  take(paths.config_file(), ".vermas/config.toml", false);
  for (const auto& f : factories)
    if (valid_factory_name(f)) take(paths.factory_config(f), f + "/.work/config.toml", false);
  const fs::path templates = paths.work_dir() / "templates";
  if (fs::is_directory(fs::symlink_status(templates, ec))) {
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(templates, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      const std::string r = ".work/templates/" + fs::relative(it->path(), templates).generic_string();
      if (allowed_path(r)) found.push_back(r);
    }
    std::sort(found.begin(), found.end());
    for (const auto& r : found) take(paths.root / r, r, false);
  }
  std::vector<std::string> archive;
  for (const auto& d : fs::directory_iterator(paths.archive_dir(), ec)) {
    const std::string r = ".work/archive/" + d.path().filename().string();
    if (allowed_path(r)) archive.push_back(r);
  }
  std::sort(archive.begin(), archive.end());
  for (const auto& r : archive) {
    if (stop.load()) throw std::runtime_error("backup: stopped (the daemon is shutting down)");
    take(paths.root / r, r, true);
  }
  for (const auto& r : rel) {
    FileEntry e;
    e.path = r;
    e.sha256 = sha256_file(staging / r, e.bytes);
    m.files.push_back(std::move(e));
  }
  std::ofstream out(staging / kManifestName, std::ios::binary | std::ios::trunc);
  out << to_json(m).dump(2) << "\n";
  if (!out.flush()) throw std::runtime_error("backup: writing " + (staging / kManifestName).string());
  return m;
}

// tar as a child (argv, never a shell) instead of writing the format ourselves: none of the
// project's libraries writes tar or gzip, GNU tar is on every Debian system, and the
// operator can read the archive with the same tool (tar -tzf, tar -xzf ... manifest.json).
std::vector<std::string> tar_create_argv(const fs::path& out, const fs::path& staging, const Manifest& manifest) {
  std::vector<std::string> argv{"tar", "--create", "--gzip", "--file=" + out.string(), "--directory=" + staging.string(),
                                "--no-recursion", "--", kManifestName};
  for (const auto& f : manifest.files) argv.push_back(f.path);
  return argv;
}

std::vector<std::string> rotate_backups(const fs::path& dir, int keep) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(dir, ec))
    if (is_backup_file_name(d.path().filename().string()) && d.is_regular_file(ec))
      names.push_back(d.path().filename().string());
  std::sort(names.rbegin(), names.rend());  // newest first
  std::vector<std::string> removed;
  for (std::size_t i = static_cast<std::size_t>(std::max(keep, 1)); i < names.size(); ++i)
    if (fs::remove(dir / names[i], ec)) removed.push_back(names[i]);
  return removed;
}

}  // namespace vermas::backup
