#include "daemon/backup/manifest.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <vector>

#include "common/paths.hpp"
#include "daemon/backup/sha256.hpp"

namespace vermas::backup {

using json = nlohmann::json;

namespace {

// One path component as a backup may carry it: printable ASCII, no '/', not "." or "..",
// not starting with '-' (tar would read it as an option).
bool manifest_component_ok(std::string_view c) {
  if (c.empty() || c == "." || c == ".." || c.front() == '-' || c.size() > 255) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return ch > ' ' && ch < 0x7f && ch != '/' && ch != '\\'; });
}

std::vector<std::string_view> manifest_split(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

}  // namespace

bool allowed_path(std::string_view path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
  auto parts = manifest_split(path);
  if (!std::all_of(parts.begin(), parts.end(), manifest_component_ok)) return false;
  if (path == kDatabasePath || path == ".vermas/config.toml") return true;
  if (parts.size() == 3 && parts[1] == ".work" && parts[2] == "config.toml") return valid_factory_name(parts[0]);
  if (parts.size() >= 3 && parts[0] == ".work" && parts[1] == "templates") return true;
  if (parts.size() == 3 && parts[0] == ".work" && parts[1] == "archive")
    return parts[2].substr(0, 6) == "events" && parts[2].size() > 12 &&
           parts[2].substr(parts[2].size() - 6) == ".jsonl";
  return false;
}

json to_json(const Manifest& m) {
  json files = json::array();
  for (const auto& f : m.files) files.push_back({{"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return {{"format", "vermas-backup"},
          {"version", m.version},
          {"created_at", m.created_at},
          {"daemon_version", m.daemon_version},
          {"company", m.company},
          {"schema_version", m.schema_version},
          {"highest_event_id", m.highest_event_id},
          {"checkpoint_event_id", m.checkpoint_event_id},
          {"files", files}};
}

Manifest parse_manifest(const json& j) {
  auto fail = [](const std::string& why) { throw std::runtime_error("manifest.json: " + why); };
  if (!j.is_object()) fail("not a JSON object");
  if (j.value("format", "") != "vermas-backup") fail("not a VerMAS backup (format is not \"vermas-backup\")");
  auto integer = [&](const char* key) -> std::int64_t {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) fail(std::string(key) + ": expected an integer");
    return it->get<std::int64_t>();
  };
  auto text = [&](const char* key) -> std::string {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) fail(std::string(key) + ": expected a string");
    return it->get<std::string>();
  };
  Manifest m;
  m.version = static_cast<int>(integer("version"));
  if (m.version != kManifestVersion)
    fail("version " + std::to_string(m.version) + " is not one this build reads (" + std::to_string(kManifestVersion) + ")");
  m.created_at = text("created_at");
  m.daemon_version = text("daemon_version");
  m.company = text("company");
  m.schema_version = static_cast<int>(integer("schema_version"));
  m.highest_event_id = integer("highest_event_id");
  m.checkpoint_event_id = integer("checkpoint_event_id");
  auto files = j.find("files");
  if (files == j.end() || !files->is_array()) fail("files: expected an array");
  std::set<std::string> seen;
  for (const auto& f : *files) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("bytes") ||
        !f["bytes"].is_number_unsigned() || !f.contains("sha256") || !f["sha256"].is_string())
      fail("files: each entry needs path, bytes and sha256");
    FileEntry e{f["path"].get<std::string>(), f["bytes"].get<std::uint64_t>(), f["sha256"].get<std::string>()};
    if (!allowed_path(e.path)) fail("files: \"" + e.path + "\" is not a path a backup holds");
    if (e.sha256.size() != 64 || e.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
      fail("files: " + e.path + ": sha256 is not 64 lowercase hex digits");
    if (!seen.insert(e.path).second) fail("files: \"" + e.path + "\" is listed twice");
    m.files.push_back(std::move(e));
  }
  // A file inside a listed "file" could only come from a crafted archive (a directory
  // member standing where a file should be).
  for (auto it = seen.begin(); it != seen.end(); ++it) {
    auto next = std::next(it);
    if (next != seen.end() && next->size() > it->size() && next->compare(0, it->size(), *it) == 0 &&
        (*next)[it->size()] == '/')
      fail("files: \"" + *next + "\" lies inside \"" + *it + "\"");
  }
  if (!seen.count(kDatabasePath)) fail(std::string("files: no ") + kDatabasePath);
  return m;
}

std::string sha256_file(const std::filesystem::path& file, std::uint64_t& bytes) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw std::runtime_error("reading " + file.string() + ": " + std::strerror(errno));
  Sha256 digest;
  std::vector<char> buf(1 << 20);
  bytes = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("reading " + file.string() + ": " + why);
    }
    if (n == 0) break;
    digest.update(buf.data(), static_cast<std::size_t>(n));
    bytes += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return digest.hex();
}

std::string compact_stamp(std::string_view rfc3339) {
  std::string out;
  for (char c : rfc3339)
    if (c != '-' && c != ':' && c != '.') out += c;
  return out;
}

std::string backup_file_name(std::string_view rfc3339) {
  return "vermas-backup-" + compact_stamp(rfc3339) + ".tar.gz";
}

bool is_backup_file_name(std::string_view name) {
  constexpr std::string_view head = "vermas-backup-", tail = ".tar.gz";
  return name.size() > head.size() + tail.size() && name.substr(0, head.size()) == head &&
         name.substr(name.size() - tail.size()) == tail;
}

}  // namespace vermas::backup
