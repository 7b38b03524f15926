#pragma once
// The company root and the files under it (spec §1, §2).
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace vermas {

namespace fs = std::filesystem;

// The kernel's sun_path holds 108 bytes including the terminating NUL.
inline constexpr std::size_t kMaxSocketPathBytes = 107;

struct Paths {
  fs::path root;
  fs::path vermas_dir() const { return root / ".vermas"; }
  fs::path config_file() const { return vermas_dir() / "config.toml"; }
  fs::path work_dir() const { return root / ".work"; }
  fs::path db_file() const { return work_dir() / "operations.db"; }
  fs::path default_socket() const { return work_dir() / "operations.sock"; }
  fs::path pid_file() const { return work_dir() / "operations.pid"; }
  fs::path feed_file() const { return work_dir() / "feed.jsonl"; }
  fs::path archive_dir() const { return work_dir() / "archive"; }
  fs::path logs_dir() const { return root / "logs"; }
  fs::path log_file() const { return logs_dir() / "operations.log"; }
  fs::path session_log_dir(std::string_view session) const { return logs_dir() / session; }
  fs::path factory_dir(std::string_view factory) const { return root / factory; }
  fs::path factory_config(std::string_view factory) const { return root / factory / ".work" / "config.toml"; }
  fs::path assignment_file(std::string_view factory, int slot) const;
};

// Where the company root came from, for messages such as `co doctor`.
enum class RootSource { flag, environment, parent_directory, home_default };

struct RootChoice {
  fs::path root;
  RootSource source;
};

// --company-root, then $COMPANY_ROOT, then the nearest parent of `cwd` holding .vermas/,
// then ~/company. The result is absolute and lexically normal; it need not exist.
RootChoice discover_company_root(const std::optional<std::string>& flag, const fs::path& cwd);
const char* to_string(RootSource source);

// Resolves the socket path: the configured one (relative to the root) or the default.
fs::path socket_path_for(const Paths& paths, const std::optional<std::string>& configured);

// [a-z0-9][a-z0-9_-]{0,31}: factory names become directory and tmux session names.
bool valid_factory_name(std::string_view name);

}  // namespace vermas
