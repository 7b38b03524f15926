// Governance on the real daemon with real agent processes: a pause freezes the agent's whole
// process group (its grandchild too, state T in /proc), holds against SIGCONT by hand and
// across a kill -9 of the daemon, and no agent can pause or resume anyone, itself included.
#include "tests/catch.hpp"

#include <signal.h>

#include <fstream>

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
// SIGSTOP and SIGCONT are sent before the daemon answers, but take effect when the process is
// next scheduled: on a loaded machine a few ms later.
bool becomes_stopped(pid_t pid) { return eventually([&] { return stopped(pid); }, std::chrono::seconds(2)); }
bool becomes_running(pid_t pid) { return eventually([&] { return !stopped(pid); }, std::chrono::seconds(2)); }

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
  CHECK(becomes_stopped(leader));  // signalled before the answer
  CHECK(becomes_stopped(child));
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
  CHECK(becomes_stopped(leader));
  CHECK(becomes_stopped(child));
  CHECK(c.events("agent.refrozen", "f/qa").size() == 1);  // it had not been continued: no event

  // Resume: SIGCONT, running, the same processes.
  const json resumed = c.co_json({"agent", "resume", "f/qa"});
  CHECK(resumed["status"] == "running");
  CHECK(resumed["pid"] == leader);
  CHECK(becomes_running(leader));
  CHECK(becomes_running(child));
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
  // One that dies while paused (kill -9 from outside) is not brought back.
  c.co_json({"agent", "start", "f/qa"});
  const pid_t again = c.running_pid("f/qa");
  c.co_json({"agent", "pause", "f/qa"});
  REQUIRE(::kill(again, SIGKILL) == 0);
  REQUIRE(c.wait_status("f/qa", "stopped", 10s));
  CHECK(c.agent("f/qa")["desired"] == "stopped");
  CHECK(c.events("agent.restarting", "f/qa").empty());
  c.root.stop();
}

TEST_CASE("a report past a cap freezes the worker and its grandchild, its work order waits for an approval",
          "[governance][budgets]") {
  Settings s;
  Company c(s);
  const std::string box = c.root.path("spender");
  s.worker = {"/bin/sh", c.script("spender.sh", "box=\"" + box + "\"\n" + R"SH(
co wo transition "$WORK_ORDER" --to in_progress --reason start >/dev/null 2>&1
echo "half done" > draft.txt
sleep 300 &
echo $! >"$box.child"
touch "$box.ready"
exec sleep 300
)SH")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  auto created = c.root.wo({"create", "--title=costly", "--factory", "f"});
  REQUIRE(created.exit_code == 0);
  const std::string wo = created.out.substr(0, created.out.find('\n'));
  c.co_json({"dispatch", wo, "f"});
  REQUIRE(eventually([&] { return file_exists(box + ".ready"); }, 20s));
  REQUIRE(eventually([&] { return c.result("wo.show", {{"id", wo}})["status"] == "in_progress"; }, 10s));
  const std::string id = "f/workers/slot0";
  const pid_t leader = c.running_pid(id);
  const pid_t child = static_cast<pid_t>(std::stol(read_file(box + ".child")));
  c.co_json({"budget", "set", "agent", id, "--daily-cap", "1.5"});

  // The crossing report: answered exceeded, and by then both processes are stopped.
  const json crossing = c.result("cost.report", {{"agent", id}, {"amount", 2}});
  CHECK(becomes_stopped(leader));
  CHECK(becomes_stopped(child));
  CHECK(crossing["exceeded"] == true);
  REQUIRE(crossing["paused"].size() == 1);
  CHECK(crossing["paused"][0] == id);
  REQUIRE(crossing["approvals"].size() == 1);
  const long long approval = crossing["approvals"][0];
  const json agent = c.agent(id);
  CHECK(agent["status"] == "paused");
  CHECK(agent["reason"] == "budget");
  CHECK(c.result("wo.show", {{"id", wo}})["status"] == "needs_approval");
  const json pending = c.result("approval.list", {{"status", "pending"}})["approvals"];
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["id"] == approval);
  CHECK(pending[0]["kind"] == "budget");
  CHECK(pending[0]["agent"] == id);
  CHECK(pending[0]["work_order"] == wo);
  CHECK(pending[0]["scope"] == "agent");
  CHECK(pending[0]["spend"] == 2);
  CHECK(pending[0]["cap"] == 1.5);
  CHECK(pending[0]["prior_status"] == "in_progress");
  json alert;
  const json open_alerts = c.result("alert.list", {{"resolved", false}});
  for (const auto& a : open_alerts["alerts"])
    if (a.value("type", "") == "budget_exceeded") alert = a;
  REQUIRE(alert.is_object());
  CHECK(alert["severity"] == "critical");
  // Capped: reports are refused; the approval is refused while the cap still stands.
  CHECK(error_code(c.call("cost.report", {{"agent", id}, {"amount", 0.1}})) == -32004);
  const json early = c.call("approval.approve", {{"id", approval}, {"decision", "go on"}});
  CHECK(error_code(early) == -32004);
  CHECK(c.agent(id)["status"] == "paused");
  CHECK(becomes_stopped(leader));
  CHECK(error_code(c.call("approval.approve", {{"id", approval}})) == -32602);  // a decision says why: required

  // Raised, then approved: thawed, the work order back to in_progress.
  c.co_json({"budget", "set", "agent", id, "--daily-cap", "5"});
  const json approved = c.co_json({"approval", "approve", std::to_string(approval), "-m", "worth it"});
  CHECK(approved["status"] == "approved");
  CHECK(approved["decision"] == "worth it");
  CHECK(c.agent(id)["status"] == "running");
  CHECK(becomes_running(leader));
  CHECK(becomes_running(child));
  CHECK(c.result("wo.show", {{"id", wo}})["status"] == "in_progress");
  CHECK(error_code(c.call("approval.approve", {{"id", approval}, {"decision", "again"}})) == -32002);

  // Past the raised cap: paused again; denied this time: the work order canceled, the worker
  // stopped with its worktree saved first.
  const json again = c.result("cost.report", {{"agent", id}, {"amount", 4}});
  REQUIRE(again["approvals"].size() == 1);
  const long long second = again["approvals"][0];
  const json denied = c.co_json({"approval", "deny", std::to_string(second), "-m", "too expensive"});
  CHECK(denied["status"] == "denied");
  REQUIRE(eventually([&] { return !pid_alive(leader); }, 20s));
  CHECK(c.result("wo.show", {{"id", wo}})["status"] == "canceled");
  const auto canceled = c.events("wo.transitioned", wo).back();
  CHECK(canceled["data"]["reason"] == "too expensive");
  const auto saved = c.events("worktree.saved", wo);
  const auto stops = c.events("agent.stopping", id);
  REQUIRE(!saved.empty());
  REQUIRE(!stops.empty());
  CHECK(id_of(saved.front()) < id_of(stops.back()));
  CHECK(c.result("approval.list", {{"status", "denied"}})["approvals"].size() == 1);
  // Approvals and caps are projections: a rebuild agrees.
  CHECK(c.co_json({"wo", "rebuild-projections"})["differences"] == 0);
  c.root.stop();
}

TEST_CASE("an approval with override waives the cap for the rest of the day", "[governance][budgets]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f");
  const pid_t qa = c.running_pid("f/qa");
  c.co_json({"budget", "set", "agent", "f/qa", "--daily-cap", "1"});
  const json crossing = c.result("cost.report", {{"agent", "f/qa"}, {"amount", 2}});
  REQUIRE(crossing["approvals"].size() == 1);
  CHECK(becomes_stopped(qa));
  const std::string approval = std::to_string(crossing["approvals"][0].get<long long>());
  auto listing = c.root.co({"approval", "list"});
  CHECK(contains(listing.out, "f/qa"));
  const json approved = c.co_json({"approval", "approve", approval, "-m", "deadline", "--override"});
  CHECK(approved["override"] == true);
  CHECK(becomes_running(qa));
  // Waived today: reports count again, nothing is paused.
  const json more = c.result("cost.report", {{"agent", "f/qa"}, {"amount", 1}});
  CHECK(more["exceeded"] == false);
  CHECK(c.agent("f/qa")["status"] == "running");
  // Across a restart too.
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  CHECK(c.result("cost.report", {{"agent", "f/qa"}, {"amount", 1}})["exceeded"] == false);
  c.root.stop();
}

TEST_CASE("an agent that starts under a factory cap already past is frozen at its start, with its own approval",
          "[governance][budgets]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f");
  c.co_json({"budget", "set", "factory", "f", "--daily-cap", "1"});
  const json crossing = c.result("cost.report", {{"agent", "f/qa"}, {"amount", 2}});
  CHECK(crossing["exceeded"] == true);
  CHECK(crossing["paused"].size() == 2);  // the supervisor and QA: the workers do not exist yet
  // Every agent of the factory says what holds it; its own cap is still its own.
  const json supervisor = c.agent("f/supervisor");
  CHECK(supervisor["daily_cap"] == 10);
  REQUIRE(supervisor["over_cap"].is_object());
  CHECK(supervisor["over_cap"]["scope"] == "factory");
  CHECK(supervisor["over_cap"]["id"] == "f");
  CHECK(supervisor["over_cap"]["cap"] == 1);

  // A worker spawned now would run past the cap: it is frozen as soon as it runs.
  const json spawned = c.co_json({"worker", "spawn", "f"});
  const std::string worker = spawned["id"];
  REQUIRE(eventually([&] { return c.agent(worker)["status"] == "paused"; }, 10s));
  const pid_t pid = c.agent(worker)["pid"].get<pid_t>();
  CHECK(becomes_stopped(pid));
  CHECK(c.agent(worker)["reason"] == "budget");
  const json pending = c.result("approval.list", {{"status", "pending"}})["approvals"];
  REQUIRE(pending.size() == 3);
  json mine;
  for (const auto& a : pending)
    if (a["agent"] == worker) mine = a;
  REQUIRE(mine.is_object());
  CHECK(mine["scope"] == "factory");
  // Raised and approved: it runs, and nothing holds the factory's agents any more.
  c.co_json({"budget", "set", "factory", "f", "--daily-cap", "50"});
  c.co_json({"approval", "approve", std::to_string(mine["id"].get<long long>()), "-m", "ok"});
  CHECK(becomes_running(pid));
  CHECK(c.agent(worker)["status"] == "running");
  CHECK(c.agent(worker)["over_cap"].is_null());
  c.root.stop();
}

TEST_CASE("retention: events older than retention_days leave for the day files at start, audit export still has them",
          "[governance][audit]") {
  REQUIRE(in_path("sqlite3"));
  Settings s;
  Company c(s);
  c.start();
  for (int i = 0; i < 10; ++i) c.result("wo.create", {{"title", "old " + std::to_string(i)}});
  const long long old_upto = c.result("status")["last_event_id"];
  const json before = c.result("wo.list", json::object());
  c.root.stop();
  // Age the first events past the 30 days of the default, as if the company had run since 2020
  // (past the append-only trigger, put back as it was).
  auto r = run({"sqlite3", c.root.db_file(),
                "DROP TRIGGER events_no_update; "
                "UPDATE events SET ts = '2020-01-01T00:00:00.000Z' WHERE id <= " + std::to_string(old_upto) + "; "
                "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
                "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);

  c.start();
  REQUIRE(eventually([&] { return !c.events("events.archived").empty(); }));
  const json a = c.events("events.archived").back();
  CHECK(a["actor"] == "operations");
  CHECK(a["data"]["archived"] == old_upto);
  CHECK(a["data"]["checkpoint_event_id"] == old_upto);
  const std::string day = c.root.path(".work/archive/events-2020-01-01.jsonl");
  const auto archived = lines_of(read_file(day));
  REQUIRE(archived.size() == static_cast<size_t>(old_upto));
  CHECK(parse_json(archived.front())["id"] == 1);
  // The database keeps the rest; the projections are what they were.
  const json left = c.result("events.query", {{"limit", 10000}});  // kept: a range-for over a temporary's member dangles
  for (const auto& e : left["events"]) CHECK(e["id"].get<long long>() > old_upto);
  CHECK(c.result("wo.list", json::object()) == before);
  // The audit export reads the day file and the database as one log.
  const json all = c.result("audit.export", {{"start", "2019-01-01"}, {"end", "2999-12-31"}, {"limit", 5000}});
  long long expected = 1;
  for (const auto& e : all["events"]) CHECK(e["id"].get<long long>() == expected++);
  CHECK(expected - 1 == c.result("status")["last_event_id"].get<long long>());
  CHECK(c.events("events.archived").size() == 1);
  c.root.stop();
}

TEST_CASE("audit export: 25,000 events, archived days included, every id once and in order", "[governance][audit]") {
  Settings s;
  Company c(s);
  c.start();
  // 20,000 work orders, pipelined a thousand at a time; then all of it is archived to day
  // files, and 5,000 more stay in the database.
  RawClient client(c.root.socket_path());
  auto create = [&](int n, int from) {
    for (int done = 0; done < n; done += 1000) {
      std::string lines;
      for (int i = 0; i < 1000; ++i)
        lines += request_line(from + done + i, "wo.create", {{"title", "audit " + std::to_string(from + done + i)}});
      REQUIRE(client.send(lines, 30s) == lines.size());
      for (int i = 0; i < 1000; ++i) REQUIRE(client.read_json(60s).contains("result"));
    }
  };
  create(20000, 0);
  // A cutoff in the future, not "0s": the cutoff is a millisecond timestamp, and the last
  // creates can share the millisecond of "now" (then 19,999 were archived).
  const json archived = c.result("events.archive", {{"older_than", "2999-01-01T00:00:00.000Z"}});
  CHECK(archived["archived"].get<long long>() >= 20000);
  create(5000, 20000);
  const long long last = c.result("status")["last_event_id"];
  REQUIRE(last >= 25000);

  const std::string file = c.root.path("audit.jsonl");
  auto r = c.root.co({"audit", "export", "--start", "2000-01-01", "--end", "2999-12-31", "-o", file}, 120s);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.err, "exported " + std::to_string(last) + " events"));
  long long expected = 1, lines = 0;
  bool in_order = true;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const json e = parse_json(line);
    if (e.value("id", 0LL) != expected) in_order = false;
    ++expected;
    ++lines;
  }
  CHECK(in_order);
  CHECK(lines == last);
  // Pages: the daemon caps them, and the cursor leads on until null.
  const json page = c.result("audit.export", {{"start", "2000-01-01"}, {"end", "2999-12-31"}, {"limit", 100000}});
  CHECK(page["limit"] == 5000);
  CHECK(page["events"].size() == 5000);
  CHECK(page["next_after_id"] == 5000);
  const json tail = c.result("audit.export", {{"start", "2000-01-01"}, {"end", "2999-12-31"}, {"after_id", last - 3}});
  CHECK(tail["events"].size() == 3);
  CHECK(tail["next_after_id"].is_null());
  // A range that holds nothing, and bad bounds.
  CHECK(c.result("audit.export", {{"start", "2001-01-01"}, {"end", "2001-01-31"}})["events"].empty());
  CHECK(error_code(c.call("audit.export", {{"start", "yesterday"}, {"end", "2001-01-31"}})) == -32602);
  CHECK(error_code(c.call("audit.export", {{"start", "2001-02-01"}, {"end", "2001-01-31"}})) == -32602);
  c.root.stop();
}

TEST_CASE("the squad pause freezes every agent, holds dispatch, spawns and restarts, and resumes only its own",
          "[governance][squad]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f");
  const pid_t supervisor = c.running_pid("f/supervisor");
  const pid_t qa = c.running_pid("f/qa");
  c.co_json({"agent", "pause", "f/qa"});  // an operator's own pause, before the squad's
  auto created = c.root.wo({"create", "--title=later", "--factory", "f"});
  REQUIRE(created.exit_code == 0);
  const std::string wo = created.out.substr(0, created.out.find('\n'));

  const json paused = c.co_json({"pause", "--all", "--reason", "incident"});
  CHECK(paused["paused"] == true);
  REQUIRE(paused["frozen"].size() == 1);
  CHECK(paused["frozen"][0] == "f/supervisor");
  CHECK(becomes_stopped(supervisor));
  CHECK(c.agent("f/supervisor")["reason"] == "squad");
  CHECK(c.agent("f/qa")["reason"] == "operator");
  CHECK(c.result("status")["squad"]["paused"] == true);
  CHECK(c.result("status")["squad"]["reason"] == "incident");
  auto refused = c.root.co({"dispatch", wo, "f"});
  CHECK(refused.exit_code != 0);
  CHECK(contains(refused.err, "squad paused"));
  CHECK(error_code(c.call("worker.spawn", {{"factory", "f"}})) == -32002);
  CHECK(c.root.co({"pause"}).exit_code == 2);  // --all is required

  // A crash while squad-paused is not restarted: its restart waits in the held queue.
  REQUIRE(::kill(supervisor, SIGKILL) == 0);
  REQUIRE(eventually([&] { return !c.events("agent.exited", "f/supervisor").empty(); }, 10s));
  REQUIRE(eventually([&] {
    const json a = c.agent("f/supervisor");
    return a["pid"].is_null() && a["next_start_in_seconds"].is_null() && a["status"] == "backoff";
  }, 10s));
  CHECK(error_code(c.call("agent.start", {{"id", "f/supervisor"}})) == -32002);

  // Across a daemon restart, still paused.
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  CHECK(c.result("status")["squad"]["paused"] == true);
  CHECK(becomes_stopped(qa));
  CHECK(error_code(c.call("worker.spawn", {{"factory", "f"}})) == -32002);

  // Resume: only what the squad froze; the held restart goes ahead; the operator's pause stays.
  const json resumed = c.co_json({"resume", "--all"});
  CHECK(resumed["paused"] == false);
  c.running_pid("f/supervisor");
  CHECK(c.agent("f/qa")["status"] == "paused");
  CHECK(becomes_stopped(qa));
  CHECK(c.co_json({"dispatch", wo, "f"})["work_order"]["status"] == "assigned");
  CHECK(c.co_json({"wo", "rebuild-projections"})["differences"] == 0);
  c.root.stop();
}

TEST_CASE("agent.reset clears the counters and the start limit, counts today's spend from zero, keeps history",
          "[governance][reset]") {
  Settings s;
  s.burst = 3;
  Company c(s);
  const std::string healthy = c.root.path("healthy");
  // The QA agent crashes until told to be healthy.
  s.qa = {"/bin/sh", c.script("flaky.sh", "[ -e \"" + healthy + "\" ] || exit 1\nexec sleep 300\n")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  REQUIRE(c.wait_status("f/qa", "failed", 20s));
  const json failed = c.agent("f/qa");
  CHECK(failed["error_streak"].get<int>() >= 3);
  c.result("cost.report", {{"agent", "f/qa"}, {"amount", 3}});
  CHECK(c.agent("f/qa")["today_spend"] == 3);
  CHECK(error_code(c.call("agent.reset", {{"id", "f/nobody"}})) == -32001);

  write_file(healthy, "");
  const json reset = c.co_json({"agent", "reset", "f/qa"});
  CHECK(reset["error_streak"] == 0);
  CHECK(reset["restart_count"] == 0);
  CHECK(reset["today_spend"] == 0);
  const auto events = c.events("agent.reset", "f/qa");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["data"]["was"]["status"] == "failed");
  CHECK(events[0]["actor"] == "operator");
  // The patrol starts it again; its crash-loop alerts are resolved; the history stays.
  c.running_pid("f/qa");
  const json open_alerts = c.result("alert.list", {{"resolved", false}});
  for (const auto& a : open_alerts["alerts"]) CHECK(a.value("subject", "") != "f/qa");
  CHECK(c.result("cost.summary", {{"by", "agent"}})["total"] == 3);  // the record keeps it
  CHECK(c.result("status")["today_spend"] == 3);                      // and the company spent it
  CHECK(c.agent("f/qa")["today_spend"] == 0);
  CHECK(!c.events("agent.exited", "f/qa").empty());
  // A restarted daemon counts the same.
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  CHECK(c.agent("f/qa")["today_spend"] == 0);
  CHECK(c.result("status")["today_spend"] == 3);
  CHECK(c.co_json({"wo", "rebuild-projections"})["differences"] == 0);
  c.root.stop();
}

TEST_CASE("quarantine stops an agent with its work saved and returned, holds it out of work until released",
          "[governance][quarantine]") {
  Settings s;
  Company c(s);
  s.worker = {"/bin/sh", c.script("busy.sh", "co wo transition \"$WORK_ORDER\" --to in_progress --reason start "
                                             ">/dev/null 2>&1\necho draft > draft.txt\nexec sleep 300\n")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  auto create = [&](const std::string& title) {
    auto r = c.root.wo({"create", "--title=" + title, "--factory", "f"});
    REQUIRE(r.exit_code == 0);
    return r.out.substr(0, r.out.find('\n'));
  };
  const std::string wo = create("first");
  c.co_json({"dispatch", wo, "f"});
  REQUIRE(eventually([&] { return c.result("wo.show", {{"id", wo}})["status"] == "in_progress"; }, 10s));
  REQUIRE(eventually([&] { return fs::exists(c.root.path("f/.worktrees/slot0/draft.txt")); }, 10s));
  const pid_t worker = c.running_pid("f/workers/slot0");

  const json q = c.co_json({"agent", "quarantine", "f/workers/slot0", "--reason", "odd output"});
  CHECK(q["status"] == "quarantined");
  CHECK_FALSE(pid_alive(worker));
  CHECK(q["freed"]["refs"].size() >= 1);  // its worktree saved before the stop
  CHECK(c.result("wo.show", {{"id", wo}})["status"] == "blocked");  // given back (in_progress cannot be open)
  const auto held = c.events("agent.quarantined", "f/workers/slot0");
  REQUIRE(held.size() == 1);
  CHECK(held[0]["data"]["why"] == "odd output");
  CHECK(error_code(c.call("agent.start", {{"id", "f/workers/slot0"}})) == -32002);
  // Never dispatched to: the next work goes to slot 1.
  const std::string next = create("second");
  CHECK(c.co_json({"dispatch", next, "f"})["slot"] == 1);

  // A supervisor: stopped and held; the patrol (0.2 s) does not start it; released, it runs.
  c.co_json({"agent", "quarantine", "f/supervisor"});
  CHECK(c.agent("f/supervisor")["status"] == "quarantined");
  c.force_patrol("g");  // a patrol certainly ran
  CHECK(c.agent("f/supervisor")["status"] == "quarantined");
  CHECK(c.co_json({"agent", "release", "f/supervisor"})["status"] == "stopped");
  c.running_pid("f/supervisor");
  CHECK(error_code(c.call("agent.release", {{"id", "f/supervisor"}})) == -32002);
  c.co_json({"agent", "release", "f/workers/slot0"});
  CHECK(c.agent("f/workers/slot0")["status"] == "stopped");
  // It survives a restart, as every status does (the agents row).
  c.co_json({"agent", "quarantine", "f/qa"});
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  CHECK(c.agent("f/qa")["status"] == "quarantined");
  c.root.stop();
}
