// fuzz_config: TOML text through vermas::parse_config and vermas::parse_factory_config
// (common/config.hpp), labelled "fuzz.toml". Built against the header-only toml++, so the
// TOML parser is instrumented too.
//
// Invariants (a violation prints what and where, then __builtin_trap() / abort):
//  - Neither parser throws, whatever the text.
//  - Every error has a non-empty message, names the file ("fuzz.toml") in `file` and in
//    to_string(), and has a line and column >= 0.
//  - Loaded::value is "the defaults overlaid with every valid key", so every single value
//    keeps the bounds config.example.toml documents, errors or not: finite numbers,
//    patrol/stop/spawn/request/mail/feed/log sizes > 0, durations and caps >= 0, counts
//    >= 1, max_slots_per_factory in 1..64, enumerations from their lists, argv arrays of
//    non-empty strings, exactly the four agent roles (company file), factory names and
//    prefixes of the documented syntax, usable sync branch names.
//  - On success (no errors) the cross-key rule holds too: backoff_max >= backoff_initial.
//  - to_json() of either value does not throw, and parsing is deterministic (twice the
//    same text: the same JSON and the same error lines).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.hpp"

namespace {

const std::string kFile = "fuzz.toml";

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\nfuzz_config: INVARIANT VIOLATED: %s\n  %s\n", what, detail.substr(0, 2000).c_str());
  std::fflush(stderr);
  __builtin_trap();
}

void check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) violated(what, detail);
}

std::string num(double v) { return std::to_string(v); }

void positive(double v, const char* key) { check(std::isfinite(v) && v > 0, key, "must be finite and > 0, is " + num(v)); }
void non_negative(double v, const char* key) {
  check(std::isfinite(v) && v >= 0, key, "must be finite and >= 0, is " + num(v));
}
void at_least_one(std::int64_t v, const char* key) { check(v >= 1, key, "must be >= 1, is " + std::to_string(v)); }
void one_of(const std::string& v, std::initializer_list<const char*> options, const char* key) {
  for (const char* o : options)
    if (v == o) return;
  violated(key, "not one of the documented values: \"" + v + "\"");
}
void argv_ok(const std::vector<std::string>& argv, bool allow_empty, const char* key) {
  check(allow_empty || !argv.empty(), key, "empty argv");
  for (const auto& a : argv) check(!a.empty(), key, "an empty string in argv");
}
bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

void agents_ok(const std::map<std::string, vermas::AgentConfig>& agents, bool all_four) {
  static const std::set<std::string> kRoles = {"supervisor", "qa", "worker", "ceo"};
  if (all_four) check(agents.size() == 4, "agents: not exactly the four roles", std::to_string(agents.size()));
  for (const auto& [role, a] : agents) {
    check(kRoles.count(role) == 1, "agents: an unknown role was kept", role);
    argv_ok(a.command, false, "agents.<role>.command");
    one_of(a.runner, {"tmux", "direct"}, "agents.<role>.runner");
  }
}

template <class T>
void errors_ok(const vermas::Loaded<T>& loaded) {
  for (const auto& e : loaded.errors) {
    const std::string line = e.to_string();
    check(!e.message.empty(), "an error without a message", line);
    check(e.file == kFile, "an error that does not name the file", line);
    check(line.find(kFile) != std::string::npos && line.find(e.message) != std::string::npos,
          "to_string() lacks the file name or the message", line);
    check(e.line >= 0 && e.column >= 0, "an error with a negative position", line);
  }
}

template <class T>
std::string error_lines(const vermas::Loaded<T>& loaded) {
  std::string out;
  for (const auto& e : loaded.errors) out += e.to_string() + "\n";
  return out;
}

void company(std::string_view text) {
  vermas::Loaded<vermas::Config> loaded = vermas::parse_config(text, kFile);
  errors_ok(loaded);
  const vermas::Config& c = loaded.value;
  check(!c.company.name.empty(), "company.name is empty");
  const auto& o = c.operations;
  positive(o.patrol_interval_seconds, "operations.patrol_interval_seconds");
  non_negative(o.heartbeat_stale_seconds, "operations.heartbeat_stale_seconds");
  positive(o.stop_timeout_seconds, "operations.stop_timeout_seconds");
  at_least_one(o.max_agents, "operations.max_agents");
  positive(o.spawn_rate_per_second, "operations.spawn_rate_per_second");
  if (o.socket) check(!o.socket->empty(), "operations.socket is empty");
  if (o.socket_group) check(!o.socket_group->empty(), "operations.socket_group is empty");
  positive(o.request_timeout_seconds, "operations.request_timeout_seconds");
  one_of(o.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"}, "operations.log_level");
  positive(o.log_max_mb, "operations.log_max_mb");
  at_least_one(o.log_keep, "operations.log_keep");
  const auto& r = c.restart;
  one_of(r.policy, {"always", "on-failure", "never"}, "restart.policy");
  non_negative(r.backoff_initial_seconds, "restart.backoff_initial_seconds");
  non_negative(r.backoff_max_seconds, "restart.backoff_max_seconds");
  at_least_one(r.start_limit_burst, "restart.start_limit_burst");
  non_negative(r.start_limit_interval_seconds, "restart.start_limit_interval_seconds");
  non_negative(r.reset_after_stable_seconds, "restart.reset_after_stable_seconds");
  check(c.worker.max_slots_per_factory >= 1 && c.worker.max_slots_per_factory <= 64,
        "worker.max_slots_per_factory outside 1..64", std::to_string(c.worker.max_slots_per_factory));
  non_negative(c.worker.idle_timeout_minutes, "worker.idle_timeout_minutes");
  non_negative(c.worker.stuck_timeout_minutes, "worker.stuck_timeout_minutes");
  positive(c.mail.poll_interval_seconds, "mail.poll_interval_seconds");
  at_least_one(c.events.retention_days, "events.retention_days");
  positive(c.events.feed_max_mb, "events.feed_max_mb");
  at_least_one(c.events.feed_keep, "events.feed_keep");
  non_negative(c.budgets.company_daily_cap, "budgets.company_daily_cap");
  non_negative(c.budgets.factory_daily_cap, "budgets.factory_daily_cap");
  non_negative(c.budgets.agent_daily_cap, "budgets.agent_daily_cap");
  one_of(c.budgets.on_exceed, {"pause", "stop", "alert"}, "budgets.on_exceed");
  at_least_one(c.loops.max_transitions_per_hour, "loops.max_transitions_per_hour");
  at_least_one(c.loops.max_review_cycles, "loops.max_review_cycles");
  argv_ok(c.alerts.command, true, "alerts.command");
  agents_ok(c.agents, true);
  if (loaded.ok())
    check(r.backoff_max_seconds >= r.backoff_initial_seconds, "accepted backoff_max_seconds < backoff_initial_seconds",
          num(r.backoff_max_seconds) + " < " + num(r.backoff_initial_seconds));

  const std::string dumped = vermas::to_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto again = vermas::parse_config(text, kFile);
  check(vermas::to_json(again.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) == dumped &&
            error_lines(again) == error_lines(loaded),
        "parse_config is not deterministic");
}

void factory(std::string_view text) {
  vermas::Loaded<vermas::FactoryConfig> loaded = vermas::parse_factory_config(text, kFile);
  errors_ok(loaded);
  const vermas::FactoryConfig& f = loaded.value;
  const std::string& name = f.factory.name;
  if (loaded.ok()) check(!name.empty(), "accepted a factory file without factory.name");
  if (!name.empty()) {
    const bool ok = name.size() <= 32 && lower_alnum(name[0]) &&
                    name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos;
    check(ok, "factory.name outside [a-z0-9][a-z0-9_-]{0,31}", name);
  }
  const std::string& prefix = f.factory.prefix;
  if (!prefix.empty() || loaded.ok()) {
    // With a name, a missing prefix is derived from it.
    check(!prefix.empty() && prefix.size() <= 16 && std::all_of(prefix.begin(), prefix.end(), lower_alnum),
          "factory.prefix outside [a-z0-9]{1,16}", prefix);
  }
  argv_ok(f.verification.checks, true, "verification.checks");
  const std::string& b = f.sync.branch;
  check(!b.empty() && b.front() != '-' && b.find("..") == std::string::npos &&
            std::none_of(b.begin(), b.end(), [](unsigned char ch) { return std::isspace(ch) || std::iscntrl(ch); }),
        "sync.branch is not a usable branch name", b);
  non_negative(f.sync.debounce_seconds, "sync.debounce_seconds");
  if (f.worker.max_slots_per_factory)
    check(*f.worker.max_slots_per_factory >= 1 && *f.worker.max_slots_per_factory <= 64,
          "worker.max_slots_per_factory override outside 1..64");
  if (f.worker.idle_timeout_minutes) non_negative(*f.worker.idle_timeout_minutes, "worker.idle_timeout_minutes");
  if (f.worker.stuck_timeout_minutes) non_negative(*f.worker.stuck_timeout_minutes, "worker.stuck_timeout_minutes");
  agents_ok(f.agents, false);

  const std::string dumped = vermas::to_json(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto again = vermas::parse_factory_config(text, kFile);
  check(vermas::to_json(again.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) == dumped &&
            error_lines(again) == error_lines(loaded),
        "parse_factory_config is not deterministic");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    company(text);
    factory(text);
  } catch (const std::exception& e) {
    violated("a config parser threw", e.what());
  } catch (...) {
    violated("a config parser threw a non-standard exception", "");
  }
  return 0;
}
