// The daemon's lifecycle as an operator drives it: co init, co operations start|stop|
// status|logs, signals, configuration reloads and checks, the client's exit codes.
#include "tests/catch.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

// 1-based line number of the first occurrence of `needle` in `text`.
int line_of(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  REQUIRE(pos != std::string::npos);
  int line = 1;
  for (std::size_t i = 0; i < pos; ++i)
    if (text[i] == '\n') ++line;
  return line;
}

// `file:LINE:COLUMN:` somewhere in `text` (COLUMN any positive number).
bool mentions_location(const std::string& text, const std::string& file, int line) {
  std::string escaped;
  for (char c : file) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) escaped += '\\';
    escaped += c;
  }
  return std::regex_search(text, std::regex(escaped + ":" + std::to_string(line) + ":[1-9][0-9]*:"));
}

json events_of_type(RawClient& c, const std::string& type) {
  auto r = c.call("events.query", {{"type", type}, {"limit", 1000}});
  INFO(r.dump());
  REQUIRE(r.contains("result"));
  return r["result"]["events"];
}

}  // namespace

TEST_CASE("co init creates the company root and never overwrites its config", "[lifecycle]") {
  TempRoot root(false);
  auto r = run({co_bin(), "init", "--company-root", root.dir()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  struct stat st{};
  REQUIRE(::stat(root.config_file().c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(::stat(root.path(".work").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK(::stat(root.path("logs").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  // The written config is the documented example, and it is valid.
  std::string text = root.read_config();
  CHECK(contains(text, "[operations]"));
  CHECK(contains(text, "patrol_interval_seconds = 60"));
  CHECK(run({daemon_bin(), "--check-config", "--company-root", root.dir()}).exit_code == 0);

  std::string mine = "# my edits\n" + text;
  root.write_config(mine);
  auto again = run({co_bin(), "init", "--company-root", root.dir()});
  INFO(again.out << again.err);
  CHECK(again.exit_code != 0);
  CHECK(contains(again.err, "already exists"));
  CHECK(root.read_config() == mine);
}

TEST_CASE("co operations start serves a 0600 socket whatever the umask, and starting twice is harmless",
          "[lifecycle]") {
  TempRoot root;
  mode_t old_mask = ::umask(0);  // inherited by co and the daemon
  auto r = root.co({"operations", "start"});
  ::umask(old_mask);
  INFO(r.out << r.err << read_file(root.log_file()));
  REQUIRE(r.exit_code == 0);
  auto pid = root.daemon_pid();
  REQUIRE(pid.has_value());
  CHECK(pid_alive(*pid));
  CHECK(contains(r.out, "pid " + std::to_string(*pid)));

  struct stat st{};
  REQUIRE(::stat(root.socket_path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);

  SECTION("a second co operations start reports the running daemon") {
    auto second = root.co({"operations", "start"});
    INFO(second.out << second.err);
    CHECK(second.exit_code == 0);
    CHECK(contains(second.out, "already running"));
    CHECK(contains(second.out, std::to_string(*pid)));
    CHECK(root.daemon_pid() == pid);
  }
  SECTION("the daemon binary run directly refuses to start a second time") {
    auto second = run({daemon_bin(), "--company-root", root.dir()}, {}, 10s);
    INFO(second.out << second.err);
    CHECK(second.exit_code != 0);
    CHECK(contains(second.err, "already running"));
    auto fg = run({daemon_bin(), "--foreground", "--company-root", root.dir()}, {}, 10s);
    INFO(fg.out << fg.err);
    CHECK(fg.exit_code != 0);
    CHECK(contains(fg.err, "already running"));
    // The loser touched neither the pid file nor the socket.
    CHECK(root.daemon_pid() == pid);
    CHECK(pid_alive(*pid));
    CHECK(root.co({"ping"}).exit_code == 0);
  }
  root.stop();
}

TEST_CASE("status, health and operations status describe the running daemon", "[lifecycle]") {
  TempRoot root;
  root.start();
  auto pid = root.daemon_pid();
  REQUIRE(pid.has_value());
  const std::string pid_text = std::to_string(*pid);

  auto status = root.co({"status"});
  INFO(status.out << status.err);
  CHECK(status.exit_code == 0);
  CHECK(contains(status.out, "company my-company"));
  CHECK(contains(status.out, "pid " + pid_text));

  auto health = root.co({"health"});
  INFO(health.out << health.err);
  CHECK(health.exit_code == 0);
  CHECK(contains(health.out, "status: ok"));
  CHECK(contains(health.out, "db: ok"));

  auto js = root.co({"--json", "status"});
  INFO(js.out << js.err);
  CHECK(js.exit_code == 0);
  REQUIRE(stdout_is_one_json_document(js));
  auto doc = parse_json(js.out);
  REQUIRE(doc.is_object());
  CHECK(doc["pid"] == *pid);
  CHECK(doc["company"] == "my-company");
  CHECK(doc["root"] == root.dir());
  CHECK(doc["socket"] == root.socket_path());
  CHECK(doc["factories"].is_array());

  // --json after the subcommand works too.
  auto js2 = root.co({"health", "--json"});
  CHECK(js2.exit_code == 0);
  REQUIRE(stdout_is_one_json_document(js2));
  CHECK(parse_json(js2.out)["status"] == "ok");
  CHECK(parse_json(js2.out)["services"]["db"] == "ok");

  auto ops = root.co({"operations", "status"});
  INFO(ops.out << ops.err);
  CHECK(ops.exit_code == 0);
  CHECK(contains(ops.out, "running"));
  CHECK(contains(ops.out, "pid:     " + pid_text));
  CHECK(contains(ops.out, root.socket_path()));

  auto ops_json = root.co({"--json", "operations", "status"});
  CHECK(ops_json.exit_code == 0);
  REQUIRE(stdout_is_one_json_document(ops_json));
  CHECK(parse_json(ops_json.out)["running"] == true);
  CHECK(parse_json(ops_json.out)["pid"] == *pid);
  root.stop();
}

TEST_CASE("co operations stop ends the daemon, removes its files and records the stop", "[lifecycle]") {
  TempRoot root;
  root.start();
  auto pid = root.daemon_pid();
  REQUIRE(pid.has_value());
  auto r = root.stop();
  CHECK(contains(r.out, "stopped"));
  CHECK(contains(r.out, std::to_string(*pid)));
  CHECK(!pid_alive(*pid));
  CHECK(!file_exists(root.socket_path()));
  CHECK(!file_exists(root.pid_file()));

  auto events = root.feed_events();
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.value("event_type", ""));
  REQUIRE(types.size() == 3);
  CHECK(types[0] == "operations.started");
  CHECK(types[1] == "operations.stopping");
  CHECK(types[2] == "operations.stopped");
  CHECK(events[2]["data"]["pid"] == *pid);
  CHECK(events[0]["id"].get<long>() < events[1]["id"].get<long>());
  CHECK(events[1]["id"].get<long>() < events[2]["id"].get<long>());

  auto again = root.co({"operations", "stop"});
  CHECK(again.exit_code == 0);
  CHECK(contains(again.out, "not running"));
  auto status = root.co({"operations", "status"});
  CHECK(status.exit_code == 3);
  CHECK(contains(status.err, "co --company-root " + root.dir() + " operations start"));
}

TEST_CASE("co init without a root given makes the current directory the company root, not ~/company",
          "[lifecycle]") {
  TempRoot root(false);
  TempRoot home(false);  // HOME points elsewhere: nothing may appear there
  auto r = run({"/bin/sh", "-c", "cd \"$1\" && exec \"$2\" init", "sh", root.dir(), co_bin()},
               {{"HOME", home.dir()}, {"COMPANY_ROOT", ""}});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(file_exists(root.config_file()));
  CHECK(contains(r.out, "initialized company root " + root.dir()));
  CHECK_FALSE(file_exists(home.path("company")));
  // From a subdirectory, the company above is found: init refuses to make a second one.
  std::filesystem::create_directories(root.path("sub/dir"));
  auto again = run({"/bin/sh", "-c", "cd \"$1\" && exec \"$2\" init", "sh", root.path("sub/dir"), co_bin()},
                   {{"HOME", home.dir()}, {"COMPANY_ROOT", ""}});
  CHECK(again.exit_code == 1);
  CHECK(contains(again.err, "already exists"));
}

TEST_CASE("client exit codes: 3 unreachable with a hint, 2 usage, 1 daemon error", "[lifecycle]") {
  TempRoot root;
  SECTION("no daemon: exit 3 and a one-line hint") {
    for (auto args : {std::vector<std::string>{"status"}, {"ping"}, {"health"}, {"config", "reload"}}) {
      auto r = root.co(args);
      INFO(args[0] << ": " << r.out << r.err);
      CHECK(r.exit_code == 3);
      CHECK(contains(r.err, "operations start"));
      CHECK(lines_of(r.err).size() == 1);
      CHECK(r.out.empty());
    }
    // The hint repeats the root and socket the user gave, so it can be pasted as it is.
    CHECK(contains(root.co({"status"}).err, "start it with: co --company-root " + root.dir() + " operations start"));
    auto with_socket = run({co_bin(), "--company-root", root.dir(), "--socket", root.path("x.sock"), "status"});
    CHECK(contains(with_socket.err, "co --company-root " + root.dir() + " --socket " + root.path("x.sock") +
                                        " operations start"));
    // --json still prints exactly one document: {"error": {code, message, data}}.
    auto js = root.co({"--json", "status"});
    CHECK(js.exit_code == 3);
    REQUIRE(stdout_is_one_json_document(js));
    const json err = parse_json(js.out)["error"];
    CHECK(err["code"] == "unreachable");
    CHECK(err["message"].is_string());
    CHECK(err["data"]["socket"] == root.socket_path());
    // A stale socket file (nobody listening) is unreachable too, not a hang.
    write_file(root.socket_path(), "");
    auto stale = root.co({"status"}, 5s);
    CHECK(stale.exit_code == 3);
  }
  SECTION("usage errors: exit 2") {
    auto unknown = root.co({"frobnicate"});
    INFO(unknown.out << unknown.err);
    CHECK(unknown.exit_code == 2);
    auto unknown_sub = root.co({"operations", "frobnicate"});
    CHECK(unknown_sub.exit_code == 2);
    auto missing = root.co({"operations"});
    CHECK(missing.exit_code == 2);
    auto bad_params = root.co({"call", "ping", "{not json"});
    CHECK(bad_params.exit_code == 2);
    auto wo_unknown = root.wo({"frobnicate"});
    CHECK(wo_unknown.exit_code == 2);
    // Each says which word is wrong, on one line prefixed co:, even with --help after it.
    auto help_typo = root.co({"doctr", "--help"});
    CHECK(help_typo.exit_code == 2);
    CHECK(help_typo.out.empty());
    CHECK(help_typo.err == "co: unknown command 'doctr'; see co --help\n");
    CHECK(contains(unknown_sub.err, "unknown subcommand 'frobnicate' of co operations (one of: start, stop"));
    CHECK(lines_of(unknown_sub.err).size() == 1);
    CHECK(contains(missing.err, "co: operations needs a subcommand: start, stop"));
    CHECK(contains(wo_unknown.err, "unknown subcommand 'frobnicate' of co wo"));
    // The parser's errors in the client's words.
    auto empty_title = root.wo({"create", "--title="});
    CHECK(empty_title.exit_code == 2);
    CHECK(empty_title.err == "wo: --title must not be empty; see co wo create --help\n");
    auto no_title = root.wo({"create"});
    CHECK(contains(no_title.err, "--title is required"));
    auto extra = root.co({"wo", "list", "--bogus"});
    CHECK(extra.exit_code == 2);
    CHECK(contains(extra.err, "co: unexpected argument --bogus for co wo list"));
    // --json: the usage error is the one document too.
    auto js = root.co({"--json", "wo", "create", "--title="});
    CHECK(js.exit_code == 2);
    REQUIRE(stdout_is_one_json_document(js));
    const json err = parse_json(js.out)["error"];
    CHECK(err["code"] == "usage");
    CHECK(err["message"] == "--title must not be empty; see co wo create --help");
    CHECK(err.contains("data"));
    // Help itself still works.
    auto help = root.co({"agent", "list", "--help"});
    CHECK(help.exit_code == 0);
    CHECK(contains(help.out, "Usage: co agent list"));
  }
  SECTION("the daemon answered with an error: exit 1") {
    root.start();
    auto r = root.co({"call", "events.query", R"({"limit":0})"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "limit"));
    CHECK(contains(r.err, "-32602"));
    auto nf = root.co({"call", "no.such.method"});
    CHECK(nf.exit_code == 1);
    CHECK(contains(nf.err, "-32601"));
    auto js = root.co({"--json", "call", "events.query", R"({"limit":0})"});
    CHECK(js.exit_code == 1);
    REQUIRE(stdout_is_one_json_document(js));
    CHECK(parse_json(js.out)["error"]["code"] == -32602);
    CHECK(parse_json(js.out)["error"]["data"]["field"] == "limit");
    root.stop();
  }
}

TEST_CASE("after kill -9 the daemon starts again on the same root and the log continues", "[lifecycle]") {
  TempRoot root;
  root.start();
  auto first = root.daemon_pid();
  REQUIRE(first.has_value());
  REQUIRE(::kill(*first, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return !pid_alive(*first); }));
  // A killed daemon cleans up nothing.
  CHECK(file_exists(root.socket_path()));
  CHECK(file_exists(root.pid_file()));
  CHECK(root.co({"ping"}, 5s).exit_code == 3);

  root.start();
  auto second = root.daemon_pid();
  REQUIRE(second.has_value());
  CHECK(*second != *first);
  CHECK(pid_alive(*second));
  auto ping = root.co({"ping"});
  CHECK(ping.exit_code == 0);
  CHECK(contains(ping.out, "pong"));

  RawClient c(root.socket_path());
  auto started = events_of_type(c, "operations.started");
  REQUIRE(started.size() == 2);
  CHECK(started[0]["data"]["pid"] == *first);
  CHECK(started[1]["data"]["pid"] == *second);
  // Nothing else happened in between: the ids simply continue.
  CHECK(started[1]["id"].get<long>() == started[0]["id"].get<long>() + 1);
  auto feed = root.feed_events_of_type("operations.started");
  REQUIRE(feed.size() == 2);
  CHECK(feed[0]["id"] == started[0]["id"]);
  CHECK(feed[1]["id"] == started[1]["id"]);
  root.stop();
}

TEST_CASE("SIGHUP with a broken config keeps the running one, and a fixed file is applied", "[lifecycle]") {
  TempRoot root;
  root.start();
  auto pid = root.daemon_pid();
  REQUIRE(pid.has_value());
  RawClient c(root.socket_path());
  const std::string good = root.read_config();

  root.replace_in_config("patrol_interval_seconds = 60",
                         "patrol_interval_seconds = 7.5\nno_such_key = 1");
  const int bad_line = line_of(root.read_config(), "no_such_key");
  REQUIRE(::kill(*pid, SIGHUP) == 0);
  json failed;
  REQUIRE(wait_until([&] {
    auto events = events_of_type(c, "config.reload_failed");
    if (events.empty()) return false;
    failed = events[0];
    return true;
  }));
  CHECK(failed["actor"] == "operations");
  CHECK(failed["data"]["trigger"] == "SIGHUP");
  REQUIRE(failed["data"]["errors"].is_array());
  std::string errors = failed["data"]["errors"].dump();
  CHECK(contains(errors, "no_such_key"));
  CHECK(mentions_location(errors, root.config_file(), bad_line));

  // Still serving, with the old value (the valid 7.5 beside the bad key is not applied).
  CHECK(c.call("ping")["result"]["pong"] == true);
  auto cfg = c.call("config.get")["result"];
  CHECK(cfg["config"]["operations"]["patrol_interval_seconds"] == 60);
  CHECK(events_of_type(c, "config.reloaded").empty());

  // The operator sees it with `wo events tail`.
  auto tail = root.wo({"events", "tail", "--type", "config.reload_failed"});
  INFO(tail.out << tail.err);
  CHECK(tail.exit_code == 0);
  CHECK(contains(tail.out, "config.reload_failed"));
  CHECK(contains(tail.out, "no_such_key"));

  root.replace_in_config("\nno_such_key = 1", "");
  REQUIRE(::kill(*pid, SIGHUP) == 0);
  json reloaded;
  REQUIRE(wait_until([&] {
    auto events = events_of_type(c, "config.reloaded");
    if (events.empty()) return false;
    reloaded = events[0];
    return true;
  }));
  CHECK(reloaded["data"]["trigger"] == "SIGHUP");
  CHECK(reloaded["data"]["changed"] == json::array({"operations.patrol_interval_seconds"}));
  CHECK(c.call("config.get")["result"]["config"]["operations"]["patrol_interval_seconds"] == 7.5);
  CHECK(pid_alive(*pid));
  root.stop();
}

TEST_CASE("co config reload and co config check report file:line:column", "[lifecycle]") {
  TempRoot root;
  const std::string file = root.config_file();

  SECTION("co config check, no daemon needed") {
    auto ok = root.co({"config", "check"});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(contains(ok.out, file + ": ok"));
    CHECK(ok.err.empty());

    // Set, valid, and changing nothing: said with its place, and still ok.
    const std::string before = root.read_config();
    root.replace_in_config("# min_severity = \"warning\"", "min_severity = \"info\"");
    const int poll = line_of(root.read_config(), "min_severity = \"info\"");
    auto warned = root.co({"config", "check"});
    INFO(warned.out << warned.err);
    CHECK(warned.exit_code == 0);
    CHECK(contains(warned.out, file + ": ok (1 warning(s))"));
    CHECK(contains(warned.err, "warning: " + file + ":" + std::to_string(poll) + ":1: alerts.min_severity: changes nothing"));
    auto warned_json = root.co({"--json", "config", "check"});
    REQUIRE(stdout_is_one_json_document(warned_json));
    CHECK(parse_json(warned_json.out)["ok"] == true);
    CHECK(parse_json(warned_json.out)["warnings"].size() == 1);
    write_file(file, before);

    root.replace_in_config("max_agents = 64", "max_agents = \"many\"");
    const int line = line_of(root.read_config(), "max_agents");
    auto bad = root.co({"config", "check"});
    INFO(bad.out << bad.err);
    CHECK(bad.exit_code == 1);
    CHECK(mentions_location(bad.err, file, line));
    CHECK(contains(bad.err, "operations.max_agents"));

    auto js = root.co({"--json", "config", "check"});
    CHECK(js.exit_code == 1);
    REQUIRE(stdout_is_one_json_document(js));
    CHECK(parse_json(js.out)["ok"] == false);
  }
  SECTION("vermas-operations --check-config") {
    auto ok = run({daemon_bin(), "--check-config", "--company-root", root.dir()});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(contains(ok.out, "ok"));

    root.append_config("\n[nonsense]\nkey = 1\n");
    const int line = line_of(root.read_config(), "[nonsense]");
    auto bad = run({daemon_bin(), "--check-config", "--company-root", root.dir()});
    INFO(bad.out << bad.err);
    CHECK(bad.exit_code != 0);
    CHECK(mentions_location(bad.err, file, line));
    CHECK(contains(bad.err, "nonsense"));

    // A TOML syntax error is located too.
    root.append_config("broken = \n");
    auto syntax = run({daemon_bin(), "--check-config", "--company-root", root.dir()});
    INFO(syntax.out << syntax.err);
    CHECK(syntax.exit_code != 0);
    CHECK(std::regex_search(syntax.err, std::regex("config\\.toml:[0-9]+:[0-9]+:")));
  }
  SECTION("co operations start refuses a broken config, saying where") {
    root.replace_in_config("max_agents = 64", "max_agents = -1");
    const int line = line_of(root.read_config(), "max_agents");
    auto r = root.co({"operations", "start"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(mentions_location(r.err, file, line));
    CHECK(contains(r.err, "operations.max_agents"));
    CHECK(!file_exists(root.socket_path()));
    CHECK(root.co({"ping"}).exit_code == 3);
  }
  SECTION("co config reload against the daemon") {
    root.start();
    root.replace_in_config("max_agents = 64", "max_agents = \"many\"");
    const int line = line_of(root.read_config(), "max_agents");
    auto bad = root.co({"config", "reload"});
    INFO(bad.out << bad.err);
    CHECK(bad.exit_code == 1);
    CHECK(mentions_location(bad.err, file, line));
    CHECK(contains(bad.err, "operations.max_agents"));
    CHECK(bad.out.empty());
    auto get = root.co({"--json", "config", "get"});
    REQUIRE(get.exit_code == 0);
    CHECK(parse_json(get.out)["config"]["operations"]["max_agents"] == 64);

    root.replace_in_config("max_agents = \"many\"", "max_agents = 32");
    auto ok = root.co({"config", "reload"});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(contains(ok.out, "1 key(s) changed"));
    CHECK(contains(ok.out, "operations.max_agents"));
    auto get2 = root.co({"--json", "config", "get"});
    CHECK(parse_json(get2.out)["config"]["operations"]["max_agents"] == 32);
    root.stop();
  }
}

TEST_CASE("a socket path over 107 bytes is a startup error naming the operations socket key", "[lifecycle]") {
  TempRoot root;
  const std::string long_path = "/tmp/" + std::string(110, 'x') + "/x.sock";
  REQUIRE(long_path.size() > 107);
  root.replace_in_config("# socket = ", "socket = \"" + long_path + "\"\n# socket = ");
  auto r = root.co({"operations", "start"}, 10s);
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK(contains(r.err, "[operations] socket"));
  CHECK(contains(r.err, "107"));
  auto pid = root.daemon_pid();
  CHECK((!pid || !pid_alive(*pid)));

  auto direct = run({daemon_bin(), "--foreground", "--company-root", root.dir()}, {}, 10s);
  INFO(direct.out << direct.err);
  CHECK(direct.exit_code != 0);
  CHECK(contains(direct.err, "[operations] socket"));
}

TEST_CASE("logs, event tail and stats, and the wo symlink", "[lifecycle]") {
  TempRoot root;
  root.start();
  auto pid = root.daemon_pid();
  REQUIRE(pid.has_value());

  auto logs = root.co({"operations", "logs", "-n", "5"});
  INFO(logs.out << logs.err);
  CHECK(logs.exit_code == 0);
  auto lines = lines_of(logs.out);
  CHECK(!lines.empty());
  CHECK(lines.size() <= 5);
  CHECK(contains(logs.out, "serving"));
  CHECK(contains(logs.out, "pid " + std::to_string(*pid)));
  auto one = root.co({"operations", "logs", "-n", "1"});
  CHECK(lines_of(one.out).size() == 1);

  auto tail = root.co({"events", "tail"});
  INFO(tail.out << tail.err);
  CHECK(tail.exit_code == 0);
  CHECK(contains(tail.out, "operations.started"));
  CHECK(contains(tail.out, "#1"));

  auto stats = root.wo({"events", "stats", "--since=1h"});
  INFO(stats.out << stats.err);
  CHECK(stats.exit_code == 0);
  CHECK(std::regex_search(stats.out, std::regex("operations\\.started +1\\b")));
  auto stats_json = root.wo({"--json", "events", "stats", "--since=1h"});
  REQUIRE(stdout_is_one_json_document(stats_json));
  auto doc = parse_json(stats_json.out);
  CHECK(doc["by_type"]["operations.started"] == 1);
  CHECK(doc["total"] == 1);

  // `wo X` is `co wo X`; both spellings agree.
  auto wo_stats = root.wo({"--json", "events", "stats"});
  auto co_wo_stats = root.co({"--json", "wo", "events", "stats"});
  CHECK(wo_stats.exit_code == 0);
  CHECK(co_wo_stats.exit_code == 0);
  CHECK(parse_json(wo_stats.out)["by_type"] == parse_json(co_wo_stats.out)["by_type"]);
  CHECK(parse_json(wo_stats.out)["by_type"]["operations.started"] == 1);
  // Oldest first, as tail shows them; --json is one document.
  REQUIRE(root.co({"config", "reload"}).exit_code == 0);  // a second event
  auto tail_json = root.wo({"--json", "events", "tail", "-n", "5"});
  REQUIRE(stdout_is_one_json_document(tail_json));
  const json tailed = parse_json(tail_json.out)["events"];
  REQUIRE(tailed.size() >= 2);
  CHECK(tailed.front()["id"] == 1);
  CHECK(tailed.front()["id"].get<long long>() < tailed.back()["id"].get<long long>());

  // An invalid --since is the daemon's invalid-params error.
  auto bad_since = root.wo({"events", "stats", "--since=yesterday-ish"});
  CHECK(bad_since.exit_code == 1);
  CHECK(contains(bad_since.err, "since"));
  root.stop();
}

TEST_CASE("the guide's environment: LOG_LEVEL for the daemon and the client, DEBUG=1 traces each call",
          "[lifecycle]") {
  TempRoot root;
  auto bad = run({daemon_bin(), "--company-root", root.dir(), "--foreground"}, {{"LOG_LEVEL", "loud"}});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "LOG_LEVEL=loud is not a level"));
  auto started = root.co({"operations", "start"}, 15s, {{"LOG_LEVEL", "DEBUG"}});
  INFO(started.out << started.err);
  REQUIRE(started.exit_code == 0);
  CHECK(contains(started.err, "co -> "));  // the client's LOG_LEVEL=DEBUG traces too
  auto traced = root.co({"ping"}, 15s, {{"DEBUG", "1"}});
  CHECK(traced.exit_code == 0);
  CHECK(contains(traced.out, "pong"));
  const auto lines = lines_of(traced.err);
  REQUIRE(lines.size() == 2);
  CHECK(contains(lines[0], R"(co -> {"id":1,"jsonrpc":"2.0","method":"ping")"));
  CHECK(contains(lines[1], R"(co <- {"id":1,"jsonrpc":"2.0","result":{"pong":true)"));
  CHECK(root.co({"ping"}, 15s, {{"DEBUG", "0"}}).err.empty());
  root.stop();
  // The daemon inherited LOG_LEVEL=DEBUG: connections closed at the stop are debug lines.
  CHECK(contains(read_file(root.log_file()), " debug "));
}
