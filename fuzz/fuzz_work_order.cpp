// fuzz_work_order: the work-order model and the daemon-side checks. The input is decoded
// (FuzzedDataProvider) into a sequence of operations applied through vermas::WorkOrders on
// a real Store + Journal + FeedWriter in a temporary company root: create, transition to
// a status, verify, update, imports of untrusted sync records (what check_synced_record()
// accepts, as wo.sync does) and slot events, by operators, the daemon and agents of several roles,
// with idempotency keys, across factories whose verification gates differ (and one whose
// config file is broken).
//
// Strings are valid UTF-8, as the RPC layer's parser guarantees for everything that reaches
// WorkOrders. One Store per process; between inputs the events and the projections are deleted (the
// other tables stay), so each input starts from the same empty log and reproduces alone.
//
// Invariants (a violation prints what and where, then __builtin_trap()):
//  - Only vermas::Error escapes the service, answered (rpc::to_rpc_code) with -32001, -32002, -32003 or -32602 (-32603
//    only for a work order whose status a raw event made unknown).
//  - A refused call changes nothing: the same last_event_id and the same projection
//    tables, every row and column (the target's row included).
//  - An accepted transition is one the table allows (wo::transition_allowed(from, to));
//    a pair the table forbids is refused with -32002. It appends exactly one
//    wo.transitioned event {from, to}, and the row then has status `to`, one transition
//    more and that event's id as last_event_id.
//  - Rights: a worker never creates, verifies or updates, and only moves work orders
//    assigned to it; supervisors and QA move only their own factory's (or factory-less)
//    work; only supervisors (own factory), the CEO and operators update; review -> done
//    in a gated factory only with an all_pass verdict, and never in a factory whose
//    config does not parse.
//  - A repeated idempotency key returns the first result and writes nothing.
//  - A create yields one open work order with a valid id carrying the factory's prefix.
//  - At the end of each input, replaying every event into fresh tables
//    (projections::apply, the reducer rebuild uses) equals the live tables exactly.
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/jsonrpc.hpp"
#include "daemon/rpc/errors.hpp"
#include "common/paths.hpp"
#include "common/work_order.hpp"
#include "daemon/factories.hpp"
#include "daemon/store/feed.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/store/store.hpp"
#include "daemon/work/wo_sync.hpp"
#include "daemon/work/work_orders.hpp"

namespace {

namespace fs = std::filesystem;
namespace P = vermas::projections;
using json = nlohmann::json;
using vermas::WoActor;
using vermas::wo::Status;

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\nfuzz_work_order: INVARIANT VIOLATED: %s\n  %s\n", what, detail.substr(0, 4000).c_str());
  std::fflush(stderr);
  __builtin_trap();
}

void check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) violated(what, detail);
}

std::string show(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Factories: fa gates review -> done on a passing "tests" check; fb gates on objective
// checks only; fc has a config file that does not parse; fd has no file (no gate).
const char* const kFactories[] = {"fa", "fb", "fc", "fd"};

struct World {
  fs::path root;
  vermas::Paths paths;
  std::unique_ptr<vermas::Store> store;
  std::unique_ptr<vermas::FeedWriter> feed;
  std::unique_ptr<vermas::Journal> journal;
  std::unique_ptr<vermas::Factories> factories;
  std::unique_ptr<vermas::WorkOrders> wos;
  long long clock_ms = 0;

  World() {
    char tmpl[] = "/tmp/vermas-fuzz-wo-XXXXXX";
    if (!mkdtemp(tmpl)) violated("setup", "mkdtemp failed");
    root = tmpl;
    paths = vermas::Paths{root};
    fs::create_directories(paths.work_dir());
    store = std::make_unique<vermas::Store>(paths.db_file());
    store->now_rfc3339 = [this] { return ts(clock_ms); };
    // Durability is not what this checks; an fsync per event would make it slow.
    vermas::sql::exec(store->db(), "PRAGMA synchronous=OFF", "fuzz setup");
    feed = std::make_unique<vermas::FeedWriter>(paths.feed_file(), 1u << 20, 1);
    journal = std::make_unique<vermas::Journal>(*store, *feed);
    write_factory("fa", "[factory]\nname = \"fa\"\nprefix = \"fa\"\n[verification]\nenabled = true\n"
                        "require_all_pass = true\nchecks = [\"tests\"]\n");
    write_factory("fb", "[factory]\nname = \"fb\"\nprefix = \"fbx\"\n[verification]\nenabled = true\n"
                        "objective_only = true\nrequire_all_pass = true\n");
    write_factory("fc", "[factory\nname = broken\n");
    for (const char* f : kFactories) {
      vermas::sql::Stmt s(store->statements(),
                          "INSERT OR REPLACE INTO factories(name, url, prefix, path, added_at) VALUES(?,?,?,?,?)",
                          "fuzz setup");
      s.bind(1, f).bind(2, "/nowhere").bind(3, std::string(f) + "p").bind(4, paths.factory_dir(f).string());
      s.bind(5, "2026-01-01T00:00:00.000Z").run();
    }
    factories = std::make_unique<vermas::Factories>(*journal, paths);
    factories->load();
    wos = std::make_unique<vermas::WorkOrders>(*journal, *factories);
    std::string sql = P::drop_tables("before_") + P::create_tables("before_", false) + P::drop_tables("replay_") +
                      P::create_tables("replay_", false);
    vermas::sql::exec(store->db(), sql.c_str(), "fuzz setup");
  }

  void write_factory(const char* name, const std::string& text) {
    fs::create_directories(paths.factory_dir(name) / ".work");
    std::ofstream(paths.factory_config(name)) << text;
  }

  ~World() {
    wos.reset();
    factories.reset();
    journal.reset();
    feed.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  static std::string ts(long long ms) {
    long long s = ms / 1000;
    char buf[48];
    std::snprintf(buf, sizeof buf, "2026-01-%02lldT%02lld:%02lld:%02lld.%03lldZ", 1 + (s / 86400) % 28, (s / 3600) % 24,
                  (s / 60) % 60, s % 60, ms % 1000);
    return buf;
  }

  void reset() {
    // The events table refuses deletes unless meta says an archive runs (as events.archive
    // sets it, in the same transaction).
    std::string sql = "BEGIN; INSERT OR REPLACE INTO meta(key, value) VALUES('archiving', '1'); DELETE FROM events;"
                      " DELETE FROM meta WHERE key = 'archiving';";
    for (const auto& t : P::table_names()) sql += "DELETE FROM " + t + ";";
    sql += "COMMIT;";
    vermas::sql::exec(store->db(), sql.c_str(), "fuzz reset");
    clock_ms = 0;
  }

  std::int64_t last() const { return store->last_event_id(); }

  // The whole row, every column, as stored (work_order_row leaves some out).
  json row(const std::string& id) const {
    vermas::sql::Stmt s(store->statements(),
                        "SELECT id, title, description, type, priority, status, factory, assignee, created_at, "
                        "updated_at, artifacts, transitions, review_cycles, interventions, first_review_at, "
                        "review_clean, done_at, last_event_id FROM work_orders WHERE id = ?",
                        "fuzz row");
    s.bind(1, id);
    if (!s.step()) return nullptr;
    json out = json::array();
    for (int i = 0; i < 18; ++i) out.push_back(s.is_null(i) ? json(nullptr) : json(s.text(i)));
    return out;
  }

  void snapshot() { P::copy(store->statements(), P::kLive, "before_"); }
  std::int64_t changed_since_snapshot() const { return P::differences(store->statements(), P::kLive, "before_"); }

  std::string dump_table(const std::string& table) const {
    vermas::sql::Stmt s(store->statements(), "SELECT * FROM " + table + " LIMIT 20", "fuzz dump");
    std::string out;
    while (s.step()) {
      out += "    ";
      for (int i = 0; i < 8; ++i) out += (s.is_null(i) ? std::string("NULL") : s.text(i).substr(0, 40)) + " | ";
      out += "\n";
    }
    return out;
  }

  // Replays every event into the replay_ tables and compares them with the live ones.
  void check_replay() const {
    // DELETE, not DROP + CREATE: a schema change would re-prepare every cached statement.
    std::string sql = "BEGIN;";
    for (const auto& t : P::table_names()) sql += "DELETE FROM replay_" + t + ";";
    vermas::sql::exec(store->db(), sql.c_str(), "fuzz replay");
    store->scan(0, last(), INT64_MAX, {}, [&](const vermas::Event& e) {
      P::apply(store->statements(), "replay_", e);
    });
    vermas::sql::exec(store->db(), "COMMIT", "fuzz replay");
    const std::int64_t diff = P::differences(store->statements(), P::kLive, "replay_");
    if (diff != 0) {
      std::string detail = std::to_string(diff) + " row(s) differ\n";
      for (const auto& t : P::table_names())
        detail += "  live " + t + ":\n" + dump_table(t) + "  replayed " + t + ":\n" + dump_table("replay_" + t);
      violated("replaying the events does not give the live projections", detail);
    }
  }
};

World& world() {
  static World* w = [] {
    auto* created = new World();  // never destroyed: reachable, so not a leak
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(world().root, ec);  // the open database goes with the process
    });
    return created;
  }();
  return *w;
}

// Text as the daemon passes it: the RPC layer's JSON parser refuses invalid UTF-8, so every
// string reaching WorkOrders is valid UTF-8 (invalid bytes here become U+FFFD).
std::string text(FuzzedDataProvider& in, std::size_t max) {
  const std::string raw = in.ConsumeRandomLengthString(max);
  return json::parse(json(raw).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

WoActor pick_actor(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return WoActor{};
    case 1: return WoActor::operations();
    case 2: return WoActor{"fa/workers/slot0", std::string("worker"), std::string("fa"), std::nullopt};
    case 3: return WoActor{"fa/supervisor", std::string("supervisor"), std::string("fa"), std::nullopt};
    case 4: return WoActor{"fa/qa", std::string("qa"), std::string("fa"), std::nullopt};
    case 5: return WoActor{"fb/supervisor", std::string("supervisor"), std::string("fb"), std::nullopt};
    case 6: return WoActor{"ceo", std::string("ceo"), std::nullopt, std::nullopt};
    default: return WoActor{"operator", std::nullopt, std::nullopt, text(in, 16)};
  }
}

std::optional<std::string> pick_factory(FuzzedDataProvider& in) {
  int i = in.ConsumeIntegralInRange<int>(0, 5);
  if (i == 0) return std::nullopt;
  if (i == 5) return std::string("zz");  // not registered
  return std::string(kFactories[i - 1]);
}

std::optional<std::string> pick_key(FuzzedDataProvider& in) {
  if (!in.ConsumeBool()) return std::nullopt;
  return "k" + std::to_string(in.ConsumeIntegralInRange<int>(0, 3));
}

std::string pick_id(FuzzedDataProvider& in, const std::vector<std::string>& ids) {
  if (ids.empty() || in.ConsumeIntegralInRange<int>(0, 9) == 0) return "wo-zzzzzz";  // unknown
  return ids[in.ConsumeIntegralInRange<std::size_t>(0, ids.size() - 1)];
}

std::string assignee_of(const json& row) { return row.is_array() && row[7].is_string() ? row[7].get<std::string>() : ""; }
std::optional<std::string> factory_of(const json& row) {
  if (row.is_array() && row[6].is_string()) return row[6].get<std::string>();
  return std::nullopt;
}

// The outcome of one operation: accepted (result) or refused (code).
struct Outcome {
  std::optional<json> result;
  int code = 0;
  std::string message;
};

template <class F>
Outcome attempt(F&& f) {
  Outcome o;
  try {
    o.result = f();
  } catch (const vermas::Error& e) {
    o.code = vermas::rpc::to_rpc_code(e.code());  // as the router answers it
    o.message = e.what();
  }
  return o;
}

void check_refusal(const World& w, const Outcome& o, std::int64_t last_before, const json& row_before,
                   const std::string& id, const char* op) {
  const std::string where = std::string(op) + " refused with " + std::to_string(o.code) + ": " + o.message;
  check(o.code == -32001 || o.code == -32002 || o.code == -32003 || o.code == -32602 || o.code == -32603,
        "a refusal with an unexpected code", where);
  check(w.last() == last_before, "a refused call appended an event", where);
  check(w.row(id) == row_before, "a refused call changed the work order's row", where);
  check(w.changed_since_snapshot() == 0, "a refused call changed the projection tables", where);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = world();
  w.reset();
  FuzzedDataProvider in(data, size);
  std::vector<std::string> ids;
  std::map<std::pair<std::string, std::string>, json> keyed;  // (scope, key) -> first result

  for (int step = 0; step < 64 && in.remaining_bytes() > 0; ++step) {
    w.clock_ms += in.ConsumeIntegralInRange<int>(0, 100000);
    const int op = in.ConsumeIntegralInRange<int>(0, 9);
    const std::int64_t last_before = w.last();
    w.snapshot();

    if (op <= 1) {  // ---- create
      vermas::WoCreate c;
      c.title = text(in, 40);
      c.type = in.ConsumeBool() ? std::string(vermas::wo::kTypes[in.ConsumeIntegralInRange<int>(0, 3)])
                                : text(in, 8);
      c.priority = in.ConsumeIntegralInRange<int>(-1, 5);
      c.factory = pick_factory(in);
      c.description = text(in, 40);
      c.idempotency_key = pick_key(in);
      const WoActor a = pick_actor(in);
      const bool repeat = c.idempotency_key && keyed.count({"", *c.idempotency_key});
      Outcome o = attempt([&] { return vermas::wo::to_json(w.wos->create(c, a)); });
      if (!o.result) {
        check_refusal(w, o, last_before, nullptr, "-", "create");
        check(!repeat, "a repeated create key was refused", o.message);
        continue;
      }
      if (repeat) {
        check(*o.result == keyed[{"", *c.idempotency_key}], "a repeated create key returned another result",
              show(*o.result));
        check(w.last() == last_before, "a repeated create key wrote an event");
        continue;
      }
      check(a.role != std::string("worker"), "a worker created a work order");
      check(w.last() == last_before + 1, "a create did not append exactly one event");
      const json& r = *o.result;
      const std::string id = r.value("id", "");
      check(vermas::wo::valid_id(id), "a create made an invalid id", id);
      check(r["status"] == "open", "a new work order is not open", show(r));
      if (c.factory == std::string("fa")) check(id.rfind("fa-", 0) == 0, "fa's prefix not used", id);
      if (c.factory == std::string("fb")) check(id.rfind("fbx-", 0) == 0, "fb's prefix not used", id);
      if (!c.factory) check(id.rfind("wo-", 0) == 0, "a factory-less id without the wo prefix", id);
      ids.push_back(id);
      if (c.idempotency_key) keyed[{"", *c.idempotency_key}] = r;

    } else if (op <= 5) {  // ---- transition
      vermas::WoTransition t;
      t.id = pick_id(in, ids);
      t.to = vermas::wo::kStatuses[in.ConsumeIntegralInRange<std::size_t>(0, 8)];
      t.reason = text(in, 20);
      t.idempotency_key = pick_key(in);
      if (in.ConsumeIntegralInRange<int>(0, 7) == 0)  // as dispatch does: assign with the status
        t.assignee = in.ConsumeBool() ? json("fa/workers/slot0") : json(nullptr);
      if (in.ConsumeIntegralInRange<int>(0, 7) == 0) t.factory = pick_factory(in);
      const WoActor a = pick_actor(in);
      const json before = w.row(t.id);
      json verdict;
      if (before.is_array()) verdict = w.wos->verdict(*w.wos->find(t.id));
      const bool repeat = t.idempotency_key && keyed.count({t.id, *t.idempotency_key});
      Outcome o = attempt([&] { return vermas::wo::to_json(w.wos->transition(t, a)); });
      const std::string what = t.id + " -> " + vermas::wo::to_string(t.to) + " by " + a.id + ": " +
                               (o.result ? show(*o.result) : std::to_string(o.code) + " " + o.message);
      if (repeat) {
        check(o.result && *o.result == keyed[{t.id, *t.idempotency_key}],
              "a repeated transition key did not return the first result", what);
        check(w.last() == last_before, "a repeated transition key wrote an event", what);
        continue;
      }
      const auto from = before.is_array() ? vermas::wo::parse_status(before[5].get<std::string>()) : std::nullopt;
      if (!o.result) {
        check_refusal(w, o, last_before, before, t.id, "transition");
        if (from && !vermas::wo::transition_allowed(*from, t.to))
          check(o.code == -32002, "a transition the table forbids was refused with another code", what);
        if (o.code == -32603) check(before.is_array() && !from, "-32603 for a work order with a known status", what);
        continue;
      }
      check(before.is_array() && from.has_value(), "a transition of an unknown work order was accepted", what);
      check(vermas::wo::transition_allowed(*from, t.to), "a transition the table forbids was accepted", what);
      check(w.last() == last_before + 1, "a transition did not append exactly one event", what);
      const json after = w.row(t.id);
      check(after[5] == vermas::wo::to_string(t.to), "the row's status is not the target", what);
      check(after[11] == std::to_string(std::stoll(before[11].get<std::string>()) + 1),
            "transitions did not grow by one", what);
      check(after[17] == std::to_string(w.last()), "last_event_id is not the transition's event", what);
      if (a.role == std::string("worker"))
        check(assignee_of(before) == a.id, "a worker moved a work order not assigned to it", what);
      if (a.role == std::string("supervisor") || a.role == std::string("qa"))
        check(!factory_of(before) || factory_of(before) == a.factory, "an agent moved another factory's work", what);
      if (*from == Status::review && t.to == Status::done) {
        const auto f = factory_of(before);
        check(f != std::string("fc"), "review -> done in a factory whose config is broken", what);
        if (f == std::string("fa") || f == std::string("fb"))
          check(verdict.value("all_pass", false), "review -> done past a failing verification gate",
                what + " verdict " + show(verdict));
      }
      if (t.idempotency_key) keyed[{t.id, *t.idempotency_key}] = *o.result;

    } else if (op == 6) {  // ---- verify
      const std::string id = pick_id(in, ids);
      static const char* const kChecks[] = {"tests", "build", "lint"};
      const std::string name = kChecks[in.ConsumeIntegralInRange<int>(0, 2)];
      const bool passed = in.ConsumeBool(), objective = in.ConsumeBool();
      const std::string note = text(in, 20);
      const WoActor a = pick_actor(in);
      const json before = w.row(id);
      Outcome o = attempt([&] { return w.wos->verify(id, name, passed, objective, note, a); });
      const std::string what = "verify " + id + " " + name + " by " + a.id;
      if (!o.result) {
        check_refusal(w, o, last_before, before, id, "verify");
        continue;
      }
      check(before.is_array(), "verify of an unknown work order was accepted", what);
      check(a.role != std::string("worker"), "a worker recorded a check", what);
      if (a.is_agent() && a.role != std::string("ceo"))
        check(!factory_of(before) || factory_of(before) == a.factory, "an agent verified another factory's work", what);
      check(w.last() == last_before + 1, "a verify did not append exactly one event", what);
      check((*o.result)["check"].value("passed", !passed) == passed, "the recorded check is not what was sent", what);

    } else if (op == 7) {  // ---- update
      const std::string id = pick_id(in, ids);
      json set = json::object();
      if (in.ConsumeBool()) set["title"] = text(in, 20);
      if (in.ConsumeBool()) set["description"] = text(in, 20);
      if (in.ConsumeBool()) set["priority"] = in.ConsumeIntegralInRange<int>(0, 4);
      if (in.ConsumeBool()) set["assignee"] = in.ConsumeBool() ? json("fa/workers/slot0") : json(nullptr);
      const WoActor a = pick_actor(in);
      const json before = w.row(id);
      Outcome o = attempt([&] { return vermas::wo::to_json(w.wos->update(id, set, a)); });
      const std::string what = "update " + id + " " + show(set) + " by " + a.id;
      if (!o.result) {
        check_refusal(w, o, last_before, before, id, "update");
        continue;
      }
      check(before.is_array() && !set.empty(), "an update of nothing or of an unknown work order was accepted", what);
      if (a.is_agent()) {
        check(a.role == std::string("supervisor") || a.role == std::string("ceo"), "an agent may not update", what);
        if (a.role == std::string("supervisor"))
          check(factory_of(before) == a.factory, "a supervisor updated another factory's work", what);
      }
      check(w.last() == last_before + 1, "an update did not append exactly one event", what);
      for (const auto& [k, v] : set.items()) check((*o.result)[k] == v, "an updated field was not set", what);

    } else if (op == 8) {  // ---- an import, as wo.sync makes one from its branch's record
      // The branch is written by anyone with push access: the record is untrusted, and only
      // what check_synced_record() accepts is imported, as WoSync::sync does.
      json r = json::object();
      r["id"] = in.ConsumeBool() ? json(pick_id(in, ids)) : json("fa-" + text(in, 8));
      r["title"] = text(in, 20);
      r["description"] = text(in, 20);
      r["type"] = in.ConsumeBool() ? std::string(vermas::wo::kTypes[in.ConsumeIntegralInRange<int>(0, 3)])
                                   : text(in, 8);
      r["status"] = in.ConsumeBool() ? std::string(vermas::wo::kStatusNames[in.ConsumeIntegralInRange<int>(0, 8)])
                                     : text(in, 12);
      r["priority"] = in.ConsumeIntegralInRange<int>(-1, 5);
      r["created_at"] = World::ts(in.ConsumeIntegralInRange<long long>(0, w.clock_ms + 1));
      r["updated_at"] = in.ConsumeBool() ? json(World::ts(w.clock_ms + in.ConsumeIntegralInRange<int>(-5000, 5000)))
                                         : json(text(in, 30));
      if (in.ConsumeBool()) r["assignee"] = in.ConsumeBool() ? json("fa/workers/slot0") : json(nullptr);
      if (in.ConsumeBool()) r["factory"] = in.ConsumeBool() ? json("fa") : json("fb");
      if (in.ConsumeBool()) r["artifacts"] = json::parse(text(in, 40), nullptr, false);
      if (r.contains("artifacts") && r["artifacts"].is_discarded()) r["artifacts"] = json::array();
      if (!vermas::check_synced_record(r, "fa").empty()) continue;
      r["factory"] = "fa";
      const std::string id = r["id"];
      auto local = w.wos->find(id);
      if (local && local->updated_at >= r["updated_at"].get<std::string>()) continue;
      if (local && local->factory != std::string("fa")) continue;
      json record = json::object();
      for (const char* f : {"id", "title", "description", "type", "priority", "status", "factory", "assignee",
                            "created_at", "updated_at", "artifacts"})
        record[f] = r.value(f, json());
      try {
        w.journal->record({"wo.imported", "operations", std::string("fa"), id,
                           {{"record", record}, {"branch", "work-sync"}, {"commit", "0123abcd"}}});
      } catch (const vermas::Error& e) {
        violated("an import that check_synced_record() accepted failed to fold", show(record) + ": " + e.what());
      }
      const json after = w.row(id);
      check(after.is_array() && after[5] == record["status"] && after[1] == record["title"],
            "an imported record is not what the row holds", show(record) + " vs " + show(after));
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);

    } else {  // ---- slot events, as the dispatcher records them
      const int slot = in.ConsumeIntegralInRange<int>(0, 2);
      if (in.ConsumeBool() && !ids.empty())
        w.journal->record({"slot.assigned", "operations", std::string("fa"), pick_id(in, ids),
                           {{"factory", "fa"}, {"slot", slot}, {"work_order", pick_id(in, ids)},
                            {"agent", "fa/workers/slot" + std::to_string(slot)}, {"branch", "work/x"},
                            {"worktree", "/w"}, {"team", in.ConsumeBool() ? json("t1") : json(nullptr)}}});
      else
        w.journal->record({"slot.freed", "operations", std::string("fa"), std::nullopt,
                           {{"factory", "fa"}, {"slot", slot}, {"reason", "fuzz"}}});
    }
  }
  w.check_replay();
  return 0;
}
