#pragma once
// A company under test, shared by the integration tests: a temporary root with a config
// built from Settings, a local git repository as the factories' URL, the real daemon
// started with `co`, raw calls, event queries and waits with deadlines.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/catch.hpp"
#include "tests/integration/harness.hpp"

namespace it {

namespace fs = std::filesystem;

constexpr auto kWait = 10s;

// Like it::wait_until, but polls every 20 ms: most predicates here ask the daemon.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kWait) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

inline std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

inline std::string toml_array(const std::vector<std::string>& argv) {
  std::string out = "[";
  for (std::size_t i = 0; i < argv.size(); ++i) out += (i ? ", " : "") + toml_string(argv[i]);
  return out + "]";
}

inline std::string demo_agent_path() { return std::string(VERMAS_SOURCE_DIR) + "/demo/vermas-demo-agent"; }

// The demo agent, stepping (and heartbeating through `co`) every `interval` seconds.
inline std::vector<std::string> demo_agent(const std::string& interval) {
  return {"env", "DEMO_AGENT_INTERVAL=" + interval, demo_agent_path()};
}

inline std::vector<std::string> sleeper() { return {"sleep", "300"}; }

inline bool in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  for (;;) {
    auto colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    if (colon == std::string::npos) return false;
    start = colon + 1;
  }
}

// ---------------------------------------------------------------- /proc

struct ProcStat {
  char state = '?';
  pid_t ppid = 0, pgrp = 0, session = 0;
};

inline std::optional<ProcStat> proc_stat(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  ProcStat s;
  if (std::sscanf(text.c_str() + paren + 1, " %c %d %d %d", &s.state, &s.ppid, &s.pgrp, &s.session) != 4)
    return std::nullopt;
  return s;
}

// /proc/<pid> exists at all (a zombie counts).
inline bool proc_exists(pid_t pid) { return pid > 0 && file_exists("/proc/" + std::to_string(pid)); }

inline std::vector<std::string> environ_of(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/environ");
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == '\0') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Every live process whose environment holds all of `entries` ("NAME=value").
inline std::vector<pid_t> processes_with_env(const std::vector<std::string>& entries) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/proc", ec)) {
    const std::string name = d.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == ::getpid()) continue;
    auto env = environ_of(pid);
    bool all = true;
    for (const auto& want : entries) all = all && std::find(env.begin(), env.end(), want) != env.end();
    if (all && pid_alive(pid)) out.push_back(pid);
  }
  return out;
}

// pids, one a line, as a script appends them to a file.
inline std::vector<pid_t> pids_in(const std::string& file) {
  std::vector<pid_t> out;
  for (const auto& line : lines_of(read_file(file)))
    if (!line.empty() && line.find_first_not_of("0123456789") == std::string::npos)
      out.push_back(static_cast<pid_t>(std::stol(line)));
  return out;
}

// Milliseconds of an event's "ts" (RFC 3339 UTC with ms), for intervals within a test.
inline long long ts_ms(const json& event) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  std::string ts = event.value("ts", "");
  REQUIRE(std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &ms) == 7);
  return ((static_cast<long long>(d) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL + ms;
}

inline long long id_of(const json& event) { return event.at("id").get<long long>(); }

// A string field, or "" when it is null or absent.
inline std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

// ---------------------------------------------------------------- a company under test

struct Settings {
  double patrol = 0.2;
  double stop_timeout = 1;
  double backoff_initial = 0.05;
  double backoff_max = 0.2;
  int burst = 100;
  double limit_interval = 60;
  double reset_after_stable = 60;
  int max_slots = 5;
  int max_agents = 64;
  double spawn_rate = 100;
  double log_max_mb = 10;
  double heartbeat_stale = 300;
  double idle_minutes = 5;
  double stuck_minutes = 15;
  int max_stuck_restarts = 1;
  int loop_transitions = 20;
  int loop_review_cycles = 3;
  std::string on_exceed = "pause";
  std::vector<std::string> supervisor = sleeper();
  std::vector<std::string> qa = sleeper();
  std::vector<std::string> worker = sleeper();
  std::string supervisor_runner = "direct";
  std::string worker_runner = "direct";
  std::vector<std::string> ceo;  // [agents.ceo] command when set (else the default, claude)
  std::string ceo_runner = "tmux";
  std::string alerts;  // the [alerts] section's lines, if any
  double mail_poll = 0;  // [mail] poll_interval_seconds when > 0
};

inline std::string config_text(const Settings& s) {
  auto agent = [](const char* role, const std::vector<std::string>& cmd, const std::string& runner) {
    return std::string("\n[agents.") + role + "]\ncommand = " + toml_array(cmd) + "\nrunner = " + toml_string(runner) +
           "\n";
  };
  return "[company]\nname = \"sup-test\"\n"
         "\n[operations]\n"
         "patrol_interval_seconds = " + std::to_string(s.patrol) + "\n"
         "stop_timeout_seconds = " + std::to_string(s.stop_timeout) + "\n"
         "max_agents = " + std::to_string(s.max_agents) + "\n"
         "log_max_mb = " + std::to_string(s.log_max_mb) + "\n"
         "spawn_rate_per_second = " + std::to_string(s.spawn_rate) + "\n"
         "heartbeat_stale_seconds = " + std::to_string(s.heartbeat_stale) + "\n"
         "\n[restart]\n"
         "policy = \"on-failure\"\n"
         "backoff_initial_seconds = " + std::to_string(s.backoff_initial) + "\n"
         "backoff_max_seconds = " + std::to_string(s.backoff_max) + "\n"
         "start_limit_burst = " + std::to_string(s.burst) + "\n"
         "start_limit_interval_seconds = " + std::to_string(s.limit_interval) + "\n"
         "reset_after_stable_seconds = " + std::to_string(s.reset_after_stable) + "\n"
         "\n[worker]\n"
         "max_slots_per_factory = " + std::to_string(s.max_slots) + "\n" +
         "idle_timeout_minutes = " + std::to_string(s.idle_minutes) + "\n" +
         "stuck_timeout_minutes = " + std::to_string(s.stuck_minutes) + "\n" +
         "max_stuck_restarts = " + std::to_string(s.max_stuck_restarts) + "\n" +
         "\n[loops]\nmax_transitions_per_hour = " + std::to_string(s.loop_transitions) + "\n" +
         "max_review_cycles = " + std::to_string(s.loop_review_cycles) + "\n" +
         "\n[budgets]\non_exceed = " + toml_string(s.on_exceed) + "\n" +
         (s.alerts.empty() ? "" : "\n[alerts]\n" + s.alerts + "\n") +
         (s.mail_poll > 0 ? "\n[mail]\npoll_interval_seconds = " + std::to_string(s.mail_poll) + "\n" : "") +
         agent("supervisor", s.supervisor, s.supervisor_runner) + agent("qa", s.qa, "direct") +
         agent("worker", s.worker, s.worker_runner) + (s.ceo.empty() ? "" : agent("ceo", s.ceo, s.ceo_runner));
}

class Company {
 public:
  explicit Company(const Settings& s) {
    root.write_config(config_text(s));
    repo = make_repo();
  }
  ~Company() {
    // However the test ended, nothing of this company may outlive it: a failed test
    // would otherwise leave agents (own sessions, so not killed with the daemon) behind.
    try {
      if (auto pid = root.daemon_pid(); pid && pid_alive(*pid)) root.co({"operations", "stop"}, 20s);
    } catch (...) {
    }
    for (pid_t p : processes_with_env({"COMPANY_ROOT=" + root.dir()})) ::kill(p, SIGKILL);
  }
  Company(const Company&) = delete;
  Company& operator=(const Company&) = delete;

  TempRoot root;
  std::string repo;  // a local git repository with one commit: the factories' URL

  // A shell script in the root, run by agents as ["/bin/sh", path].
  std::string script(const std::string& name, const std::string& body) const {
    std::string path = root.path(name);
    write_file(path, "#!/bin/sh\n" + body);
    REQUIRE(::chmod(path.c_str(), 0755) == 0);
    return path;
  }

  void start(const Env& env = {}) const {
    auto r = root.co({"operations", "start"}, 15s, env);
    INFO("co operations start: " << r.out << r.err << "\nlog: " << read_file(root.log_file()));
    REQUIRE(r.exit_code == 0);
  }

  void add_factory(const std::string& name) const {
    auto r = root.co({"factory", "add", name, repo}, 60s);
    INFO("co factory add " << name << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }

  // The whole response (result or error) of one raw call.
  json call(const std::string& method, const json& params = json::object()) const {
    RawClient c(root.socket_path());
    return c.call(method, params, 30s);
  }
  json result(const std::string& method, const json& params = json::object()) const {
    auto r = call(method, params);
    INFO(method << " " << params.dump() << " -> " << r.dump());
    REQUIRE(r.contains("result"));
    return r["result"];
  }
  json agent(const std::string& id) const { return result("agent.get", {{"id", id}}); }

  // Events of one type (optionally of one subject), oldest first.
  std::vector<json> events(const std::string& type, const std::string& subject = "") const {
    auto r = result("events.query", {{"type", type}, {"limit", 10000}});
    std::vector<json> out;
    for (const auto& e : r["events"])
      if (subject.empty() || e.value("subject", json()) == subject) out.push_back(e);
    return out;
  }
  std::vector<json> events_after(long long after, const std::string& type, const std::string& subject = "") const {
    std::vector<json> out;
    for (auto& e : events(type, subject))
      if (id_of(e) > after) out.push_back(e);
    return out;
  }
  // The id of the latest `operations.started`: where the running daemon's history begins.
  long long daemon_started_at() const {
    auto started = events("operations.started");
    REQUIRE(!started.empty());
    return id_of(started.back());
  }

  // Waits until `id` runs a live process; returns its pid.
  pid_t running_pid(const std::string& id, std::chrono::milliseconds timeout = kWait) const {
    pid_t pid = 0;
    json last;
    bool ok = eventually(
        [&] {
          last = call("agent.get", {{"id", id}});
          if (!last.contains("result")) return false;
          const json& a = last["result"];
          if (a.value("status", "") != "running" || !a["pid"].is_number_integer()) return false;
          pid = a["pid"].get<pid_t>();
          return pid_alive(pid);
        },
        timeout);
    INFO(id << " never ran: " << last.dump() << "\nlog: " << read_file(root.log_file()));
    REQUIRE(ok);
    return pid;
  }

  bool wait_status(const std::string& id, const std::string& status, std::chrono::milliseconds timeout = kWait) const {
    return eventually(
        [&] {
          auto r = call("agent.get", {{"id", id}});
          return r.contains("result") && r["result"].value("status", "") == status;
        },
        timeout);
  }

  // A patrol certainly ran after this call: adding a factory patrols at once, and that
  // patrol is what starts the new factory's supervisor and QA.
  // (The new factory's QA must be a command that keeps running.)
  void force_patrol(const std::string& factory) const {
    add_factory(factory);
    running_pid(factory + "/qa");
  }

  json co_json(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = root.co(argv, 60s);
    INFO("co " << args.front() << ": exit " << r.exit_code << " " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto j = parse_json(r.out);
    REQUIRE(!j.is_discarded());
    return j;
  }

 private:
  std::string make_repo() const {
    const std::string dir = root.path("upstream");
    fs::create_directories(dir);
    const Env env = {{"GIT_CONFIG_GLOBAL", "/dev/null"}, {"GIT_CONFIG_NOSYSTEM", "1"}};
    auto git = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {"git", "-C", dir, "-c", "user.name=it", "-c", "user.email=it@example.invalid"});
      auto r = run(args, env, 30s);
      INFO("git " << args[7] << ": " << r.out << r.err);
      REQUIRE(r.exit_code == 0);
    };
    git({"init", "-q", "-b", "main"});
    write_file(dir + "/README.md", "# a factory for the supervision tests\n");
    git({"add", "README.md"});
    git({"commit", "-q", "-m", "first commit"});
    return dir;
  }
};

inline std::vector<std::string> ids_of(const json& list) {
  std::vector<std::string> out;
  for (const auto& a : list) out.push_back(a.value("id", ""));
  return out;
}

// A private tmux server for one test (TMUX_TMPDIR under the company root), killed at the
// end of the test: give `env` to Company::start so that the daemon's tmux runner uses it.
struct PrivateTmux {
  explicit PrivateTmux(const TempRoot& root) : dir(root.path("tmux")), env{{"TMUX_TMPDIR", dir}, {"TMUX", ""}} {
    fs::create_directories(dir);
  }
  ~PrivateTmux() { run({"tmux", "kill-server"}, env, std::chrono::seconds(5)); }
  PrivateTmux(const PrivateTmux&) = delete;
  PrivateTmux& operator=(const PrivateTmux&) = delete;
  RunResult tmux(std::vector<std::string> args) const {
    args.insert(args.begin(), "tmux");
    return run(args, env, std::chrono::seconds(5));
  }
  std::string dir;
  Env env;
};

// A company of one factory, f1, whose supervisor is a terminal program under a private
// tmux that echoes whatever is typed into its pane: its output log shows what the daemon
// typed (nudges, mail reminders). Started, the supervisor running.
struct EchoingPane {
  explicit EchoingPane(Settings s) : c(with_echoing_supervisor(std::move(s))), tmux(c.root) {
    c.start(tmux.env);
    c.add_factory("f1");
    c.running_pid("f1/supervisor");
  }
  std::string pane_log() const { return c.root.path("logs/supervisor-f1/output.log"); }
  Company c;
  PrivateTmux tmux;

 private:
  static Settings with_echoing_supervisor(Settings s) {
    s.supervisor = {"/bin/sh", "-c", "echo ready; exec cat"};
    s.supervisor_runner = "tmux";
    return s;
  }
};

}  // namespace it
