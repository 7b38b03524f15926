// Supervision as an operator sees it: the real daemon on a temporary company root, driven
// by the real `co` (and the raw socket where an error code matters), with real child
// processes (the demo agent, small shell scripts) and a real local git repository as the
// factory's URL. Every wait has a deadline; nothing sleeps for a fixed time.
#include "tests/catch.hpp"

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

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;
namespace fs = std::filesystem;


// 1 ---------------------------------------------------------------------------------------
TEST_CASE("factory add: supervisor and QA run in the clone with the agent environment", "[supervision]") {
  Settings s;
  s.supervisor = demo_agent("0.5");
  s.qa = demo_agent("0.5");
  Company c(s);
  c.start();
  c.add_factory("f1");
  const std::string clone = c.root.path("f1");

  CHECK(fs::is_directory(clone + "/.git"));
  CHECK(file_exists(clone + "/README.md"));
  REQUIRE(file_exists(clone + "/.work/config.toml"));
  CHECK(contains(read_file(clone + "/.work/config.toml"), "name = \"f1\""));

  for (const std::string role : {"supervisor", "qa"}) {
    const std::string id = "f1/" + role;
    pid_t pid = c.running_pid(id);
    INFO(id << " pid " << pid);
    // (Read until the exec chain env -> bash has settled: mid-exec, /proc/PID/environ
    // can read empty.)
    std::vector<std::string> env;
    auto has = [&](const std::string& kv) { return std::find(env.begin(), env.end(), kv) != env.end(); };
    eventually([&] {
      env = environ_of(pid);
      return has("DEMO_AGENT_INTERVAL=0.5");
    }, 3s);
    INFO("environment: " << json(env).dump());
    CHECK(has("AGENT_ID=" + id));
    CHECK(has("COMPANY_ROOT=" + c.root.dir()));
    CHECK(has("VERMAS_SOCKET=" + c.root.socket_path()));
    CHECK(has("FACTORY=f1"));
    CHECK(fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd") == fs::canonical(clone));
    // Its own session and process group.
    auto st = proc_stat(pid);
    REQUIRE(st);
    CHECK(st->session == pid);
    CHECK(st->pgrp == pid);
    // Its output is captured in R/logs/<session>/output.log.
    const std::string log = c.root.path("logs/" + role + "-f1/output.log");
    const std::string line = id + ": started (pid " + std::to_string(pid) + ") in ";
    CHECK(eventually([&] { return contains(read_file(log), line); }));
    auto started = c.events("agent.started", id);
    REQUIRE(started.size() == 1);
    CHECK(started[0]["data"]["pid"] == pid);
    CHECK(started[0]["data"]["runner"] == "direct");
    CHECK(started[0]["data"]["session"] == role + "-f1");
  }

  auto list = c.root.co({"factory", "list"});
  INFO(list.out << list.err);
  CHECK(list.exit_code == 0);
  CHECK(contains(list.out, "f1"));
  CHECK(contains(list.out, c.repo));
  auto js = c.co_json({"factory", "list"});
  REQUIRE(js["factories"].size() == 1);
  CHECK(js["factories"][0]["name"] == "f1");
  CHECK(js["factories"][0]["path"] == clone);
  CHECK(js["factories"][0]["agents"]["by_status"]["running"] == 2);

  auto agents = c.co_json({"agent", "list"});
  CHECK(ids_of(agents["agents"]) == std::vector<std::string>{"f1/qa", "f1/supervisor"});
  c.root.stop();
}

// 2 ---------------------------------------------------------------------------------------
TEST_CASE("factory names are validated: no traversal, nothing registered or created", "[supervision]") {
  Company c(Settings{});
  c.start();
  auto entries = [&] {
    std::set<std::string> names;
    for (const auto& d : fs::directory_iterator(c.root.dir())) names.insert(d.path().filename().string());
    return names;
  };
  const auto before = entries();
  const bool evil_before = file_exists(c.root.path("../evil"));
  const std::vector<std::string> bad = {"../evil", "Bad", "a b", std::string(33, 'a'), "a/b", ".", "_x", "x.y"};
  for (const auto& name : bad) {
    auto r = c.root.co({"factory", "add", name, c.repo});
    INFO("co factory add '" << name << "': exit " << r.exit_code << " " << r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "invalid factory name"));
    CHECK(contains(r.err, "lowercase letters"));
  }
  // Valid to the client, reserved by the daemon: the company root's own logs directory.
  auto logs = c.root.co({"factory", "add", "logs", c.repo});
  INFO(logs.out << logs.err);
  CHECK(logs.exit_code == 1);
  CHECK(contains(logs.err, "not a factory name"));

  for (const auto& name : std::vector<std::string>{"../evil", "Bad", "a b", std::string(33, 'a'), "", "a/b", ".",
                                                   "..", "_x", "logs", "a\nb"}) {
    auto r = c.call("factory.add", {{"name", name}, {"url", c.repo}});
    INFO("factory.add '" << name << "' -> " << r.dump());
    REQUIRE(r.contains("error"));
    CHECK(r["error"]["code"] == -32602);
    CHECK(r["error"]["data"]["field"] == "name");
  }

  CHECK(c.result("factory.list")["factories"].empty());
  CHECK(c.events("factory.added").empty());
  CHECK(entries() == before);
  CHECK(file_exists(c.root.path("../evil")) == evil_before);
  std::error_code ec;
  CHECK((!fs::exists(c.root.path(".work/clones"), ec) || fs::is_empty(c.root.path(".work/clones"), ec)));

  // The longest valid name (32) is accepted.
  const std::string longest = "f" + std::string(31, '9');
  c.add_factory(longest);
  auto list = c.result("factory.list")["factories"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["name"] == longest);
  CHECK(fs::is_directory(c.root.path(longest + "/.git")));
  c.root.stop();
}

// 3 ---------------------------------------------------------------------------------------
TEST_CASE("a failed clone registers nothing and leaves no directory, the name stays usable", "[supervision]") {
  Company c(Settings{});
  c.start();
  auto r = c.root.co({"factory", "add", "f1", c.root.path("no-such-repo")}, 60s);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "git"));
  CHECK(contains(r.err, "clone"));
  CHECK(!file_exists(c.root.path("f1")));
  CHECK(c.result("factory.list")["factories"].empty());
  CHECK(c.events("factory.added").empty());
  std::error_code ec;
  CHECK((!fs::exists(c.root.path(".work/clones"), ec) || fs::is_empty(c.root.path(".work/clones"), ec)));
  CHECK(c.result("agent.list")["agents"].empty());

  c.add_factory("f1");
  CHECK(fs::is_directory(c.root.path("f1/.git")));
  auto list = c.result("factory.list")["factories"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["name"] == "f1");
  CHECK(list[0]["url"] == c.repo);
  c.running_pid("f1/supervisor");
  c.root.stop();
}

// 4 ---------------------------------------------------------------------------------------
TEST_CASE("a supervisor killed with SIGKILL is restarted: exited, restarting, started", "[supervision]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f1");
  const pid_t p1 = c.running_pid("f1/supervisor");
  const pid_t qa = c.running_pid("f1/qa");
  REQUIRE(::kill(p1, SIGKILL) == 0);

  pid_t p2 = 0;
  REQUIRE(eventually([&] {
    auto a = c.agent("f1/supervisor");
    if (a["status"] != "running" || !a["pid"].is_number_integer()) return false;
    p2 = a["pid"].get<pid_t>();
    return p2 != p1 && pid_alive(p2);
  }));
  CHECK(!proc_exists(p1));  // reaped by the daemon, not left a zombie

  auto agents = c.co_json({"agent", "list"});
  json sup;
  for (const auto& a : agents["agents"])
    if (a["id"] == "f1/supervisor") sup = a;
  REQUIRE(sup.is_object());
  CHECK(sup["restart_count"] == 1);
  CHECK(sup["pid"] == p2);

  auto started = c.events("agent.started", "f1/supervisor");
  auto exited = c.events("agent.exited", "f1/supervisor");
  auto restarting = c.events("agent.restarting", "f1/supervisor");
  REQUIRE(started.size() == 2);
  REQUIRE(exited.size() == 1);
  REQUIRE(restarting.size() == 1);
  CHECK(started[0]["data"]["pid"] == p1);
  CHECK(exited[0]["data"]["signal"] == 9);
  CHECK(contains(exited[0]["data"].value("exit", ""), "signal 9"));
  CHECK(restarting[0]["data"]["delay_seconds"].get<double>() == Approx(0.05));
  CHECK(started[1]["data"]["pid"] == p2);
  CHECK(started[1]["data"]["restart_count"] == 1);
  CHECK(id_of(started[0]) < id_of(exited[0]));
  CHECK(id_of(exited[0]) < id_of(restarting[0]));
  CHECK(id_of(restarting[0]) < id_of(started[1]));
  // The QA was not touched.
  CHECK(c.events("agent.started", "f1/qa").size() == 1);
  CHECK(c.agent("f1/qa")["pid"] == qa);
  c.root.stop();
}

// 5 ---------------------------------------------------------------------------------------
TEST_CASE("restart backoff doubles up to its maximum", "[supervision]") {
  Settings s;
  s.supervisor = {"/bin/sh", "-c", "exit 1"};
  s.backoff_initial = 0.1;
  s.backoff_max = 1;
  s.burst = 1000;
  Company c(s);
  c.start();
  c.add_factory("f1");
  std::vector<json> restarting;
  REQUIRE(eventually(
      [&] {
        restarting = c.events("agent.restarting", "f1/supervisor");
        return restarting.size() >= 5;
      },
      15s));
  const double expected[] = {0.1, 0.2, 0.4, 0.8, 1.0};  // 1.6 is over the maximum
  auto started = c.events("agent.started", "f1/supervisor");
  for (std::size_t i = 0; i < 5; ++i) {
    INFO("restart " << i + 1 << ": " << restarting[i].dump());
    CHECK(restarting[i]["data"]["delay_seconds"].get<double>() == Approx(expected[i]));
    CHECK(restarting[i]["data"]["attempt"] == static_cast<int>(i + 1));
    // The start that follows comes no earlier than the delay.
    auto next = std::find_if(started.begin(), started.end(), [&](const json& e) { return id_of(e) > id_of(restarting[i]); });
    if (i < 4) {
      REQUIRE(next != started.end());
      CHECK(ts_ms(*next) - ts_ms(restarting[i]) >= static_cast<long long>(expected[i] * 1000) - 2);
    }
  }
  // Each exit was an exit 1, recorded.
  for (const auto& e : c.events("agent.exited", "f1/supervisor")) CHECK(e["data"]["code"] == 1);
  // An operator stop ends the loop: no restart after it.
  auto stop = c.root.co({"agent", "stop", "f1/supervisor"});
  CHECK(stop.exit_code == 0);
  CHECK(c.wait_status("f1/supervisor", "stopped"));
  c.root.stop();
}

// 6 ---------------------------------------------------------------------------------------
TEST_CASE("past the start limit the agent is failed, an alert is raised, and an operator start clears it",
          "[supervision]") {
  Settings s;
  s.supervisor = {"/bin/sh", "-c", "exit 1"};
  s.burst = 3;
  s.limit_interval = 60;
  s.backoff_initial = 0.05;
  s.backoff_max = 0.1;
  Company c(s);
  c.start();
  c.add_factory("f1");
  REQUIRE(c.wait_status("f1/supervisor", "failed"));
  auto a = c.agent("f1/supervisor");
  CHECK(a["reason"] == "start_limit");
  CHECK(a["pid"].is_null());
  CHECK(c.events("agent.started", "f1/supervisor").size() == 3);
  auto failed = c.events("agent.failed", "f1/supervisor");
  REQUIRE(failed.size() == 1);
  // Three failed exits in a row also raise an error_streak alert (test_alerts.cpp).
  std::vector<json> raised;
  for (const auto& e : c.events("alert.raised", "f1/supervisor"))
    if (e["data"]["type"] == "start_limit") raised.push_back(e);
  REQUIRE(raised.size() == 1);
  CHECK(raised[0]["data"]["kind"] == "start_limit");
  CHECK(raised[0]["data"]["severity"] == "critical");

  auto alerts = c.co_json({"alert", "list"});
  json alert;
  for (const auto& al : alerts["alerts"])
    if (al["agent"] == "f1/supervisor" && al["type"] == "start_limit") alert = al;
  REQUIRE(alert.is_object());
  CHECK(alert["kind"] == "start_limit");
  CHECK(alert["severity"] == "critical");
  auto human = c.root.co({"alert", "list"});
  CHECK(contains(human.out, "start_limit"));

  // More patrols pass (one is forced by adding a factory): the failed agent stays failed.
  c.force_patrol("f2");
  CHECK(c.events("agent.started", "f1/supervisor").size() == 3);
  CHECK(c.agent("f1/supervisor")["status"] == "failed");

  // An operator start clears the limit: it starts again, and gets a full burst of starts.
  auto start = c.root.co({"agent", "start", "f1/supervisor"});
  INFO(start.out << start.err);
  CHECK(start.exit_code == 0);
  REQUIRE(eventually([&] { return c.events("agent.failed", "f1/supervisor").size() == 2; }));
  auto started = c.events("agent.started", "f1/supervisor");
  REQUIRE(started.size() == 6);
  CHECK(started[3]["data"]["from"] == "failed");
  CHECK(c.events("agent.start_requested", "f1/supervisor").size() == 1);
  CHECK(c.agent("f1/supervisor")["status"] == "failed");
  c.root.stop();
}

// 7 ---------------------------------------------------------------------------------------
TEST_CASE("co agent stop ends the agent's whole process group, grandchildren included", "[supervision]") {
  Settings s;
  // The supervisor exits on SIGTERM, leaving a grandchild that ignores it.
  Company c(s);
  const std::string sup = c.script("sup-agent.sh",
                                   "trap 'exit 0' TERM\n"
                                   "(trap '' TERM; exec sleep 300) &\n"
                                   "echo $! >> \"$COMPANY_ROOT/sup-kids\"\n"
                                   "sleep 300 &\n"
                                   "echo $! >> \"$COMPANY_ROOT/sup-kids\"\n"
                                   "wait\n");
  // The QA and all its descendants ignore SIGTERM: only the SIGKILL after the stop timeout ends them.
  const std::string qa = c.script("qa-agent.sh",
                                  "trap '' TERM\n"
                                  "sleep 300 &\n"
                                  "echo $! >> \"$COMPANY_ROOT/qa-kids\"\n"
                                  "sh -c 'sleep 300 & echo $! >> \"$COMPANY_ROOT/qa-kids\"; wait' &\n"
                                  "echo $! >> \"$COMPANY_ROOT/qa-kids\"\n"
                                  "wait\n");
  s.supervisor = {"/bin/sh", sup};
  s.qa = {"/bin/sh", qa};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  const pid_t sup_pid = c.running_pid("f1/supervisor");
  const pid_t qa_pid = c.running_pid("f1/qa");
  std::vector<pid_t> sup_kids, qa_kids;
  REQUIRE(eventually([&] {
    sup_kids = pids_in(c.root.path("sup-kids"));
    qa_kids = pids_in(c.root.path("qa-kids"));
    return sup_kids.size() == 2 && qa_kids.size() == 3;
  }));
  REQUIRE(eventually([&] {  // the innermost sleep of the QA is written by its own shell
    for (pid_t p : sup_kids) if (!pid_alive(p)) return false;
    for (pid_t p : qa_kids) if (!pid_alive(p)) return false;
    return true;
  }));
  for (pid_t p : sup_kids) CHECK(proc_stat(p)->pgrp == sup_pid);
  for (pid_t p : qa_kids) CHECK(proc_stat(p)->pgrp == qa_pid);

  auto r = c.root.co({"agent", "stop", "f1/supervisor"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(!pid_alive(sup_pid));
  for (pid_t p : sup_kids) {
    INFO("supervisor grandchild " << p);
    CHECK(eventually([&] { return !pid_alive(p); }, 3s));
  }
  auto a = c.agent("f1/supervisor");
  CHECK(a["status"] == "stopped");
  CHECK(a["reason"] == "operator");
  CHECK(a["desired"] == "stopped");
  auto stopped = c.events("agent.stopped", "f1/supervisor");
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0]["actor"] == "operator");
  CHECK(stopped[0]["data"]["code"] == 0);  // the leader exited on SIGTERM, the sweep took the rest

  auto q = c.root.co({"agent", "stop", "f1/qa"});
  INFO(q.out << q.err);
  CHECK(q.exit_code == 0);
  CHECK(!pid_alive(qa_pid));
  for (pid_t p : qa_kids) {
    INFO("QA descendant " << p);
    CHECK(eventually([&] { return !pid_alive(p); }, 3s));
  }
  auto qstopped = c.events("agent.stopped", "f1/qa");
  REQUIRE(qstopped.size() == 1);
  CHECK(qstopped[0]["data"]["signal"] == 9);  // SIGTERM ignored: SIGKILL after stop_timeout_seconds
  auto stopping = c.events("agent.stopping", "f1/qa");
  REQUIRE(stopping.size() == 1);
  CHECK(ts_ms(qstopped[0]) - ts_ms(stopping[0]) >= 1000 - 2);
  CHECK(c.agent("f1/qa")["status"] == "stopped");
  // Neither comes back at a later patrol.
  c.force_patrol("f2");
  CHECK(c.events("agent.started", "f1/supervisor").size() == 1);
  CHECK(c.events("agent.started", "f1/qa").size() == 1);
  c.root.stop();
}

// 8 ---------------------------------------------------------------------------------------
TEST_CASE("what an operator stopped stays stopped across a daemon restart", "[supervision]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f1");
  c.running_pid("f1/supervisor");
  const pid_t qa = c.running_pid("f1/qa");
  auto r = c.root.co({"agent", "stop", "f1/qa"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(!pid_alive(qa));
  CHECK(c.agent("f1/qa")["status"] == "stopped");

  c.root.stop();
  c.start();
  const long long since = c.daemon_started_at();
  c.running_pid("f1/supervisor");
  c.force_patrol("f2");
  auto a = c.agent("f1/qa");
  CHECK(a["status"] == "stopped");
  CHECK(a["reason"] == "operator");
  CHECK(a["pid"].is_null());
  CHECK(c.events_after(since, "agent.started", "f1/qa").empty());
  CHECK(c.events_after(since, "agent.started", "f1/supervisor").size() == 1);
  CHECK(processes_with_env({"AGENT_ID=f1/qa", "COMPANY_ROOT=" + c.root.dir()}).empty());

  auto start = c.root.co({"agent", "start", "f1/qa"});
  INFO(start.out << start.err);
  CHECK(start.exit_code == 0);
  const pid_t again = c.running_pid("f1/qa");
  CHECK(again != qa);
  CHECK(c.agent("f1/qa")["desired"] == "running");
  c.root.stop();
}

// 9 ---------------------------------------------------------------------------------------
TEST_CASE("after kill -9 of the daemon the agents are re-adopted, never duplicated", "[supervision]") {
  Settings s;
  s.supervisor = demo_agent("0.3");
  s.qa = demo_agent("0.3");
  Company c(s);
  c.start();
  c.add_factory("f1");
  const pid_t sup = c.running_pid("f1/supervisor");
  const pid_t qa = c.running_pid("f1/qa");
  const auto old_daemon = c.root.daemon_pid();
  REQUIRE(old_daemon);

  c.root.kill_daemon();
  REQUIRE(!pid_alive(*old_daemon));
  CHECK(pid_alive(sup));
  CHECK(pid_alive(qa));

  c.start();
  CHECK(c.root.daemon_pid() != old_daemon);
  const long long since = c.daemon_started_at();
  REQUIRE(eventually([&] { return c.events_after(since, "agent.adopted").size() == 2; }));
  c.force_patrol("f2");
  CHECK(c.agent("f1/supervisor")["pid"] == sup);
  CHECK(c.agent("f1/qa")["pid"] == qa);
  CHECK(c.agent("f1/supervisor")["status"] == "running");
  auto adopted = c.events_after(since, "agent.adopted", "f1/supervisor");
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0]["data"]["pid"] == sup);
  CHECK(adopted[0]["data"]["reason"] == "daemon_restart");
  CHECK(c.events_after(since, "agent.started", "f1/supervisor").empty());
  CHECK(c.events_after(since, "agent.started", "f1/qa").empty());
  CHECK(c.events_after(since, "agent.lost").empty());

  // Exactly one agent process (session leader) per agent.
  for (const auto& [id, pid] : std::map<std::string, pid_t>{{"f1/supervisor", sup}, {"f1/qa", qa}}) {
    std::vector<pid_t> leaders;
    for (pid_t p : processes_with_env({"AGENT_ID=" + id, "COMPANY_ROOT=" + c.root.dir()}))
      if (auto st = proc_stat(p); st && st->session == p) leaders.push_back(p);
    INFO(id);
    CHECK(leaders == std::vector<pid_t>{pid});
  }

  // The re-adopted agent is still recognized as itself: its heartbeats land.
  const std::string hb_before = text_of(c.agent("f1/supervisor")["last_heartbeat"]);
  CHECK(eventually([&] { return text_of(c.agent("f1/supervisor")["last_heartbeat"]) > hb_before; }));

  // And the new daemon stops them when asked.
  c.root.stop();
  CHECK(eventually([&] { return !pid_alive(sup) && !pid_alive(qa); }, 3s));
}

// 10 --------------------------------------------------------------------------------------
TEST_CASE("co operations stop stops workers, then QA, then supervisors, --keep-agents leaves them",
          "[supervision]") {
  Settings s;
  s.supervisor = demo_agent("0.5");
  s.qa = demo_agent("0.5");
  s.worker = demo_agent("0.5");
  Company c(s);
  c.start();
  c.add_factory("f1");
  std::map<std::string, pid_t> pids;
  pids["f1/supervisor"] = c.running_pid("f1/supervisor");
  pids["f1/qa"] = c.running_pid("f1/qa");
  for (int i = 0; i < 2; ++i) {
    auto w = c.co_json({"worker", "spawn", "f1"});
    const std::string id = w.value("id", "");
    CHECK(id == "f1/workers/slot" + std::to_string(i));
    pids[id] = c.running_pid(id);
  }

  c.root.stop();
  for (const auto& [id, pid] : pids) {
    INFO(id << " pid " << pid);
    // Gone entirely: not running, and no zombie either (the daemon reaped it).
    CHECK(!proc_exists(pid));
  }
  auto feed = c.root.feed_events();
  long long stopping_at = 0;
  for (const auto& e : feed)
    if (e["event_type"] == "operations.stopping") stopping_at = id_of(e);
  REQUIRE(stopping_at > 0);
  auto role_of = [](const std::string& id) {
    if (contains(id, "/workers/")) return 0;
    if (contains(id, "/qa")) return 1;
    return 2;
  };
  std::vector<std::string> stop_order;
  std::map<int, long long> first_stopping, last_stopped;
  for (const auto& e : feed) {
    if (id_of(e) < stopping_at || !e["subject"].is_string()) continue;
    const std::string subject = e["subject"];
    const int role = role_of(subject);
    if (e["event_type"] == "agent.stopped") {
      stop_order.push_back(subject);
      CHECK(e["data"]["reason"] == "daemon_stop");
      last_stopped[role] = std::max(last_stopped[role], id_of(e));
    }
    if (e["event_type"] == "agent.stopping" && !first_stopping.count(role)) first_stopping[role] = id_of(e);
  }
  INFO("stop order: " << json(stop_order).dump());
  REQUIRE(stop_order.size() == 4);
  CHECK(role_of(stop_order[0]) == 0);
  CHECK(role_of(stop_order[1]) == 0);
  CHECK(stop_order[2] == "f1/qa");
  CHECK(stop_order[3] == "f1/supervisor");
  // Each phase is signalled only once the one before has exited.
  REQUIRE(first_stopping.count(1));
  REQUIRE(first_stopping.count(2));
  CHECK(first_stopping[1] > last_stopped[0]);
  CHECK(first_stopping[2] > last_stopped[1]);

  // --keep-agents leaves them running, and the next daemon re-adopts them.
  {
    c.start();
    const pid_t sup = c.running_pid("f1/supervisor");
    const pid_t qa = c.running_pid("f1/qa");
    const auto daemon = c.root.daemon_pid();
    REQUIRE(daemon);
    long long before_stop = 0;
    for (const auto& e : c.root.feed_events()) before_stop = std::max(before_stop, id_of(e));
    auto r = c.root.co({"operations", "stop", "--keep-agents"}, 30s);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(!pid_alive(*daemon));
    CHECK(pid_alive(sup));
    CHECK(pid_alive(qa));
    for (const auto& e : c.root.feed_events()) {
      if (id_of(e) <= before_stop) continue;
      CHECK(e["event_type"] != "agent.stopped");
      CHECK(e["event_type"] != "agent.stopping");
    }

    c.start();
    const long long since = c.daemon_started_at();
    REQUIRE(eventually([&] { return c.events_after(since, "agent.adopted").size() == 2; }));
    CHECK(c.agent("f1/supervisor")["pid"] == sup);
    CHECK(c.agent("f1/qa")["pid"] == qa);
    CHECK(c.events_after(since, "agent.started").empty());
    c.root.stop();
    // Not our children any more: the daemon kills them; reaping is their new parent's job.
    CHECK(eventually([&] { return !pid_alive(sup) && !pid_alive(qa); }, 3s));
  }
}

// 11 --------------------------------------------------------------------------------------
TEST_CASE("worker slots: at most max_slots_per_factory, a full factory changes nothing, kill frees a slot",
          "[supervision]") {
  Settings s;
  s.max_slots = 2;
  Company c(s);
  c.start();
  c.add_factory("f1");
  for (int i = 0; i < 2; ++i) {
    auto w = c.co_json({"worker", "spawn", "f1"});
    CHECK(w["id"] == "f1/workers/slot" + std::to_string(i));
    CHECK(w["slot"] == i);
    CHECK(w["status"] == "running");
    const std::string tree = c.root.path("f1/.worktrees/slot" + std::to_string(i));
    CHECK(fs::is_directory(tree));
    CHECK(file_exists(tree + "/README.md"));
    pid_t pid = c.running_pid(w["id"].get<std::string>());
    CHECK(fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd") == fs::canonical(tree));
    auto env = environ_of(pid);
    CHECK(std::find(env.begin(), env.end(), "AGENT_ID=f1/workers/slot" + std::to_string(i)) != env.end());
  }
  const json before = c.co_json({"worker", "list", "f1"})["workers"];
  REQUIRE(ids_of(before) == std::vector<std::string>{"f1/workers/slot0", "f1/workers/slot1"});

  auto third = c.root.co({"worker", "spawn", "f1"});
  INFO(third.out << third.err);
  CHECK(third.exit_code == 1);
  CHECK(contains(third.err, "no free slot"));
  auto raw = c.call("worker.spawn", {{"factory", "f1"}});
  INFO(raw.dump());
  REQUIRE(raw.contains("error"));
  CHECK(raw["error"]["code"] == -32002);

  const json after = c.co_json({"worker", "list", "f1"})["workers"];
  CHECK(ids_of(after) == ids_of(before));
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(after[i]["pid"] == before[i]["pid"]);
    CHECK(after[i]["status"] == "running");
  }
  CHECK(c.call("agent.get", {{"id", "f1/workers/slot2"}})["error"]["code"] == -32001);
  CHECK(!file_exists(c.root.path("f1/.worktrees/slot2")));
  CHECK(c.events("worker.spawned").size() == 2);

  const pid_t slot0 = before[0]["pid"].get<pid_t>();
  auto kill = c.root.co({"worker", "kill", "f1", "0"});
  INFO(kill.out << kill.err);
  CHECK(kill.exit_code == 0);
  CHECK(!pid_alive(slot0));
  CHECK(ids_of(c.co_json({"worker", "list", "f1"})["workers"]) == std::vector<std::string>{"f1/workers/slot1"});

  auto next = c.co_json({"worker", "spawn", "f1"});
  CHECK(next["id"] == "f1/workers/slot0");
  CHECK(next["slot"] == 0);
  const pid_t fresh = c.running_pid("f1/workers/slot0");
  CHECK(fresh != slot0);
  CHECK(c.agent("f1/workers/slot1")["pid"] == before[1]["pid"]);
  c.root.stop();
}

// 12 --------------------------------------------------------------------------------------
TEST_CASE("heartbeats identify the agent, an operator needs --id, agents may not call operator methods",
          "[supervision]") {
  Settings s;
  s.supervisor = demo_agent("0.2");
  Company c(s);
  const std::string qa = c.script("qa-agent.sh",
                                  "out=\"$COMPANY_ROOT/qa-calls.out\"\n"
                                  "co config reload >\"$out.reload\" 2>&1; echo \"rc=$?\" >>\"$out.reload\"\n"
                                  "co agent stop \"$AGENT_ID\" >\"$out.stop\" 2>&1; echo \"rc=$?\" >>\"$out.stop\"\n"
                                  "co heartbeat --id f1/supervisor >\"$out.hb\" 2>&1; echo \"rc=$?\" >>\"$out.hb\"\n"
                                  "co heartbeat --activity qa-is-here >\"$out.own\" 2>&1; echo \"rc=$?\" >>\"$out.own\"\n"
                                  "exec sleep 300\n");
  s.qa = {"/bin/sh", qa};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  c.running_pid("f1/supervisor");

  // The demo agent's plain `co heartbeat` (no --id) is recorded for it.
  std::string first;
  REQUIRE(eventually([&] {
    auto a = c.agent("f1/supervisor");
    if (!a["last_heartbeat"].is_string()) return false;
    first = a["last_heartbeat"];
    return contains(text_of(a["activity"]), "step");
  }));
  CHECK(eventually([&] { return text_of(c.agent("f1/supervisor")["last_heartbeat"]) > first; }));

  // An operator has no agent identity.
  auto op = c.root.co({"heartbeat"});
  INFO(op.out << op.err);
  CHECK(op.exit_code == 1);
  CHECK(contains(op.err, "--id"));
  CHECK(c.root.co({"heartbeat", "--id", "f1/qa"}).exit_code == 0);

  const std::string out = c.root.path("qa-calls.out");
  REQUIRE(eventually([&] { return contains(read_file(out + ".own"), "rc="); }));
  const std::string reload = read_file(out + ".reload");
  INFO("co config reload by the agent: " << reload);
  CHECK(contains(reload, "rc=1"));
  CHECK(contains(reload, "operator method"));
  CHECK(contains(reload, "-32003"));
  const std::string stop = read_file(out + ".stop");
  INFO("co agent stop by the agent itself: " << stop);
  CHECK(contains(stop, "rc=1"));
  CHECK(contains(stop, "-32003"));
  const std::string hb = read_file(out + ".hb");
  INFO("co heartbeat --id of another agent: " << hb);
  CHECK(contains(hb, "rc=1"));
  CHECK(contains(hb, "-32003"));
  const std::string own = read_file(out + ".own");
  INFO("its own heartbeat: " << own);
  CHECK(contains(own, "rc=0"));
  auto qa_agent = c.agent("f1/qa");
  CHECK(qa_agent["status"] == "running");
  CHECK(qa_agent["activity"] == "qa-is-here");
  CHECK(c.events("config.reloaded").empty());
  c.root.stop();
}

// 13 --------------------------------------------------------------------------------------
TEST_CASE("the tmux runner: a named session, captured output, restart after kill -9, stop removes it",
          "[supervision][tmux]") {
  if (!in_path("tmux")) {
    WARN("tmux is not installed: the tmux runner test is skipped");
    return;
  }
  Settings s;
  // At once, before tmux has even told the daemon the pane's pid, the agent tries an
  // operator method: it must be refused all the same.
  s.supervisor = {"/bin/sh", "-c",
                  "echo tmux-agent $AGENT_ID in $PWD; out=\"$COMPANY_ROOT/reload.out\"; "
                  "co config reload >>\"$out\" 2>&1; echo rc=$? >>\"$out\"; exec sleep 300"};
  s.supervisor_runner = "tmux";
  Company c(s);
  PrivateTmux server(c.root);
  const Env& env = server.env;
  auto tmux = [&](std::vector<std::string> args) { return server.tmux(std::move(args)); };

  c.start(env);
  c.add_factory("f1");
  const pid_t p1 = c.running_pid("f1/supervisor");
  auto a = c.agent("f1/supervisor");
  CHECK(a["runner"] == "tmux");
  CHECK(a["session"] == "supervisor-f1");
  CHECK(tmux({"has-session", "-t", "=supervisor-f1"}).exit_code == 0);
  auto pane_pid = [&] {
    auto r = tmux({"display-message", "-p", "-t", "=supervisor-f1:", "#{pane_pid}"});
    return r.exit_code == 0 ? r.out.substr(0, r.out.find('\n')) : std::string();
  };
  CHECK(pane_pid() == std::to_string(p1));
  const std::string log = c.root.path("logs/supervisor-f1/output.log");
  CHECK(eventually([&] { return contains(read_file(log), "tmux-agent f1/supervisor in " + c.root.path("f1")); }));
  // The QA (direct runner) has no session.
  c.running_pid("f1/qa");
  CHECK(tmux({"has-session", "-t", "=qa-f1"}).exit_code != 0);

  // The first run's refused `co config reload` must be over before it is killed (under
  // the sanitizers `co` alone takes longer than the rest of this test's set-up).
  const std::string reload_out = c.root.path("reload.out");
  REQUIRE(eventually([&] { return contains(read_file(reload_out), "rc="); }));
  REQUIRE(::kill(p1, SIGKILL) == 0);
  pid_t p2 = 0;
  REQUIRE(eventually([&] {
    auto ag = c.agent("f1/supervisor");
    if (ag["status"] != "running" || !ag["pid"].is_number_integer()) return false;
    p2 = ag["pid"].get<pid_t>();
    return p2 != p1 && pid_alive(p2);
  }));
  auto exited = c.events("agent.exited", "f1/supervisor");
  REQUIRE(exited.size() == 1);
  INFO(exited[0].dump());
  CHECK(exited[0]["data"]["signal"] == 9);
  CHECK(contains(exited[0]["data"].value("exit", ""), "signal 9"));
  CHECK(c.events("agent.restarting", "f1/supervisor").size() == 1);
  CHECK(tmux({"has-session", "-t", "=supervisor-f1"}).exit_code == 0);
  CHECK(pane_pid() == std::to_string(p2));
  CHECK(eventually([&] {
    std::string text = read_file(log);
    auto first = text.find("tmux-agent f1/supervisor");
    return first != std::string::npos && text.find("tmux-agent f1/supervisor", first + 1) != std::string::npos;
  }));

  // Both runs of the agent were refused the operator method (the daemon knew them).
  const std::string reload = c.root.path("reload.out");
  REQUIRE(eventually([&] { return lines_of(read_file(reload)).size() >= 4; }));
  INFO("co config reload by the tmux agent: " << read_file(reload));
  CHECK(!contains(read_file(reload), "rc=0"));
  CHECK(contains(read_file(reload), "operator method"));
  CHECK(c.events("config.reloaded").empty());

  auto stop = c.root.co({"agent", "stop", "f1/supervisor"});
  INFO(stop.out << stop.err);
  CHECK(stop.exit_code == 0);
  CHECK(!pid_alive(p2));
  CHECK(eventually([&] { return tmux({"has-session", "-t", "=supervisor-f1"}).exit_code != 0; }, 3s));
  CHECK(c.agent("f1/supervisor")["status"] == "stopped");
  c.root.stop();
}

TEST_CASE("max_agents holds when many agents die at once, and a reload that raises it starts the rest",
          "[supervision]") {
  Settings s;
  s.max_agents = 3;
  s.backoff_initial = 0;  // restarts race for the freed places at once
  Company c(s);
  c.start();
  c.add_factory("f1");
  c.add_factory("f2");
  const std::string env_root = "COMPANY_ROOT=" + c.root.dir();
  auto live = [&] { return processes_with_env({env_root}).size(); };
  REQUIRE(eventually([&] { return live() == 3; }));
  REQUIRE(eventually([&] { return !c.events("agent.start_deferred").empty(); }));

  // Kill every running agent at once, several times; never more than three may run.
  std::size_t most = 0;
  for (int round = 0; round < 3; ++round) {
    for (pid_t p : processes_with_env({env_root})) ::kill(p, SIGKILL);
    auto deadline = std::chrono::steady_clock::now() + 1s;
    while (std::chrono::steady_clock::now() < deadline) {
      most = std::max(most, live());
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(eventually([&] { return live() == 3; }));
  }
  CHECK(most <= 3);
  CHECK(c.result("status")["agents"]["by_status"].value("running", 0) == 3);

  // Raised by a reload: the fourth agent starts without another death.
  Settings raised = s;
  raised.max_agents = 10;
  c.root.write_config(config_text(raised));
  REQUIRE(c.root.co({"config", "reload"}).exit_code == 0);
  CHECK(eventually([&] { return live() == 4; }));
}

TEST_CASE("spawn_rate_per_second spaces starts out, even when many are due at once", "[supervision]") {
  Settings s;
  s.spawn_rate = 4;  // a burst of 4, then one start every 0.25 s
  Company c(s);
  c.start();
  for (const char* f : {"f1", "f2", "f3", "f4"}) c.add_factory(f);
  REQUIRE(eventually([&] { return c.events("agent.started").size() >= 8; }));
  auto started = c.events("agent.started");
  std::vector<long long> t;
  for (const auto& e : started) t.push_back(ts_ms(e));
  std::sort(t.begin(), t.end());
  // However the starts fell due, after the burst the k-th start is >= (k-4) * 250 ms later
  // than the first (a little slack for timestamp rounding).
  for (std::size_t k = 4; k < t.size(); ++k) {
    INFO("start " << k << " at +" << (t[k] - t[0]) << " ms");
    CHECK(t[k] - t[0] >= static_cast<long long>(k - 3) * 250 - 20);
  }
}

TEST_CASE("an agent's output log is rotated by size while the agent keeps writing to it", "[supervision]") {
  Settings s;
  s.log_max_mb = 0.002;  // ~2 KiB
  Company c(s);
  // A chatty supervisor: 200 bytes every 10 ms.
  s.supervisor = {"/bin/sh", "-c",
                  "i=0; while :; do i=$((i+1)); printf 'line %06d %0180d\\n' $i 0; sleep 0.01; done"};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  const pid_t pid = c.running_pid("f1/supervisor");
  const std::string log = c.root.path("logs/supervisor-f1/output.log");
  REQUIRE(eventually([&] { return file_exists(log + ".1"); }));
  // The same process writes on into the truncated file (O_APPEND): rotation needs no restart.
  CHECK(eventually([&] { return contains(read_file(log), "line "); }));
  CHECK(c.agent("f1/supervisor")["pid"] == pid);
  std::error_code ec;
  CHECK(fs::file_size(log + ".1", ec) >= 2000);
  // Bounded: never more than log_keep rotated files.
  REQUIRE(eventually([&] { return file_exists(log + ".2"); }));
  CHECK_FALSE(file_exists(log + ".4"));
}

// Every durable table but `agents` is a projection of the log -----------------------------
TEST_CASE("rebuild-projections gives back factories, teams and alerts as well as work orders",
          "[supervision][projections]") {
  Settings s;
  s.supervisor = {"/bin/sh", "-c", "exit 1"};  // crashes into the start limit: alerts
  s.burst = 2;
  s.limit_interval = 60;
  s.backoff_initial = 0.02;
  s.backoff_max = 0.05;
  Company c(s);
  c.start();
  c.add_factory("f1");
  c.add_factory("f2");
  c.add_factory("f3");
  REQUIRE(c.call("team.add", {{"factory", "f1"}, {"name", "t1"}}).contains("result"));
  REQUIRE(c.call("team.add", {{"factory", "f2"}, {"name", "t2"}}).contains("result"));
  REQUIRE(c.wait_status("f1/supervisor", "failed"));
  REQUIRE(c.wait_status("f2/supervisor", "failed"));
  REQUIRE(c.call("factory.remove", {{"name", "f2"}}).contains("result"));  // its team goes too
  json alerts = c.co_json({"alert", "list"})["alerts"];
  REQUIRE(alerts.size() >= 2);
  const auto first = alerts.back()["id"].get<long long>();
  REQUIRE(c.call("alert.resolve", {{"id", first}}).contains("result"));
  c.co_json({"wo", "create", "--title", "one", "--factory", "f1"});

  const json factories_before = c.co_json({"factory", "list"});
  const json teams_before = c.co_json({"team", "list"});
  const json alerts_before = c.co_json({"alert", "list"});
  auto r = c.co_json({"wo", "rebuild-projections"});
  INFO(r.dump());
  CHECK(r["matched_live"] == true);
  CHECK(r["differences"] == 0);
  CHECK(r["factories"] == 2);
  CHECK(r["teams"] == 1);
  CHECK(r["alerts"].get<long long>() == static_cast<long long>(alerts.size()));
  CHECK(r["work_orders"] == 1);
  // The swapped-in tables are what the commands show, and new rows keep coming.
  CHECK(c.co_json({"factory", "list"}) == factories_before);
  CHECK(c.co_json({"team", "list"}) == teams_before);
  CHECK(c.co_json({"alert", "list"}) == alerts_before);
  c.add_factory("f4");
  CHECK(c.co_json({"factory", "list"})["factories"].size() == 3);
  REQUIRE(c.call("alert.resolve", {{"id", alerts.front()["id"]}}).contains("result"));
  CHECK(c.co_json({"wo", "rebuild-projections"})["differences"] == 0);
  c.root.stop();
}

TEST_CASE("a missing agent binary says 'not found' under tmux as under direct, and co worker spawn exits 1",
          "[supervision][tmux]") {
  Settings s;
  s.supervisor = {"no-such-agent-binary", "--profile", "supervisor"};  // the example's shape: claude ...
  s.supervisor_runner = "tmux";
  s.worker = {"no-such-agent-binary"};
  s.worker_runner = "tmux";
  Company c(s);
  PrivateTmux server(c.root);
  c.start(server.env);
  c.add_factory("f1");
  // The supervisor's start failed before tmux ran anything: the reason names the command.
  REQUIRE(eventually([&] { return c.agent("f1/supervisor")["last_exit"].is_string(); }));
  const json sup = c.agent("f1/supervisor");
  CHECK(contains(sup["last_exit"].get<std::string>(), "no-such-agent-binary: not found in PATH"));
  CHECK(server.tmux({"has-session", "-t", "=supervisor-f1"}).exit_code != 0);
  auto spawn = c.root.co({"worker", "spawn", "f1"});
  INFO(spawn.out << spawn.err);
  CHECK(spawn.exit_code == 1);
  CHECK(contains(spawn.err, "f1/workers/slot0 did not start"));
  CHECK(contains(spawn.err, "not found in PATH"));
  CHECK(lines_of(spawn.err).size() == 1);
  // Its slot was given back: nothing holds slot 0.
  CHECK(eventually([&] { return c.result("worker.list", {{"factory", "f1"}})["workers"].empty(); }));
  c.root.stop();
}

TEST_CASE("co ceo starts the CEO in the company root under tmux on demand, finds it again, never restarts it",
          "[supervision][tmux][ceo]") {
  REQUIRE(in_path("tmux"));
  Settings s;
  s.ceo = {"/bin/sh", "-c", "echo ceo $AGENT_ID in $PWD factory=${FACTORY-none}; exec sleep 300"};
  Company c(s);
  PrivateTmux server(c.root);
  c.start(server.env);
  // A company that never called its CEO lists none.
  CHECK(c.call("agent.get", {{"id", "ceo"}})["error"]["code"] == -32001);

  auto first = c.root.co({"ceo"}, 30s, server.env);  // not a terminal: started, not attached
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.out, "CEO ceo"));
  CHECK(contains(first.out, "co ceo"));
  const json a = c.agent("ceo");
  CHECK(a["status"] == "running");
  CHECK(a["role"] == "ceo");
  CHECK(a["runner"] == "tmux");
  CHECK(a["session"] == "ceo");
  CHECK(a["factory"].is_null());
  const pid_t pid = a["pid"].get<pid_t>();
  CHECK(server.tmux({"has-session", "-t", "=ceo"}).exit_code == 0);
  CHECK(eventually([&] {
    return contains(read_file(c.root.path("logs/ceo/output.log")), "ceo ceo in " + c.root.dir() + " factory=none");
  }));

  // Again while it runs: the same process, nothing started twice.
  auto again = c.root.co({"ceo", "--json"}, 30s, server.env);
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(parse_json(again.out)["pid"] == pid);
  CHECK(c.events("agent.started", "ceo").size() == 1);

  // It ends: it stays down. A factory's supervisor started meanwhile shows the patrol went on.
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(eventually([&] { return c.agent("ceo")["status"] == "stopped"; }));
  c.add_factory("f1");
  c.running_pid("f1/supervisor");
  CHECK(c.agent("ceo")["status"] == "stopped");
  CHECK(c.agent("ceo")["desired"] == "stopped");
  CHECK(c.events("agent.restarting", "ceo").empty());
  CHECK(c.events("agent.started", "ceo").size() == 1);

  // Nor does a daemon restart bring it back; co ceo does.
  c.root.stop();
  c.start(server.env);
  c.running_pid("f1/supervisor");
  CHECK(c.agent("ceo")["status"] == "stopped");
  auto third = c.root.co({"ceo", "--no-attach"}, 30s, server.env);
  INFO(third.out << third.err);
  CHECK(third.exit_code == 0);
  CHECK(c.agent("ceo")["status"] == "running");
  CHECK(c.agent("ceo")["pid"] != pid);
  c.root.stop();
}

TEST_CASE("co ceo whose command cannot start exits 1 and says why", "[supervision][tmux][ceo]") {
  REQUIRE(in_path("tmux"));
  Settings s;
  s.ceo = {"no-such-ceo-binary", "--profile", "ceo"};
  Company c(s);
  PrivateTmux server(c.root);
  c.start(server.env);
  auto r = c.root.co({"ceo"}, 30s, server.env);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "the CEO did not start"));
  CHECK(contains(r.err, "no-such-ceo-binary: not found in PATH"));
  CHECK(lines_of(r.err).size() == 1);
  CHECK(c.agent("ceo")["status"] == "failed");
  c.root.stop();
}

TEST_CASE("group operations: agent stop, start, restart and kill by --all, --factory and --role, operator only",
          "[supervision][group]") {
  Settings s;
  Company c(s);
  // f1's QA tries a group stop as an agent: refused like any operator method.
  const std::string qa = c.script("qa-agent.sh",
                                  "out=\"$COMPANY_ROOT/qa-$FACTORY.out\"\n"
                                  "co agent stop --all >\"$out\" 2>&1; echo \"rc=$?\" >>\"$out\"\n"
                                  "exec sleep 300\n");
  s.qa = {"/bin/sh", qa};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  c.add_factory("f2");
  std::map<std::string, pid_t> pids;
  for (const char* id : {"f1/supervisor", "f1/qa", "f2/supervisor", "f2/qa"}) pids[id] = c.running_pid(id);
  REQUIRE(eventually([&] { return contains(read_file(c.root.path("qa-f1.out")), "rc="); }));
  const std::string refused = read_file(c.root.path("qa-f1.out"));
  INFO("co agent stop --all by an agent: " << refused);
  CHECK(contains(refused, "rc=1"));
  CHECK(contains(refused, "-32003"));
  CHECK(c.agent("f2/supervisor")["status"] == "running");

  // By role: both QAs, in one call, answered once both exited.
  auto qas = c.root.co({"--json", "agent", "stop", "--role", "qa"});
  INFO(qas.out << qas.err);
  REQUIRE(qas.exit_code == 0);
  const json stopped = parse_json(qas.out);
  CHECK(stopped["count"] == 2);
  CHECK(stopped["errors"].empty());
  for (const auto& a : stopped["agents"]) CHECK(a["status"] == "stopped");
  CHECK_FALSE(pid_alive(pids["f1/qa"]));
  CHECK_FALSE(pid_alive(pids["f2/qa"]));
  CHECK(c.agent("f1/supervisor")["status"] == "running");

  // By factory: what runs of f1 (its supervisor; its QA is stopped already).
  auto f1 = c.root.co({"agent", "stop", "--factory", "f1"});
  INFO(f1.out << f1.err);
  CHECK(f1.exit_code == 0);
  CHECK(contains(f1.out, "stopped f1/supervisor"));
  CHECK(contains(f1.out, "stopped 1 agent(s)"));
  CHECK(c.agent("f2/supervisor")["status"] == "running");

  // Start --all: the three stopped, not the one running.
  auto started = c.root.co({"--json", "agent", "start", "--all"});
  INFO(started.out << started.err);
  REQUIRE(started.exit_code == 0);
  CHECK(parse_json(started.out)["count"] == 3);
  for (const char* id : {"f1/supervisor", "f1/qa", "f2/qa"}) CHECK(c.agent(id)["status"] == "running");

  // Both selectors: the agents matching both.
  auto restarted = c.root.co({"--json", "agent", "restart", "--factory", "f2", "--role", "supervisor"});
  INFO(restarted.out << restarted.err);
  REQUIRE(restarted.exit_code == 0);
  const json r = parse_json(restarted.out);
  REQUIRE(r["count"] == 1);
  CHECK(r["agents"][0]["id"] == "f2/supervisor");
  CHECK(r["agents"][0]["pid"] != pids["f2/supervisor"]);

  // Everything, at once: four exits, each reaped.
  std::vector<pid_t> live;
  for (const char* id : {"f1/supervisor", "f1/qa", "f2/supervisor", "f2/qa"}) live.push_back(c.running_pid(id));
  auto killed = c.root.co({"--json", "agent", "kill", "--all"});
  INFO(killed.out << killed.err);
  REQUIRE(killed.exit_code == 0);
  CHECK(parse_json(killed.out)["count"] == 4);
  for (pid_t p : live) CHECK_FALSE(pid_alive(p));
  for (const char* id : {"f1/supervisor", "f1/qa", "f2/supervisor", "f2/qa"}) CHECK(c.agent(id)["status"] == "stopped");
  // Nothing to do is not an error.
  auto none = c.root.co({"agent", "stop", "--all"});
  CHECK(none.exit_code == 0);
  CHECK(contains(none.out, "stopped 0 agent(s)"));

  // Bad selections change nothing.
  CHECK(c.root.co({"agent", "stop"}).exit_code == 2);
  CHECK(c.root.co({"agent", "stop", "f1/qa", "--all"}).exit_code == 2);
  CHECK(c.call("agent.stop", {{"all", false}})["error"]["code"] == -32602);
  CHECK(c.call("agent.stop", {{"id", "f1/qa"}, {"role", "qa"}})["error"]["code"] == -32602);
  CHECK(c.call("agent.stop", {{"factory", "nope"}})["error"]["code"] == -32001);
  CHECK(c.call("agent.start", {{"role", "boss"}})["error"]["code"] == -32602);
  c.root.stop();
}

TEST_CASE("co operations stop counts every agent it stopped, the last ones included", "[supervision]") {
  // The count comes from the agents' events on a subscription. They are published after the
  // sync that covers them, so the daemon must not drain its connections before that sync
  // (at 2,000 agents, 105 were missing from the count).
  Company c(Settings{});
  c.start();
  for (int i = 0; i < 8; ++i) c.add_factory("f" + std::to_string(i));
  REQUIRE(eventually([&] { return c.result("status")["agents"]["by_status"].value("running", 0) == 16; }));
  auto r = c.root.co({"--json", "operations", "stop"}, 60s);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const json j = parse_json(r.out);
  CHECK(j["agents_stopped"] == 16);
}
