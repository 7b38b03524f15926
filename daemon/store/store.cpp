// The SQLite store. Timestamps are compared as TEXT: every ts the store writes has the one
// fixed format "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), whose byte order is chronological order.
// Filters (since/until) are expected in the same format; callers normalise user input first.
#include "daemon/store/store.hpp"
#include "daemon/error.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <string_view>
#include <system_error>

#include "common/time.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {
namespace {

using Json = nlohmann::json;

std::int64_t scalar_int(sql::StatementCache& cache, const std::string& text, std::string doing) {
  sql::Stmt s(cache, text, std::move(doing));
  return s.step() ? s.int64(0) : 0;
}

// The smallest string greater than every string starting with `prefix` (byte order);
// nullopt when there is none (empty or all 0xFF).
std::optional<std::string> prefix_upper_bound(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

constexpr const char* kEventColumns = "id, ts, event_type, actor, factory, subject, data";

Event read_event(const sql::Stmt& s) {
  Event e;
  e.id = s.int64(0);
  e.ts = s.text(1);
  e.event_type = s.text(2);
  e.actor = s.text(3);
  e.factory = s.opt_text(4);
  e.subject = s.opt_text(5);
  std::string data = s.text(6);
  e.data = Json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (e.data.is_discarded()) e.data = data;  // never written by us; keep the text visible
  return e;
}

}  // namespace

const std::vector<std::string>& store_migrations() {
  static const std::vector<std::string> migrations = {
      // 1: the event log. `meta` holds flags such as 'archiving', the one state in which
      // old events may be deleted (events.archive); otherwise events are append-only.
      R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL,
  event_type TEXT NOT NULL,
  actor TEXT NOT NULL,
  factory TEXT,
  subject TEXT,
  data TEXT NOT NULL
);
CREATE INDEX events_ts ON events(ts);
-- (event_type) keeps one type in id order: type queries need no sort.
CREATE INDEX events_type ON events(event_type);
-- (event_type, ts) makes stats(since) a loose index scan: one range count per type.
CREATE INDEX events_type_ts ON events(event_type, ts);
CREATE INDEX events_factory ON events(factory);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN COALESCE((SELECT value FROM meta WHERE key = 'archiving'), '0') <> '1'
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
)sql",
      // 2: supervision. State beside the log: each row is rewritten in the transaction
      // that appends the event describing the change.
      R"sql(
CREATE TABLE factories(
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  prefix TEXT NOT NULL,
  path TEXT NOT NULL,
  added_at TEXT NOT NULL
);
CREATE TABLE agents(
  id TEXT PRIMARY KEY,
  factory TEXT,
  role TEXT NOT NULL,
  slot INTEGER,
  status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  desired TEXT NOT NULL DEFAULT 'running',
  runner TEXT NOT NULL,
  session TEXT NOT NULL,
  pid INTEGER,
  start_time INTEGER,
  boot_id TEXT,
  pane TEXT,
  started_at TEXT,
  last_heartbeat TEXT,
  last_activity TEXT,
  activity TEXT,
  restart_count INTEGER NOT NULL DEFAULT 0,
  error_streak INTEGER NOT NULL DEFAULT 0,
  current_work_order TEXT,
  last_exit TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX agents_factory ON agents(factory);
CREATE TABLE teams(
  factory TEXT NOT NULL,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  branch TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY(factory, name)
);
CREATE TABLE alerts(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TEXT NOT NULL,
  severity TEXT NOT NULL,
  kind TEXT NOT NULL,
  agent TEXT,
  factory TEXT,
  message TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  resolved_at TEXT
);
CREATE INDEX alerts_open ON alerts(resolved_at);
)sql",
      // 3: work orders. Their tables are projections of the log (daemon/store/projections.cpp):
      // the live set and the checkpoint that stands in for archived events. Frozen text: a
      // migration is history. projections::create_tables() is the current shape (rebuilds
      // use it); test_store.cpp checks that the migrations produce exactly that shape.
      R"sql(
CREATE INDEX events_subject ON events(subject);
CREATE TABLE work_orders(
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  type TEXT NOT NULL,
  priority INTEGER NOT NULL,
  status TEXT NOT NULL,
  factory TEXT,
  assignee TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  artifacts TEXT NOT NULL,
  transitions INTEGER NOT NULL,
  review_cycles INTEGER NOT NULL,
  interventions INTEGER NOT NULL,
  first_review_at TEXT,
  review_clean INTEGER,
  done_at TEXT,
  last_event_id INTEGER NOT NULL
);
CREATE TABLE wo_checks(
  work_order TEXT NOT NULL,
  name TEXT NOT NULL,
  passed INTEGER NOT NULL,
  objective INTEGER NOT NULL,
  note TEXT NOT NULL,
  actor TEXT NOT NULL,
  ts TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  PRIMARY KEY(work_order, name)
) WITHOUT ROWID;
CREATE TABLE wo_keys(
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY(scope, key)
) WITHOUT ROWID;
CREATE TABLE slots(
  factory TEXT NOT NULL,
  slot INTEGER NOT NULL,
  work_order TEXT NOT NULL,
  agent TEXT NOT NULL,
  branch TEXT NOT NULL,
  worktree TEXT NOT NULL,
  team TEXT,
  assigned_at TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  PRIMARY KEY(factory, slot)
) WITHOUT ROWID;
CREATE INDEX work_orders_status ON work_orders(status, updated_at);
CREATE INDEX work_orders_factory ON work_orders(factory, status);
CREATE TABLE checkpoint_work_orders(
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  type TEXT NOT NULL,
  priority INTEGER NOT NULL,
  status TEXT NOT NULL,
  factory TEXT,
  assignee TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  artifacts TEXT NOT NULL,
  transitions INTEGER NOT NULL,
  review_cycles INTEGER NOT NULL,
  interventions INTEGER NOT NULL,
  first_review_at TEXT,
  review_clean INTEGER,
  done_at TEXT,
  last_event_id INTEGER NOT NULL
);
CREATE TABLE checkpoint_wo_checks(
  work_order TEXT NOT NULL,
  name TEXT NOT NULL,
  passed INTEGER NOT NULL,
  objective INTEGER NOT NULL,
  note TEXT NOT NULL,
  actor TEXT NOT NULL,
  ts TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  PRIMARY KEY(work_order, name)
) WITHOUT ROWID;
CREATE TABLE checkpoint_wo_keys(
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY(scope, key)
) WITHOUT ROWID;
CREATE TABLE checkpoint_slots(
  factory TEXT NOT NULL,
  slot INTEGER NOT NULL,
  work_order TEXT NOT NULL,
  agent TEXT NOT NULL,
  branch TEXT NOT NULL,
  worktree TEXT NOT NULL,
  team TEXT,
  assigned_at TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  PRIMARY KEY(factory, slot)
) WITHOUT ROWID;
)sql",
      // 4: the directory a worker runs in (a team's worktree is not its slot's), so a worker
      // restarted after a crash, even by the next daemon, starts where it was dispatched.
      R"sql(
ALTER TABLE agents ADD COLUMN worktree TEXT;
)sql",
      // 5: factories, teams and alerts become projections of the log like the work orders
      // (factory.added / factory.removed, team.added, alert.raised / alert.resolved fold
      // into them). Their rows take their events' times, as a replay gives them; a row whose
      // event was archived already stands in the new checkpoint tables.
      R"sql(
CREATE TABLE checkpoint_factories(
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  prefix TEXT NOT NULL,
  path TEXT NOT NULL,
  added_at TEXT NOT NULL
);
CREATE TABLE checkpoint_teams(
  factory TEXT NOT NULL,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  branch TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY(factory, name)
);
CREATE TABLE checkpoint_alerts(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TEXT NOT NULL,
  severity TEXT NOT NULL,
  kind TEXT NOT NULL,
  agent TEXT,
  factory TEXT,
  message TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  resolved_at TEXT
);
UPDATE factories SET added_at = COALESCE((SELECT e.ts FROM events e WHERE e.event_type = 'factory.added'
  AND e.subject = factories.name ORDER BY e.id DESC LIMIT 1), added_at);
UPDATE teams SET created_at = COALESCE((SELECT e.ts FROM events e WHERE e.event_type = 'team.added'
  AND e.subject = teams.factory || '/' || teams.name ORDER BY e.id DESC LIMIT 1), created_at);
UPDATE alerts SET
  created_at = COALESCE((SELECT e.ts FROM events e WHERE e.event_type = 'alert.raised'
    AND json_extract(e.data, '$.alert_id') = alerts.id), created_at),
  resolved_at = CASE WHEN resolved_at IS NULL THEN NULL ELSE COALESCE((SELECT e.ts FROM events e
    WHERE e.event_type = 'alert.resolved' AND json_extract(e.data, '$.alert_id') = alerts.id
    ORDER BY e.id LIMIT 1), resolved_at) END;
INSERT INTO checkpoint_factories SELECT * FROM factories f WHERE NOT EXISTS (SELECT 1 FROM events e
  WHERE e.event_type = 'factory.added' AND e.subject = f.name);
INSERT INTO checkpoint_teams SELECT * FROM teams t WHERE NOT EXISTS (SELECT 1 FROM events e
  WHERE e.event_type = 'team.added' AND e.subject = t.factory || '/' || t.name);
INSERT INTO checkpoint_alerts SELECT a.id, a.created_at, a.severity, a.kind, a.agent, a.factory, a.message, a.data,
  CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.event_type = 'alert.resolved'
    AND json_extract(e.data, '$.alert_id') = a.id) THEN NULL ELSE a.resolved_at END
  FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_type = 'alert.raised'
    AND json_extract(e.data, '$.alert_id') = a.id);
)sql",
      // 6: mail, a projection of mail.sent / mail.delivered / mail.acked.
      R"sql(
CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at TEXT NOT NULL,
  delivered_at TEXT,
  acked_at TEXT
);
CREATE INDEX messages_recipient ON messages(recipient, state);
CREATE TABLE checkpoint_messages(
  id INTEGER PRIMARY KEY,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at TEXT NOT NULL,
  delivered_at TEXT,
  acked_at TEXT
);
)sql",
      // 7: a slot counts the restarts of its stuck worker (slot.restarted), so the patrol's
      // next remedy knows when to give the work order back, across daemon restarts too.
      R"sql(
ALTER TABLE slots ADD COLUMN stuck_restarts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checkpoint_slots ADD COLUMN stuck_restarts INTEGER NOT NULL DEFAULT 0;
)sql",
      // 8: costs, projections of cost.reported: each run's sums, and each day's per agent,
      // factory and work-order type.
      R"sql(
CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  factory TEXT,
  model TEXT,
  work_order TEXT,
  cost REAL NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  reports INTEGER NOT NULL,
  first_at TEXT NOT NULL,
  last_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX runs_agent ON runs(agent, last_at);
CREATE INDEX runs_last ON runs(last_at);
CREATE INDEX runs_cost ON runs(cost);
CREATE TABLE cost_daily(
  day TEXT NOT NULL,
  agent TEXT NOT NULL,
  factory TEXT NOT NULL,
  wo_type TEXT NOT NULL,
  cost REAL NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  reports INTEGER NOT NULL,
  PRIMARY KEY(day, agent, factory, wo_type)
) WITHOUT ROWID;
CREATE TABLE checkpoint_runs(
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  factory TEXT,
  model TEXT,
  work_order TEXT,
  cost REAL NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  reports INTEGER NOT NULL,
  first_at TEXT NOT NULL,
  last_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE checkpoint_cost_daily(
  day TEXT NOT NULL,
  agent TEXT NOT NULL,
  factory TEXT NOT NULL,
  wo_type TEXT NOT NULL,
  cost REAL NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  reports INTEGER NOT NULL,
  PRIMARY KEY(day, agent, factory, wo_type)
) WITHOUT ROWID;
)sql",
      // 9: the operator's daily caps (budget.set), one per scope and id.
      R"sql(
CREATE TABLE budgets(
  scope TEXT NOT NULL,
  id TEXT NOT NULL,
  daily_cap REAL NOT NULL,
  set_at TEXT NOT NULL,
  set_by TEXT NOT NULL,
  PRIMARY KEY(scope, id)
) WITHOUT ROWID;
CREATE TABLE checkpoint_budgets(
  scope TEXT NOT NULL,
  id TEXT NOT NULL,
  daily_cap REAL NOT NULL,
  set_at TEXT NOT NULL,
  set_by TEXT NOT NULL,
  PRIMARY KEY(scope, id)
) WITHOUT ROWID;
)sql",
      // 10: the alert model of issue 11. An alert has a type, a subject (what it is about: an
      // agent, a work order, a factory), a count and first/last times: raising it again
      // while it is open counts it up (alert.repeated); resolved_by says who closed it.
      // Existing rows keep their event's values: type = kind, subject = agent, count 1,
      // first_at = last_at = created_at, resolved_by = the resolving event's actor (NULL once
      // that event is archived, as a replay of the checkpoint gives it). Old tables are
      // renamed away and the new ones created under their own names: a renamed table's
      // stored SQL would quote its name and no longer be create_tables()' text.
      R"sql(
DROP INDEX alerts_open;
ALTER TABLE alerts RENAME TO alerts_v6;
ALTER TABLE checkpoint_alerts RENAME TO checkpoint_alerts_v6;
CREATE TABLE alerts(
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  subject TEXT,
  agent TEXT,
  factory TEXT,
  message TEXT NOT NULL,
  data TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_at TEXT NOT NULL,
  last_at TEXT NOT NULL,
  resolved_at TEXT,
  resolved_by TEXT
);
CREATE INDEX alerts_open ON alerts(type, subject) WHERE resolved_at IS NULL;
CREATE TABLE checkpoint_alerts(
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  subject TEXT,
  agent TEXT,
  factory TEXT,
  message TEXT NOT NULL,
  data TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_at TEXT NOT NULL,
  last_at TEXT NOT NULL,
  resolved_at TEXT,
  resolved_by TEXT
);
INSERT INTO alerts SELECT a.id, a.kind, a.severity, a.agent, a.agent, a.factory, a.message, a.data, 1,
  a.created_at, a.created_at, a.resolved_at,
  CASE WHEN a.resolved_at IS NULL THEN NULL ELSE (SELECT e.actor FROM events e WHERE e.event_type = 'alert.resolved'
    AND json_extract(e.data, '$.alert_id') = a.id ORDER BY e.id LIMIT 1) END
  FROM alerts_v6 a;
INSERT INTO checkpoint_alerts SELECT a.id, a.kind, a.severity, a.agent, a.agent, a.factory, a.message, a.data, 1,
  a.created_at, a.created_at, a.resolved_at,
  CASE WHEN a.resolved_at IS NULL THEN NULL ELSE (SELECT e.actor FROM events e WHERE e.event_type = 'alert.resolved'
    AND json_extract(e.data, '$.alert_id') = a.id ORDER BY e.id LIMIT 1) END
  FROM checkpoint_alerts_v6 a;
DROP TABLE alerts_v6;
DROP TABLE checkpoint_alerts_v6;
)sql",
      // 11: approvals (approval.opened, approval.decided): what waits for an operator.
      R"sql(
CREATE TABLE approvals(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  agent TEXT NOT NULL,
  work_order TEXT,
  scope TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  spend REAL NOT NULL,
  cap REAL NOT NULL,
  status TEXT NOT NULL,
  prior_status TEXT,
  created_at TEXT NOT NULL,
  decided_at TEXT,
  decided_by TEXT,
  approver TEXT,
  decision TEXT,
  override INTEGER NOT NULL
);
CREATE TABLE checkpoint_approvals(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  agent TEXT NOT NULL,
  work_order TEXT,
  scope TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  spend REAL NOT NULL,
  cap REAL NOT NULL,
  status TEXT NOT NULL,
  prior_status TEXT,
  created_at TEXT NOT NULL,
  decided_at TEXT,
  decided_by TEXT,
  approver TEXT,
  decision TEXT,
  override INTEGER NOT NULL
);
)sql",
      // 12: the squad pause (squad.paused, squad.resumed): one row, the company's.
      R"sql(
CREATE TABLE squad(
  name TEXT PRIMARY KEY,
  paused INTEGER NOT NULL,
  reason TEXT NOT NULL,
  since TEXT NOT NULL,
  actor TEXT NOT NULL
);
CREATE TABLE checkpoint_squad(
  name TEXT PRIMARY KEY,
  paused INTEGER NOT NULL,
  reason TEXT NOT NULL,
  since TEXT NOT NULL,
  actor TEXT NOT NULL
);
)sql",
      // 13: the number of events of each type, kept by the log's own triggers (an append
      // counts, an archive's delete uncounts), so events.stats reads a few dozen rows instead
      // of counting an index entry per event (42 ms at 1M events and linear). A trigger rather
      // than the journal's code: no write of the log can miss it, and the upgrade counts once.
      R"sql(
CREATE TABLE event_counts(event_type TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO event_counts SELECT event_type, count(*) FROM events GROUP BY event_type;
CREATE TRIGGER events_counted AFTER INSERT ON events
BEGIN INSERT INTO event_counts VALUES(new.event_type, 1) ON CONFLICT(event_type) DO UPDATE SET n = n + 1; END;
CREATE TRIGGER events_uncounted AFTER DELETE ON events
BEGIN UPDATE event_counts SET n = n - 1 WHERE event_type = old.event_type; END;
)sql",
  };
  return migrations;
}

Json to_json(const Event& event) {
  return Json{{"id", event.id},
              {"ts", event.ts},
              {"event_type", event.event_type},
              {"actor", event.actor},
              {"factory", event.factory ? Json(*event.factory) : Json(nullptr)},
              {"subject", event.subject ? Json(*event.subject) : Json(nullptr)},
              {"data", event.data}};
}

namespace {
// A request's SAVEPOINT journals the pages it changes; past SQLite's default of 64 KiB that
// sub-journal spilled to a temp file (a stat of the temp directory, open, unlink, writes,
// close): a wo.create that split a page did, ~a third of them. -1 keeps statement journals
// in memory, in 1 KiB chunks freed when the savepoint is released (a positive threshold
// would take one chunk of its own size per request: past our mmap threshold, an mmap and
// munmap each). Process-wide, so only before SQLite initialises: the first Store of the
// process sets it (a no-op, SQLITE_MISUSE, if SQLite already runs).
void keep_statement_journals_in_memory() {
  static const int rc = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
  (void)rc;
}
}  // namespace

Store::Store(const std::filesystem::path& db_file, Durability durability) : now_rfc3339([] { return now_rfc3339_ms(); }) {
  keep_statement_journals_in_memory();
  if (db_file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(db_file.parent_path(), ec);
    if (ec)
      throw Error(Errc::io,
                       "database: creating " + db_file.parent_path().string() + ": " + ec.message());
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
  flags |= SQLITE_OPEN_EXRESCODE;
#endif
  // SQLite's unix VFS opens the database, WAL and shm files with O_CLOEXEC, so agents we
  // spawn never inherit them (checked by test_store.cpp).
  int rc = sqlite3_open_v2(db_file.c_str(), &db_, flags, nullptr);
  try {
    if (rc != SQLITE_OK) sql::fail(db_, rc, "opening " + db_file.string());
    statements_ = std::make_unique<sql::StatementCache>(db_);
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 2000);
    {
      sql::Stmt s(*statements_, "PRAGMA journal_mode=WAL", "enabling WAL in " + db_file.string());
      if (!s.step() || s.text(0) != "wal")
        throw Error(Errc::io,
                         "database: " + db_file.string() + " cannot use WAL journal mode");
    }
    // FULL: a commit is on disk before it returns. NORMAL (grouped): it is written to the
    // WAL and the GroupCommit's sync makes it durable before anyone is answered.
    // A 1 MiB page cache, not SQLite's 2 MB: at 2,000 agents the cache filled with the pages
    // start-up read once, and was an eighth of the daemon's memory. A write touches a few
    // dozen pages (each b-tree's root, inner pages and right edge); the rest come from the
    // kernel's page cache when wanted. A rebuild raises it for its duration (LargerCache).
    sql::exec(db_,
              durability == Durability::grouped
                  ? "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-1024;"
                  : "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-1024;",
              "setting pragmas");
    migrate();
    sqlite3_commit_hook(
        db_,
        [](void* self) {
          auto& store = *static_cast<Store*>(self);
          if (store.on_commit_) store.on_commit_();
          return 0;  // 0: the commit goes ahead
        },
        this);
  } catch (...) {
    statements_.reset();
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

void Store::on_wal(std::function<void(sqlite3*, int)> fn) {
  on_wal_ = std::move(fn);
  if (!on_wal_) {
    sqlite3_wal_autocheckpoint(db_, 1000);  // SQLite's own hook again
    return;
  }
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3* db, const char*, int pages) {
        auto& store = *static_cast<Store*>(self);
        if (store.on_wal_) store.on_wal_(db, pages);
        return SQLITE_OK;
      },
      this);
}

Store::~Store() {
  statements_.reset();
  sqlite3_close_v2(db_);
}

void Store::migrate() {
  const auto& migrations = store_migrations();
  const int newest = static_cast<int>(migrations.size());
  for (;;) {
    // Read the version inside the write transaction so two openers never both migrate.
    sql::exec(db_, "BEGIN IMMEDIATE", "starting a migration");
    try {
      int version = schema_version();
      if (version > newest)
        throw Error(Errc::internal, "database schema version " + std::to_string(version) +
                                                      " is newer than this build supports (" +
                                                      std::to_string(newest) + ")");
      if (version == newest) {
        sql::exec(db_, "COMMIT", "finishing migrations");
        return;
      }
      sql::exec(db_, migrations[static_cast<std::size_t>(version)].c_str(),
           "migrating schema to version " + std::to_string(version + 1));
      // PRAGMA takes no bound parameters; the value is our own integer.
      sql::exec(db_, ("PRAGMA user_version=" + std::to_string(version + 1)).c_str(), "setting user_version");
      sql::exec(db_, "COMMIT", "committing migration " + std::to_string(version + 1));
    } catch (...) {
      if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

Event Store::Tx::append(EventDraft draft) {
  Event e;
  e.ts = store_.now_rfc3339 ? store_.now_rfc3339() : now_rfc3339_ms();
  e.event_type = std::move(draft.event_type);
  e.actor = std::move(draft.actor);
  e.factory = std::move(draft.factory);
  e.subject = std::move(draft.subject);
  e.data = draft.data.is_null() ? Json::object() : std::move(draft.data);
  // Invalid UTF-8 (a path, a name from a file) is stored as U+FFFD rather than thrown on. The
  // projections must fold what is stored, or a replay of the log would differ from them:
  // in that rare case the event continues as the text it was stored as.
  std::string data;
  try {
    data = e.data.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::type_error&) {
    data = e.data.dump(-1, ' ', false, Json::error_handler_t::replace);
    e.data = Json::parse(data);
  }
  {
    sql::Stmt s(store_.statements(), "INSERT INTO events(ts, event_type, actor, factory, subject, data) VALUES(?,?,?,?,?,?)",
           "appending an event");
    s.bind(1, e.ts).bind(2, e.event_type).bind(3, e.actor);
    s.bind(4, e.factory).bind(5, e.subject).bind(6, data);
    s.step();
  }
  e.id = sqlite3_last_insert_rowid(db_);
  // The projections change in the event's own transaction, through the one reducer.
  if (projections::affects(e.event_type)) projections::apply(store_.statements(), projections::kLive, e);
  appended_.push_back(e);
  return e;
}

sql::StatementCache& Store::Tx::statements() const { return store_.statements(); }

std::vector<Event> Store::transact(const std::function<void(Tx&)>& fn, Share share) {
  // SQLite has no nesting: a transact inside fn is a mistake of ours.
  if (in_transact_ || (!batch_open_ && !sqlite3_get_autocommit(db_)))
    throw std::logic_error("Store::transact called inside a transaction");
  struct Inside {
    bool& flag;
    explicit Inside(bool& f) : flag(f) { flag = true; }
    ~Inside() { flag = false; }
  } inside(in_transact_);
  const bool batched = on_batch_join_ && share == Share::batch;
  if (!batched && batch_open_ && !end_batch()) throw Error(Errc::io, *write_failure_);
  if (batched) {
    const bool opens = !batch_open_;
    if (opens) {
      sql::exec(db_, "BEGIN IMMEDIATE", "starting a transaction");
      batch_open_ = true;
    }
    on_batch_join_(opens);
  }
  sql::exec(db_, batched ? "SAVEPOINT tx" : "BEGIN IMMEDIATE", "starting a transaction");
  Tx tx(*this, db_);
  try {
    fn(tx);
    sql::exec(db_, batched ? "RELEASE tx" : "COMMIT", "committing");
  } catch (const Error& e) {
    undo(batched);
    // A constraint is the caller's mistake; anything else means the database cannot write.
    if (e.code() != Errc::constraint) write_failure_ = e.what();
    throw;
  } catch (...) {
    undo(batched);
    throw;
  }
  write_failure_.reset();
  return std::move(tx.appended_);
}

void Store::undo(bool batched) {
  if (sqlite3_get_autocommit(db_)) {
    if (batch_open_) lost_batch();  // SQLite rolled the whole batch back (an I/O error)
    return;
  }
  if (batched)
    sqlite3_exec(db_, "ROLLBACK TO tx; RELEASE tx", nullptr, nullptr, nullptr);
  else
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

bool Store::end_batch() {
  if (!batch_open_) return true;
  try {
    sql::exec(db_, "COMMIT", "committing");
  } catch (const Error& e) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    write_failure_ = e.what();
    lost_batch();
    return false;
  }
  batch_open_ = false;
  return true;
}

void Store::lost_batch() {
  batch_open_ = false;
  if (on_batch_lost_) on_batch_lost_(write_failure_.value_or("the database failed"));
}

bool Store::probe_write() {
  try {
    transact(
        [&](Tx& tx) {
          sql::Stmt s(tx.statements(),
                      "INSERT INTO meta(key, value) VALUES('last_write_probe', ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      "probing a write");
          s.bind(1, now_rfc3339 ? now_rfc3339() : now_rfc3339_ms());
          s.run();
        },
        Share::own);
    return true;
  } catch (const Error&) {
    return false;
  }
}

Event Store::append(EventDraft draft) {
  return transact([&](Tx& tx) { tx.append(std::move(draft)); }).front();
}

bool event_type_matches(std::string_view pattern, std::string_view type) {
  if (pattern.empty()) return true;
  if (pattern.back() == '*' || pattern.back() == '.') {
    if (pattern.back() == '*') pattern.remove_suffix(1);
    return type.substr(0, pattern.size()) == pattern;
  }
  return type == pattern;
}

std::vector<Event> Store::query(const EventFilter& f) const {
  // Only the shape of the SQL depends on the filter; every value is a bound parameter.
  std::string text = std::string("SELECT ") + kEventColumns + " FROM events WHERE 1=1";
  std::vector<std::string> text_params;
  std::vector<std::int64_t> int_params;  // bound after the text ones
  auto add = [&](const char* clause, std::string value) {
    text += clause;
    text_params.emplace_back(std::move(value));
  };
  if (f.since) {
    // The id bound (exact, since it is implied by the ts condition) lets SQLite walk the
    // primary key from the first matching event instead of scanning from the oldest.
    add(" AND ts >= ?", *f.since);
    add(" AND id >= (SELECT min(id) FROM events INDEXED BY events_ts WHERE ts >= ?)", *f.since);
  }
  if (f.until) add(" AND ts < ?", *f.until);
  if (f.type && !f.type->empty()) {
    std::string t = *f.type;
    if (t.back() == '*' || t.back() == '.') {
      // Prefix match as a byte range (not LIKE: LIKE folds ASCII case and needs escaping);
      // the range also uses the events_type index.
      if (t.back() == '*') t.pop_back();
      if (!t.empty()) {
        auto upper = prefix_upper_bound(t);
        add(" AND event_type >= ?", t);
        if (upper) add(" AND event_type < ?", *upper);
      }
    } else {
      add(" AND event_type = ?", t);
    }
  }
  if (f.actor) add(" AND actor = ?", *f.actor);
  if (f.factory) add(" AND factory = ?", *f.factory);
  if (f.subject) add(" AND subject = ?", *f.subject);
  if (f.after_id) {
    text += " AND id > ?";
    int_params.push_back(*f.after_id);
  }
  text += f.newest_first ? " ORDER BY id DESC LIMIT ?" : " ORDER BY id ASC LIMIT ?";
  int_params.push_back(std::clamp(f.limit, 1, 10000));

  sql::Stmt s(*statements_, text, "querying events");
  int i = 1;
  for (const auto& p : text_params) s.bind(i++, p);
  for (auto p : int_params) s.bind(i++, p);
  std::vector<Event> out;
  while (s.step()) out.push_back(read_event(s));
  if (f.newest_first) std::reverse(out.begin(), out.end());
  return out;
}

std::int64_t Store::scan(std::int64_t after_id, std::int64_t up_to, std::int64_t limit,
                         const std::vector<std::string>& prefixes, const std::function<void(const Event&)>& fn) const {
  return scan_events(*statements_, after_id, up_to, limit, prefixes, fn);
}

std::int64_t scan_events(sql::StatementCache& statements, std::int64_t after_id, std::int64_t up_to, std::int64_t limit,
                         const std::vector<std::string>& prefixes, const std::function<void(const Event&)>& fn) {
  std::string text = std::string("SELECT ") + kEventColumns + " FROM events WHERE id > ? AND id <= ?";
  if (!prefixes.empty()) {
    text += " AND (";
    for (std::size_t i = 0; i < prefixes.size(); ++i) text += i ? " OR (event_type >= ? AND event_type < ?)" : "(event_type >= ? AND event_type < ?)";
    text += ")";
  }
  text += " ORDER BY id LIMIT ?";
  sql::Stmt s(statements, text, "reading events");
  int i = 1;
  s.bind(1, after_id).bind(2, up_to);
  i = 3;
  for (const auto& p : prefixes) {
    s.bind(i++, p);
    s.bind(i++, prefix_upper_bound(p).value_or(std::string("\xff\xff\xff\xff")));
  }
  s.bind(i, limit);
  std::int64_t n = 0;
  while (s.step()) {
    fn(read_event(s));
    ++n;
  }
  return n;
}

EventStats Store::stats(const std::optional<std::string>& since) const {
  EventStats st;
  auto add = [&st](std::string type, std::int64_t n) {
    if (n <= 0) return;  // a type with no event (left) since `since`
    st.by_type.emplace_back(std::move(type), n);
    st.total += n;
  };
  // The whole log: event_counts, kept by the log's triggers (migration 13).
  std::vector<std::pair<std::string, std::int64_t>> totals;
  {
    sql::Stmt s(*statements_, "SELECT event_type, n FROM event_counts WHERE n > 0 ORDER BY event_type",
                "reading the event counts");
    while (s.step()) totals.emplace_back(s.text(0), s.int64(1));
  }
  if (!since) {
    for (auto& [type, n] : totals) add(std::move(type), n);
    return st;
  }
  // Since a time: count each type's ts range in events_type_ts, one range count per type, on
  // whichever side of `since` is smaller, the events after it or those before (then
  // subtracted from the totals), so the cost grows with min(after, before), never the whole
  // log. Which side is smaller is judged by ids: ts grows with id (a clock step back aside,
  // which only makes the choice worse, never the count wrong).
  std::int64_t first_after = 0;
  {
    sql::Stmt s(*statements_, "SELECT id FROM events WHERE ts >= ?1 ORDER BY ts LIMIT 1", "finding the stats point");
    s.bind(1, *since);
    if (!s.step()) return st;  // nothing since
    first_after = s.int64(0);
  }
  bool count_before = false;
  {
    // Two subqueries: SQLite answers a lone min() or max() from the end of the b-tree, but
    // both in one SELECT would scan the whole table.
    sql::Stmt ends(*statements_,
                   "SELECT COALESCE((SELECT min(id) FROM events), 0), COALESCE((SELECT max(id) FROM events), 0)",
                   "reading the id range");
    if (ends.step()) count_before = first_after - ends.int64(0) < ends.int64(1) - first_after;
  }
  const char* count_sql = count_before
                              ? "SELECT count(*) FROM events INDEXED BY events_type_ts WHERE event_type = ?1 AND ts < ?2"
                              : "SELECT count(*) FROM events INDEXED BY events_type_ts WHERE event_type = ?1 AND ts >= ?2";
  for (auto& [type, n] : totals) {
    sql::Stmt count(*statements_, count_sql, "counting events");
    count.bind(1, type);
    count.bind(2, *since);
    const std::int64_t side = count.step() ? count.int64(0) : 0;
    add(std::move(type), count_before ? n - side : side);
  }
  return st;
}

std::int64_t Store::last_event_id() const { return vermas::last_event_id(*statements_); }

std::int64_t last_event_id(sql::StatementCache& statements) {
  // sqlite_sequence keeps the highest id ever assigned, even after archiving deleted it.
  return scalar_int(statements, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
                    "reading the last event id");
}

int Store::schema_version() const {
  return static_cast<int>(scalar_int(*statements_, "PRAGMA user_version", "reading the schema version"));
}

bool Store::healthy() const {
  try {
    sql::Stmt s(*statements_, "PRAGMA quick_check", "checking the database");
    return s.step() && s.text(0) == "ok" && !s.step();
  } catch (const Error&) {
    return false;
  }
}

}  // namespace vermas
