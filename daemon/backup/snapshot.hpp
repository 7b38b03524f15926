#pragma once
// Making a backup, the parts that run off the io thread: a consistent snapshot of the live
// database, the files beside it, the manifest; and the archive's rotation.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "common/paths.hpp"
#include "daemon/backup/manifest.hpp"

namespace vermas::backup {

// Fills `staging` (an empty directory) with a backup's files in the company root's layout:
// .work/operations.db, a snapshot taken with SQLite's backup API on a read-only connection
// of its own, inside one read transaction (WAL: writers go on; the copy is the database as
// of that transaction's start, never a copy of a live WAL file); .vermas/config.toml; each
// factory's .work/config.toml; .work/templates/; the archive's events*.jsonl (whole lines);
// and manifest.json. Throws std::runtime_error; stops between steps once `stop` is set.
Manifest stage_backup(const Paths& paths, const std::filesystem::path& staging, const std::string& company,
                      const std::atomic<bool>& stop);

// tar's argv: `out` (gzip) from `staging`, manifest.json first so a restore reads it alone.
std::vector<std::string> tar_create_argv(const std::filesystem::path& out, const std::filesystem::path& staging,
                                         const Manifest& manifest);

// Keeps the newest `keep` vermas-backup-*.tar.gz in `dir` (by name, which is by time);
// returns the names removed.
std::vector<std::string> rotate_backups(const std::filesystem::path& dir, int keep);

// fsync of a file or directory; false (errno set) when it fails.
bool sync_path(const std::filesystem::path& path);

}  // namespace vermas::backup
