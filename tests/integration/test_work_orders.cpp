// Work orders as operators and agents use them (spec §5-§7): the real daemon on a
// temporary company root, driven by the real `co` and `wo`, and by the raw socket where an
// error code or error.data matters. Agents are small shell scripts that call `co` from
// inside their process tree. Every wait has a deadline; nothing sleeps for a fixed time.
#include "tests/catch.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kAllStatuses = {"open",    "assigned", "in_progress", "review",  "needs_approval",
                                               "blocked", "failed",   "done",        "canceled"};

// Spec §5, written out here independently of common/work_order.cpp.
const std::map<std::string, std::set<std::string>> kSpecTable = {
    {"open", {"assigned", "canceled"}},
    {"assigned", {"in_progress", "open", "blocked", "canceled"}},
    {"in_progress", {"review", "blocked", "needs_approval", "failed", "canceled", "assigned"}},
    {"review", {"done", "in_progress", "blocked", "needs_approval", "failed"}},
    {"needs_approval", {"assigned", "in_progress", "review", "canceled"}},
    {"blocked", {"open", "assigned", "in_progress", "canceled"}},
    {"failed", {"open", "canceled"}},
    {"done", {}},
    {"canceled", {}},
};

// An allowed path from open to each status.
const std::map<std::string, std::vector<std::string>> kPathTo = {
    {"open", {}},
    {"assigned", {"assigned"}},
    {"in_progress", {"assigned", "in_progress"}},
    {"review", {"assigned", "in_progress", "review"}},
    {"needs_approval", {"assigned", "in_progress", "needs_approval"}},
    {"blocked", {"assigned", "blocked"}},
    {"failed", {"assigned", "in_progress", "failed"}},
    {"done", {"assigned", "in_progress", "review", "done"}},
    {"canceled", {"canceled"}},
};

bool matches(const std::string& text, const std::string& pattern) {
  return std::regex_match(text, std::regex(pattern));
}

std::set<std::string> as_set(const json& names) {
  std::set<std::string> out;
  for (const auto& n : names) out.insert(n.get<std::string>());
  return out;
}

// The id of the newest event (events.query's last_id): nothing was written while it stays.
long long last_event_id(const Company& c) {
  auto r = c.result("events.query", {{"limit", 1}});
  REQUIRE(r["last_id"].is_number_integer());
  return r["last_id"].get<long long>();
}

// Every event about one subject, oldest first.
std::vector<json> subject_events(const Company& c, const std::string& subject) {
  std::vector<json> out;
  const json all = c.result("events.query", {{"limit", 10000}});
  for (const auto& e : all["events"])
    if (e.value("subject", json()) == subject) out.push_back(e);
  return out;
}

// Runs `co wo create ARGS...` and returns what it printed: the id and nothing else.
std::string wo_create(const Company& c, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"wo", "create"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = c.root.co(argv);
  INFO("co wo create: exit " << r.exit_code << " out [" << r.out << "] err [" << r.err << "]");
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.out.size() > 1);
  REQUIRE(r.out.back() == '\n');
  std::string id = r.out.substr(0, r.out.size() - 1);
  REQUIRE(id.find_first_of(" \t\n") == std::string::npos);
  return id;
}

json wo_show(const Company& c, const std::string& id) { return c.co_json({"wo", "show", id}); }

// A raw operator create; returns the work order.
json create_raw(const Company& c, const std::string& title, json extra = json::object()) {
  extra["title"] = title;
  return c.result("wo.create", extra);
}

json transition(const Company& c, const std::string& id, const std::string& to, const std::string& reason = "test") {
  auto wo = c.result("wo.transition", {{"id", id}, {"to", to}, {"reason", reason}});
  REQUIRE(wo["status"] == to);
  return wo;
}

void walk(const Company& c, const std::string& id, const std::vector<std::string>& path) {
  for (const auto& to : path) transition(c, id, to, "walking to " + path.back());
}

std::string factory_config_file(const Company& c, const std::string& factory) {
  return c.root.path(factory + "/.work/config.toml");
}

// The [factory] prefix written to the factory's config at `factory add`.
std::string factory_prefix(const Company& c, const std::string& factory) {
  const std::string text = read_file(factory_config_file(c, factory));
  std::smatch m;
  INFO(factory_config_file(c, factory) << ":\n" << text);
  REQUIRE(std::regex_search(text, m, std::regex("\\nprefix\\s*=\\s*\"([a-z0-9]+)\"")));
  return m[1];
}

// Rewrites the factory's config. The daemon re-reads it by mtime (and size): the new mtime
// is made to differ from the old one even on a coarse filesystem clock.
void write_factory_config(const Company& c, const std::string& factory, const std::string& prefix,
                          const std::string& verification) {
  const std::string file = factory_config_file(c, factory);
  const auto before = fs::last_write_time(file);
  write_file(file, "[factory]\nname = " + toml_string(factory) + "\nprefix = " + toml_string(prefix) +
                       "\n\n[verification]\n" + verification);
  if (fs::last_write_time(file) <= before) fs::last_write_time(file, before + std::chrono::milliseconds(10));
}

// Writes `text` to R/<name> atomically, so a polling script never reads half of it.
void publish(const Company& c, const std::string& name, const std::string& text) {
  write_file(c.root.path(name + ".tmp"), text);
  fs::rename(c.root.path(name + ".tmp"), c.root.path(name));
}

std::vector<std::string> ids_of_list(const json& list) {
  std::vector<std::string> out;
  for (const auto& w : list["work_orders"]) out.push_back(w["id"]);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void require_invalid_transition(const json& r, const std::string& from, const std::string& to) {
  INFO("-> " << r.dump());
  REQUIRE(r.contains("error"));
  CHECK(r["error"]["code"] == -32002);
  const json& data = r["error"]["data"];
  CHECK(data["from"] == from);
  CHECK(data["to"] == to);
  REQUIRE(data["allowed"].is_array());
  CHECK(as_set(data["allowed"]) == kSpecTable.at(from));
}

}  // namespace

// 1 ---------------------------------------------------------------------------------------
TEST_CASE("wo create prints just the id: wo- without a factory, the factory's prefix with one", "[work_orders]") {
  Company c(Settings{});
  c.start();

  const std::string plain = wo_create(c, {"--title", "Fix the login page"});
  CHECK(matches(plain, "wo-[a-z0-9]{6,}"));
  auto shown = wo_show(c, plain);
  CHECK(shown["id"] == plain);
  CHECK(shown["title"] == "Fix the login page");
  CHECK(shown["type"] == "task");
  CHECK(shown["priority"] == 2);
  CHECK(shown["status"] == "open");
  CHECK(shown["factory"].is_null());
  CHECK(shown["assignee"].is_null());
  CHECK(shown["artifacts"] == json::array());

  const std::string typed = wo_create(c, {"--title=Crash on start", "--type=bug", "--priority=1"});
  CHECK(typed != plain);
  auto t = wo_show(c, typed);
  CHECK(t["type"] == "bug");
  CHECK(t["priority"] == 1);

  // The `wo` symlink is `co wo`.
  auto via_wo = c.root.wo({"create", "--title", "made with wo"});
  INFO("wo create: " << via_wo.out << via_wo.err);
  REQUIRE(via_wo.exit_code == 0);
  const std::string wid = via_wo.out.substr(0, via_wo.out.find('\n'));
  CHECK(via_wo.out == wid + "\n");
  CHECK(matches(wid, "wo-[a-z0-9]{6,}"));
  auto wo_json = c.root.wo({"--json", "show", wid});
  auto co_json = c.root.co({"--json", "wo", "show", wid});
  REQUIRE(wo_json.exit_code == 0);
  REQUIRE(co_json.exit_code == 0);
  CHECK(parse_json(wo_json.out) == parse_json(co_json.out));
  CHECK(parse_json(wo_json.out)["title"] == "made with wo");
  auto wo_list = c.root.wo({"list"});
  CHECK(wo_list.exit_code == 0);
  CHECK(contains(wo_list.out, wid));
  CHECK(contains(wo_list.out, plain));

  // With --factory: the prefix of the factory's config.
  c.add_factory("f1");
  const std::string prefix = factory_prefix(c, "f1");
  const std::string in_factory = wo_create(c, {"--title", "factory work", "--factory", "f1"});
  CHECK(matches(in_factory, prefix + "-[a-z0-9]{6,}"));
  CHECK(wo_show(c, in_factory)["factory"] == "f1");
  // ... as the config says now: a changed prefix applies to the next work order.
  write_factory_config(c, "f1", "zq7", "enabled = false\n");
  const std::string renamed = wo_create(c, {"--title", "after the prefix changed", "--factory", "f1"});
  CHECK(matches(renamed, "zq7-[a-z0-9]{6,}"));
  CHECK(wo_show(c, in_factory)["id"] == in_factory);

  // An unknown factory is the daemon's -32001; a bad name a usage error before any call.
  auto unknown = c.root.co({"wo", "create", "--title", "x", "--factory", "nosuch"});
  CHECK(unknown.exit_code == 1);
  CHECK(c.call("wo.create", {{"title", "x"}, {"factory", "nosuch"}})["error"]["code"] == -32001);
  auto bad = c.root.co({"wo", "create", "--title", "x", "--factory", "Bad/Name"});
  CHECK(bad.exit_code == 2);
  CHECK(c.events("wo.created").size() == 5);
  c.root.stop();
}

// 2 ---------------------------------------------------------------------------------------
TEST_CASE("wo create with an idempotency key: the same key twice is one work order, one event", "[work_orders]") {
  Company c(Settings{});
  c.start();
  const std::string first = wo_create(c, {"--title", "once", "--idempotency-key", "req-42"});
  const std::string again = wo_create(c, {"--title", "once", "--idempotency-key", "req-42"});
  CHECK(again == first);
  const long long before = last_event_id(c);
  // Raw, with a different title: still the first result, and nothing written.
  auto raw = c.call("wo.create", {{"title", "another title"}, {"idempotency_key", "req-42"}});
  INFO(raw.dump());
  REQUIRE(raw.contains("result"));
  CHECK(raw["result"]["id"] == first);
  CHECK(raw["result"]["title"] == "once");
  CHECK(last_event_id(c) == before);

  auto created = c.events("wo.created");
  REQUIRE(created.size() == 1);
  CHECK(created[0]["subject"] == first);
  CHECK(created[0]["data"]["idempotency_key"] == "req-42");

  // Another key is another work order.
  const std::string other = wo_create(c, {"--title", "once", "--idempotency-key", "req-43"});
  CHECK(other != first);
  CHECK(c.events("wo.created").size() == 2);
  CHECK(c.result("wo.list")["total"] == 2);
  c.root.stop();
}

// 3 ---------------------------------------------------------------------------------------
TEST_CASE("the transition table of spec 5: refused ones are -32002 and write nothing, done, canceled are terminal",
          "[work_orders]") {
  Company c(Settings{});
  c.start();
  int refused = 0, accepted = 0;
  for (const auto& from : kAllStatuses) {
    const auto& allowed = kSpecTable.at(from);
    // Every refused target, on one work order in `from`.
    const std::string id = create_raw(c, "at " + from)["id"];
    walk(c, id, kPathTo.at(from));
    for (const auto& to : kAllStatuses) {
      if (allowed.count(to)) continue;
      INFO(from << " -> " << to);
      const long long before = last_event_id(c);
      auto r = c.call("wo.transition", {{"id", id}, {"to", to}, {"reason", "not allowed"}});
      require_invalid_transition(r, from, to);
      CHECK(last_event_id(c) == before);
      CHECK(c.result("wo.show", {{"id", id}})["status"] == from);
      ++refused;
    }
    // Every allowed target, each on a fresh work order in `from`.
    for (const auto& to : allowed) {
      INFO(from << " -> " << to);
      const std::string fresh = create_raw(c, from + " to " + to)["id"];
      walk(c, fresh, kPathTo.at(from));
      const long long before = last_event_id(c);
      auto r = c.call("wo.transition", {{"id", fresh}, {"to", to}, {"reason", "allowed"}});
      INFO(r.dump());
      REQUIRE(r.contains("result"));
      CHECK(r["result"]["status"] == to);
      CHECK(last_event_id(c) == before + 1);
      auto last = c.events("wo.transitioned", fresh).back();
      CHECK(id_of(last) == before + 1);
      CHECK(last["data"]["from"] == from);
      CHECK(last["data"]["to"] == to);
      CHECK(last["data"]["reason"] == "allowed");
      ++accepted;
    }
  }
  CHECK(refused == 9 * 9 - 27);
  CHECK(accepted == 27);

  // Terminal: the CLI says so too, exit 1 with the allowed list empty.
  const std::string done = create_raw(c, "finished")["id"];
  walk(c, done, kPathTo.at("done"));
  auto r = c.root.co({"wo", "transition", done, "--to", "open", "--reason", "reopen"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "-32002"));
  CHECK(c.call("wo.transition", {{"id", done}, {"to", "open"}, {"reason", "x"}})["error"]["data"]["allowed"] ==
        json::array());
  // An unknown work order is -32001.
  CHECK(c.call("wo.transition", {{"id", "wo-zzzzzz"}, {"to", "assigned"}, {"reason", "x"}})["error"]["code"] ==
        -32001);
  c.root.stop();
}

// 4 ---------------------------------------------------------------------------------------
TEST_CASE("transition idempotency keys are scoped per work order", "[work_orders]") {
  Company c(Settings{});
  c.start();
  const std::string a = create_raw(c, "a")["id"];
  const std::string b = create_raw(c, "b")["id"];

  auto first = c.result("wo.transition", {{"id", a}, {"to", "assigned"}, {"reason", "r"}, {"idempotency_key", "k1"}});
  CHECK(first["status"] == "assigned");
  long long before = last_event_id(c);
  // The same key, even with another target: the first result, nothing written.
  for (const std::string to : {"assigned", "canceled", "in_progress"}) {
    INFO("repeat with to=" << to);
    auto again = c.result("wo.transition", {{"id", a}, {"to", to}, {"reason", "r2"}, {"idempotency_key", "k1"}});
    CHECK(again == first);
    CHECK(last_event_id(c) == before);
  }
  CHECK(c.result("wo.show", {{"id", a}})["status"] == "assigned");

  // The CLI passes the key: the repeat prints the status of the first result.
  auto cli = c.root.co({"wo", "transition", a, "--to", "blocked", "--reason", "r3", "--idempotency-key", "k1"});
  INFO(cli.out << cli.err);
  CHECK(cli.exit_code == 0);
  CHECK(contains(cli.out, "assigned"));
  CHECK(last_event_id(c) == before);

  // The same key on another work order acts on its own.
  auto other = c.result("wo.transition", {{"id", b}, {"to", "canceled"}, {"reason", "r"}, {"idempotency_key", "k1"}});
  CHECK(other["id"] == b);
  CHECK(other["status"] == "canceled");
  CHECK(last_event_id(c) == before + 1);
  before = last_event_id(c);
  CHECK(c.result("wo.transition", {{"id", b}, {"to", "open"}, {"reason", "r"}, {"idempotency_key", "k1"}}) == other);
  CHECK(last_event_id(c) == before);

  // A further change of a, then k1 again: still the first result; a new key moves it.
  auto moved = c.result("wo.transition", {{"id", a}, {"to", "in_progress"}, {"reason", "r"}, {"idempotency_key", "k2"}});
  CHECK(moved["status"] == "in_progress");
  before = last_event_id(c);
  CHECK(c.result("wo.transition", {{"id", a}, {"to", "review"}, {"reason", "r"}, {"idempotency_key", "k1"}}) == first);
  CHECK(c.result("wo.transition", {{"id", a}, {"to", "review"}, {"reason", "r"}, {"idempotency_key", "k2"}}) == moved);
  CHECK(last_event_id(c) == before);
  CHECK(c.events("wo.transitioned", a).size() == 2);
  CHECK(c.events("wo.transitioned", b).size() == 1);
  CHECK(c.result("wo.show", {{"id", a}})["status"] == "in_progress");
  c.root.stop();
}

// 5 ---------------------------------------------------------------------------------------
TEST_CASE("actors: the operator (with --actor as requested_by), an agent as itself, workers only on their own",
          "[work_orders]") {
  Company c(Settings{});
  Settings s;
  // QA waits for a work order id, then acts on it three times and records each outcome.
  const std::string qa = c.script("qa-agent.sh",
                                  "out=\"$COMPANY_ROOT/qa\"\n"
                                  "while [ ! -f \"$COMPANY_ROOT/qa.go\" ]; do sleep 0.02; done\n"
                                  "id=$(cat \"$COMPANY_ROOT/qa.go\")\n"
                                  "co wo transition \"$id\" --to assigned --reason 'qa takes it' "
                                  ">\"$out.own\" 2>&1; echo $? >\"$out.own.rc\"\n"
                                  "co wo transition \"$id\" --to in_progress --reason impostor --actor someone-else "
                                  ">\"$out.other\" 2>&1; echo $? >\"$out.other.rc\"\n"
                                  "co --json wo verify \"$id\" --check build --pass "
                                  ">\"$out.verify\" 2>\"$out.verify.err\"; echo $? >\"$out.verify.rc\"\n"
                                  "echo finished >\"$out.done\"\n"
                                  "exec sleep 300\n");
  const std::string worker = c.script("worker-agent.sh",
                                      "out=\"$COMPANY_ROOT/worker\"\n"
                                      "while [ ! -f \"$COMPANY_ROOT/worker.go\" ]; do sleep 0.02; done\n"
                                      "read theirs mine <\"$COMPANY_ROOT/worker.go\"\n"
                                      "co wo transition \"$theirs\" --to in_progress --reason 'not mine' "
                                      ">\"$out.theirs\" 2>&1; echo $? >\"$out.theirs.rc\"\n"
                                      "co wo transition \"$mine\" --to in_progress --reason 'on it' "
                                      ">\"$out.mine\" 2>&1; echo $? >\"$out.mine.rc\"\n"
                                      "echo finished >\"$out.done\"\n"
                                      "exec sleep 300\n");
  s.qa = {"/bin/sh", qa};
  s.worker = {"/bin/sh", worker};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");

  // The operator.
  const std::string op = wo_create(c, {"--title", "operator work", "--factory", "f1"});
  auto r = c.root.co({"wo", "transition", op, "--to", "assigned", "--reason", "taking it"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "assigned"));
  r = c.root.co({"wo", "transition", op, "--to", "in_progress", "--reason", "for alice", "--actor", "alice"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto moves = c.events("wo.transitioned", op);
  REQUIRE(moves.size() == 2);
  CHECK(moves[0]["actor"] == "operator");
  CHECK(!moves[0]["data"].contains("requested_by"));
  CHECK(moves[1]["actor"] == "operator");
  CHECK(moves[1]["data"]["requested_by"] == "alice");
  CHECK(moves[1]["data"]["reason"] == "for alice");
  CHECK(c.events("wo.created", op).at(0)["actor"] == "operator");

  // QA, from inside its process tree.
  c.running_pid("f1/qa");
  const std::string qwo = wo_create(c, {"--title", "for qa", "--factory", "f1"});
  publish(c, "qa.go", qwo);
  const std::string out = c.root.path("qa");
  REQUIRE(eventually([&] { return file_exists(out + ".done"); }));
  INFO("qa own: " << read_file(out + ".own") << "\nqa as other: " << read_file(out + ".other")
                  << "\nqa verify: " << read_file(out + ".verify") << read_file(out + ".verify.err"));
  CHECK(read_file(out + ".own.rc") == "0\n");
  CHECK(read_file(out + ".other.rc") == "1\n");
  CHECK(contains(read_file(out + ".other"), "-32003"));
  CHECK(read_file(out + ".verify.rc") == "0\n");
  auto verified = parse_json(read_file(out + ".verify"));
  REQUIRE(!verified.is_discarded());
  CHECK(verified["check"]["check"] == "build");
  CHECK(verified["check"]["passed"] == true);
  CHECK(verified["check"]["actor"] == "f1/qa");
  auto qmoves = c.events("wo.transitioned", qwo);
  REQUIRE(qmoves.size() == 1);  // the impostor's move wrote nothing
  CHECK(qmoves[0]["actor"] == "f1/qa");
  CHECK(qmoves[0]["data"]["to"] == "assigned");
  CHECK(!qmoves[0]["data"].contains("requested_by"));
  auto checks = c.events("wo.check_recorded", qwo);
  REQUIRE(checks.size() == 1);
  CHECK(checks[0]["actor"] == "f1/qa");
  auto qshown = wo_show(c, qwo);
  CHECK(qshown["status"] == "assigned");
  REQUIRE(qshown["checks"].size() == 1);
  CHECK(qshown["checks"][0]["actor"] == "f1/qa");

  // A worker moves only what is assigned to it.
  const std::string theirs = wo_create(c, {"--title", "someone else's", "--factory", "f1"});
  const std::string mine = wo_create(c, {"--title", "the worker's", "--factory", "f1"});
  REQUIRE(c.root.co({"wo", "assign", theirs, "f1/workers/slot9"}).exit_code == 0);
  REQUIRE(c.root.co({"wo", "assign", mine, "f1/workers/slot0"}).exit_code == 0);
  transition(c, theirs, "assigned");
  transition(c, mine, "assigned");
  auto spawned = c.co_json({"worker", "spawn", "f1"});
  REQUIRE(spawned["id"] == "f1/workers/slot0");
  c.running_pid("f1/workers/slot0");
  const long long before = last_event_id(c);
  publish(c, "worker.go", theirs + " " + mine + "\n");
  const std::string wout = c.root.path("worker");
  REQUIRE(eventually([&] { return file_exists(wout + ".done"); }));
  INFO("worker on theirs: " << read_file(wout + ".theirs") << "\nworker on its own: " << read_file(wout + ".mine"));
  CHECK(read_file(wout + ".theirs.rc") == "1\n");
  CHECK(contains(read_file(wout + ".theirs"), "-32003"));
  CHECK(read_file(wout + ".mine.rc") == "0\n");
  CHECK(c.result("wo.show", {{"id", theirs}})["status"] == "assigned");
  CHECK(c.result("wo.show", {{"id", mine}})["status"] == "in_progress");
  CHECK(c.events_after(before, "wo.transitioned", theirs).empty());
  auto wmoves = c.events_after(before, "wo.transitioned", mine);
  REQUIRE(wmoves.size() == 1);
  CHECK(wmoves[0]["actor"] == "f1/workers/slot0");
  c.root.stop();
}

// 6 ---------------------------------------------------------------------------------------
TEST_CASE("the verification gate: review -> done needs every check passed, objective_only, required checks",
          "[work_orders]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f1");
  const std::string prefix = factory_prefix(c, "f1");
  auto to_review = [&](const std::string& title) {
    const std::string id = wo_create(c, {"--title", title, "--factory", "f1"});
    walk(c, id, {"assigned", "in_progress", "review"});
    return id;
  };
  auto verify = [&](const std::string& id, std::vector<std::string> args) {
    args.insert(args.begin(), {"wo", "verify", id});
    return c.co_json(args);
  };
  auto refused_done = [&](const std::string& id) {
    const long long before = last_event_id(c);
    auto r = c.call("wo.transition", {{"id", id}, {"to", "done"}, {"reason", "ship it"}});
    INFO("review -> done: " << r.dump());
    REQUIRE(r.contains("error"));
    CHECK(r["error"]["code"] == -32002);
    CHECK(last_event_id(c) == before);
    CHECK(c.result("wo.show", {{"id", id}})["status"] == "review");
    REQUIRE(r["error"]["data"]["failing"].is_array());
    REQUIRE(r["error"]["data"]["missing"].is_array());
    return r["error"]["data"];
  };

  // Verification off (the default): a failing check does not hold the work order back.
  const std::string free = to_review("no gate");
  verify(free, {"--check", "build", "--fail"});
  transition(c, free, "done");

  write_factory_config(c, "f1", prefix, "enabled = true\nrequire_all_pass = true\nobjective_only = false\n");
  const std::string w1 = to_review("gated");
  auto v = verify(w1, {"--check", "build", "--fail", "--note", "link error"});
  CHECK(v["check"]["passed"] == false);
  CHECK(v["verdict"]["all_pass"] == false);
  CHECK(v["verdict"]["failing"] == json::array({"build"}));
  CHECK(refused_done(w1)["failing"] == json::array({"build"}));
  verify(w1, {"--check", "build", "--pass"});
  v = verify(w1, {"--check", "tests", "--fail"});
  CHECK(v["verdict"]["failing"] == json::array({"tests"}));
  CHECK(refused_done(w1)["failing"] == json::array({"tests"}));
  // The CLI's refusal: exit 1, the code and the failing check named.
  auto cli = c.root.co({"wo", "transition", w1, "--to", "done", "--reason", "ship it"});
  INFO(cli.out << cli.err);
  CHECK(cli.exit_code == 1);
  CHECK(contains(cli.err, "-32002"));
  CHECK(contains(cli.err, "tests"));
  v = verify(w1, {"--check", "tests", "--pass"});
  CHECK(v["verdict"]["all_pass"] == true);
  CHECK(v["checks"].size() == 2);
  transition(c, w1, "done");
  auto shown = wo_show(c, w1);
  CHECK(shown["status"] == "done");
  CHECK(shown["checks"].size() == 2);

  // A failing subjective check holds it back, until objective_only ignores it.
  const std::string w2 = to_review("subjective");
  verify(w2, {"--check", "build", "--pass"});
  v = verify(w2, {"--check", "style", "--fail", "--subjective"});
  CHECK(v["check"]["objective"] == false);
  CHECK(refused_done(w2)["failing"] == json::array({"style"}));
  write_factory_config(c, "f1", prefix, "enabled = true\nrequire_all_pass = true\nobjective_only = true\n");
  transition(c, w2, "done");
  // ... but a failing objective check still counts.
  const std::string w3 = to_review("objective still counts");
  verify(w3, {"--check", "build", "--fail"});
  verify(w3, {"--check", "style", "--pass", "--subjective"});
  CHECK(refused_done(w3)["failing"] == json::array({"build"}));

  // Required checks: an unrecorded one is missing.
  write_factory_config(c, "f1", prefix,
                       "enabled = true\nrequire_all_pass = true\nobjective_only = false\nchecks = [\"build\", \"tests\"]\n");
  const std::string w4 = to_review("required checks");
  v = verify(w4, {"--check", "build", "--pass"});
  CHECK(v["verdict"]["all_pass"] == false);
  CHECK(v["verdict"]["missing"] == json::array({"tests"}));
  auto data = refused_done(w4);
  CHECK(data["missing"] == json::array({"tests"}));
  CHECK(data["failing"] == json::array());
  v = verify(w4, {"--check", "tests", "--pass"});
  CHECK(v["verdict"]["all_pass"] == true);
  CHECK(v["verdict"]["missing"] == json::array());
  transition(c, w4, "done");

  // A broken factory config fails closed: the gate is not switched off by a typo.
  write_factory_config(c, "f1", prefix, "enabled = true\nrequire_all_pas = true\n");
  const std::string w5 = to_review("broken config");
  verify(w5, {"--check", "build", "--pass"});
  auto broken = c.call("wo.transition", {{"id", w5}, {"to", "done"}, {"reason", "ship"}});
  REQUIRE(broken.contains("error"));
  CHECK(broken["error"]["code"] == -32002);
  CHECK(contains(broken["error"]["data"].value("config_error", ""), "require_all_pas"));
  CHECK(c.result("wo.show", {{"id", w5}})["status"] == "review");
  c.root.stop();
}

// 7 ---------------------------------------------------------------------------------------
TEST_CASE("wo list filters, update, assign, timeline and stats", "[work_orders]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f1");
  const std::string a = wo_create(c, {"--title", "alpha", "--type", "bug"});
  const std::string b = wo_create(c, {"--title", "beta", "--type", "feature", "--factory", "f1"});
  const std::string d = wo_create(c, {"--title", "gamma", "--factory", "f1"});
  const std::string e = wo_create(c, {"--title", "delta", "--type", "chore", "--priority", "4"});
  transition(c, b, "assigned");
  transition(c, d, "canceled");
  walk(c, e, {"assigned", "in_progress"});

  // update: title and priority, with the previous values in the event.
  auto up = c.root.co({"wo", "update", a, "--title", "alpha, renamed", "--priority", "0"});
  INFO(up.out << up.err);
  REQUIRE(up.exit_code == 0);
  auto shown = wo_show(c, a);
  CHECK(shown["title"] == "alpha, renamed");
  CHECK(shown["priority"] == 0);
  auto updated = c.events("wo.updated", a);
  REQUIRE(updated.size() == 1);
  CHECK(updated[0]["actor"] == "operator");
  CHECK(updated[0]["data"]["set"] == json({{"title", "alpha, renamed"}, {"priority", 0}}));
  CHECK(updated[0]["data"]["previous"] == json({{"title", "alpha"}, {"priority", 2}}));
  CHECK(c.root.co({"wo", "update", a}).exit_code == 2);  // nothing to update

  // assign / --clear
  REQUIRE(c.root.co({"wo", "assign", b, "f1/workers/slot3"}).exit_code == 0);
  CHECK(wo_show(c, b)["assignee"] == "f1/workers/slot3");

  auto list = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"wo", "list"});
    return ids_of_list(c.co_json(args));
  };
  CHECK(list({}) == sorted({a, b, d, e}));
  CHECK(list({"--status", "open"}) == sorted({a}));
  CHECK(list({"--status=open,canceled"}) == sorted({a, d}));
  CHECK(list({"--status", "in_progress,assigned"}) == sorted({b, e}));
  CHECK(list({"--status", "review"}).empty());
  CHECK(list({"--factory", "f1"}) == sorted({b, d}));
  CHECK(list({"--factory", "f1", "--status", "assigned"}) == sorted({b}));
  CHECK(list({"--assignee", "f1/workers/slot3"}) == sorted({b}));
  CHECK(list({"--assignee", "f1/workers/slot4"}).empty());
  CHECK(list({"--older-than", "1d"}).empty());
  CHECK(list({"--older-than=0s"}) == sorted({a, b, d, e}));
  // Human output: a table with the ids.
  auto table = c.root.co({"wo", "list", "--status", "open"});
  CHECK(table.exit_code == 0);
  CHECK(contains(table.out, a));
  CHECK(!contains(table.out, b));

  auto cleared = c.root.co({"wo", "assign", b, "--clear"});
  INFO(cleared.out << cleared.err);
  REQUIRE(cleared.exit_code == 0);
  CHECK(wo_show(c, b)["assignee"].is_null());
  CHECK(list({"--assignee", "f1/workers/slot3"}).empty());
  auto assigns = c.events("wo.updated", b);
  REQUIRE(assigns.size() == 2);
  CHECK(assigns[0]["data"]["set"] == json({{"assignee", "f1/workers/slot3"}}));
  CHECK(assigns[1]["data"]["set"] == json({{"assignee", nullptr}}));
  CHECK(assigns[1]["data"]["previous"] == json({{"assignee", "f1/workers/slot3"}}));

  // timeline: the work order's events, in id order.
  auto tl = c.co_json({"wo", "timeline", b});
  CHECK(tl["id"] == b);
  std::vector<long long> ids;
  std::vector<std::string> types;
  for (const auto& ev : tl["events"]) {
    ids.push_back(id_of(ev));
    types.push_back(ev["event_type"]);
    CHECK(ev["subject"] == b);
  }
  CHECK(types == std::vector<std::string>{"wo.created", "wo.transitioned", "wo.updated", "wo.updated"});
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  std::vector<long long> expected;
  for (const auto& ev : subject_events(c, b)) expected.push_back(id_of(ev));
  CHECK(ids == expected);
  auto human = c.root.co({"wo", "timeline", b});
  CHECK(human.exit_code == 0);
  CHECK(contains(human.out, "open -> assigned"));

  // stats
  auto st = c.co_json({"wo", "stats"});
  CHECK(st["total"] == 4);
  CHECK(st["by_status"] == json({{"open", 1}, {"assigned", 1}, {"canceled", 1}, {"in_progress", 1}}));
  CHECK(st["by_type"] == json({{"bug", 1}, {"feature", 1}, {"task", 1}, {"chore", 1}}));
  CHECK(st["by_factory"]["f1"] == 2);
  long long sum = 0;
  for (const auto& [k, n] : st["by_factory"].items()) sum += n.get<long long>();
  CHECK(sum == 4);
  REQUIRE(st["oldest_open"].is_object());
  CHECK(st["oldest_open"]["id"] == a);
  CHECK(st["oldest_open"]["age_seconds"].get<double>() >= 0);
  auto sf = c.co_json({"wo", "stats", "--factory", "f1"});
  CHECK(sf["total"] == 2);
  CHECK(sf["by_status"] == json({{"assigned", 1}, {"canceled", 1}}));
  CHECK(sf["oldest_open"].is_null());
  auto sh = c.root.co({"wo", "stats"});
  CHECK(sh.exit_code == 0);
  CHECK(contains(sh.out, "4 work order"));
  c.root.stop();
}

// 8 ---------------------------------------------------------------------------------------
TEST_CASE("durability: every answered create and transition survives kill -9 of the daemon", "[work_orders]") {
  Company c(Settings{});
  c.start();
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(wo_create(c, {"--title", "durable " + std::to_string(i)}));
  c.root.kill_daemon();
  c.start();
  for (int i = 0; i < 50; ++i) {
    INFO("work order " << i << " " << ids[i]);
    auto r = c.root.co({"--json", "wo", "show", ids[i]});
    REQUIRE(r.exit_code == 0);
    auto w = parse_json(r.out);
    CHECK(w["id"] == ids[i]);
    CHECK(w["title"] == "durable " + std::to_string(i));
  }
  CHECK(c.result("wo.list")["total"] == 50);

  auto r = c.root.co({"wo", "transition", ids.back(), "--to", "assigned", "--reason", "acknowledged"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  c.root.kill_daemon();
  c.start();
  auto w = wo_show(c, ids.back());
  CHECK(w["status"] == "assigned");
  auto moves = c.events("wo.transitioned", ids.back());
  REQUIRE(moves.size() == 1);
  CHECK(moves[0]["data"]["reason"] == "acknowledged");
  c.root.stop();
}

// 9 ---------------------------------------------------------------------------------------
TEST_CASE("hostile input over the raw socket is -32602 with the field, and changes nothing", "[work_orders]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f1");
  const std::string id = create_raw(c, "target")["id"];
  const long long before = last_event_id(c);
  const json list_before = c.result("wo.list");

  struct Case {
    std::string method;
    json params;
    std::string field;
  };
  const std::string long_title(5000, 't');
  const std::vector<Case> cases = {
      {"wo.create", {{"title", "x"}, {"colour", "red"}}, "colour"},
      {"wo.create", {{"title", "x"}, {"priority", "high"}}, "priority"},
      {"wo.create", {{"title", "x"}, {"priority", 9}}, "priority"},
      {"wo.create", {{"title", "x"}, {"priority", -1}}, "priority"},
      {"wo.create", {{"title", "x"}, {"priority", 1.5}}, "priority"},
      {"wo.create", {{"title", long_title}}, "title"},
      {"wo.create", {{"title", 5}}, "title"},
      {"wo.create", {{"title", ""}}, "title"},
      {"wo.create", json::object(), "title"},
      {"wo.create", {{"title", "x"}, {"type", "epic"}}, "type"},
      {"wo.create", {{"title", "x"}, {"factory", "Bad Name"}}, "factory"},
      {"wo.create", {{"title", "x"}, {"factory", "../f1"}}, "factory"},
      {"wo.create", {{"title", "x"}, {"idempotency_key", ""}}, "idempotency_key"},
      {"wo.create", {{"title", "x"}, {"description", json::array()}}, "description"},
      {"wo.transition", {{"id", id}, {"to", "finished"}, {"reason", "r"}}, "to"},
      {"wo.transition", {{"id", id}, {"to", 3}, {"reason", "r"}}, "to"},
      {"wo.transition", {{"id", "../../x"}, {"to", "assigned"}, {"reason", "r"}}, "id"},
      {"wo.transition", {{"id", id}, {"to", "assigned"}}, "reason"},
      {"wo.transition", {{"id", id}, {"to", "assigned"}, {"reason", "  "}}, "reason"},
      {"wo.transition", {{"id", id}, {"to", "assigned"}, {"reason", "r"}, {"idempotency_key", ""}}, "idempotency_key"},
      {"wo.transition", {{"id", id}, {"to", "assigned"}, {"reason", "r"}, {"force", true}}, "force"},
      {"wo.show", {{"id", "../../x"}}, "id"},
      {"wo.show", {{"id", 42}}, "id"},
      {"wo.timeline", {{"id", "WO-ABCDEF"}}, "id"},
      {"wo.update", {{"id", id}, {"title", long_title}}, "title"},
      {"wo.update", {{"id", id}, {"priority", "high"}}, "priority"},
      {"wo.update", {{"id", id}, {"assignee", "a b"}}, "assignee"},
      {"wo.update", {{"id", id}, {"status", "done"}}, "status"},
      {"wo.verify", {{"id", id}, {"check", "build"}, {"passed", "yes"}}, "passed"},
      {"wo.verify", {{"id", id}, {"check", "a b"}, {"passed", true}}, "check"},
      {"wo.list", {{"status", "finished"}}, "status"},
      {"wo.list", {{"factory", "Bad Name"}}, "factory"},
      {"wo.list", {{"older_than", "yesterday"}}, "older_than"},
      {"wo.stats", {{"factory", "Bad Name"}}, "factory"},
  };
  for (const auto& k : cases) {
    auto r = c.call(k.method, k.params);
    INFO(k.method << " " << k.params.dump().substr(0, 200) << " -> " << r.dump().substr(0, 400));
    REQUIRE(r.contains("error"));
    CHECK(r["error"]["code"] == -32602);
    CHECK(r["error"]["data"]["field"] == k.field);
    CHECK(last_event_id(c) == before);
  }
  CHECK(c.result("wo.list") == list_before);
  CHECK(c.result("ping")["pong"] == true);
  CHECK(!file_exists(c.root.path("x")));
  CHECK(!file_exists(c.root.path(".work/x")));
  c.root.stop();
}

// 10 --------------------------------------------------------------------------------------
TEST_CASE("wo eval report on a tiny workload: one done, one reached review", "[work_orders]") {
  Company c(Settings{});
  c.start();
  const std::string a = wo_create(c, {"--title", "finished work"});
  wo_create(c, {"--title", "untouched work"});
  walk(c, a, {"assigned", "in_progress", "review", "done"});
  auto r = c.co_json({"wo", "eval", "report"});
  INFO(r.dump());
  CHECK(r["done"] == 1);
  CHECK(r["reached_review"] == 1);
  REQUIRE(r["median_time_to_done_seconds"].is_number());
  CHECK(r["median_time_to_done_seconds"].get<double>() >= 0);
  CHECK(r["median_time_to_done_seconds"].get<double>() < 60);
  CHECK(r["reached_review_without_intervention"].get<long long>() <= 1);
  REQUIRE(r["share_without_intervention"].is_number());
  CHECK(r["share_without_intervention"].get<double>() >= 0);
  CHECK(r["share_without_intervention"].get<double>() <= 1);
  CHECK(r["since"].is_string());
  // Since a moment in the future: nothing.
  auto later = c.co_json({"wo", "eval", "report", "--since", "2999-01-01T00:00:00Z"});
  CHECK(later["done"] == 0);
  CHECK(later["median_time_to_done_seconds"].is_null());
  auto human = c.root.co({"wo", "eval", "report"});
  CHECK(human.exit_code == 0);
  CHECK(contains(human.out, "done"));
  c.root.stop();
}

// 11 --------------------------------------------------------------------------------------
TEST_CASE("wo rebuild-projections after a mixed workload matches the live projections", "[work_orders]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f1");
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> args{"--title", "mixed " + std::to_string(i), "--priority", std::to_string(i % 5)};
    if (i % 2) args.insert(args.end(), {"--factory", "f1"});
    if (i == 3) args.insert(args.end(), {"--idempotency-key", "mixed-3", "--type", "bug"});
    ids.push_back(wo_create(c, args));
  }
  CHECK(wo_create(c, {"--title", "mixed 3", "--idempotency-key", "mixed-3"}) == ids[3]);
  walk(c, ids[0], {"assigned", "in_progress", "review", "done"});
  walk(c, ids[1], {"assigned", "blocked", "open"});
  walk(c, ids[2], {"canceled"});
  c.result("wo.transition", {{"id", ids[3]}, {"to", "assigned"}, {"reason", "k"}, {"idempotency_key", "t1"}});
  c.result("wo.transition", {{"id", ids[3]}, {"to", "assigned"}, {"reason", "k"}, {"idempotency_key", "t1"}});
  walk(c, ids[3], {"in_progress", "review", "in_progress"});
  REQUIRE(c.root.co({"wo", "update", ids[4], "--title", "mixed four", "--priority", "1"}).exit_code == 0);
  REQUIRE(c.root.co({"wo", "update", ids[5], "--description", "longer\ntext"}).exit_code == 0);
  REQUIRE(c.root.co({"wo", "assign", ids[4], "f1/workers/slot1"}).exit_code == 0);
  REQUIRE(c.root.co({"wo", "assign", ids[5], "f1/workers/slot2"}).exit_code == 0);
  REQUIRE(c.root.co({"wo", "assign", ids[5], "--clear"}).exit_code == 0);
  c.co_json({"wo", "verify", ids[3], "--check", "build", "--pass"});
  c.co_json({"wo", "verify", ids[3], "--check", "tests", "--fail", "--note", "flaky"});
  c.co_json({"wo", "verify", ids[3], "--check", "tests", "--pass"});
  c.co_json({"wo", "verify", ids[1], "--check", "style", "--fail", "--subjective"});

  const json list_before = c.co_json({"wo", "list"});
  std::map<std::string, json> shown_before;
  for (const auto& id : ids) shown_before[id] = wo_show(c, id);
  const long long events_before = last_event_id(c);

  auto r = c.co_json({"wo", "rebuild-projections"});
  INFO(r.dump());
  CHECK(r["matched_live"] == true);
  CHECK(r["differences"] == 0);
  CHECK(r["work_orders"] == 6);
  CHECK(r["checks"] == 3);
  CHECK(r["events_replayed"].get<long long>() >= 6 + 12 + 5 + 4);
  CHECK(r["seconds"].get<double>() >= 0);

  CHECK(c.co_json({"wo", "list"}) == list_before);
  for (const auto& id : ids) {
    INFO(id);
    CHECK(wo_show(c, id) == shown_before[id]);
  }
  // Idempotency keys survive the rebuild too: repeats still write nothing.
  const long long after = last_event_id(c);
  CHECK(after >= events_before);
  CHECK(wo_create(c, {"--title", "mixed 3", "--idempotency-key", "mixed-3"}) == ids[3]);
  c.result("wo.transition", {{"id", ids[3]}, {"to", "blocked"}, {"reason", "k"}, {"idempotency_key", "t1"}});
  CHECK(last_event_id(c) == after);
  auto human = c.root.co({"wo", "rebuild-projections"});
  CHECK(human.exit_code == 0);
  CHECK(contains(human.out, "matches the live projections"));
  c.root.stop();
}
