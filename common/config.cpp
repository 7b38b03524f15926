#include "common/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <functional>
#include <sstream>
#include <system_error>
#include <tuple>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "common/alert_severity.hpp"
#include "common/time.hpp"

namespace vermas {
namespace {

using nlohmann::json;

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string got(const char* expected, const toml::node& n) {
  return std::string("expected ") + expected + ", got " + type_name(n.type());
}

std::string show(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string quoted(const std::string& s) { return '"' + s + '"'; }

// A field checks one TOML value and stores it; it returns "" or what is wrong. On error
// nothing is stored, so the key keeps its default.
using Apply = std::function<std::string(const toml::node&)>;
struct Field {
  std::string_view name;
  Apply apply;
};

struct Bound {
  double min = 0;
  bool exclusive = false;  // true: value must be > min
};

// Durations, rates and dollar caps: integer or float, finite, above a bound.
template <class Out>
Apply number(Out& out, Bound b = {}) {
  return [&out, b](const toml::node& n) -> std::string {
    if (!n.is_number()) return got("a number", n);
    const double v = n.is_integer() ? double(n.as_integer()->get()) : n.as_floating_point()->get();
    if (!std::isfinite(v)) return "must be a finite number, got " + show(v);
    if (b.exclusive && v <= b.min) return "must be greater than " + show(b.min) + ", got " + show(v);
    if (!b.exclusive && v < b.min) return "must be at least " + show(b.min) + ", got " + show(v);
    out = v;
    return {};
  };
}

// A number within [lo, hi].
template <class Out>
Apply number_in(Out& out, double lo, double hi) {
  return [&out, lo, hi](const toml::node& n) -> std::string {
    double v = 0;
    if (std::string why = number(v)(n); !why.empty()) return why;
    if (v < lo || v > hi) return "must be between " + show(lo) + " and " + show(hi) + ", got " + show(v);
    out = v;
    return {};
  };
}

template <class Out>
Apply integer(Out& out, int lo, int hi = INT_MAX) {
  return [&out, lo, hi](const toml::node& n) -> std::string {
    if (!n.is_integer()) return got("an integer", n);
    const std::int64_t v = n.as_integer()->get();
    const std::string has = ", got " + std::to_string(v);
    if (hi != INT_MAX && (v < lo || v > hi))
      return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + has;
    if (v < lo) return "must be at least " + std::to_string(lo) + has;
    if (v > hi) return "is too large" + has;
    out = int(v);
    return {};
  };
}

Apply boolean(bool& out) {
  return [&out](const toml::node& n) -> std::string {
    if (!n.is_boolean()) return got("a boolean", n);
    out = n.as_boolean()->get();
    return {};
  };
}

using Check = std::function<std::string(const std::string&)>;

std::string non_empty(const std::string& s) { return s.empty() ? "must not be empty" : ""; }

template <class Out>
Apply text(Out& out, Check check = non_empty) {
  return [&out, check](const toml::node& n) -> std::string {
    if (!n.is_string()) return got("a string", n);
    const std::string& s = n.as_string()->get();
    if (std::string why = check(s); !why.empty()) return why;
    out = s;
    return {};
  };
}

Apply choice(std::string& out, std::vector<std::string> options) {
  return text(out, [options](const std::string& s) -> std::string {
    if (std::find(options.begin(), options.end(), s) != options.end()) return {};
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "" : ", ") + quoted(o);
    return "must be one of " + list + "; got " + quoted(s);
  });
}

// An argv: an array of non-empty strings; `allow_empty` permits the empty array.
Apply argv(std::vector<std::string>& out, bool allow_empty) {
  return [&out, allow_empty](const toml::node& n) -> std::string {
    const toml::array* a = n.as_array();
    if (!a) return got("an array of strings", n);
    if (a->empty() && !allow_empty) return "must not be empty: give the program and its arguments";
    std::vector<std::string> args;
    for (const toml::node& e : *a) {
      if (!e.is_string()) return got("an array of strings", e) + " in the array";
      if (e.as_string()->get().empty()) return "must not contain empty strings";
      args.push_back(e.as_string()->get());
    }
    out = std::move(args);
    return {};
  };
}

std::vector<std::string> severity_names() {
  return {alerts::kSeverityNames.begin(), alerts::kSeverityNames.end()};
}

std::string check_time_of_day(const std::string& s) {
  return parse_time_of_day(s) ? "" : "expected a UTC time of day \"HH:MM\" or \"HH:MM:SS\" (24-hour), got " + quoted(s);
}

// node_exporter's textfile collector reads only *.prom files; a directory is a mistake.
std::string check_textfile(const std::string& s) {
  const std::string suffix = ".prom";
  if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0 ||
      s[s.size() - suffix.size() - 1] == '/')
    return "expected a file name ending in .prom (node_exporter's textfile collector reads only those), got " +
           quoted(s);
  return {};
}

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string check_factory_name(const std::string& s) {
  const bool ok = !s.empty() && s.size() <= 32 && lower_alnum(s[0]) &&
                  std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '-' || c == '_'; });
  return ok ? "" : "must match [a-z0-9][a-z0-9_-]{0,31}, got " + quoted(s);
}

std::string check_prefix(const std::string& s) {
  const bool ok = !s.empty() && s.size() <= 16 && std::all_of(s.begin(), s.end(), lower_alnum);
  return ok ? "" : "must match [a-z0-9]{1,16}, got " + quoted(s);
}

// A git branch name we are willing to pass to git: no option lookalike, no range syntax.
std::string check_branch(const std::string& s) {
  if (s.empty()) return "must not be empty";
  if (s.front() == '-' || s.find("..") != std::string::npos ||
      std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); }))
    return "is not a usable branch name (no spaces, \"..\" or leading '-'), got " + quoted(s);
  return {};
}

// constexpr, not a std::vector: default_agents() may run during other files' static init.
constexpr std::array<std::string_view, 4> kRoles = {"supervisor", "qa", "worker", "ceo"};

// Collects the problems of one file and remembers where each accepted key was.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(const toml::source_region& at, std::string key, std::string message) {
    errors_.push_back({file_, int(at.begin.line), int(at.begin.column), std::move(key), std::move(message)});
  }

  // Applies every key of the table `node` to its field; anything else is an error.
  void section(const toml::source_region& at, const std::string& path, const toml::node& node,
               const std::vector<Field>& fields) {
    const toml::table* table = node.as_table();
    if (!table) return error(at, path, got("a table", node));
    for (auto&& [key, value] : *table) {
      const std::string name = path + "." + std::string(key.str());
      // Captured by name: clang before 16 cannot capture a structured binding (the fuzz build).
      auto field = std::find_if(fields.begin(), fields.end(), [&, &k = key](const Field& f) { return f.name == k.str(); });
      if (field == fields.end()) {
        error(key.source(), name, "unknown key");
      } else if (std::string why = field->apply(value); !why.empty()) {
        error(key.source(), name, why);
      } else {
        seen[name] = key.source();
      }
    }
  }

  // [agents.<role>]: each role overlays its own defaults, so a file that sets only the
  // runner keeps the default command (and vice versa).
  void agents(const toml::source_region& at, const toml::node& node, std::map<std::string, AgentConfig>& out) {
    const toml::table* table = node.as_table();
    if (!table) return error(at, "agents", got("a table", node));
    const auto defaults = Config::default_agents();
    for (auto&& [key, value] : *table) {
      const std::string role(key.str());
      if (std::find(kRoles.begin(), kRoles.end(), role) == kRoles.end()) {
        error(key.source(), "agents." + role, "unknown agent role (supervisor, qa, worker, ceo)");
        continue;
      }
      AgentConfig agent = out.count(role) ? out[role] : defaults.at(role);
      section(key.source(), "agents." + role, value,
              {{"command", argv(agent.command, false)}, {"runner", choice(agent.runner, {"tmux", "direct"})}});
      out[role] = agent;
    }
  }

  using Section = std::function<void(const toml::source_region&, const std::string&, const toml::node&)>;

  // The top level: every key must name a known section.
  void root(const toml::table& table, const std::map<std::string, Section, std::less<>>& sections) {
    for (auto&& [key, value] : table) {
      auto it = sections.find(key.str());
      if (it != sections.end()) {
        it->second(key.source(), it->first, value);
      } else {
        error(key.source(), std::string(key.str()), value.is_table() ? "unknown section" : "unknown key");
      }
    }
  }

  // Syntax errors stop toml++ at the first one; report it with its position.
  std::optional<toml::table> parse(std::string_view text) {
    try {
      return toml::parse(text, std::string_view(file_));
    } catch (const toml::parse_error& e) {
      error(e.source(), "", std::string(e.description()));
      return std::nullopt;
    }
  }

  std::vector<ConfigError> finish() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(errors_);
  }

  std::map<std::string, toml::source_region> seen;

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// Bind a section's field list to a Reader::Section callback.
Reader::Section fields_of(Reader& r, std::vector<Field> fields) {
  return [&r, fields = std::move(fields)](const toml::source_region& at, const std::string& path,
                                          const toml::node& node) { r.section(at, path, node, fields); };
}

// [worker] in both files: plain values in the company file, optional overrides in a factory's.
template <class Int, class Num>
std::vector<Field> worker_fields(Int& slots, Num& idle, Num& stuck) {
  return {{"max_slots_per_factory", integer(slots, 1, 64)},
          {"idle_timeout_minutes", number(idle)},
          {"stuck_timeout_minutes", number(stuck)}};
}

// The whole file, or why it cannot be read (strerror text).
std::optional<std::string> read_all(const std::filesystem::path& file, std::string& why) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = std::generic_category().message(errno);
    return std::nullopt;
  }
  // Read into the string itself, in steps of the file's size: a 64 KiB buffer on the stack
  // was 16 fresh pages for a file of a few KiB, in every co (a page fault costs ~10 µs on
  // the virtual machines this runs on).
  struct stat st {};
  const std::size_t step =
      ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? std::max<std::size_t>(static_cast<std::size_t>(st.st_size) + 1, 512) : 16384;
  std::string data;
  for (;;) {
    const std::size_t used = data.size();
    data.resize(used + step);
    const ssize_t n = ::read(fd, data.data() + used, step);
    data.resize(used + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) {
      continue;
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {  // e.g. EISDIR: open() succeeds on a directory
      why = std::generic_category().message(errno);
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return data;
}

template <class T>
Loaded<T> load_file(const std::filesystem::path& file, Loaded<T> (*parse)(std::string_view, const std::string&)) {
  std::string why;
  if (auto data = read_all(file, why)) return parse(*data, file.string());
  Loaded<T> out;
  out.errors.push_back({file.string(), 0, 0, "", "cannot read file: " + why});
  return out;
}

json optional_json(const auto& v) { return v ? json(*v) : json(nullptr); }

json agents_json(const std::map<std::string, AgentConfig>& agents) {
  json out = json::object();
  for (const auto& [role, a] : agents) out[role] = {{"command", a.command}, {"runner", a.runner}};
  return out;
}

}  // namespace

std::map<std::string, AgentConfig> Config::default_agents() {
  std::map<std::string, AgentConfig> out;
  for (std::string_view role : kRoles) {
    const std::string name(role);
    out[name] = AgentConfig{{"claude", "--profile", name}, "tmux"};
  }
  return out;
}

std::string ConfigError::to_string() const {
  std::string out = file + ":";
  if (line > 0) out += std::to_string(line) + ":" + std::to_string(column) + ":";
  if (!key.empty()) out += " " + key + ":";
  return out + " " + message;
}

Loaded<Config> parse_config(std::string_view toml_text, const std::string& file_name) {
  Loaded<Config> out;
  Reader r(file_name);
  auto table = r.parse(toml_text);
  Config& c = out.value;
  const Config defaults;
  if (table) {
    auto& o = c.operations;
    auto& rs = c.restart;
    r.root(*table, {
        {"company", fields_of(r, {{"name", text(c.company.name)}})},
        {"operations", fields_of(r, {{"patrol_interval_seconds", number(o.patrol_interval_seconds, {0, true})},
                                     {"restart_on_failure", boolean(o.restart_on_failure)},
                                     {"heartbeat_stale_seconds", number(o.heartbeat_stale_seconds)},
                                     {"stop_timeout_seconds", number(o.stop_timeout_seconds, {0, true})},
                                     {"max_agents", integer(o.max_agents, 1)},
                                     {"spawn_rate_per_second", number(o.spawn_rate_per_second, {0, true})},
                                     {"socket", text(o.socket)},
                                     {"socket_group", text(o.socket_group)},
                                     {"request_timeout_seconds", number(o.request_timeout_seconds, {0, true})},
                                     {"log_level", choice(o.log_level, {"trace", "debug", "info", "warn", "error",
                                                                        "critical", "off"})},
                                     {"log_max_mb", number(o.log_max_mb, {0, true})},
                                     {"log_keep", integer(o.log_keep, 1)}})},
        {"restart", fields_of(r, {{"policy", choice(rs.policy, {"always", "on-failure", "never"})},
                                  {"backoff_initial_seconds", number(rs.backoff_initial_seconds)},
                                  {"backoff_max_seconds", number(rs.backoff_max_seconds)},
                                  {"start_limit_burst", integer(rs.start_limit_burst, 1)},
                                  {"start_limit_interval_seconds", number(rs.start_limit_interval_seconds)},
                                  {"reset_after_stable_seconds", number(rs.reset_after_stable_seconds)}})},
        {"worker", fields_of(r, [&] {
           auto fields = worker_fields(c.worker.max_slots_per_factory, c.worker.idle_timeout_minutes,
                                       c.worker.stuck_timeout_minutes);
           fields.push_back({"max_stuck_restarts", integer(c.worker.max_stuck_restarts, 0, 100)});
           return fields;
         }())},
        // A zero poll interval would spin; unlike the timeouts it has no useful meaning.
        {"mail", fields_of(r, {{"poll_interval_seconds", number(c.mail.poll_interval_seconds, {0, true})}})},
        {"events", fields_of(r, {{"partition_by_day", boolean(c.events.partition_by_day)},
                                 {"retention_days", integer(c.events.retention_days, 1)},
                                 {"feed_max_mb", number(c.events.feed_max_mb, {0, true})},
                                 {"feed_keep", integer(c.events.feed_keep, 1)}})},
        {"budgets", fields_of(r, {{"company_daily_cap", number(c.budgets.company_daily_cap)},
                                  {"factory_daily_cap", number(c.budgets.factory_daily_cap)},
                                  {"agent_daily_cap", number(c.budgets.agent_daily_cap)},
                                  {"on_exceed", choice(c.budgets.on_exceed, {"pause", "stop", "alert"})}})},
        {"loops", fields_of(r, {{"max_transitions_per_hour", integer(c.loops.max_transitions_per_hour, 1)},
                                {"max_review_cycles", integer(c.loops.max_review_cycles, 1)}})},
        {"alerts", fields_of(r, {{"command", argv(c.alerts.command, true)},
                                 {"min_severity", choice(c.alerts.min_severity, severity_names())},
                                 {"command_timeout_seconds", number(c.alerts.command_timeout_seconds, {0, true})},
                                 {"error_streak_threshold", integer(c.alerts.error_streak_threshold, 1)}})},
        {"backup", fields_of(r, {{"dir", text(c.backup.dir)}, {"keep", integer(c.backup.keep, 1, 10000)}})},
        {"reports", fields_of(r, {{"standup_at", text(c.reports.standup_at, check_time_of_day)}})},
        {"metrics", fields_of(r, {{"textfile", text(c.metrics.textfile, check_textfile)},
                                  {"interval_seconds", number_in(c.metrics.interval_seconds, 0.1, 86400)}})},
        {"agents", [&](const toml::source_region& at, const std::string&, const toml::node& node) {
           r.agents(at, node, c.agents);
         }},
    });
    // Set, valid, and without effect: said (co config check), never refused.
    auto unless = [&](const char* key, bool matters, const std::string& why) {
      if (auto it = r.seen.find(key); it != r.seen.end() && !matters)
        out.warnings.push_back({file_name, int(it->second.begin.line), int(it->second.begin.column), key,
                                "changes nothing: " + why});
    };
    unless("metrics.interval_seconds", c.metrics.textfile.has_value(),
           "no [metrics] textfile is set to write (co metrics prints them on request)");
    for (const char* key : {"alerts.min_severity", "alerts.command_timeout_seconds"})
      unless(key, !c.alerts.command.empty(), "no [alerts] command is set to run");
    for (const char* key : {"restart.backoff_initial_seconds", "restart.backoff_max_seconds"})
      unless(key, rs.policy != "never", "[restart] policy = \"never\" restarts nothing");
    // The one cross-key rule: blame the key the file set (max if both), and reset it.
    if (rs.backoff_max_seconds < rs.backoff_initial_seconds) {
      if (auto it = r.seen.find("restart.backoff_max_seconds"); it != r.seen.end()) {
        r.error(it->second, it->first,
                "must be at least backoff_initial_seconds (" + show(rs.backoff_initial_seconds) + "), got " +
                    show(rs.backoff_max_seconds));
        rs.backoff_max_seconds = defaults.restart.backoff_max_seconds;
      } else if (auto at = r.seen.find("restart.backoff_initial_seconds"); at != r.seen.end()) {
        r.error(at->second, at->first,
                "must be at most backoff_max_seconds (" + show(rs.backoff_max_seconds) + "), got " +
                    show(rs.backoff_initial_seconds));
        rs.backoff_initial_seconds = defaults.restart.backoff_initial_seconds;
      }
    }
  }
  out.errors = r.finish();
  std::stable_sort(out.warnings.begin(), out.warnings.end(),
                   [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
  return out;
}

Loaded<Config> load_config(const std::filesystem::path& file) { return load_file<Config>(file, parse_config); }

// Factory [agents.<role>] entries also start from the built-in defaults of that role, so
// every entry present is complete (a consumer can use it as is); absent roles inherit.
Loaded<FactoryConfig> parse_factory_config(std::string_view toml_text, const std::string& file_name) {
  Loaded<FactoryConfig> out;
  Reader r(file_name);
  auto table = r.parse(toml_text);
  FactoryConfig& f = out.value;
  if (table) {
    auto& w = f.worker;
    r.root(*table, {
        {"factory", fields_of(r, {{"name", text(f.factory.name, check_factory_name)},
                                  {"prefix", text(f.factory.prefix, check_prefix)}})},
        {"verification", fields_of(r, {{"enabled", boolean(f.verification.enabled)},
                                       {"objective_only", boolean(f.verification.objective_only)},
                                       {"require_all_pass", boolean(f.verification.require_all_pass)},
                                       {"checks", argv(f.verification.checks, true)}})},
        {"sync", fields_of(r, {{"branch", text(f.sync.branch, check_branch)},
                               {"auto_sync", boolean(f.sync.auto_sync)},
                               {"debounce_seconds", number(f.sync.debounce_seconds)}})},
        {"worker", fields_of(r, worker_fields(w.max_slots_per_factory, w.idle_timeout_minutes,
                                              w.stuck_timeout_minutes))},
        {"agents", [&](const toml::source_region& at, const std::string&, const toml::node& node) {
           r.agents(at, node, f.agents);
         }},
    });
    if (!(*table)["factory"]["name"]) {
      // Point at the [factory] header when there is one; otherwise the file as a whole.
      const toml::node* section = table->get("factory");
      r.error(section ? section->source() : toml::source_region{}, "factory.name", "required key is missing");
    } else if (r.seen.count("factory.name") && !r.seen.count("factory.prefix")) {
      f.factory.prefix = derive_prefix(f.factory.name);
    }
  }
  out.errors = r.finish();
  return out;
}

Loaded<FactoryConfig> load_factory_config(const std::filesystem::path& file) {
  return load_file<FactoryConfig>(file, parse_factory_config);
}

std::string derive_prefix(const std::string& factory_name) {
  // Parts are the alphanumeric runs between '-' and '_' (other characters are dropped).
  std::vector<std::string> parts(1);
  for (char ch : factory_name) {
    const char c = char(std::tolower(static_cast<unsigned char>(ch)));
    if (c == '-' || c == '_') {
      if (!parts.back().empty()) parts.emplace_back();
    } else if (lower_alnum(c)) {
      parts.back() += c;
    }
  }
  if (parts.back().empty()) parts.pop_back();
  std::string prefix;
  if (parts.size() > 1) {
    for (size_t i = 0; i < parts.size() && prefix.size() < 4; ++i) prefix += parts[i][0];
  } else if (parts.size() == 1) {
    prefix = parts[0].substr(0, 3);
  }
  // Valid names give two characters, except one-character names: "a" -> "a0" ("" -> "f0").
  while (prefix.size() < 2) prefix += prefix.empty() ? 'f' : '0';
  return prefix;
}

std::string default_factory_config_text(const std::string& factory_name) {
  std::string name;  // a valid factory name needs no escaping; be safe with any other
  for (char c : factory_name) {
    if (c == '"' || c == '\\') name += '\\';
    name += c;
  }
  const std::string prefix = derive_prefix(factory_name);
  std::string prefix_line = "prefix = \"" + prefix + "\"";
  prefix_line.resize(std::max<size_t>(prefix_line.size() + 1, 26), ' ');  // align the comment
  return "# Factory configuration: R/" + name + "/.work/config.toml\n"
         "# Unknown keys and wrong types are errors; durations accept fractions.\n"
         "\n"
         "[factory]\n"
         "name = \"" + name + "\"\n"
         + prefix_line + "# work order ids: " + prefix + "-<id>\n"
         "\n"
         "[verification]\n"
         "enabled = false           # verify a work order before it is done\n"
         "objective_only = false    # only objective checks (tests, builds)\n"
         "require_all_pass = false  # review -> done needs every recorded check passed\n"
         "checks = []               # check names that must be recorded, e.g. [\"build\", \"tests\"]\n"
         "\n"
         "[sync]\n"
         "branch = \"work-sync\"      # work orders as JSONL on this branch (wo sync)\n"
         "auto_sync = false         # sync after changes\n"
         "debounce_seconds = 2      # ... once changes pause this long\n"
         "\n"
         "# Overrides of the company's [worker] and [agents.*] for this factory:\n"
         "# [worker]\n"
         "# max_slots_per_factory = 5\n"
         "# idle_timeout_minutes = 5\n"
         "# stuck_timeout_minutes = 15\n"
         "#\n"
         "# [agents.worker]\n"
         "# command = [\"claude\", \"--profile\", \"worker\"]\n"
         "# runner = \"tmux\"\n";
}

nlohmann::json to_json(const Config& c) {
  const auto& o = c.operations;
  const auto& r = c.restart;
  return {
      {"company", {{"name", c.company.name}}},
      {"operations",
       {{"patrol_interval_seconds", o.patrol_interval_seconds},
        {"restart_on_failure", o.restart_on_failure},
        {"heartbeat_stale_seconds", o.heartbeat_stale_seconds},
        {"stop_timeout_seconds", o.stop_timeout_seconds},
        {"max_agents", o.max_agents},
        {"spawn_rate_per_second", o.spawn_rate_per_second},
        {"socket", optional_json(o.socket)},
        {"socket_group", optional_json(o.socket_group)},
        {"request_timeout_seconds", o.request_timeout_seconds},
        {"log_level", o.log_level},
        {"log_max_mb", o.log_max_mb},
        {"log_keep", o.log_keep}}},
      {"restart",
       {{"policy", r.policy},
        {"backoff_initial_seconds", r.backoff_initial_seconds},
        {"backoff_max_seconds", r.backoff_max_seconds},
        {"start_limit_burst", r.start_limit_burst},
        {"start_limit_interval_seconds", r.start_limit_interval_seconds},
        {"reset_after_stable_seconds", r.reset_after_stable_seconds}}},
      {"worker",
       {{"max_slots_per_factory", c.worker.max_slots_per_factory},
        {"idle_timeout_minutes", c.worker.idle_timeout_minutes},
        {"stuck_timeout_minutes", c.worker.stuck_timeout_minutes},
        {"max_stuck_restarts", c.worker.max_stuck_restarts}}},
      {"mail", {{"poll_interval_seconds", c.mail.poll_interval_seconds}}},
      {"events",
       {{"partition_by_day", c.events.partition_by_day},
        {"retention_days", c.events.retention_days},
        {"feed_max_mb", c.events.feed_max_mb},
        {"feed_keep", c.events.feed_keep}}},
      {"budgets",
       {{"company_daily_cap", c.budgets.company_daily_cap},
        {"factory_daily_cap", c.budgets.factory_daily_cap},
        {"agent_daily_cap", c.budgets.agent_daily_cap},
        {"on_exceed", c.budgets.on_exceed}}},
      {"loops",
       {{"max_transitions_per_hour", c.loops.max_transitions_per_hour},
        {"max_review_cycles", c.loops.max_review_cycles}}},
      {"alerts",
       {{"command", c.alerts.command},
        {"min_severity", c.alerts.min_severity},
        {"command_timeout_seconds", c.alerts.command_timeout_seconds},
        {"error_streak_threshold", c.alerts.error_streak_threshold}}},
      {"backup", {{"dir", optional_json(c.backup.dir)}, {"keep", c.backup.keep}}},
      {"reports", {{"standup_at", optional_json(c.reports.standup_at)}}},
      {"metrics", {{"textfile", optional_json(c.metrics.textfile)}, {"interval_seconds", c.metrics.interval_seconds}}},
      {"agents", agents_json(c.agents)},
  };
}

nlohmann::json to_json(const FactoryConfig& f) {
  return {
      {"factory", {{"name", f.factory.name}, {"prefix", f.factory.prefix}}},
      {"verification",
       {{"enabled", f.verification.enabled},
        {"objective_only", f.verification.objective_only},
        {"require_all_pass", f.verification.require_all_pass},
        {"checks", f.verification.checks}}},
      {"sync", {{"branch", f.sync.branch}, {"auto_sync", f.sync.auto_sync},
                {"debounce_seconds", f.sync.debounce_seconds}}},
      {"worker",
       {{"max_slots_per_factory", optional_json(f.worker.max_slots_per_factory)},
        {"idle_timeout_minutes", optional_json(f.worker.idle_timeout_minutes)},
        {"stuck_timeout_minutes", optional_json(f.worker.stuck_timeout_minutes)}}},
      {"agents", agents_json(f.agents)},
  };
}

}  // namespace vermas
