// Power-cut tests of the store, in the style of SQLite's crash tests. A killed process
// keeps its page cache, so "survives kill -9" cannot tell whether the store syncs before
// it answers; here a VFS shim (crash_vfs.hpp) keeps only what was synced (plus, in some
// outcomes, part or all of the rest), and every acknowledged transaction must survive.
//
// A seeded workload runs against the real Store; the shim counts its I/O calls. Then, for
// many cut points in that range, the workload reruns from the same starting file with the
// power cut at that call, and each outcome is reopened with a fresh Store on the plain VFS
// and checked.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "daemon/store/group_commit.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/store/store.hpp"
#include "tests/catch.hpp"
#include "tests/unit/crash_vfs.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

using vermas::Event;
using vermas::EventDraft;
using vermas::GroupCommit;
using vermas::Store;

using vermas::Errc;
using vermas::test::CrashVfs;
using vermas::test::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::uint64_t kSeed = 20260101;
constexpr int kTransactions = 160;  // ~1600 WAL frames: an automatic checkpoint (at 1000) and a WAL restart
constexpr const char* kSetupKey = "power_cut.setup";

// The drafts of each transaction, generated once: every rerun appends the same bytes, so
// call n of a rerun is call n of the counting run.
using Plan = std::vector<std::vector<EventDraft>>;

Plan make_plan(std::uint64_t seed, int transactions) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  struct Wo {
    std::string id, status;
  };
  std::vector<Wo> wos;
  auto create = [&](std::vector<EventDraft>& tx) {
    const std::string id = "WO-" + std::to_string(wos.size() + 1);
    json data = {{"title", "task " + id},
                 {"description", std::string(pick(600), 'd')},
                 {"type", "feature"},
                 {"priority", static_cast<int>(pick(4))},
                 {"factory", nullptr}};
    if (pick(3) == 0) data["idempotency_key"] = "key-" + id;
    tx.push_back({"wo.created", "operator", std::nullopt, id, std::move(data)});
    wos.push_back({id, "open"});
  };
  auto transition = [&](std::vector<EventDraft>& tx) {
    std::vector<std::size_t> live;
    for (std::size_t i = 0; i < wos.size(); ++i)
      if (wos[i].status != "done") live.push_back(i);
    if (live.empty()) return create(tx);
    Wo& w = wos[live[pick(live.size())]];
    std::string to;
    if (w.status == "open" || w.status == "blocked") to = "in_progress";
    else if (w.status == "in_progress") to = pick(5) == 0 ? "blocked" : "review";
    else to = pick(3) == 0 ? "in_progress" : "done";  // from review
    json data = {{"from", w.status}, {"to", to}, {"reason", "step"}};
    if (w.status == "open") data["assignee"] = "agent-" + std::to_string(pick(5));
    if (pick(4) == 0) data["idempotency_key"] = "move-" + std::to_string(rng());
    tx.push_back({"wo.transitioned", "operations", std::nullopt, w.id, std::move(data)});
    w.status = to;
  };
  Plan plan;
  for (int t = 0; t < transactions; ++t) {
    std::vector<EventDraft> tx;
    switch (pick(20)) {
      case 0: case 1: case 2: case 3: case 4: case 5: create(tx); break;
      case 6: case 7: case 8: case 9: case 10: case 11: transition(tx); break;
      case 12: case 13: case 14: case 15:  // several events in one transaction, as a dispatch appends them
        create(tx);
        for (auto n = 1 + pick(3); n > 0; --n) transition(tx);
        tx.push_back({"agent.heartbeat", "agent-1", std::nullopt, std::nullopt, json{{"n", t}}});
        break;
      case 16:  // a payload larger than a page: overflow pages
        tx.push_back({"agent.output", "agent-2", std::nullopt, std::nullopt,
                      json{{"text", std::string(3000 + pick(5000), static_cast<char>('a' + pick(26)))}}});
        break;
      default:
        if (wos.empty()) create(tx);
        else
          tx.push_back({"wo.check_recorded", "agent-3", std::nullopt, wos[pick(wos.size())].id,
                        json{{"check", "tests"}, {"passed", pick(2) == 0}, {"note", "run " + std::to_string(t)}}});
    }
    plan.push_back(std::move(tx));
  }
  return plan;
}

// Timestamps from a counter: reruns write identical events.
std::string fake_ts(std::int64_t ms) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "2026-01-01T%02d:%02d:%02d.%03dZ", static_cast<int>(ms / 3600000 % 24),
                static_cast<int>(ms / 60000 % 60), static_cast<int>(ms / 1000 % 60), static_cast<int>(ms % 1000));
  return buf;
}

// An event as the events table holds it: compared as stored text, so "identical" means
// byte for byte (and no JSON parsing, which would dominate the run time under ASan).
struct Row {
  std::int64_t id = 0;
  std::string ts, type, actor;
  std::optional<std::string> factory, subject;
  std::string data;
  bool operator==(const Row&) const = default;
};

Row row_of(const Event& e) {
  // As Store::Tx::append serialises it.
  return {e.id, e.ts, e.event_type, e.actor, e.factory, e.subject,
          e.data.dump(-1, ' ', false, json::error_handler_t::replace)};
}

std::string first_text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
  std::string out;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    out = text ? reinterpret_cast<const char*>(text) : "";
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errstr(rc));
  return out;
}

// Calls `fn` with the columns of every row, as text (nullopt for NULL).
template <class Fn>
void each_row(sqlite3* db, const std::string& sql, Fn&& fn) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
  auto col = [&](int i) {
    const unsigned char* t = sqlite3_column_text(stmt, i);
    return t ? std::optional<std::string>(reinterpret_cast<const char*>(t)) : std::nullopt;
  };
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) fn(stmt, col);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errstr(rc));
}

std::vector<Row> read_events(sqlite3* db) {
  std::vector<Row> rows;
  each_row(db, "SELECT id, ts, event_type, actor, factory, subject, data FROM events ORDER BY id",
           [&](sqlite3_stmt* stmt, auto& col) {
             rows.push_back({sqlite3_column_int64(stmt, 0), col(1).value_or(""), col(2).value_or(""),
                             col(3).value_or(""), col(4), col(5), col(6).value_or("")});
           });
  return rows;
}

// Every row of every projection table, in key order, as one string.
std::string projection_content(sqlite3* db) {
  std::string out;
  for (const auto& table : vermas::projections::table_names()) {
    out += table + ":\n";
    each_row(db, "SELECT * FROM " + table + " ORDER BY 1, 2", [&](sqlite3_stmt* stmt, auto& col) {
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) out += col(i).value_or("<null>") + "|";
      out += "\n";
    });
  }
  return out;
}

struct Run {
  std::vector<Row> acknowledged;  // every event of every transaction acknowledged
  // Transactions not acknowledged that may be on disk, in commit order: the one whose
  // COMMIT failed; under group commit also those committed but not yet covered by a sync.
  std::vector<std::vector<Row>> in_flight;
  int transactions = 0;           // acknowledged
  std::string error;              // the failure that ended the run
};

// The projections of an uncrashed run after each transaction, by the number of events so
// far: what a recovered database holding that many events must have.
using Expected = std::map<std::size_t, std::string>;

// `synchronous`: SQL run on the store's connection after opening (nullptr: the store's own).
// How the workload is made durable: the store's own synchronous setting (each transaction
// acknowledged when transact() returns), or the daemon's group commit (transactions in
// groups of 1..group, acknowledged when the GroupCommit's sync that covers them reports).
struct Durability {
  const char* synchronous = nullptr;  // a PRAGMA to run after opening, or none
  int group = 0;                      // > 0: group commit
  bool sync_does_nothing = false;     // group commit whose sync never reaches the disk
  bool shared = false;                // the group's transactions share one (the daemon's way)
};

// The daemon's WalSync works on a descriptor of its own, which the shim cannot see; here the
// group commit syncs the same WAL through SQLite's own file object, so the shim counts it.
std::error_code sync_wal_through_vfs(sqlite3* db) {
  sqlite3_file* wal = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || !wal || !wal->pMethods)
    return {};  // no WAL open: nothing was written since the last checkpoint
  if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK) return {EIO, std::generic_category()};
  return {};
}

Run run_workload(const fs::path& db, const Plan& plan, const Durability& how, Expected* expected = nullptr) {
  Run run;
  try {
    Store store(db, how.group ? Store::Durability::grouped : Store::Durability::full);
    boost::asio::io_context io;
    GroupCommit group(
        io, [&store, &how] { return how.sync_does_nothing ? std::error_code{} : sync_wal_through_vfs(store.db()); },
        GroupCommit::Run::inline_on_io);
    if (how.group) store.on_commit([&group] { group.committed(); });
    if (how.shared) vermas::share_transactions(store, group);
    std::int64_t tick = 0;
    store.now_rfc3339 = [&tick] { return fake_ts(tick++); };
    if (how.synchronous) vermas::sql::exec(store.db(), how.synchronous, "setting synchronous");
    if (expected) (*expected)[0] = projection_content(store.db());
    std::mt19937_64 rng(kSeed + 7);
    std::size_t events = 0;
    for (std::size_t next = 0; next < plan.size();) {
      const std::size_t size = how.group ? 1 + rng() % static_cast<std::size_t>(how.group) : 1;
      std::vector<std::vector<Row>> committed;
      for (std::size_t k = 0; k < size && next < plan.size(); ++k, ++next) {
        std::vector<Row> pending;
        bool committing = false;
        try {
          store.transact([&](Store::Tx& tx) {
            for (const auto& d : plan[next]) pending.push_back(row_of(tx.append(d)));
            committing = true;
          });
        } catch (const vermas::Error& e) {
          // Failed before COMMIT: nothing of it can be on disk (SQLite writes no commit frame).
          run.in_flight = std::move(committed);
          if (committing) run.in_flight.push_back(std::move(pending));
          run.error = e.what();
          return run;
        }
        events += pending.size();
        if (expected) (*expected)[events] = projection_content(store.db());
        committed.push_back(std::move(pending));
      }
      if (how.group) {
        // As a connection's answer waits: acknowledged only when the sync reports success.
        std::optional<bool> synced;
        group.after_durable([&synced](bool ok) { synced = ok; });
        io.restart();
        io.run();
        if (synced != true) {
          run.in_flight = std::move(committed);
          run.error = "the group's sync failed";
          return run;
        }
      }
      for (auto& tx : committed) {
        run.acknowledged.insert(run.acknowledged.end(), tx.begin(), tx.end());
        ++run.transactions;
      }
    }
  } catch (const vermas::Error& e) {  // the cut came while opening
    run.error = e.what();
  }
  return run;
}

// What a reopened database holds compared with what the run was told.
struct Report {
  bool opened = false;
  std::string integrity;         // PRAGMA integrity_check, first row
  bool schema_intact = false;    // newest user_version and the setup row kept: no migration ran
  std::size_t recovered = 0;     // events found
  std::size_t lost = 0;          // acknowledged, missing
  std::size_t altered = 0;       // acknowledged, present with other content
  std::size_t unexpected = 0;    // present, but neither acknowledged nor the whole in-flight transaction
  bool in_flight_landed = false;
  std::int64_t work_orders = -1, created = 0;  // projection rows vs recovered wo.created events
  // The projection tables equal an uncrashed run's after as many events; unset when the
  // events are already wrong (then there is nothing exact to compare with).
  std::optional<bool> projections_match;
  std::string problem;  // an exception while checking, for messages

  bool ok() const {
    return opened && integrity == "ok" && schema_intact && lost == 0 && altered == 0 && unexpected == 0 &&
           work_orders == created && projections_match == true;
  }
  std::string describe() const {
    std::ostringstream s;
    s << "opened=" << opened << " integrity=" << integrity << " schema_intact=" << schema_intact
      << " recovered=" << recovered << " lost=" << lost << " altered=" << altered << " unexpected=" << unexpected
      << " in_flight_landed=" << in_flight_landed << " work_orders=" << work_orders << " created=" << created
      << " projections_match=" << (projections_match ? (*projections_match ? "yes" : "no") : "unchecked")
      << (problem.empty() ? "" : " problem: " + problem);
    return s.str();
  }
};

// Reopens `db` with a fresh Store on the default (plain) VFS and compares. Reports rather
// than asserts, so the tests that expect a loss use it too.
Report check_recovered(const fs::path& db, const Run& run, const Expected& expected) {
  Report r;
  std::vector<Row> rows;
  std::string projections;
  try {
    Store store(db);
    r.opened = true;
    sqlite3* h = store.db();
    // The copy is thrown away: no checkpoint (and its fsyncs) when it closes.
    sqlite3_db_config(h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    r.integrity = first_text(h, "PRAGMA integrity_check");
    r.schema_intact = store.schema_version() == static_cast<int>(vermas::store_migrations().size()) &&
                      first_text(h, "SELECT value FROM meta WHERE key = '" + std::string(kSetupKey) + "'") == "1";
    rows = read_events(h);
    r.work_orders = std::stoll(first_text(h, "SELECT count(*) FROM work_orders"));
    projections = projection_content(h);
  } catch (const std::exception& e) {
    r.problem = e.what();
  }
  r.recovered = rows.size();
  for (const Row& row : rows) r.created += row.type == "wo.created";
  std::map<std::int64_t, const Row*> found;
  for (const Row& row : rows) found.emplace(row.id, &row);
  for (const Row& a : run.acknowledged) {
    auto it = found.find(a.id);
    if (it == found.end()) {
      ++r.lost;
      continue;
    }
    if (!(*it->second == a)) ++r.altered;
    found.erase(it);
  }
  // Beyond the acknowledged: only whole in-flight transactions, the first k of them (the
  // WAL's frames are checksummed in a chain, so a commit survives only with those before it).
  if (!found.empty()) {
    bool whole = false;
    std::size_t landed = 0;
    for (const auto& tx : run.in_flight) {
      bool all = true;
      for (const Row& e : tx) {
        auto it = found.find(e.id);
        all = all && it != found.end() && *it->second == e;
      }
      if (!all) break;
      landed += tx.size();
      if (landed == found.size()) {
        whole = true;
        break;
      }
    }
    if (whole) r.in_flight_landed = true;
    else r.unexpected = found.size();
  }
  // The events are now exactly those of the first n of an uncrashed run.
  if (r.problem.empty() && r.lost == 0 && r.altered == 0 && r.unexpected == 0)
    if (auto it = expected.find(rows.size()); it != expected.end()) r.projections_match = projections == it->second;
  return r;
}

struct Sweep {
  std::uint64_t io_calls = 0, io_calls_again = 0, syncs = 0;
  int transactions = 0;
  std::size_t events = 0;
  std::size_t cut_points = 0;
  std::size_t outcomes = 0;          // cut points x survivor modes
  std::size_t not_cut = 0;           // cut points <= io_calls the rerun never reached (nondeterminism)
  std::size_t failed = 0;            // outcomes whose report is not ok
  std::size_t with_loss = 0;         // outcomes that lost acknowledged events
  std::size_t lost_events = 0, max_lost = 0;
  std::size_t not_intact = 0;        // integrity_check not ok, or the database did not open
  std::size_t in_flight_landed = 0;
  std::size_t unsynced = 0, kept = 0;  // writes pending at the cuts, and those kept
  std::vector<std::string> problems;   // the first few failures
  double seconds = 0;

  std::string summary(const char* mode) const {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(2);
    s << "power cut (" << mode << "): " << cut_points << " cut points x 3 = " << outcomes << " outcomes over "
      << io_calls << " I/O calls (" << syncs << " syncs), " << transactions << " transactions / " << events
      << " events; " << failed << " failed: " << with_loss << " lost acknowledged events (" << lost_events
      << " in all, at most " << max_lost << "), " << not_intact << " not intact; in-flight transaction landed "
      << in_flight_landed << "x; unsynced writes at the cuts " << unsynced << ", kept " << kept << "; "
      << seconds << " s";
    return s.str();
  }
};

// The database every run starts from: migrated, with a row that migrations run again on
// a lost database would not bring back.
void make_template(const fs::path& file) {
  Store store(file);
  const std::string sql = "INSERT INTO meta(key, value) VALUES('" + std::string(kSetupKey) + "', '1')";
  vermas::sql::exec(store.db(), sql.c_str(), "marking the setup");
}

Sweep sweep(const Plan& plan, const Durability& how, std::size_t regular, std::size_t random) {
  const auto start = std::chrono::steady_clock::now();
  Sweep out;
  TempDir base;
  const fs::path tmpl = base.path / "template.db";
  make_template(tmpl);
  CrashVfs vfs;

  auto fresh_run = [&](const fs::path& dir, std::uint64_t cut, Expected* expected = nullptr) {
    fs::create_directories(dir / "live");
    fs::copy_file(tmpl, dir / "live" / "store.db");
    vfs.reset();
    vfs.cut_at(cut);
    CrashVfs::AsDefault as_default(vfs);
    return run_workload(dir / "live" / "store.db", plan, how, expected);
  };

  Expected expected;
  {
    // The reference run reads the projections between transactions, which adds calls;
    // the counting runs do not, and run twice: cut points mean something only if reruns match.
    TempDir d0, d1, d2;
    fresh_run(d0.path, 0, &expected);
    const Run full = fresh_run(d1.path, 0);
    out.io_calls = vfs.calls();
    out.syncs = vfs.syncs();
    out.transactions = full.transactions;
    out.events = full.acknowledged.size();
    if (!full.error.empty()) out.problems.push_back("the full run failed: " + full.error);
    fresh_run(d2.path, 0);
    out.io_calls_again = vfs.calls();
  }

  std::vector<std::uint64_t> cuts;
  const std::uint64_t step = std::max<std::uint64_t>(1, out.io_calls / regular);
  for (std::uint64_t c = 1; c <= out.io_calls; c += step) cuts.push_back(c);
  std::mt19937_64 rng(kSeed ^ out.io_calls);
  for (std::size_t i = 0; i < random; ++i) cuts.push_back(1 + rng() % out.io_calls);
  cuts.push_back(out.io_calls + 1);  // no cut: the power goes after the clean close
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  out.cut_points = cuts.size();

  for (const std::uint64_t cut : cuts) {
    TempDir dir;
    const Run run = fresh_run(dir.path, cut);
    if (cut <= out.io_calls && !vfs.cut()) ++out.not_cut;
    // "all" is what a killed process leaves: the in-flight transaction may then be there.
    const std::pair<CrashVfs::Survivors, const char*> modes[] = {{CrashVfs::Survivors::none, "none"},
                                                                 {CrashVfs::Survivors::random_subset, "subset"},
                                                                 {CrashVfs::Survivors::all, "all"}};
    for (const auto& [survivors, name] : modes) {
      // The disk as the run found it; the cut then rewrites the files the run opened.
      const fs::path target = dir.path / name;
      fs::create_directories(target);
      fs::copy_file(tmpl, target / "store.db");
      const std::uint64_t seed = kSeed * 31 + cut;
      const auto stats = vfs.power_cut(survivors, seed, target);
      out.unsynced += stats.unsynced;
      out.kept += stats.kept;
      const Report r = check_recovered(target / "store.db", run, expected);
      ++out.outcomes;
      out.in_flight_landed += r.in_flight_landed;
      if (r.lost) {
        ++out.with_loss;
        out.lost_events += r.lost;
        out.max_lost = std::max(out.max_lost, r.lost);
      }
      if (!r.opened || r.integrity != "ok") ++out.not_intact;
      if (!r.ok()) {
        ++out.failed;
        if (out.problems.size() < 5)
          out.problems.push_back("cut at call " + std::to_string(cut) + ", unsynced writes kept: " + name +
                                 ", seed " + std::to_string(seed) + ", acknowledged " +
                                 std::to_string(run.acknowledged.size()) + " (" + run.error + "): " + r.describe());
      }
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

const Plan& plan() {
  static const Plan p = make_plan(kSeed, kTransactions);
  return p;
}

// What every sweep of a durable store must find: the run repeatable (the same I/O calls
// again), all transactions made, every cut point reached, and no outcome with a problem.
void check_nothing_lost(const Sweep& s) {
  std::string problems;
  for (const auto& p : s.problems) problems += p + "\n";
  INFO(problems);
  CHECK(s.io_calls == s.io_calls_again);
  CHECK(s.transactions == kTransactions);
  CHECK(s.not_cut == 0);
  CHECK(s.failed == 0);
  CHECK(s.problems.empty());
}

}  // namespace

TEST_CASE("power cut: every acknowledged transaction survives, intact, with its projections", "[power_cut]") {
  const Sweep s = sweep(plan(), {}, 100, 25);
  WARN(s.summary("synchronous=FULL, the store's own"));
  check_nothing_lost(s);
  CHECK(s.cut_points >= 100);
}

// The proof that the test above can fail: the same harness on a store that never syncs
// must find acknowledged events gone.
TEST_CASE("power cut: the check catches a store that does not sync (synchronous=OFF)", "[power_cut]") {
  const Sweep s = sweep(plan(), {"PRAGMA synchronous=OFF"}, 12, 3);
  WARN(s.summary("synchronous=OFF"));
  CHECK(s.syncs == 0);
  CHECK(s.with_loss > 0);
  CHECK(s.lost_events > 0);
}

// In WAL mode NORMAL syncs only at checkpoints: commits since the last one are not durable.
TEST_CASE("power cut: the check catches commits not synced until a checkpoint (synchronous=NORMAL)",
          "[power_cut]") {
  const Sweep s = sweep(plan(), {"PRAGMA synchronous=NORMAL"}, 12, 3);
  WARN(s.summary("synchronous=NORMAL"));
  CHECK(s.with_loss > 0);
  CHECK(s.lost_events > 0);
}

// The daemon's way: synchronous=NORMAL, and one sync of the WAL for a group of commits,
// acknowledged only when it reports. Every acknowledged transaction must survive; the
// commits a cut caught between their COMMIT and their sync may land, but only whole and in
// order.
TEST_CASE("power cut: group commit loses nothing it acknowledged", "[power_cut]") {
  const Sweep s = sweep(plan(), {nullptr, 5}, 100, 25);
  WARN(s.summary("group commit, groups of 1..5"));
  check_nothing_lost(s);
  // Fewer syncs than transactions: the groups shared them (checkpoints add a few).
  CHECK(s.syncs < static_cast<std::uint64_t>(kTransactions));
}

// The same with the group's transactions sharing one, as the daemon's requests do: a cut
// before the shared COMMIT's frames are whole loses the whole group, never a part of it, and
// never anything acknowledged.
TEST_CASE("power cut: shared transactions lose nothing they acknowledged", "[power_cut]") {
  const Sweep s = sweep(plan(), {nullptr, 5, false, true}, 100, 25);
  WARN(s.summary("group commit, groups of 1..5 sharing a transaction"));
  check_nothing_lost(s);
  CHECK(s.syncs < static_cast<std::uint64_t>(kTransactions));
}

// The proof that the group-commit sweep can fail: a sync that reports success without
// reaching the disk must cost acknowledged events.
TEST_CASE("power cut: the check catches a group commit whose sync does not reach the disk", "[power_cut]") {
  const Sweep s = sweep(plan(), {nullptr, 5, true}, 12, 3);
  WARN(s.summary("group commit, sync does nothing"));
  CHECK(s.with_loss > 0);
  CHECK(s.lost_events > 0);
}
