#pragma once
// The factories of the company: registered rows, clones under R/<name>, their config
// files and named team worktrees. Cloning and worktree creation are git subprocesses the
// daemon awaits; a failed clone leaves nothing behind and nothing registered.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

struct FactoryRecord {
  std::string name;
  std::string url;
  std::string prefix;
  std::string path;
  std::string added_at;
};
nlohmann::json to_json(const FactoryRecord& f);

struct TeamRecord {
  std::string factory;
  std::string name;
  std::string path;
  std::string branch;
  std::string created_at;
};
nlohmann::json to_json(const TeamRecord& t);

class Factories {
 public:
  Factories(Journal& journal, Paths paths);
  void load();

  const std::map<std::string, FactoryRecord>& all() const { return factories_; }
  const FactoryRecord* find(const std::string& name) const;
  const FactoryRecord& require(const std::string& name) const;  // -32001 when unknown

  // Validates, clones (git clone -- URL) into a temporary directory, moves it to R/<name>,
  // writes R/<name>/.work/config.toml, then registers it (factory.added). vermas::Error on
  // bad input (-32602), a name in use (-32002) or a failed clone (-32002, git's message).
  boost::asio::awaitable<FactoryRecord> add(std::string name, std::string url, std::optional<std::string> prefix,
                                            std::string actor);
  // Forgets the factory (its agents must be gone already); the clone stays on disk.
  void remove(const std::string& name, const std::string& actor, const std::vector<std::string>& stopped);

  // The factory's own config file; a missing or broken file yields the defaults and the
  // errors (the caller decides whether to refuse or warn).
  Loaded<FactoryConfig> config(const std::string& name) const;

  // A named persistent worktree (branch team/<name>) under R/<f>/.worktrees/team-<name>.
  boost::asio::awaitable<TeamRecord> add_team(std::string factory, std::string name, std::string actor);
  std::vector<TeamRecord> teams(const std::optional<std::string>& factory) const;

  // R/<f>/.worktrees/slot<N>, created (detached at HEAD) if missing. Empty + error when
  // git cannot make it.
  boost::asio::awaitable<std::string> ensure_slot_worktree(std::string factory, int slot, std::string* error);

 private:
  // Moves a finished clone into place, writes its config and registers it.
  FactoryRecord install(const std::string& name, const std::string& url, const std::optional<std::string>& prefix,
                        const std::filesystem::path& staging, const std::string& actor);
  Journal& journal_;
  Paths paths_;
  std::map<std::string, FactoryRecord> factories_;
  std::set<std::string> adding_;  // names being cloned: a second add waits for nothing, it is refused
  // Parsed factory files by name, reused while the file's mtime and size are unchanged:
  // every agent start reads its factory's config, and TOML parsing is not free.
  struct CachedConfig {
    std::int64_t mtime_ns = 0;  // st_mtim
    std::uintmax_t size = 0;
    Loaded<FactoryConfig> loaded;
  };
  mutable std::map<std::string, CachedConfig> config_cache_;
};

// Names that would collide with the company root's own entries.
bool reserved_factory_name(const std::string& name);

}  // namespace vermas
