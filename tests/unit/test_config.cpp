#include "common/config.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/catch.hpp"

using namespace vermas;

namespace {

Loaded<Config> parse(const std::string& text) { return parse_config(text, "c.toml"); }
Loaded<FactoryConfig> parse_factory(const std::string& text) { return parse_factory_config(text, "f.toml"); }

template <class T>
std::vector<std::string> messages(const Loaded<T>& loaded) {
  std::vector<std::string> out;
  for (const auto& e : loaded.errors) out.push_back(e.to_string());
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

const std::string kExamplePath = std::string(VERMAS_SOURCE_DIR) + "/config.example.toml";

}  // namespace

TEST_CASE("config defaults") {
  const Config c;
  CHECK(c.company.name == "my-company");
  CHECK(c.operations.patrol_interval_seconds == 60);
  CHECK(c.operations.max_agents == 64);
  CHECK_FALSE(c.operations.socket.has_value());
  CHECK(c.restart.policy == "on-failure");
  CHECK(c.worker.idle_timeout_minutes == 5);
  CHECK(c.budgets.agent_daily_cap == 10);
  CHECK(c.alerts.command.empty());
  CHECK(c.alerts.min_severity == "warning");
  CHECK(c.alerts.command_timeout_seconds == 10);
  CHECK(c.alerts.error_streak_threshold == 3);
  CHECK_FALSE(c.backup.dir.has_value());
  CHECK(c.backup.keep == 14);
  REQUIRE(c.agents.size() == 4);
  for (const char* role : {"supervisor", "qa", "worker", "ceo"}) {
    INFO(role);
    REQUIRE(c.agents.count(role) == 1);
    CHECK(c.agents.at(role).command == std::vector<std::string>{"claude", "--profile", role});
    CHECK(c.agents.at(role).runner == "tmux");
  }
}

TEST_CASE("empty text gives the defaults") {
  const auto loaded = parse("");
  CHECK(loaded.ok());
  CHECK(to_json(loaded.value) == to_json(Config{}));
}

TEST_CASE("config.example.toml parses clean and equals the defaults") {
  const std::string text = read_text(kExamplePath);
  REQUIRE_FALSE(text.empty());
  const auto loaded = parse_config(text, kExamplePath);
  INFO(nlohmann::json(messages(loaded)).dump(2));
  CHECK(loaded.ok());
  // What it sets changes something: a key that would not is left commented out.
  CHECK(loaded.warnings.empty());
  CHECK(to_json(loaded.value) == to_json(Config{}));
  // It is embedded in a C++ raw string with this delimiter.
  CHECK(text.find(")vermas_toml\"") == std::string::npos);

  SECTION("every key of the struct is documented (uncommented or commented out)") {
    const nlohmann::json j = to_json(Config{});
    for (const auto& [section, keys] : j.items()) {
      if (section == "agents") continue;
      CHECK(text.find("[" + section + "]") != std::string::npos);
      for (const auto& [key, value] : keys.items()) {
        INFO(section + "." + key);
        CHECK(text.find(key + " = ") != std::string::npos);
      }
    }
    for (const char* role : {"supervisor", "qa", "worker", "ceo"})
      CHECK(text.find(std::string("[agents.") + role + "]") != std::string::npos);
  }
}

TEST_CASE("load_config reads a file") {
  const auto loaded = load_config(kExamplePath);
  CHECK(loaded.ok());
  CHECK(loaded.value.company.name == "my-company");
}

TEST_CASE("values override the defaults") {
  const auto loaded = parse(R"(
[company]
name = "acme"
[operations]
patrol_interval_seconds = 2.5
restart_on_failure = false
max_agents = 8
socket = "/tmp/x.sock"
socket_group = "vermas"
log_level = "debug"
[restart]
policy = "always"
backoff_initial_seconds = 0.5
backoff_max_seconds = 0.5
[budgets]
company_daily_cap = 100.25
on_exceed = "alert"
[alerts]
command = ["notify-send", "VerMAS"]
min_severity = "critical"
command_timeout_seconds = 2.5
error_streak_threshold = 7
[backup]
dir = "/var/backups/vermas"
keep = 3
)");
  INFO(nlohmann::json(messages(loaded)).dump());
  REQUIRE(loaded.ok());
  const Config& c = loaded.value;
  CHECK(c.company.name == "acme");
  CHECK(c.operations.patrol_interval_seconds == 2.5);
  CHECK_FALSE(c.operations.restart_on_failure);
  CHECK(c.operations.max_agents == 8);
  CHECK(c.operations.socket == "/tmp/x.sock");
  CHECK(c.operations.socket_group == "vermas");
  CHECK(c.operations.log_level == "debug");
  CHECK(c.restart.policy == "always");
  CHECK(c.restart.backoff_initial_seconds == 0.5);
  CHECK(c.restart.backoff_max_seconds == 0.5);
  CHECK(c.budgets.company_daily_cap == 100.25);
  CHECK(c.budgets.on_exceed == "alert");
  CHECK(c.alerts.command == std::vector<std::string>{"notify-send", "VerMAS"});
  CHECK(c.alerts.min_severity == "critical");
  CHECK(c.alerts.command_timeout_seconds == 2.5);
  CHECK(c.alerts.error_streak_threshold == 7);
  CHECK(c.backup.dir == "/var/backups/vermas");
  CHECK(c.backup.keep == 3);
  CHECK(c.operations.stop_timeout_seconds == 10);  // untouched keys keep their default
}

TEST_CASE("durations accept fractions and integers") {
  const auto loaded = parse("[worker]\nidle_timeout_minutes = 0.02\nstuck_timeout_minutes = 1\n");
  REQUIRE(loaded.ok());
  CHECK(loaded.value.worker.idle_timeout_minutes == Approx(0.02));
  CHECK(loaded.value.worker.idle_timeout_minutes * 60 == Approx(1.2));
  CHECK(loaded.value.worker.stuck_timeout_minutes == 1);
}

TEST_CASE("unknown keys and sections") {
  SECTION("unknown key: exact message with line and column") {
    const auto loaded = parse("[operations]\npatrol_interval_seconds = 5\nbogus = 1\n");
    REQUIRE(loaded.errors.size() == 1);
    const ConfigError& e = loaded.errors[0];
    CHECK(e.file == "c.toml");
    CHECK(e.line == 3);
    CHECK(e.column == 1);
    CHECK(e.key == "operations.bogus");
    CHECK(e.message == "unknown key");
    CHECK(e.to_string() == "c.toml:3:1: operations.bogus: unknown key");
    CHECK(loaded.value.operations.patrol_interval_seconds == 5);  // the valid key still applies
  }
  SECTION("indented key reports its column") {
    const auto loaded = parse("[mail]\n  pol_interval_seconds = 5\n");
    CHECK(messages(loaded) == std::vector<std::string>{"c.toml:2:3: mail.pol_interval_seconds: unknown key"});
  }
  SECTION("unknown section") {
    const auto loaded = parse("[bogus]\nx = 1\n");
    CHECK(messages(loaded) == std::vector<std::string>{"c.toml:1:2: bogus: unknown section"});
  }
  SECTION("unknown top-level key") {
    const auto loaded = parse("name = \"x\"\n");
    CHECK(messages(loaded) == std::vector<std::string>{"c.toml:1:1: name: unknown key"});
  }
  SECTION("a section that is not a table") {
    const auto loaded = parse("worker = 3\n");
    CHECK(messages(loaded) == std::vector<std::string>{"c.toml:1:1: worker: expected a table, got integer"});
  }
  SECTION("unknown agent role") {
    const auto loaded = parse("[agents.janitor]\ncommand = [\"x\"]\n");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].key == "agents.janitor");
    CHECK(loaded.errors[0].line == 1);
    CHECK(loaded.errors[0].message.rfind("unknown agent role", 0) == 0);
    CHECK(loaded.value.agents.size() == 4);
  }
  SECTION("unknown key inside an agent") {
    const auto loaded = parse("[agents.qa]\nrunner = \"direct\"\nshell = true\n");
    CHECK(messages(loaded) == std::vector<std::string>{"c.toml:3:1: agents.qa.shell: unknown key"});
    CHECK(loaded.value.agents.at("qa").runner == "direct");
  }
}

TEST_CASE("wrong types are errors and keep the default") {
  struct Case {
    std::string text, key, message;
  };
  const std::vector<Case> cases = {
      {"[operations]\npatrol_interval_seconds = \"60\"", "operations.patrol_interval_seconds",
       "expected a number, got string"},
      {"[operations]\nmax_agents = 5.0", "operations.max_agents", "expected an integer, got float"},
      {"[operations]\nrestart_on_failure = 1", "operations.restart_on_failure", "expected a boolean, got integer"},
      {"[operations]\nsocket = 7", "operations.socket", "expected a string, got integer"},
      {"[company]\nname = [\"a\"]", "company.name", "expected a string, got array"},
      {"[events]\nretention_days = 2024-01-01", "events.retention_days", "expected an integer, got date"},
      {"[alerts]\ncommand = \"notify-send\"", "alerts.command", "expected an array of strings, got string"},
      {"[agents.ceo]\ncommand = [\"a\", 1]", "agents.ceo.command",
       "expected an array of strings, got integer in the array"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto loaded = parse(c.text);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].line == 2);
    CHECK(loaded.errors[0].column == 1);
    CHECK(loaded.errors[0].key == c.key);
    CHECK(loaded.errors[0].message == c.message);
    CHECK(to_json(loaded.value) == to_json(Config{}));
  }
}

TEST_CASE("range and enum checks") {
  struct Case {
    std::string text, key, message;
  };
  const std::vector<Case> cases = {
      {"[operations]\npatrol_interval_seconds = 0", "operations.patrol_interval_seconds",
       "must be greater than 0, got 0"},
      {"[operations]\nspawn_rate_per_second = -1", "operations.spawn_rate_per_second",
       "must be greater than 0, got -1"},
      {"[operations]\nstop_timeout_seconds = 0.0", "operations.stop_timeout_seconds", "must be greater than 0, got 0"},
      {"[operations]\nheartbeat_stale_seconds = -0.5", "operations.heartbeat_stale_seconds",
       "must be at least 0, got -0.5"},
      {"[operations]\nmax_agents = 0", "operations.max_agents", "must be at least 1, got 0"},
      {"[operations]\nmax_agents = 99999999999", "operations.max_agents", "is too large, got 99999999999"},
      {"[operations]\nlog_level = \"verbose\"", "operations.log_level",
       "must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"critical\", \"off\"; got \"verbose\""},
      {"[operations]\nlog_max_mb = 0", "operations.log_max_mb", "must be greater than 0, got 0"},
      {"[operations]\nlog_keep = 0", "operations.log_keep", "must be at least 1, got 0"},
      {"[operations]\nsocket = \"\"", "operations.socket", "must not be empty"},
      {"[operations]\nsocket_group = \"\"", "operations.socket_group", "must not be empty"},
      {"[company]\nname = \"\"", "company.name", "must not be empty"},
      {"[restart]\npolicy = \"sometimes\"", "restart.policy",
       "must be one of \"always\", \"on-failure\", \"never\"; got \"sometimes\""},
      {"[restart]\nstart_limit_burst = 0", "restart.start_limit_burst", "must be at least 1, got 0"},
      {"[restart]\nbackoff_max_seconds = 0.5", "restart.backoff_max_seconds",
       "must be at least backoff_initial_seconds (1), got 0.5"},
      {"[restart]\nbackoff_initial_seconds = 120", "restart.backoff_initial_seconds",
       "must be at most backoff_max_seconds (60), got 120"},
      {"[worker]\nmax_slots_per_factory = 65", "worker.max_slots_per_factory", "must be between 1 and 64, got 65"},
      {"[worker]\nmax_slots_per_factory = 0", "worker.max_slots_per_factory", "must be between 1 and 64, got 0"},
      {"[worker]\nidle_timeout_minutes = nan", "worker.idle_timeout_minutes", "must be a finite number, got nan"},
      {"[worker]\nstuck_timeout_minutes = inf", "worker.stuck_timeout_minutes", "must be a finite number, got inf"},
      {"[mail]\npoll_interval_seconds = 0", "mail.poll_interval_seconds", "must be greater than 0, got 0"},
      {"[events]\nretention_days = 0", "events.retention_days", "must be at least 1, got 0"},
      {"[events]\nfeed_max_mb = -1", "events.feed_max_mb", "must be greater than 0, got -1"},
      {"[events]\nfeed_keep = 0", "events.feed_keep", "must be at least 1, got 0"},
      {"[budgets]\nagent_daily_cap = -1", "budgets.agent_daily_cap", "must be at least 0, got -1"},
      {"[budgets]\non_exceed = \"kill\"", "budgets.on_exceed",
       "must be one of \"pause\", \"stop\", \"alert\"; got \"kill\""},
      {"[loops]\nmax_review_cycles = 0", "loops.max_review_cycles", "must be at least 1, got 0"},
      {"[loops]\nmax_transitions_per_hour = -3", "loops.max_transitions_per_hour", "must be at least 1, got -3"},
      {"[alerts]\ncommand = [\"\"]", "alerts.command", "must not contain empty strings"},
      {"[alerts]\nmin_severity = \"error\"", "alerts.min_severity",
       "must be one of \"info\", \"warning\", \"critical\"; got \"error\""},
      {"[alerts]\nmin_severity = \"Warning\"", "alerts.min_severity",
       "must be one of \"info\", \"warning\", \"critical\"; got \"Warning\""},
      {"[alerts]\ncommand_timeout_seconds = 0", "alerts.command_timeout_seconds", "must be greater than 0, got 0"},
      {"[alerts]\ncommand_timeout_seconds = inf", "alerts.command_timeout_seconds", "must be a finite number, got inf"},
      {"[alerts]\nerror_streak_threshold = 0", "alerts.error_streak_threshold", "must be at least 1, got 0"},
      {"[alerts]\nerror_streak_threshold = 2.5", "alerts.error_streak_threshold", "expected an integer, got float"},
      {"[backup]\nkeep = 0", "backup.keep", "must be between 1 and 10000, got 0"},
      {"[backup]\nkeep = \"all\"", "backup.keep", "expected an integer, got string"},
      {"[backup]\ndir = \"\"", "backup.dir", "must not be empty"},
      {"[backup]\ndirectory = \"x\"", "backup.directory", "unknown key"},
      {"[agents.worker]\ncommand = []", "agents.worker.command",
       "must not be empty: give the program and its arguments"},
      {"[agents.worker]\nrunner = \"screen\"", "agents.worker.runner",
       "must be one of \"tmux\", \"direct\"; got \"screen\""},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto loaded = parse(c.text);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].to_string() == "c.toml:2:1: " + c.key + ": " + c.message);
    CHECK(to_json(loaded.value) == to_json(Config{}));
  }
}

TEST_CASE("boundary values are accepted") {
  const auto loaded = parse(R"(
[operations]
heartbeat_stale_seconds = 0
max_agents = 1
[restart]
backoff_initial_seconds = 0
backoff_max_seconds = 0
policy = "never"
[worker]
max_slots_per_factory = 64
idle_timeout_minutes = 0
[budgets]
agent_daily_cap = 0
[alerts]
command = []
min_severity = "info"
command_timeout_seconds = 0.001
error_streak_threshold = 1
)");
  INFO(nlohmann::json(messages(loaded)).dump());
  CHECK(loaded.ok());
  CHECK(loaded.value.worker.max_slots_per_factory == 64);
  CHECK(loaded.value.restart.policy == "never");
}

TEST_CASE("all errors are collected in file order") {
  // toml++ iterates tables by key name; the report must still follow the file.
  const auto loaded = parse(R"([worker]
zzz = 1
idle_timeout_minutes = "soon"
[operations]
max_agents = 0
bogus = 1
[restart]
policy = "sometimes"
)");
  CHECK(messages(loaded) == std::vector<std::string>{
                                "c.toml:2:1: worker.zzz: unknown key",
                                "c.toml:3:1: worker.idle_timeout_minutes: expected a number, got string",
                                "c.toml:5:1: operations.max_agents: must be at least 1, got 0",
                                "c.toml:6:1: operations.bogus: unknown key",
                                "c.toml:8:1: restart.policy: must be one of \"always\", \"on-failure\", \"never\"; "
                                "got \"sometimes\"",
                            });
  CHECK(loaded.value.operations.max_agents == 64);
  CHECK(loaded.value.worker.idle_timeout_minutes == 5);
}

TEST_CASE("syntax errors report their position") {
  const auto loaded = parse("[operations]\nmax_agents = 3\nlog_level = \n");
  REQUIRE(loaded.errors.size() == 1);
  CHECK(loaded.errors[0].file == "c.toml");
  CHECK(loaded.errors[0].line == 3);
  CHECK(loaded.errors[0].column > 0);
  CHECK(loaded.errors[0].key.empty());
  CHECK_FALSE(loaded.errors[0].message.empty());
  // No key: "file:line:column: message".
  CHECK(loaded.errors[0].to_string().rfind("c.toml:3:", 0) == 0);
  CHECK(loaded.errors[0].to_string().find(": : ") == std::string::npos);
  CHECK(to_json(loaded.value) == to_json(Config{}));

  const auto dup = parse("[mail]\npoll_interval_seconds = 1\npoll_interval_seconds = 2\n");
  REQUIRE(dup.errors.size() == 1);
  CHECK(dup.errors[0].line == 3);
}

TEST_CASE("missing or unreadable file") {
  const auto loaded = load_config("/nonexistent/dir/config.toml");
  REQUIRE(loaded.errors.size() == 1);
  const ConfigError& e = loaded.errors[0];
  CHECK(e.line == 0);
  CHECK(e.file == "/nonexistent/dir/config.toml");
  CHECK(e.message == "cannot read file: No such file or directory");
  CHECK(e.to_string() == "/nonexistent/dir/config.toml: cannot read file: No such file or directory");
  CHECK(to_json(loaded.value) == to_json(Config{}));

  const auto dir = load_config(VERMAS_SOURCE_DIR);
  REQUIRE(dir.errors.size() == 1);
  CHECK(dir.errors[0].message == "cannot read file: Is a directory");

  CHECK(load_factory_config("/nonexistent/f.toml").errors.size() == 1);
}

TEST_CASE("ConfigError::to_string formats") {
  CHECK(ConfigError{"a.toml", 4, 7, "k.x", "bad"}.to_string() == "a.toml:4:7: k.x: bad");
  CHECK(ConfigError{"a.toml", 4, 7, "", "bad"}.to_string() == "a.toml:4:7: bad");
  CHECK(ConfigError{"a.toml", 0, 0, "k.x", "bad"}.to_string() == "a.toml: k.x: bad");
  CHECK(ConfigError{"a.toml", 0, 0, "", "bad"}.to_string() == "a.toml: bad");
}

TEST_CASE("agents: a partial override keeps the role's other default") {
  const auto loaded = parse(R"(
[agents.qa]
runner = "direct"
[agents.worker]
command = ["codex", "--worker"]
)");
  REQUIRE(loaded.ok());
  const auto& agents = loaded.value.agents;
  REQUIRE(agents.size() == 4);
  CHECK(agents.at("qa").runner == "direct");
  CHECK(agents.at("qa").command == std::vector<std::string>{"claude", "--profile", "qa"});
  CHECK(agents.at("worker").command == std::vector<std::string>{"codex", "--worker"});
  CHECK(agents.at("worker").runner == "tmux");
  CHECK(agents.at("supervisor").command == std::vector<std::string>{"claude", "--profile", "supervisor"});
  CHECK(agents.at("ceo").runner == "tmux");

  const auto dotted = parse("agents.ceo.runner = \"direct\"\n");
  REQUIRE(dotted.ok());
  CHECK(dotted.value.agents.at("ceo").runner == "direct");

  const auto bad = parse("[agents]\nqa = 3\n");
  CHECK(messages(bad) == std::vector<std::string>{"c.toml:2:1: agents.qa: expected a table, got integer"});
}

TEST_CASE("to_json(Config) has every section") {
  Config c;
  const nlohmann::json j = to_json(c);
  for (const char* s : {"company", "operations", "restart", "worker", "mail", "events", "budgets", "loops", "alerts",
                        "backup", "reports", "metrics", "agents"}) {
    INFO(s);
    CHECK(j.contains(s));
    CHECK(j.at(s).is_object());
  }
  CHECK(j.size() == 13);
  CHECK(j["backup"]["dir"].is_null());
  CHECK(j["backup"]["keep"] == 14);
  CHECK(j["operations"]["socket"].is_null());
  CHECK(j["operations"]["socket_group"].is_null());
  CHECK(j["operations"]["max_agents"] == 64);
  CHECK(j["operations"]["patrol_interval_seconds"] == 60.0);
  CHECK(j["alerts"]["command"] == nlohmann::json::array());
  CHECK(j["agents"]["qa"]["command"] == nlohmann::json({"claude", "--profile", "qa"}));
  CHECK(j["agents"]["qa"]["runner"] == "tmux");
  CHECK(j["budgets"]["on_exceed"] == "pause");
  c.operations.socket = "/tmp/s";
  CHECK(to_json(c)["operations"]["socket"] == "/tmp/s");
}

TEST_CASE("factory config") {
  SECTION("full file") {
    const auto loaded = parse_factory(R"(
[factory]
name = "my-project"
prefix = "mp"
[verification]
enabled = true
objective_only = true
require_all_pass = true
[sync]
branch = "release/sync"
auto_sync = true
[worker]
max_slots_per_factory = 2
idle_timeout_minutes = 0.02
[agents.worker]
runner = "direct"
)");
    INFO(nlohmann::json(messages(loaded)).dump());
    REQUIRE(loaded.ok());
    const FactoryConfig& f = loaded.value;
    CHECK(f.factory.name == "my-project");
    CHECK(f.factory.prefix == "mp");
    CHECK(f.verification.enabled);
    CHECK(f.verification.objective_only);
    CHECK(f.verification.require_all_pass);
    CHECK(f.sync.branch == "release/sync");
    CHECK(f.sync.auto_sync);
    CHECK(f.worker.max_slots_per_factory == 2);
    CHECK(f.worker.idle_timeout_minutes == Approx(0.02));
    CHECK_FALSE(f.worker.stuck_timeout_minutes.has_value());
    REQUIRE(f.agents.size() == 1);
    CHECK(f.agents.at("worker").runner == "direct");
    CHECK(f.agents.at("worker").command == std::vector<std::string>{"claude", "--profile", "worker"});
  }
  SECTION("minimal file: defaults and a derived prefix") {
    const auto loaded = parse_factory("[factory]\nname = \"data_lake-ops\"\n");
    REQUIRE(loaded.ok());
    CHECK(loaded.value.factory.prefix == "dlo");
    CHECK_FALSE(loaded.value.verification.enabled);
    CHECK(loaded.value.sync.branch == "work-sync");
    CHECK_FALSE(loaded.value.sync.auto_sync);
    CHECK(loaded.value.agents.empty());
    CHECK_FALSE(loaded.value.worker.max_slots_per_factory.has_value());
  }
  SECTION("missing name") {
    CHECK(messages(parse_factory("[factory]\nprefix = \"ab\"\n")) ==
          std::vector<std::string>{"f.toml:1:1: factory.name: required key is missing"});
    CHECK(messages(parse_factory("")) == std::vector<std::string>{"f.toml: factory.name: required key is missing"});
  }
  SECTION("validation") {
    struct Case {
      std::string text, error;
    };
    const std::string head = "[factory]\nname = \"ok\"\n";
    const std::vector<Case> cases = {
        {"[factory]\nname = \"../etc\"",
         "f.toml:2:1: factory.name: must match [a-z0-9][a-z0-9_-]{0,31}, got \"../etc\""},
        {"[factory]\nname = \"Caps\"", "f.toml:2:1: factory.name: must match [a-z0-9][a-z0-9_-]{0,31}, got \"Caps\""},
        {"[factory]\nname = \"-x\"", "f.toml:2:1: factory.name: must match [a-z0-9][a-z0-9_-]{0,31}, got \"-x\""},
        {"[factory]\nname = \"" + std::string(33, 'a') + "\"",
         "f.toml:2:1: factory.name: must match [a-z0-9][a-z0-9_-]{0,31}, got \"" + std::string(33, 'a') + "\""},
        {head + "prefix = \"a-b\"", "f.toml:3:1: factory.prefix: must match [a-z0-9]{1,16}, got \"a-b\""},
        {head + "prefix = \"\"", "f.toml:3:1: factory.prefix: must match [a-z0-9]{1,16}, got \"\""},
        {head + "prefix = \"abcdefghijklmnopq\"",
         "f.toml:3:1: factory.prefix: must match [a-z0-9]{1,16}, got \"abcdefghijklmnopq\""},
        {head + "[sync]\nbranch = \"\"", "f.toml:4:1: sync.branch: must not be empty"},
        {head + "[sync]\nbranch = \"a b\"",
         "f.toml:4:1: sync.branch: is not a usable branch name (no spaces, \"..\" or leading '-'), got \"a b\""},
        {head + "[sync]\nbranch = \"a..b\"",
         "f.toml:4:1: sync.branch: is not a usable branch name (no spaces, \"..\" or leading '-'), got \"a..b\""},
        {head + "[sync]\nbranch = \"-f\"",
         "f.toml:4:1: sync.branch: is not a usable branch name (no spaces, \"..\" or leading '-'), got \"-f\""},
        {head + "[sync]\nauto_sync = \"yes\"", "f.toml:4:1: sync.auto_sync: expected a boolean, got string"},
        {head + "[verification]\nstrict = true", "f.toml:4:1: verification.strict: unknown key"},
        {head + "[worker]\nmax_slots_per_factory = 65",
         "f.toml:4:1: worker.max_slots_per_factory: must be between 1 and 64, got 65"},
        {head + "[worker]\nidle_timeout_minutes = -1",
         "f.toml:4:1: worker.idle_timeout_minutes: must be at least 0, got -1"},
        {head + "[agents.boss]\nrunner = \"tmux\"",
         "f.toml:3:9: agents.boss: unknown agent role (supervisor, qa, worker, ceo)"},
        {head + "[agents.qa]\ncommand = []",
         "f.toml:4:1: agents.qa.command: must not be empty: give the program and its arguments"},
        {head + "[operations]\nmax_agents = 1", "f.toml:3:2: operations: unknown section"},
    };
    for (const auto& c : cases) {
      INFO(c.text);
      CHECK(messages(parse_factory(c.text)) == std::vector<std::string>{c.error});
    }
  }
}

TEST_CASE("derive_prefix") {
  CHECK(derive_prefix("my-project") == "mp");
  CHECK(derive_prefix("data_lake-ops") == "dlo");
  CHECK(derive_prefix("vermas") == "ver");
  CHECK(derive_prefix("ab") == "ab");
  CHECK(derive_prefix("a-b-c-d-e-f") == "abcd");
  CHECK(derive_prefix("web--app") == "wa");
  CHECK(derive_prefix("api-") == "api");
  CHECK(derive_prefix("2024-q1") == "2q");
  CHECK(derive_prefix("MyApp") == "mya");
  CHECK(derive_prefix("a") == "a0");
  for (const char* name : {"my-project", "x", "a_b", "zz-top-9", "0", "verylongfactoryname-with-parts"}) {
    INFO(name);
    const std::string p = derive_prefix(name);
    CHECK(p.size() >= 2);
    CHECK(p.size() <= 4);
    CHECK(p.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos);
  }
}

TEST_CASE("default factory config text round-trips") {
  for (const char* name : {"my-project", "vermas", "a", "data_lake-ops"}) {
    INFO(name);
    const std::string text = default_factory_config_text(name);
    CHECK(text.find('#') != std::string::npos);  // it is commented
    const auto loaded = parse_factory(text);
    INFO(nlohmann::json(messages(loaded)).dump());
    REQUIRE(loaded.ok());
    const FactoryConfig& f = loaded.value;
    CHECK(f.factory.name == name);
    CHECK(f.factory.prefix == derive_prefix(name));
    CHECK_FALSE(f.verification.enabled);
    CHECK_FALSE(f.verification.objective_only);
    CHECK_FALSE(f.verification.require_all_pass);
    CHECK(f.sync.branch == "work-sync");
    CHECK_FALSE(f.sync.auto_sync);
    CHECK(f.agents.empty());
  }
}

TEST_CASE("to_json(FactoryConfig)") {
  FactoryConfig f;
  f.factory = {"web", "web"};
  f.worker.idle_timeout_minutes = 2.5;
  f.agents["qa"] = AgentConfig{{"x"}, "direct"};
  const nlohmann::json j = to_json(f);
  for (const char* s : {"factory", "verification", "sync", "worker", "agents"}) CHECK(j.contains(s));
  CHECK(j["factory"]["prefix"] == "web");
  CHECK(j["verification"]["enabled"] == false);
  CHECK(j["sync"]["branch"] == "work-sync");
  CHECK(j["worker"]["max_slots_per_factory"].is_null());
  CHECK(j["worker"]["idle_timeout_minutes"] == 2.5);
  CHECK(j["agents"]["qa"]["runner"] == "direct");
}

TEST_CASE("[reports] and [metrics]: standup_at, textfile and interval_seconds") {
  SECTION("defaults: no standup file, no textfile, every 15 s") {
    const Config c;
    CHECK_FALSE(c.reports.standup_at.has_value());
    CHECK_FALSE(c.metrics.textfile.has_value());
    CHECK(c.metrics.interval_seconds == 15);
    CHECK(to_json(c)["reports"]["standup_at"].is_null());
    CHECK(to_json(c)["metrics"]["textfile"].is_null());
  }
  SECTION("values") {
    const auto loaded = parse(
        "[reports]\nstandup_at = \"09:30\"\n[metrics]\ntextfile = \"/var/lib/node/vermas.prom\"\ninterval_seconds = 0.2\n");
    INFO(nlohmann::json(messages(loaded)).dump());
    REQUIRE(loaded.ok());
    CHECK(loaded.value.reports.standup_at == "09:30");
    CHECK(loaded.value.metrics.textfile == "/var/lib/node/vermas.prom");
    CHECK(loaded.value.metrics.interval_seconds == Approx(0.2));
    CHECK(to_json(loaded.value)["reports"]["standup_at"] == "09:30");
    CHECK(to_json(loaded.value)["metrics"]["interval_seconds"] == 0.2);
    CHECK(parse("[reports]\nstandup_at = \"23:59:30\"\n").value.reports.standup_at == "23:59:30");
    CHECK(parse("[metrics]\ntextfile = \"metrics/vermas.prom\"\ninterval_seconds = 86400\n").ok());
    CHECK(parse("[metrics]\ninterval_seconds = 0.1\n").ok());
  }
  SECTION("refusals keep the defaults") {
    struct Case {
      std::string text, key, message;
    };
    const std::vector<Case> cases = {
        {"[reports]\nstandup_at = \"9:00\"", "reports.standup_at",
         "expected a UTC time of day \"HH:MM\" or \"HH:MM:SS\" (24-hour), got \"9:00\""},
        {"[reports]\nstandup_at = \"24:00\"", "reports.standup_at",
         "expected a UTC time of day \"HH:MM\" or \"HH:MM:SS\" (24-hour), got \"24:00\""},
        {"[reports]\nstandup_at = \"09:00 UTC\"", "reports.standup_at",
         "expected a UTC time of day \"HH:MM\" or \"HH:MM:SS\" (24-hour), got \"09:00 UTC\""},
        {"[reports]\nstandup_at = 09:00:00", "reports.standup_at", "expected a string, got time"},
        {"[reports]\nstandup = \"09:00\"", "reports.standup", "unknown key"},
        {"[metrics]\ntextfile = \"/var/lib/node/vermas.txt\"", "metrics.textfile",
         "expected a file name ending in .prom (node_exporter's textfile collector reads only those), got "
         "\"/var/lib/node/vermas.txt\""},
        {"[metrics]\ntextfile = \"/var/lib/node/.prom\"", "metrics.textfile",
         "expected a file name ending in .prom (node_exporter's textfile collector reads only those), got "
         "\"/var/lib/node/.prom\""},
        {"[metrics]\ntextfile = \"\"", "metrics.textfile",
         "expected a file name ending in .prom (node_exporter's textfile collector reads only those), got \"\""},
        {"[metrics]\ninterval_seconds = 0", "metrics.interval_seconds", "must be between 0.1 and 86400, got 0"},
        {"[metrics]\ninterval_seconds = 0.05", "metrics.interval_seconds", "must be between 0.1 and 86400, got 0.05"},
        {"[metrics]\ninterval_seconds = 100000", "metrics.interval_seconds",
         "must be between 0.1 and 86400, got 100000"},
        {"[metrics]\ninterval_seconds = nan", "metrics.interval_seconds", "must be a finite number, got nan"},
        {"[metrics]\ninterval_seconds = \"15\"", "metrics.interval_seconds", "expected a number, got string"},
    };
    for (const auto& c : cases) {
      INFO(c.text);
      const auto loaded = parse(c.text);
      REQUIRE(loaded.errors.size() == 1);
      CHECK(loaded.errors[0].to_string() == "c.toml:2:1: " + c.key + ": " + c.message);
      CHECK(to_json(loaded.value) == to_json(Config{}));
    }
  }
}

TEST_CASE("keys set that change nothing are warnings, not errors") {
  const auto quiet = parse_config("[alerts]\ncommand = [\"true\"]\nmin_severity = \"info\"\n"
                                  "[metrics]\ntextfile = \"m.prom\"\ninterval_seconds = 5\n"
                                  "[restart]\nbackoff_max_seconds = 30\n",
                                  "c.toml");
  CHECK(quiet.ok());
  CHECK(quiet.warnings.empty());

  const auto loud = parse_config("[mail]\npoll_interval_seconds = 5\n"  // built: no warning
                                 "[alerts]\nmin_severity = \"info\"\ncommand_timeout_seconds = 3\n"
                                 "[metrics]\ninterval_seconds = 5\n"
                                 "[restart]\npolicy = \"never\"\nbackoff_initial_seconds = 2\n",
                                 "c.toml");
  CHECK(loud.ok());  // valid: the file loads and the daemon starts
  REQUIRE(loud.warnings.size() == 4);
  std::vector<std::string> keys;
  for (const auto& w : loud.warnings) keys.push_back(w.key);
  CHECK(keys == std::vector<std::string>{"alerts.min_severity",
                                         "alerts.command_timeout_seconds", "metrics.interval_seconds",
                                         "restart.backoff_initial_seconds"});
  CHECK(loud.warnings[0].line == 4);
  CHECK(loud.warnings[0].to_string().rfind("c.toml:4:1: alerts.min_severity: changes nothing: ", 0) == 0);
  CHECK(loud.warnings[2].message == "changes nothing: no [metrics] textfile is set to write (co metrics prints "
                                    "them on request)");
}
