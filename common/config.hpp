#pragma once
// Typed configuration: the company file (R/.vermas/config.toml) and the factory file
// (R/<factory>/.work/config.toml). Every key, its default and its meaning are documented
// in config.example.toml; the structs below hold the same defaults.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vermas {

// Durations are stored as fractional seconds (or minutes, as the key says); tests use values
// such as 0.02 minutes. to_ms() in common/time.hpp turns one into a timer's duration.

struct AgentConfig {
  std::vector<std::string> command;  // argv, never run through a shell
  std::string runner = "tmux";       // "tmux" | "direct"
};

struct Config {
  struct Company {
    std::string name = "my-company";
  } company;

  struct Operations {
    double patrol_interval_seconds = 60;
    bool restart_on_failure = true;
    double heartbeat_stale_seconds = 300;
    double stop_timeout_seconds = 10;
    int max_agents = 64;
    double spawn_rate_per_second = 10;
    std::optional<std::string> socket;        // default R/.work/operations.sock
    std::optional<std::string> socket_group;  // makes the socket 0660 for that group
    double request_timeout_seconds = 10;      // a begun request line must end within this
    std::string log_level = "info";           // trace|debug|info|warn|error|critical|off
    double log_max_mb = 10;                   // operations.log rotates at this size
    int log_keep = 3;                         // rotated operations.log files kept
  } operations;

  struct Restart {
    std::string policy = "on-failure";  // always | on-failure | never
    double backoff_initial_seconds = 1;
    double backoff_max_seconds = 60;
    int start_limit_burst = 5;
    double start_limit_interval_seconds = 300;
    double reset_after_stable_seconds = 60;
  } restart;

  struct Worker {
    int max_slots_per_factory = 5;
    double idle_timeout_minutes = 5;
    double stuck_timeout_minutes = 15;
    int max_stuck_restarts = 1;  // restarts of a stuck worker before its work order is given back
  } worker;

  struct Mail {
    double poll_interval_seconds = 10;
  } mail;

  struct Events {
    bool partition_by_day = true;
    int retention_days = 30;
    double feed_max_mb = 64;  // feed.jsonl rotates at this size
    int feed_keep = 3;        // rotated feed files kept (feed.jsonl.1 ... .N)
  } events;

  struct Budgets {
    double company_daily_cap = 0;  // US dollars per UTC day; 0 = no cap
    double factory_daily_cap = 0;
    double agent_daily_cap = 10;
    std::string on_exceed = "pause";  // pause | stop | alert
  } budgets;

  struct Loops {
    int max_transitions_per_hour = 20;
    int max_review_cycles = 3;
  } loops;

  struct Alerts {
    std::vector<std::string> command;      // empty: no external command
    std::string min_severity = "warning";  // info | warning | critical: what `command` runs for
    double command_timeout_seconds = 10;   // then the command's process group is SIGKILLed
    int error_streak_threshold = 3;        // consecutive failed exits that raise error_streak
  } alerts;

  struct Backup {
    std::optional<std::string> dir;  // absolute, or relative to the root; default R/backups
    int keep = 14;                   // newest backups kept in dir by `co backup`
  } backup;
  struct Reports {
    std::optional<std::string> standup_at;  // "HH:MM" or "HH:MM:SS" UTC: the daily standup file
  } reports;

  struct Metrics {
    std::optional<std::string> textfile;  // a *.prom file, rewritten atomically every interval
    double interval_seconds = 15;         // 0.1 .. 86400
  } metrics;

  // Keys: "supervisor", "qa", "worker", "ceo" (always all four present after load).
  std::map<std::string, AgentConfig> agents = default_agents();

  static std::map<std::string, AgentConfig> default_agents();
};

// The factory's own file: R/<factory>/.work/config.toml.
struct FactoryConfig {
  struct Factory {
    std::string name;
    std::string prefix;  // work order id prefix
  } factory;
  struct Verification {
    bool enabled = false;
    bool objective_only = false;
    bool require_all_pass = false;
    std::vector<std::string> checks;  // names that must be recorded before done (none: any)
  } verification;
  struct Sync {
    std::string branch = "work-sync";
    bool auto_sync = false;
    double debounce_seconds = 2;  // auto_sync waits this long after the last change
  } sync;
  // Overrides of the company's [worker] and [agents.*] for this factory; unset = inherit.
  struct WorkerOverride {
    std::optional<int> max_slots_per_factory;
    std::optional<double> idle_timeout_minutes;
    std::optional<double> stuck_timeout_minutes;
  } worker;
  std::map<std::string, AgentConfig> agents;
};

// One problem in a config file, printed as `file:line:column: key: what is wrong`.
struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown (e.g. the file is missing)
  int column = 0;  // 1-based
  std::string key; // dotted path, e.g. "restart.backoff_max_seconds"
  std::string message;
  std::string to_string() const;
};

template <class T>
struct Loaded {
  T value;                          // defaults overlaid with every valid key
  std::vector<ConfigError> errors;  // all problems found, in file order
  // Keys the file sets that change nothing (a feature not built yet, or one switched off by
  // another key): valid, so the file loads, but an operator should know (co config check).
  std::vector<ConfigError> warnings;
  bool ok() const { return errors.empty(); }
};

// Parse TOML text; `file_name` only labels the errors.
Loaded<Config> parse_config(std::string_view text, const std::string& file_name);
// Read and parse a file. A missing file is an error (line 0) naming the path.
Loaded<Config> load_config(const std::filesystem::path& file);

Loaded<FactoryConfig> parse_factory_config(std::string_view text, const std::string& file_name);
Loaded<FactoryConfig> load_factory_config(const std::filesystem::path& file);
// The text written for a new factory: its name and a prefix derived from the name.
std::string default_factory_config_text(const std::string& factory_name);
// "my-project" -> "mp", "vermas" -> "ver": lowercase alphanumerics, 2..4 characters.
std::string derive_prefix(const std::string& factory_name);

// The effective configuration as JSON (config.get): same sections and key names as the file.
nlohmann::json to_json(const Config& config);
nlohmann::json to_json(const FactoryConfig& config);


}  // namespace vermas
