// Dispatch, slots and the log's upkeep as an operator sees them: the real daemon, the real
// `co`, real git (worktrees, wip refs, the sync branch) and real worker processes that move
// their own work orders through the socket. Every wait has a deadline.
#include "tests/catch.hpp"

#include <regex>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const Env kGitEnv = {{"GIT_CONFIG_GLOBAL", "/dev/null"}, {"GIT_CONFIG_NOSYSTEM", "1"}};

RunResult git(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", dir, "-c", "user.name=it", "-c", "user.email=it@example.invalid"});
  return run(args, kGitEnv, 30s);
}

std::string git_out(const std::string& dir, std::vector<std::string> args) {
  auto r = git(dir, args);
  INFO("git " << args.front() << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::string s = r.out;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A worker that does its job: starts the work order, leaves a file uncommitted, and hands
// the work to review; then idles until it is stopped.
const char* kFinishingWorker =
    "co wo transition \"$WORK_ORDER\" --to in_progress --reason start >> \"$COMPANY_ROOT/worker.log\" 2>&1\n"
    "echo \"work of $WORK_ORDER\" > result.txt\n"
    "co wo transition \"$WORK_ORDER\" --to review --reason done >> \"$COMPANY_ROOT/worker.log\" 2>&1\n"
    "exec sleep 300\n";

// A worker that starts the work order and keeps working (dirty worktree) until killed.
const char* kBusyWorker =
    "co wo transition \"$WORK_ORDER\" --to in_progress --reason start >> \"$COMPANY_ROOT/worker.log\" 2>&1\n"
    "echo \"half done\" > draft.txt\n"
    "pwd > \"$COMPANY_ROOT/worker-cwd-$WORK_ORDER\"\n"
    "exec sleep 300\n";

struct Fixture {
  Settings s;
  std::unique_ptr<Company> c;
  explicit Fixture(const char* worker_body, int slots = 5) {
    s.max_slots = slots;
    c = std::make_unique<Company>(s);
    s.worker = {"/bin/sh", c->script("worker.sh", worker_body)};
    c->root.write_config(config_text(s));
    c->start();
    c->add_factory("f");
  }
  Company& operator*() { return *c; }
  Company* operator->() { return c.get(); }
  std::string create(const std::string& title = "some work") {
    auto r = c->root.wo({"create", "--title=" + title, "--factory", "f"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    std::string id = r.out.substr(0, r.out.find('\n'));
    REQUIRE(wo_id(id));
    return id;
  }
  json dispatch(const std::string& id) { return c->co_json({"dispatch", id, "f"}); }
  json show(const std::string& id) { return c->result("wo.show", {{"id", id}}); }
  std::string status(const std::string& id) { return show(id).value("status", ""); }
  static bool wo_id(const std::string& id) { return std::regex_match(id, std::regex("[a-z0-9]{1,16}-[a-z0-9]{6,}")); }
};

}  // namespace

TEST_CASE("dispatch: lowest free slot, branch, worktree, assignment file, worker with WORK_ORDER", "[dispatch]") {
  Fixture f(kBusyWorker, 2);
  const std::string a = f.create("first"), b = f.create("second"), extra = f.create("third");
  json d = f.dispatch(a);
  CHECK(d["agent"] == "f/workers/slot0");
  CHECK(d["slot"] == 0);
  CHECK(d["branch"] == "work/" + a);
  const std::string wt = f->root.path("f/.worktrees/slot0");
  CHECK(d["worktree"] == wt);
  CHECK(d["work_order"]["status"] == "assigned");
  CHECK(d["work_order"]["assignee"] == "f/workers/slot0");
  CHECK(git_out(wt, {"rev-parse", "--abbrev-ref", "HEAD"}) == "work/" + a);

  json file = parse_json(read_file(f->root.path(".work/.assignment-f-workers-slot0")));
  REQUIRE(!file.is_discarded());
  CHECK(file["work_order"] == a);
  CHECK(file["agent"] == "f/workers/slot0");
  CHECK(file["worktree"] == wt);

  // The worker runs in the worktree with its work order, and moves it itself.
  pid_t pid = f->running_pid("f/workers/slot0");
  // /proc/PID/environ can read empty in the instant after exec: wait for it.
  CHECK(eventually([&] {
    auto env = environ_of(pid);
    return std::find(env.begin(), env.end(), "WORK_ORDER=" + a) != env.end();
  }));
  CHECK(eventually([&] { return f.status(a) == "in_progress"; }));
  CHECK(eventually([&] { return file_exists(f->root.path("worker-cwd-" + a)); }));
  CHECK(read_file(f->root.path("worker-cwd-" + a)) == wt + "\n");
  auto moved = f->events("wo.transitioned", a);
  REQUIRE(moved.size() == 2);
  CHECK(moved[1]["actor"] == "f/workers/slot0");

  json d2 = f.dispatch(b);
  CHECK(d2["slot"] == 1);
  REQUIRE(eventually([&] { return f.status(b) == "in_progress"; }));  // its worker is done writing

  // Both slots are taken: -32002, and nothing changes.
  const auto last = f->result("events.query", {{"limit", 1}, {"newest_first", true}})["last_id"].get<long long>();
  auto refused = f->call("dispatch", {{"work_order", extra}, {"factory", "f"}});
  REQUIRE(refused.contains("error"));
  CHECK(refused["error"]["code"] == -32002);
  CHECK(f->result("events.query", {{"limit", 1}, {"newest_first", true}})["last_id"].get<long long>() == last);
  CHECK(f.status(extra) == "open");
  CHECK_FALSE(file_exists(f->root.path(".work/.assignment-f-workers-slot2")));
  CHECK_FALSE(fs::exists(f->root.path("f/.worktrees/slot2")));
  auto cli = f->root.co({"dispatch", extra, "f"});
  CHECK(cli.exit_code == 1);
  CHECK(contains(cli.err, "no free slot"));

  // Dispatching the same work order twice is a conflict too.
  auto twice = f->call("dispatch", {{"work_order", a}, {"factory", "f"}});
  CHECK(twice["error"]["code"] == -32002);
}

TEST_CASE("dispatch gives the work to a running idle worker before it spawns into a new slot", "[dispatch]") {
  Fixture f("if [ -z \"$WORK_ORDER\" ]; then echo notes > idle-notes.txt; touch \"$COMPANY_ROOT/idle-ready\"; fi\n"
            "exec sleep 300\n", 3);
  const json spawned = f->co_json({"worker", "spawn", "f"});
  CHECK(spawned["id"] == "f/workers/slot0");
  REQUIRE(eventually([&] { return file_exists(f->root.path("idle-ready")); }));
  const pid_t pid = f->running_pid("f/workers/slot0");
  const std::string a = f.create("for the idle one"), b = f.create("for a new one");

  const json d = f.dispatch(a);
  CHECK(d["agent"] == "f/workers/slot0");
  CHECK(d["reused"] == true);
  CHECK(d["work_order"]["status"] == "assigned");
  CHECK(f->running_pid("f/workers/slot0") == pid);  // the same process: not restarted
  CHECK(f->agent("f/workers/slot0")["current_work_order"] == a);
  // Its worktree is on the work order's branch; what it had left is saved in a wip ref.
  const std::string wt = f->root.path("f/.worktrees/slot0");
  CHECK(git_out(wt, {"rev-parse", "--abbrev-ref", "HEAD"}) == "work/" + a);
  CHECK_FALSE(file_exists(wt + "/idle-notes.txt"));
  const auto saved = f->events("worktree.saved");
  REQUIRE(saved.size() == 1);
  CHECK(saved[0]["data"]["reason"] == "dispatch to an idle worker");
  const std::string ref = saved[0]["data"]["ref"];
  CHECK(git_out(f->root.path("f"), {"show", ref + ":idle-notes.txt"}) == "notes");
  // It is told: mail, and the assignment file.
  const json inbox = f->result("mail.inbox", {{"agent", "f/workers/slot0"}});
  REQUIRE(inbox["messages"].size() == 1);
  CHECK(inbox["messages"][0]["subject"] == "ASSIGNED");
  CHECK(contains(inbox["messages"][0]["body"].get<std::string>(), a));
  CHECK(parse_json(read_file(f->root.path(".work/.assignment-f-workers-slot0")))["work_order"] == a);
  // The worker moves it as any worker would.
  CHECK(f->co_json({"wo", "transition", a, "--to", "in_progress", "--reason", "start"})["status"] == "in_progress");

  // No idle worker left: the next one is spawned into slot 1, with WORK_ORDER.
  const json d2 = f.dispatch(b);
  CHECK(d2["agent"] == "f/workers/slot1");
  CHECK(d2["reused"] == false);
}

TEST_CASE("the slot is freed when the work reaches review: saved to a wip ref first", "[dispatch]") {
  Fixture f(kFinishingWorker);
  const std::string id = f.create();
  f.dispatch(id);
  REQUIRE(eventually([&] { return f.status(id) == "review"; }));
  REQUIRE(eventually([&] { return !f->events("slot.freed", id).empty(); }));
  auto saved = f->events("worktree.saved", id);
  REQUIRE(saved.size() == 1);
  const std::string ref = saved[0]["data"]["ref"];
  CHECK(ref == "refs/vermas/wip/f/slot0/0");
  const std::string commit = saved[0]["data"]["commit"];
  CHECK(git_out(f->root.path("f"), {"rev-parse", ref}) == commit);
  CHECK(git_out(f->root.path("f"), {"show", ref + ":result.txt"}) == "work of " + id);
  CHECK(saved[0]["data"]["dirty"] == true);

  json freed = f->events("slot.freed", id)[0];
  CHECK(freed["data"]["reason"] == "work_order_review");
  CHECK(freed["data"]["worktree_removed"] == true);
  CHECK(freed["data"]["saved"] == json::array({commit}));
  CHECK_FALSE(file_exists(f->root.path(".work/.assignment-f-workers-slot0")));
  CHECK_FALSE(fs::exists(f->root.path("f/.worktrees/slot0")));
  CHECK(f->wait_status("f/workers/slot0", "stopped"));
  CHECK(f.show(id)["slot"].is_null());
  // The branch stays: a re-dispatch continues it.
  CHECK(git(f->root.path("f"), {"rev-parse", "--verify", "refs/heads/work/" + id}).exit_code == 0);
  // The saved commit is recorded before the worker was stopped.
  auto stopping = f->events("agent.stopping", "f/workers/slot0");
  REQUIRE(!stopping.empty());
  CHECK(id_of(saved[0]) < id_of(stopping[0]));
}

TEST_CASE("co worker kill saves the worktree before the kill and returns the work order", "[dispatch]") {
  Fixture f(kBusyWorker);
  const std::string id = f.create();
  f.dispatch(id);
  REQUIRE(eventually([&] { return f.status(id) == "in_progress"; }));
  REQUIRE(eventually([&] { return fs::exists(f->root.path("f/.worktrees/slot0/draft.txt")); }));
  const pid_t pid = f->running_pid("f/workers/slot0");
  auto r = f->root.co({"worker", "kill", "f", "0"}, 30s);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_FALSE(pid_alive(pid));
  auto saved = f->events("worktree.saved", id);
  REQUIRE(!saved.empty());
  auto stopping = f->events("agent.stopping", "f/workers/slot0");
  REQUIRE(!stopping.empty());
  CHECK(id_of(saved[0]) < id_of(stopping.back()));
  CHECK(stopping.back()["data"]["signal"] == "SIGKILL");
  CHECK(git_out(f->root.path("f"), {"show", saved[0]["data"]["ref"].get<std::string>() + ":draft.txt"}) == "half done");
  // in_progress cannot go back to open: the work order is blocked, free for a re-dispatch.
  CHECK(eventually([&] { return f.status(id) == "blocked"; }));
  CHECK(f.show(id)["assignee"].is_null());
  CHECK_FALSE(fs::exists(f->root.path("f/.worktrees/slot0")));
  // Re-dispatch continues the branch (the saved work is on the wip ref, the branch is kept).
  json again = f.dispatch(id);
  CHECK(again["branch"] == "work/" + id);
  CHECK(again["work_order"]["status"] == "assigned");
}

TEST_CASE("a worker that crashes with its work order in hand is restarted into the same slot", "[dispatch]") {
  Fixture f(
      "co wo transition \"$WORK_ORDER\" --to in_progress --reason start 2>/dev/null\n"
      "echo run >> \"$COMPANY_ROOT/runs-$WORK_ORDER\"\n"
      "exec sleep 300\n");
  const std::string id = f.create();
  f.dispatch(id);
  const pid_t first = f->running_pid("f/workers/slot0");
  REQUIRE(eventually([&] { return lines_of(read_file(f->root.path("runs-" + id))).size() == 1; }));
  ::kill(first, SIGKILL);
  REQUIRE(eventually([&] { return lines_of(read_file(f->root.path("runs-" + id))).size() >= 2; }));
  const pid_t second = f->running_pid("f/workers/slot0");
  CHECK(second != first);
  CHECK(!f->events("agent.restarting", "f/workers/slot0").empty());
  CHECK(eventually([&] {
    auto env = environ_of(second);
    return std::find(env.begin(), env.end(), "WORK_ORDER=" + id) != env.end();
  }));
  CHECK(f.show(id)["slot"]["slot"] == 0);
}

TEST_CASE("after a daemon crash, slots, assignment files and worktrees are reconciled", "[dispatch]") {
  Fixture f(kBusyWorker);
  const std::string id = f.create(), next = f.create("dispatched the moment the daemon is back");
  f.dispatch(id);
  REQUIRE(eventually([&] { return f.status(id) == "in_progress"; }));
  const pid_t worker = f->running_pid("f/workers/slot0");
  f->root.kill_daemon();
  // While it is down: the worker dies, its assignment file is lost, a stray file and a
  // stray worktree with uncommitted work appear.
  ::kill(worker, SIGKILL);
  REQUIRE(eventually([&] { return !pid_alive(worker); }));
  fs::remove(f->root.path(".work/.assignment-f-workers-slot0"));
  write_file(f->root.path(".work/.assignment-f-workers-slot3"), "{\"work_order\": \"f-zzzzzz\"}\n");
  const std::string stray = f->root.path("f/.worktrees/slot4");
  git_out(f->root.path("f"), {"worktree", "add", "--detach", stray});
  write_file(stray + "/lost.txt", "do not lose me\n");

  f->start();
  // At once: the dispatch waits for the reconciliation (which must not take its assignment
  // file for a leftover), and only then takes the lowest free slot.
  const json d = f.dispatch(next);
  CHECK(d["slot"] == 1);
  const auto reconciled = f->events("slot.reconciled");
  REQUIRE(reconciled.size() >= 3);
  const auto assigned = f->events("slot.assigned", next);
  REQUIRE(assigned.size() == 1);
  CHECK(id_of(assigned[0]) > id_of(reconciled.back()));
  CHECK(file_exists(f->root.path(".work/.assignment-f-workers-slot1")));
  // The worker runs again, its file is back, the stray file is gone, the stray worktree
  // was saved before it was removed.
  const pid_t again = f->running_pid("f/workers/slot0");
  CHECK(again != worker);
  CHECK(eventually([&] { return file_exists(f->root.path(".work/.assignment-f-workers-slot0")); }));
  CHECK_FALSE(file_exists(f->root.path(".work/.assignment-f-workers-slot3")));
  CHECK_FALSE(fs::exists(stray));
  std::string found;
  for (const auto& e : f->events("slot.reconciled")) found += e["data"].dump() + "\n";
  INFO(found);
  CHECK(contains(found, "worker not running"));
  CHECK(contains(found, "assignment file missing"));
  CHECK(contains(found, "assignment file without a slot"));
  CHECK(contains(found, "worktree without a slot"));
  auto saved = f->events("worktree.saved");
  bool stray_saved = false;
  for (const auto& e : saved)
    if (e["data"]["slot"] == 4) {
      stray_saved = true;
      CHECK(git_out(f->root.path("f"), {"show", e["data"]["ref"].get<std::string>() + ":lost.txt"}) == "do not lose me");
    }
  CHECK(stray_saved);
  CHECK(f.status(id) == "in_progress");
}

TEST_CASE("dispatch --team runs the worker in the team's worktree", "[dispatch]") {
  Fixture f(kBusyWorker);
  REQUIRE(f->root.co({"team", "add", "dev", "--factory", "f"}, 30s).exit_code == 0);
  const std::string id = f.create();
  json d = f->co_json({"dispatch", id, "f", "--team", "dev"});
  CHECK(d["worktree"] == f->root.path("f/.worktrees/team-dev"));
  CHECK(d["branch"] == "team/dev");
  REQUIRE(eventually([&] { return file_exists(f->root.path("worker-cwd-" + id)); }));
  CHECK(read_file(f->root.path("worker-cwd-" + id)) == f->root.path("f/.worktrees/team-dev") + "\n");
  auto missing = f->call("dispatch", {{"work_order", f.create()}, {"factory", "f"}, {"team", "nope"}});
  CHECK(missing["error"]["code"] == -32001);
  // A work order that named no factory belongs to the one it is dispatched into.
  auto plain = f->root.wo({"create", "--title=anywhere"});
  REQUIRE(plain.exit_code == 0);
  const std::string loose = plain.out.substr(0, plain.out.find('\n'));
  CHECK(f.show(loose)["factory"].is_null());
  json d2 = f.dispatch(loose);
  CHECK(d2["work_order"]["factory"] == "f");
  CHECK(f->events("wo.transitioned", loose).back()["factory"] == "f");
}

TEST_CASE("wo sync writes the sync branch without touching the clone and imports newer records", "[dispatch]") {
  Fixture f(kBusyWorker);
  const std::string clone = f->root.path("f");
  const std::string a = f.create("alpha"), b = f.create("beta");
  const std::string head = git_out(clone, {"rev-parse", "HEAD"});
  write_file(clone + "/untracked.txt", "mine\n");
  const std::string status = git_out(clone, {"status", "--porcelain"});

  json r = f->co_json({"wo", "sync", "--factory", "f"});
  REQUIRE(r["factories"].size() == 1);
  CHECK(r["factories"][0]["exported"] == 2);
  CHECK(r["factories"][0]["changed"] == true);
  const std::string text = git_out(clone, {"show", "work-sync:work_orders.jsonl"});
  CHECK(contains(text, a));
  CHECK(contains(text, "\"title\":\"beta\""));
  CHECK(git_out(clone, {"rev-parse", "HEAD"}) == head);
  CHECK(git_out(clone, {"status", "--porcelain"}) == status);
  // Nothing changed: no new commit.
  json same = f->co_json({"wo", "sync", "--factory", "f"});
  CHECK(same["factories"][0]["changed"] == false);

  // Someone else updates the branch: a newer record, a new one, and a malformed line.
  const std::string other = f->root.path("other");
  REQUIRE(git(f->root.dir(), {"clone", "-q", "-b", "work-sync", clone, other}).exit_code == 0);
  json w = f.show(a);
  json newer = {{"id", a},           {"title", "alpha (edited elsewhere)"}, {"description", ""},
                {"type", "task"},    {"priority", 0},                      {"status", "open"},
                {"factory", "f"},    {"assignee", nullptr},                {"created_at", w["created_at"]},
                {"updated_at", "2099-01-01T00:00:00.000Z"}, {"artifacts", json::array()}};
  json fresh = newer;
  fresh["id"] = "f-newone1";
  fresh["title"] = "from the branch";
  std::string lines;
  for (const auto& l : lines_of(read_file(other + "/work_orders.jsonl")))
    if (!contains(l, a)) lines += l + "\n";
  lines += newer.dump() + "\n" + fresh.dump() + "\n" + "{\"id\": \"../../etc\", \"title\": 1}\n";
  write_file(other + "/work_orders.jsonl", lines);
  REQUIRE(git(other, {"commit", "-qam", "edit"}).exit_code == 0);
  REQUIRE(git(other, {"push", "-q", "origin", "work-sync"}).exit_code == 0);

  json imp = f->co_json({"wo", "sync", "--factory", "f"});
  CHECK(imp["factories"][0]["imported"] == 2);
  CHECK(imp["factories"][0]["rejected"] == 1);
  CHECK(f.show(a)["title"] == "alpha (edited elsewhere)");
  CHECK(f.show(a)["priority"] == 0);
  CHECK(f.show("f-newone1")["title"] == "from the branch");
  CHECK(git_out(clone, {"status", "--porcelain"}) == status);

  SECTION("auto_sync follows changes, debounced") {
    std::string cfg = read_file(clone + "/.work/config.toml");
    cfg = std::regex_replace(cfg, std::regex("auto_sync = false"), "auto_sync = true");
    cfg = std::regex_replace(cfg, std::regex("debounce_seconds = 2"), "debounce_seconds = 0.1");
    write_file(clone + "/.work/config.toml", cfg);
    const std::string c = f.create("gamma");
    CHECK(eventually([&] {
      auto s = git(clone, {"show", "work-sync:work_orders.jsonl"});
      return s.exit_code == 0 && contains(s.out, c);
    }));
  }
}

TEST_CASE("events archive moves old events to day files, replay stays equal to live", "[dispatch]") {
  Fixture f(kFinishingWorker);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(f.create("w" + std::to_string(i)));
  f.dispatch(ids[0]);
  REQUIRE(eventually([&] { return !f->events("slot.freed", ids[0]).empty(); }));
  REQUIRE(f->root.wo({"transition", ids[1], "--to", "canceled", "--reason", "not needed"}).exit_code == 0);
  json before = f->result("wo.list", json::object());
  const auto last = f->result("events.query", {{"limit", 1}})["last_id"].get<long long>();

  json a = f->co_json({"wo", "events", "archive", "--older-than=0s"});
  CHECK(a["archived"].get<long long>() >= last);
  REQUIRE(a["files"].size() >= 1);
  const std::string file = a["files"][0];
  CHECK(std::regex_search(file, std::regex("/\\.work/archive/events-\\d{4}-\\d{2}-\\d{2}\\.jsonl$")));
  auto archived = lines_of(read_file(file));
  REQUIRE(!archived.empty());
  CHECK(parse_json(archived.front())["id"] == 1);
  // The database keeps only what came after.
  auto left = f->result("events.query", {{"limit", 10000}})["events"];
  for (const auto& e : left) CHECK(e["id"].get<long long>() > last);

  json r = f->co_json({"wo", "rebuild-projections"});
  CHECK(r["matched_live"] == true);
  CHECK(r["work_orders"] == 4);
  CHECK(f->result("wo.list", json::object()) == before);
  // And the log goes on: a new transition after the archive replays on top of the checkpoint.
  REQUIRE(f->root.wo({"transition", ids[2], "--to", "canceled", "--reason", "later"}).exit_code == 0);
  json r2 = f->co_json({"wo", "rebuild-projections"});
  CHECK(r2["matched_live"] == true);
  CHECK(f.status(ids[2]) == "canceled");
}

TEST_CASE("demo agents: workers hand their work orders to review, QA verifies them to done", "[dispatch]") {
  Settings s;
  s.worker = demo_agent("0.1");
  s.qa = demo_agent("0.1");
  Company c(s);
  c.start();
  c.add_factory("f");
  // QA's check gates review -> done.
  const std::string cfg = c.root.path("f/.work/config.toml");
  std::string text = read_file(cfg);
  text = std::regex_replace(text, std::regex("enabled = false"), "enabled = true");
  text = std::regex_replace(text, std::regex("require_all_pass = false"), "require_all_pass = true");
  write_file(cfg, text);
  std::vector<std::string> ids;
  for (const char* title : {"one", "two"}) {
    auto r = c.root.wo({"create", std::string("--title=") + title, "--factory", "f"});
    REQUIRE(r.exit_code == 0);
    ids.push_back(r.out.substr(0, r.out.find('\n')));
    REQUIRE(c.root.co({"dispatch", ids.back(), "f"}, 60s).exit_code == 0);
  }
  for (const auto& id : ids) {
    INFO(id << ": " << c.result("wo.timeline", {{"id", id}}).dump());
    CHECK(eventually([&] { return c.result("wo.show", {{"id", id}})["status"] == "done"; }, 30s));
    auto moved = c.events("wo.transitioned", id);
    std::vector<std::string> actors;
    for (const auto& e : moved) actors.push_back(e["actor"]);
    CHECK(std::find(actors.begin(), actors.end(), "f/qa") != actors.end());
    CHECK(c.events("wo.check_recorded", id).size() == 1);
    CHECK(eventually([&] { return !c.events("slot.freed", id).empty(); }));
  }
  // Each worker left a change in its worktree; both were saved before their slots were freed.
  CHECK(eventually([&] { return c.events("worktree.saved").size() >= 2; }));
  CHECK(c.result("wo.stats", json::object())["by_status"]["done"] == 2);
}

TEST_CASE("a worker that cannot start gives the slot and the work order back", "[dispatch]") {
  Settings s;
  s.worker = {"/nonexistent/agent"};
  Company c(s);
  c.start();
  c.add_factory("f");
  auto r = c.root.wo({"create", "--title=doomed", "--factory", "f"});
  REQUIRE(r.exit_code == 0);
  const std::string id = r.out.substr(0, r.out.find('\n'));
  auto d = c.call("dispatch", {{"work_order", id}, {"factory", "f"}});
  REQUIRE(d.contains("error"));
  CHECK(d["error"]["code"] == -32002);
  CHECK(contains(d["error"]["message"], "did not start"));
  CHECK(eventually([&] { return c.result("wo.show", {{"id", id}})["status"] == "open"; }));
  CHECK(eventually([&] { return !c.events("slot.freed", id).empty(); }));
  CHECK(c.result("wo.show", {{"id", id}})["slot"].is_null());
  CHECK_FALSE(file_exists(c.root.path(".work/.assignment-f-workers-slot0")));
}
