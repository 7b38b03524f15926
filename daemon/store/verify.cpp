#include "daemon/store/verify.hpp"

#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>

#include "common/json.hpp"
#include "common/work_order.hpp"
#include "daemon/store/log_maintenance.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/store/store.hpp"

namespace vermas {

namespace P = projections;

namespace {

constexpr std::size_t kMaxFindings = 1000;
constexpr std::int64_t kMaxKeysPerTable = 100;
// The replay's scratch tables (TEMP: they never touch the database file).
const std::string kVerifyPrefix = "verify_";

class Checker {
 public:
  explicit Checker(VerifyReport& report) : r_(report) {}
  void add(std::string kind, std::string detail, json ids = json::object()) {
    if (r_.findings.size() >= kMaxFindings) {
      ++r_.findings_dropped;
      return;
    }
    r_.findings.push_back({std::move(kind), std::move(detail), std::move(ids)});
  }
  VerifyReport& report() { return r_; }

 private:
  VerifyReport& r_;
};

std::int64_t verify_scalar(sql::StatementCache& st, const std::string& text) {
  sql::Stmt s(st, text, "reading the database");
  return s.step() ? s.int64(0) : 0;
}

void check_integrity(sql::StatementCache& st, Checker& c) {
  sql::Stmt s(st, "PRAGMA integrity_check(100)", "checking integrity");
  std::int64_t rows = 0;
  while (s.step()) {
    const std::string line = s.text(0);
    if (line != "ok") c.add("integrity", line);
    ++rows;
  }
  c.report().checked["integrity_check"] = rows == 1 && c.report().findings.empty() ? "ok" : "failed";
}

// Ids in rowid order must rise, lie above the checkpoint (archived events left the
// database) and within sqlite_sequence (else a new event could reuse an id).
void check_events(sql::StatementCache& st, std::int64_t checkpoint, Checker& c) {
  const std::int64_t sequence = last_event_id(st);
  sql::Stmt s(st, "SELECT id, event_type, json_valid(data) AND json_type(data) = 'object' FROM events ORDER BY rowid",
              "reading event ids");
  std::int64_t previous = checkpoint, count = 0;
  std::map<std::string, std::int64_t> by_type;
  while (s.step()) {
    const std::int64_t id = s.int64(0);
    ++count;
    if (id <= previous)
      c.add("event_order",
            "event " + std::to_string(id) + " follows " + std::to_string(previous) +
                (previous == checkpoint && count == 1 ? " (the checkpoint: archived events must leave the database)" : ""),
            {{"event_id", id}, {"previous", previous}});
    if (id > sequence)
      c.add("event_order", "event " + std::to_string(id) + " lies above sqlite_sequence (" + std::to_string(sequence) + ")",
            {{"event_id", id}, {"sequence", sequence}});
    if (s.int64(2) == 0)
      c.add("event_data", "event " + std::to_string(id) + " (" + s.text(1) + "): data is not a JSON object",
            {{"event_id", id}});
    previous = std::max(previous, id);
    ++by_type[s.text(1)];
  }
  // event_counts (events.stats' source, kept by triggers) against the count just made.
  sql::Stmt counts(st, "SELECT event_type, n FROM event_counts WHERE n <> 0", "reading the event counts");
  std::map<std::string, std::int64_t> kept;
  while (counts.step()) kept[counts.text(0)] = counts.int64(1);
  for (const auto& [type, n] : by_type)
    if (kept[type] != n)
      c.add("event_counts", type + ": event_counts says " + std::to_string(kept[type]) + ", the log holds " + std::to_string(n),
            {{"event_type", type}, {"counted", kept[type]}, {"events", n}});
  for (const auto& [type, n] : kept)
    if (!by_type.count(type))
      c.add("event_counts", type + ": event_counts says " + std::to_string(n) + ", the log holds none",
            {{"event_type", type}, {"counted", n}, {"events", 0}});
  c.report().checked["events"] = count;
  c.report().checked["highest_event_id"] = sequence;
  c.report().checked["checkpoint_event_id"] = checkpoint;
}

// Every status change replayed against the one transition table, from the checkpoint on.
void check_transitions(sql::StatementCache& st, std::int64_t checkpoint, Checker& c) {
  std::map<std::string, std::string> status;
  {
    sql::Stmt s(st, "SELECT id, status FROM checkpoint_work_orders", "reading the checkpoint's work orders");
    while (s.step()) status[s.text(0)] = s.text(1);
  }
  std::int64_t transitions = 0;
  std::int64_t cursor = checkpoint;
  for (;;) {
    const std::int64_t n = scan_events(st, cursor, INT64_MAX, 50000, {"wo.created", "wo.transitioned", "wo.imported"},
                                       [&](const Event& e) {
      cursor = e.id;
      if (!e.subject) return;
      const std::string& id = *e.subject;
      const json ids = {{"event_id", e.id}, {"work_order", id}};
      if (e.event_type == "wo.created") {
        if (status.count(id)) c.add("transition", id + " created again by event " + std::to_string(e.id), ids);
        else status[id] = "open";
      } else if (e.event_type == "wo.imported") {
        const json rec = e.data.value("record", json::object());
        const std::string to = rec.is_object() ? rec.value("status", "") : "";
        if (!wo::parse_status(to))
          c.add("transition", id + " imported by event " + std::to_string(e.id) + " with an unknown status \"" + to + "\"", ids);
        status[id] = to;
      } else if (e.event_type == "wo.transitioned") {
        ++transitions;
        const std::string from = e.data.value("from", ""), to = e.data.value("to", "");
        auto it = status.find(id);
        if (it == status.end()) {
          c.add("transition", "event " + std::to_string(e.id) + " moves " + id + ", which was never created", ids);
          status[id] = to;
          return;
        }
        if (it->second != from)
          c.add("transition",
                "event " + std::to_string(e.id) + " moves " + id + " from " + from + " but it was " + it->second, ids);
        auto f = wo::parse_status(it->second), t = wo::parse_status(to);
        if (!f || !t || !wo::transition_allowed(*f, *t))
          c.add("transition",
                "event " + std::to_string(e.id) + " moves " + id + " " + it->second + " -> " + to +
                    ", which the transition table does not allow",
                {{"event_id", e.id}, {"work_order", id}, {"from", it->second}, {"to", to}});
        it->second = to;
      }
    });
    if (n < 50000) break;
  }
  c.report().checked["work_orders"] = status.size();
  c.report().checked["transitions"] = transitions;
}

// checkpoint + log folded into TEMP tables by the reducer, then compared table by table.
void check_projections(sqlite3* db, sql::StatementCache& st, std::int64_t checkpoint, Checker& c) {
  sql::exec(db, P::create_temp_tables(kVerifyPrefix).c_str(), "creating the replay's tables");
  P::copy(st, P::kCheckpoint, kVerifyPrefix);
  std::int64_t cursor = checkpoint;
  const std::int64_t replayed = fold_log(st, kVerifyPrefix, cursor, INT64_MAX, INT64_MAX);
  json tables = json::array();
  for (const auto& t : P::table_names()) {
    tables.push_back(t);
    for (const auto& key : P::differing_keys(st, P::kLive, kVerifyPrefix, t, kMaxKeysPerTable)) {
      c.add("projection", t + " row " + key + " differs from a replay of the log", {{"table", t}, {"key", key}});
    }
  }
  c.report().checked["replayed_events"] = replayed;
  c.report().checked["projections"] = tables;
}

// Archive files: every line an event, ids strictly increasing within each file.
void check_archive(const Paths& paths, Checker& c) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& d : std::filesystem::directory_iterator(paths.archive_dir(), ec)) {
    const std::string name = d.path().filename().string();
    if (name.rfind("events", 0) == 0 && name.size() > 6 && name.substr(name.size() - 6) == ".jsonl") files.push_back(d.path());
  }
  std::sort(files.begin(), files.end());
  std::int64_t events = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string line;
    std::int64_t previous = 0, number = 0;
    while (std::getline(in, line)) {
      ++number;
      json e = json::parse(line, nullptr, false);
      if (!e.is_object() || !e.contains("id") || !e["id"].is_number_integer()) {
        c.add("archive", f.filename().string() + ":" + std::to_string(number) + ": not an event",
              {{"file", f.string()}, {"line", number}});
        continue;
      }
      const std::int64_t id = e["id"].get<std::int64_t>();
      if (id <= previous)
        c.add("archive", f.filename().string() + ":" + std::to_string(number) + ": event " + std::to_string(id) +
                             " follows " + std::to_string(previous),
              {{"file", f.string()}, {"line", number}, {"event_id", id}});
      previous = std::max(previous, id);
      ++events;
    }
  }
  c.report().checked["archive_files"] = files.size();
  c.report().checked["archived_events"] = events;
}

}  // namespace

VerifyReport verify_database(const Paths& paths) {
  VerifyReport report;
  Checker c(report);
  const auto t0 = std::chrono::steady_clock::now();
  report.checked["database"] = paths.db_file().string();
  std::error_code ec;
  sqlite3* db = nullptr;
  if (!std::filesystem::exists(paths.db_file(), ec)) {
    c.add("open", "no database at " + paths.db_file().string());
  } else if (int rc = sqlite3_open_v2(paths.db_file().c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
             rc != SQLITE_OK) {
    c.add("open", "cannot open " + paths.db_file().string() + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  } else {
    sqlite3_busy_timeout(db, 5000);
    try {
      sql::StatementCache st(db);
      // A larger cache for the replay (the rebuild's reason, log_maintenance.cpp).
      sql::exec(db, "PRAGMA cache_size=-32768", "setting the cache size");
      // One read transaction: every check sees the same snapshot of a database in use.
      sql::exec(db, "BEGIN", "starting the snapshot");
      const int schema = static_cast<int>(verify_scalar(st, "PRAGMA user_version"));
      const int newest = static_cast<int>(store_migrations().size());
      report.checked["schema_version"] = schema;
      check_integrity(st, c);
      if (report.checked["integrity_check"] != "ok") {
        // Reading further from a damaged file gives errors, not findings.
      } else if (schema != newest) {
        c.add("schema", "schema version " + std::to_string(schema) + ", this build's is " + std::to_string(newest) +
                            (schema < newest ? " (the daemon migrates it at its next start; verify again then)"
                                             : " (written by a newer build)"),
              {{"schema_version", schema}, {"expected", newest}});
      } else {
        const std::int64_t checkpoint = checkpoint_event_id(st);
        check_events(st, checkpoint, c);
        check_transitions(st, checkpoint, c);
        check_projections(db, st, checkpoint, c);
      }
    } catch (const std::exception& e) {
      c.add("integrity", std::string("reading the database failed: ") + e.what());
    }
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  sqlite3_close_v2(db);
  check_archive(paths, c);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

json to_json(const VerifyReport& r) {
  json findings = json::array();
  for (const auto& f : r.findings) findings.push_back({{"kind", f.kind}, {"detail", f.detail}, {"ids", f.ids}});
  return {{"ok", r.ok()},
          {"findings", findings},
          {"findings_dropped", r.findings_dropped},
          {"checked", r.checked},
          {"seconds", r.seconds}};
}

}  // namespace vermas
