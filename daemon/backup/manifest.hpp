#pragma once
// What a backup archive holds (issue 13): manifest.json, its table of contents, and the
// rules both sides share: which paths under the company root an archive may carry, their
// sizes and SHA-256 digests. A restore trusts nothing in an archive it has not checked here.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vermas::backup {

inline constexpr int kManifestVersion = 1;
inline constexpr const char* kManifestName = "manifest.json";
inline constexpr const char* kDatabasePath = ".work/operations.db";

struct FileEntry {
  std::string path;  // relative to the company root, '/'-separated
  std::uint64_t bytes = 0;
  std::string sha256;  // lowercase hex
};

struct Manifest {
  int version = kManifestVersion;
  std::string created_at;  // RFC 3339 UTC
  std::string daemon_version;
  std::string company;
  int schema_version = 0;
  std::int64_t highest_event_id = 0;     // every event with an id up to this is in the database
  std::int64_t checkpoint_event_id = 0;  // events up to this were archived (in .work/archive/)
  std::vector<FileEntry> files;
};

nlohmann::json to_json(const Manifest& m);
// Throws std::runtime_error saying what is wrong: an unknown version, a missing field, a
// path that is not one a backup holds (absolute, "..", outside the shapes below), a
// duplicate, a path inside another, no database.
Manifest parse_manifest(const nlohmann::json& j);

// The shapes a backup holds: .work/operations.db, .vermas/config.toml,
// <factory>/.work/config.toml, .work/templates/<...>, .work/archive/events*.jsonl.
bool allowed_path(std::string_view path);

// SHA-256 of a file's contents as lowercase hex; `bytes` gets its size. Throws
// std::runtime_error when it cannot be read.
std::string sha256_file(const std::filesystem::path& file, std::uint64_t& bytes);

// vermas-backup-20260101T120000123Z.tar.gz from an RFC 3339 time: names sort by time,
// which is what rotation relies on.
std::string backup_file_name(std::string_view rfc3339);
bool is_backup_file_name(std::string_view name);
// "20260101T120000123Z": for directory names (pre-restore-<stamp>).
std::string compact_stamp(std::string_view rfc3339);

}  // namespace vermas::backup
