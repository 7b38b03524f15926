// The patrol's remedies on the real daemon with real workers and real git: an idle worker
// without work reclaimed, and the whole stuck ladder (stuck + NUDGE, saved and restarted in
// its slot, then the work order given back with mail to the supervisor and an alert), with
// the wip refs proven saved before each stop. Durations are fractions of a minute.
#include "tests/catch.hpp"

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;

namespace {

std::string patrol_git(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", dir});
  auto r = run(args, {{"GIT_CONFIG_GLOBAL", "/dev/null"}, {"GIT_CONFIG_NOSYSTEM", "1"}}, 30s);
  INFO("git " << args[3] << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::string s = r.out;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The first event of `type` after `after` (by id), or null.
json first_after(const std::vector<json>& events, long long after) {
  for (const auto& e : events)
    if (id_of(e) > after) return e;
  return nullptr;
}

std::string create_wo(const Company& c, const std::string& factory) {
  auto r = c.root.wo({"create", "--title=quiet work", "--factory", factory});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

}  // namespace

TEST_CASE("an idle worker without a work order is reclaimed: saved, stopped, slot freed, supervisors only nudged",
          "[patrol][idle]") {
  Settings s;
  s.idle_minutes = 0.006;  // 0.36 s idle, 0.72 s to the reclaim
  Company c(s);
  s.worker = {"/bin/sh", c.script("scratch.sh", "echo \"notes of $AGENT_ID\" > scratch.txt\nexec sleep 300\n")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  const pid_t supervisor = c.running_pid("f/supervisor");
  const json spawned = c.co_json({"worker", "spawn", "f"});
  const std::string id = spawned.value("id", "f/workers/slot0");
  REQUIRE(id == "f/workers/slot0");
  const pid_t pid = c.running_pid(id);
  REQUIRE(eventually([&] { return fs::exists(c.root.path("f/.worktrees/slot0/scratch.txt")); }));

  // Idle first (one NUDGE that says what comes next), then reclaimed.
  REQUIRE(eventually([&] { return !c.events("worker.reclaimed", id).empty(); }, 20s));
  const json reclaimed = c.events("worker.reclaimed", id).front();
  CHECK(reclaimed["actor"] == "operations");
  CHECK(reclaimed["data"]["reason"] == "idle_timeout");
  CHECK(reclaimed["data"]["quiet_seconds"].get<double>() >= 0.7);
  CHECK(reclaimed["data"]["worktree_removed"] == true);
  REQUIRE(reclaimed["data"]["refs"].size() >= 1);
  const auto idled = c.events("agent.idle", id);
  REQUIRE(idled.size() == 1);
  const json inbox = c.co_json({"mail", "inbox", "--agent", id});
  REQUIRE(inbox["messages"].size() == 1);
  CHECK(inbox["messages"][0]["subject"] == "NUDGE");
  CHECK(contains(inbox["messages"][0]["body"].get<std::string>(), "reclaimed"));

  // Saved before the stop: the worktree.saved event comes before the stop's signal, and its
  // ref holds the uncommitted file.
  const auto saved = c.events("worktree.saved");
  const auto stopping = c.events("agent.stopping", id);
  REQUIRE(!saved.empty());
  REQUIRE(stopping.size() == 1);
  CHECK(id_of(saved.front()) < id_of(stopping.front()));
  CHECK(id_of(idled.front()) < id_of(saved.front()));
  CHECK(patrol_git(c.root.path("f"), {"show", saved.front()["data"]["ref"].get<std::string>() + ":scratch.txt"}) ==
        "notes of " + id);
  CHECK_FALSE(pid_alive(pid));
  const json after = c.agent(id);
  CHECK(after["status"] == "stopped");
  CHECK(after["reason"] == "idle_timeout");
  const auto stopped = c.events("agent.stopped", id);
  REQUIRE(!stopped.empty());
  CHECK(stopped.back()["actor"] == "operations");
  CHECK_FALSE(fs::exists(c.root.path("f/.worktrees/slot0")));

  // The supervisor and QA went idle too, and are still the same processes: nudged, never reclaimed.
  CHECK(c.agent("f/supervisor")["status"] == "idle");
  CHECK(c.agent("f/supervisor")["pid"] == supervisor);
  CHECK(c.events("worker.reclaimed", "f/supervisor").empty());
  CHECK(c.events("worker.reclaimed", "f/qa").empty());

  // The slot is free: the next spawn gets slot 0 again.
  const json again = c.co_json({"worker", "spawn", "f"});
  CHECK(again.value("id", "") == "f/workers/slot0");
  c.root.stop();
}

TEST_CASE("the stuck ladder: stuck and nudged, saved and restarted in its slot, then the work given back",
          "[patrol][stuck]") {
  Settings s;
  s.stuck_minutes = 0.01;  // 0.6 s stuck, 1.2 s to each remedy
  s.max_stuck_restarts = 1;
  Company c(s);
  // Each start: the first takes the work order; every start writes its attempt into the
  // worktree, wakes briefly (a heartbeat), then stays quiet. A worker that wakes after each
  // restart must still reach the give-back: the count is kept while it holds the work order.
  s.worker = {"/bin/sh", c.script("quiet.sh", R"SH(
starts="$COMPANY_ROOT/starts-$WORK_ORDER"
n=$(cat "$starts" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$starts"
if [ "$n" = 1 ]; then co wo transition "$WORK_ORDER" --to in_progress --reason start >/dev/null 2>&1; fi
echo "attempt $n" > draft.txt
co heartbeat --activity "attempt $n" >/dev/null 2>&1
exec sleep 300
)SH")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  const std::string wo = create_wo(c, "f");
  c.co_json({"dispatch", wo, "f"});
  const std::string id = "f/workers/slot0";
  const pid_t first = c.running_pid(id);

  // 1. stuck, with a NUDGE naming the work order.
  REQUIRE(eventually([&] { return !c.events("agent.stuck", id).empty(); }, 20s));
  const json stuck = c.events("agent.stuck", id).front();
  CHECK(stuck["data"]["work_order"] == wo);
  CHECK(stuck["data"]["reason"] == "stuck_timeout");

  // 2. saved, then restarted in the same slot with the same WORK_ORDER.
  REQUIRE(eventually([&] { return !c.events("slot.restarted", wo).empty(); }, 20s));
  const json restarted = c.events("slot.restarted", wo).front();
  CHECK(restarted["data"]["stuck_restarts"] == 1);
  CHECK(restarted["data"]["reason"] == "stuck_timeout");
  REQUIRE(restarted["data"]["refs"].size() == 1);
  const std::string ref1 = restarted["data"]["refs"][0];
  CHECK(patrol_git(c.root.path("f"), {"show", ref1 + ":draft.txt"}) == "attempt 1");
  REQUIRE(eventually([&] { return read_file(c.root.path("starts-" + wo)) == "2\n"; }, 20s));
  const pid_t second = c.running_pid(id);
  CHECK(second != first);
  CHECK_FALSE(pid_alive(first));
  const auto stops = c.events("agent.stopping", id);
  REQUIRE(!stops.empty());
  CHECK(id_of(restarted) < id_of(stops.front()));  // saved (and recorded) before the stop
  const json worker = c.agent(id);
  CHECK(worker["current_work_order"] == wo);

  // 3. stuck again after its brief wake, then given back: reclaimed (saved first), the work
  // order in_progress -> assigned -> open, STUCK mail to the supervisor, a stuck alert.
  REQUIRE(eventually([&] { return c.result("wo.show", {{"id", wo}}).value("status", "") == "open"; }, 30s));
  REQUIRE(c.events("agent.stuck", id).size() == 2);
  const auto moves = c.events("wo.transitioned", wo);
  REQUIRE(moves.size() >= 4);  // assigned, in_progress, then the two steps back
  const json back1 = moves[moves.size() - 2], back2 = moves.back();
  CHECK(back1["data"]["from"] == "in_progress");
  CHECK(back1["data"]["to"] == "assigned");
  CHECK(back2["data"]["from"] == "assigned");
  CHECK(back2["data"]["to"] == "open");
  for (const json& m : {back1, back2}) {
    CHECK(m["actor"] == "operations");
    CHECK(m["data"]["reason"] == "stuck_timeout");
  }
  const json freed = c.events("slot.freed", wo).back();
  CHECK(freed["data"]["reason"] == "stuck_timeout");
  REQUIRE(freed["data"]["refs"].size() >= 1);
  const std::string ref2 = freed["data"]["refs"][0];
  CHECK(ref2 != ref1);
  CHECK(patrol_git(c.root.path("f"), {"show", ref2 + ":draft.txt"}) == "attempt 2");
  const json save2 = first_after(c.events("worktree.saved", wo), id_of(restarted));
  REQUIRE(save2.is_object());
  const json stop2 = first_after(c.events("agent.stopping", id), id_of(stops.front()));
  REQUIRE(stop2.is_object());
  CHECK(id_of(save2) < id_of(stop2));  // saved before the second stop too
  CHECK_FALSE(pid_alive(second));
  CHECK(c.agent(id)["status"] == "stopped");
  CHECK(c.agent(id)["reason"] == "stuck_timeout");
  CHECK(c.result("wo.show", {{"id", wo}})["assignee"].is_null());

  const json mail = c.co_json({"mail", "inbox", "--agent", "f/supervisor"});
  json stuck_mail;
  for (const auto& m : mail["messages"])
    if (m["subject"] == "STUCK") stuck_mail = m;
  REQUIRE(stuck_mail.is_object());
  CHECK(stuck_mail["from"] == "operations");
  CHECK(contains(stuck_mail["body"].get<std::string>(), wo));
  CHECK(contains(stuck_mail["body"].get<std::string>(), ref2));
  const json alerts = c.result("alert.list", {{"resolved", false}});
  json stuck_alert;
  for (const auto& a : alerts["alerts"])
    if (a.value("kind", a.value("type", "")) == "stuck") stuck_alert = a;
  REQUIRE(stuck_alert.is_object());
  CHECK(stuck_alert["severity"] == "warning");

  // The worker's NUDGEs: one per stuck spell.
  const json inbox = c.co_json({"mail", "inbox", "--agent", id});
  int nudges = 0;
  for (const auto& m : inbox["messages"]) nudges += m["subject"] == "NUDGE";
  CHECK(nudges == 2);
  // Nothing restarts it, and the work order can be dispatched again (into slot 0, the branch kept).
  CHECK(c.events("slot.restarted", wo).size() == 1);
  const json again = c.co_json({"dispatch", wo, "f"});
  CHECK(again["slot"] == 0);
  CHECK(again["branch"] == "work/" + wo);
  c.root.stop();
}

TEST_CASE("new output in an agent's log is activity: a printing agent is not idle", "[patrol][idle]") {
  Settings s;
  s.idle_minutes = 0.006;  // 0.36 s
  Company c(s);
  const std::string done = c.root.path("qa-done");
  // Prints for 1.5 s (four idle timeouts), nothing else; then is quiet.
  s.qa = {"/bin/sh", c.script("ticker.sh", "i=0\nwhile [ $i -lt 15 ]; do echo \"tick $i\"; sleep 0.1; i=$((i + 1)); done\n"
                                           "touch \"" + done + "\"\nexec sleep 300\n")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  const pid_t pid = c.running_pid("f/qa");
  REQUIRE(eventually([&] { return file_exists(done); }, 20s));
  CHECK(c.events("agent.idle", "f/qa").empty());  // it printed all along
  REQUIRE(c.wait_status("f/qa", "idle", 10s));       // and then it did not
  const json qa = c.agent("f/qa");
  CHECK(qa["pid"] == pid);
  CHECK(qa["last_activity"].is_string());
  c.root.stop();
}

TEST_CASE("a work order going round in circles is blocked by the daemon with a loop summary and an alert",
          "[patrol][loops]") {
  Settings s;
  s.loop_review_cycles = 2;
  Company c(s);
  c.start();
  c.add_factory("f");
  const std::string wo = create_wo(c, "f");
  auto move = [&](const std::string& to) {
    auto r = c.root.wo({"transition", wo, "--to", to, "--reason", "try " + to});
    INFO(r.out << r.err);
    return r.exit_code;
  };
  REQUIRE(move("assigned") == 0);
  REQUIRE(move("in_progress") == 0);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(move("review") == 0);
    REQUIRE(move("in_progress") == 0);
  }
  // Two round trips: within the limit.
  REQUIRE(move("review") == 0);
  CHECK(c.result("wo.show", {{"id", wo}})["status"] == "review");
  REQUIRE(move("in_progress") == 0);  // the third
  REQUIRE(eventually([&] { return c.result("wo.show", {{"id", wo}}).value("status", "") == "blocked"; }, 10s));

  const json blocked = c.events("wo.transitioned", wo).back();
  CHECK(blocked["actor"] == "operations");
  CHECK(blocked["data"]["reason"] == "loop");
  CHECK(blocked["data"]["from"] == "in_progress");
  const auto detected = c.events("wo.loop_detected", wo);
  REQUIRE(detected.size() == 1);
  CHECK(detected[0]["data"]["review_cycles"] == 3);
  const std::string summary = detected[0]["data"]["summary"];
  CHECK(summary.rfind(c.root.path(".work/artifacts/" + wo + "/loop-"), 0) == 0);
  const std::string text = read_file(summary);
  CHECK(contains(text, "3 review -> in_progress round trips (max_review_cycles = 2)"));
  CHECK(contains(text, "| review -> in_progress | operator | try in_progress |"));
  CHECK(contains(text, "- operator: 8"));
  const json shown = c.result("wo.show", {{"id", wo}});
  REQUIRE(shown["artifacts"].size() == 1);
  CHECK(shown["artifacts"][0] == summary);
  auto show = c.root.wo({"show", wo});
  CHECK(contains(show.out, summary));
  json alert;
  const json open_alerts = c.result("alert.list", {{"resolved", false}});
  for (const auto& a : open_alerts["alerts"])
    if (a.value("kind", a.value("type", "")) == "loop_detected") alert = a;
  REQUIRE(alert.is_object());
  CHECK(contains(alert["message"].get<std::string>(), wo));

  // An operator's unblock starts a fresh count: one more round trip does not block it again.
  REQUIRE(move("in_progress") == 0);
  REQUIRE(move("review") == 0);
  REQUIRE(move("in_progress") == 0);
  REQUIRE(move("review") == 0);
  CHECK(c.result("wo.show", {{"id", wo}})["status"] == "review");
  CHECK(c.events("wo.loop_detected", wo).size() == 1);
  // The rebuilt projections agree with the live ones (the artifact is folded from its event).
  const json rebuilt = c.co_json({"wo", "rebuild-projections"});
  CHECK(rebuilt.value("differences", -1) == 0);
  c.root.stop();
}

TEST_CASE("more transitions in an hour than max_transitions_per_hour is a loop too", "[patrol][loops]") {
  Settings s;
  s.loop_transitions = 5;
  Company c(s);
  c.start();
  c.add_factory("f");
  const std::string wo = create_wo(c, "f");
  for (const char* to : {"assigned", "open", "assigned", "open", "assigned"})
    REQUIRE(c.root.wo({"transition", wo, "--to", to, "--reason", "flap"}).exit_code == 0);
  CHECK(c.result("wo.show", {{"id", wo}})["status"] == "assigned");  // five: within the limit
  REQUIRE(c.root.wo({"transition", wo, "--to", "in_progress", "--reason", "flap"}).exit_code == 0);
  // The sixth transition: blocked.
  REQUIRE(eventually([&] { return c.result("wo.show", {{"id", wo}}).value("status", "") == "blocked"; }, 10s));
  const auto detected = c.events("wo.loop_detected", wo);
  REQUIRE(detected.size() == 1);
  CHECK(detected[0]["data"]["transitions_in_last_hour"] == 6);
  CHECK(contains(detected[0]["data"]["passed"].get<std::string>(), "max_transitions_per_hour = 5"));
  c.root.stop();
}
