// Governance on the real daemon with real agent processes: a pause freezes the agent's whole
// process group (its grandchild too, state T in /proc), holds against SIGCONT by hand and
// across a kill -9 of the daemon, and no agent can pause or resume anyone, itself included.
#include "tests/catch.hpp"

#include <signal.h>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;

namespace {

// The state letter of /proc/<pid>/stat: R, S, T (stopped) ...
char proc_state(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

bool stopped(pid_t pid) { return proc_state(pid) == 'T'; }

}  // namespace

TEST_CASE("agent.pause freezes the whole process group until resumed, and it holds", "[governance][pause]") {
  Settings s;
  Company c(s);
  const std::string box = c.root.path("pause");
  // The QA agent starts a grandchild in its group, then tries to resume and pause itself.
  s.qa = {"/bin/sh", c.script("qa-pause.sh", "box=\"" + box + "\"\n" + R"SH(
sleep 300 &
echo $! >"$box.child"
co --json agent pause "$AGENT_ID" >"$box.self_pause" 2>&1
co --json agent resume f/supervisor >"$box.other_resume" 2>&1
touch "$box.ready"
exec sleep 300
)SH")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  REQUIRE(eventually([&] { return file_exists(box + ".ready"); }, 20s));
  CHECK(contains(read_file(box + ".self_pause"), "-32003"));
  CHECK(contains(read_file(box + ".other_resume"), "-32003"));
  const pid_t leader = c.running_pid("f/qa");
  const pid_t child = static_cast<pid_t>(std::stol(read_file(box + ".child")));
  REQUIRE(pid_alive(child));
  CHECK(c.events("agent.paused").empty());

  const json paused = c.co_json({"agent", "pause", "f/qa", "--reason", "looking into it"});
  CHECK(paused["status"] == "paused");
  CHECK(paused["reason"] == "operator");
  CHECK(stopped(leader));  // at once: signalled before the answer
  CHECK(stopped(child));
  const auto events = c.events("agent.paused", "f/qa");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["actor"] == "operator");
  CHECK(events[0]["data"]["why"] == "looking into it");
  CHECK(events[0]["data"]["was"] == "running");
  // Twice: refused by the table? No: paused -> paused is a move onto itself; nothing new.
  CHECK(c.result("agent.pause", {{"id", "f/qa"}})["status"] == "paused");
  CHECK(c.events("agent.paused", "f/qa").size() == 1);

  // SIGCONT by hand: the next patrol (0.2 s) freezes it again, and says so.
  REQUIRE(::kill(-leader, SIGCONT) == 0);
  REQUIRE(eventually([&] { return !c.events("agent.refrozen", "f/qa").empty(); }, 10s));
  REQUIRE(eventually([&] { return stopped(leader) && stopped(child); }, 5s));

  // kill -9 of the daemon: still paused, still frozen, after re-adoption.
  c.root.kill_daemon();
  c.start();
  REQUIRE(c.wait_status("f/qa", "paused", 10s));
  CHECK(c.agent("f/qa")["pid"] == leader);
  CHECK(stopped(leader));
  CHECK(stopped(child));
  CHECK(c.events("agent.refrozen", "f/qa").size() == 1);  // it had not been continued: no event

  // Resume: SIGCONT, running, the same processes.
  const json resumed = c.co_json({"agent", "resume", "f/qa"});
  CHECK(resumed["status"] == "running");
  CHECK(resumed["pid"] == leader);
  CHECK_FALSE(stopped(leader));
  CHECK_FALSE(stopped(child));
  CHECK(c.events("agent.resumed", "f/qa").size() == 1);
  // Resuming what runs, pausing what has no process: -32002.
  CHECK(error_code(c.call("agent.resume", {{"id", "f/qa"}})) == -32002);
  c.co_json({"agent", "stop", "f/supervisor"});
  CHECK(error_code(c.call("agent.pause", {{"id", "f/supervisor"}})) == -32002);
  // A paused agent is stopped as any other (TERM with CONT, so it can act on it).
  c.co_json({"agent", "pause", "f/qa"});
  auto stop = c.root.co({"agent", "stop", "f/qa"}, 30s);
  CHECK(stop.exit_code == 0);
  CHECK_FALSE(pid_alive(leader));
  c.root.stop();
}
