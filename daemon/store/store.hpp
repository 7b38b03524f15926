#pragma once
// The SQLite store: the append-only `events` table (the source of truth) and the
// projections beside it. WAL, foreign keys, versioned migrations (PRAGMA user_version).
// Every write is one transaction; callers learn of the events only after COMMIT. A COMMIT
// is on disk when it returns, unless the store is opened `grouped`: then a GroupCommit
// (group_commit.hpp) syncs the WAL for many commits at once, and the daemon answers only
// after that sync.
#include <cstdint>
#include "daemon/error.hpp"
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

struct sqlite3;

namespace vermas {

namespace sql {
class StatementCache;
}

// An event as it is stored and published (spec §2 event shape).
struct Event {
  std::int64_t id = 0;          // monotonic, never reused
  std::string ts;               // RFC 3339 UTC with milliseconds: 2026-11-22T03:47:40.123Z
  std::string event_type;       // noun.verb
  std::string actor;            // agent id | operator | operations
  std::optional<std::string> factory;
  std::optional<std::string> subject;
  nlohmann::json data = nlohmann::json::object();
};
nlohmann::json to_json(const Event& event);

// What a caller asks to append; the store assigns id and ts.
struct EventDraft {
  std::string event_type;
  std::string actor = "operations";
  std::optional<std::string> factory;
  std::optional<std::string> subject;
  nlohmann::json data = nlohmann::json::object();
};

struct EventFilter {
  std::optional<std::string> since;  // RFC 3339; inclusive
  std::optional<std::string> until;  // RFC 3339; exclusive
  std::optional<std::int64_t> after_id;  // id > after_id
  std::optional<std::string> type;   // exact, or a prefix ending in '.' / '*' ("agent.", "agent.*")
  std::optional<std::string> actor;
  std::optional<std::string> factory;
  std::optional<std::string> subject;  // exact (a work order's timeline)
  int limit = 100;                   // 1..10000
  bool newest_first = false;         // true: the last `limit` events (returned oldest first)
};

// The one rule for event type patterns, shared by events.query and events.subscribe:
// exact, or a prefix when the pattern ends in '.' or '*' ("agent.*" and "agent." match
// "agent.started"; "*" matches everything).
bool event_type_matches(std::string_view pattern, std::string_view type);

struct EventStats {
  std::int64_t total = 0;
  std::vector<std::pair<std::string, std::int64_t>> by_type;  // sorted by type
};

class Store {
 public:
  enum class Durability {
    full,     // synchronous=FULL: every COMMIT syncs the WAL (tools, tests)
    grouped,  // synchronous=NORMAL: the daemon's GroupCommit syncs for many commits
  };
  // Opens (creating if needed) and migrates to the newest schema. Throws Error.
  explicit Store(const std::filesystem::path& db_file, Durability durability = Durability::full);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inside a write transaction (BEGIN IMMEDIATE .. COMMIT).
  class Tx {
   public:
    Event append(EventDraft draft);  // inserts into events, returns it with id and ts
    sqlite3* db() const { return db_; }
    sql::StatementCache& statements() const;
   private:
    friend class Store;
    explicit Tx(Store& store, sqlite3* db) : store_(store), db_(db) {}
    Store& store_;
    sqlite3* db_;
    std::vector<Event> appended_;
  };

  // How a transaction meets the others of its loop turn (see batch_with).
  enum class Share {
    batch,  // joins the open shared transaction, if batching is on: committed at its end
    own,    // commits before it returns (the open batch first): for work that reads its
            // own writes from another connection, or must know the write reached the disk
  };
  // Runs `fn` in one transaction. On any exception it rolls back and rethrows; nothing of
  // fn is written. Returns the events appended, valid only once committed.
  std::vector<Event> transact(const std::function<void(Tx&)>& fn, Share share = Share::batch);
  Event append(EventDraft draft);  // one event in its own transaction

  std::vector<Event> query(const EventFilter& filter) const;
  // Events with after_id < id <= up_to in id order, at most `limit`; only those whose type
  // starts with one of `prefixes` (empty: all). Returns how many were passed to `fn`.
  std::int64_t scan(std::int64_t after_id, std::int64_t up_to, std::int64_t limit,
                    const std::vector<std::string>& prefixes, const std::function<void(const Event&)>& fn) const;
  EventStats stats(const std::optional<std::string>& since) const;
  std::int64_t last_event_id() const;
  int schema_version() const;
  // PRAGMA quick_check; true when "ok".
  bool healthy() const;
  // Why the last write transaction failed for a reason of the database's own (disk full,
  // I/O error, corruption, locked by another writer); nullopt once a write commits again.
  const std::optional<std::string>& write_failure() const { return write_failure_; }
  // A tiny write (one meta row): does writing work now? Clears write_failure() if it does.
  bool probe_write();
  sqlite3* db() const { return db_; }
  sql::StatementCache& statements() const { return *statements_; }
  // Called at every COMMIT on this connection, whoever wrote (SQLite's commit hook), just
  // before the commit is written; empty: none.
  void on_commit(std::function<void()> fn) { on_commit_ = std::move(fn); }
  // Called after every commit with the WAL's size in pages (SQLite's WAL hook). Set, SQLite
  // no longer checkpoints on its own (see Checkpointer); empty: it does again, at 1,000 pages.
  void on_wal(std::function<void(sqlite3* db, int pages)> fn);
  // Shared transactions (grouped stores, see GroupCommit): transact() joins the open batch
  // transaction, each caller in a SAVEPOINT of its own, and calls on_join(opened) so that
  // the batch's end is scheduled; end_batch() commits it. on_lost(why) is called when
  // SQLite rolled a batch back (its COMMIT, or a statement in it, failed with an I/O error
  // or a full disk): every transaction in it is gone. Without: every transact() commits.
  void batch_with(std::function<void(bool opened)> on_join, std::function<void(const std::string& why)> on_lost) {
    on_batch_join_ = std::move(on_join);
    on_batch_lost_ = std::move(on_lost);
  }
  bool batch_open() const { return batch_open_; }
  // Commits the open batch, if any. False when the COMMIT failed (and on_lost was called).
  bool end_batch();
  // Clock used for event timestamps; replaceable by tests.
  std::function<std::string()> now_rfc3339;

 private:
  void migrate();
  void undo(bool batched);
  void lost_batch();
  sqlite3* db_ = nullptr;
  std::optional<std::string> write_failure_;
  std::function<void()> on_commit_;
  std::function<void(sqlite3*, int)> on_wal_;
  std::function<void(bool)> on_batch_join_;
  std::function<void(const std::string&)> on_batch_lost_;
  bool batch_open_ = false;
  bool in_transact_ = false;
  std::unique_ptr<sql::StatementCache> statements_;  // before db_ closes, after it opens
};

// Store::scan on any connection to the database: readers of their own (db.verify, backups)
// replay the log with it as the store does.
std::int64_t scan_events(sql::StatementCache& statements, std::int64_t after_id, std::int64_t up_to, std::int64_t limit,
                         const std::vector<std::string>& prefixes, const std::function<void(const Event&)>& fn);
// The highest event id ever assigned (kept by sqlite_sequence, also after archiving).
std::int64_t last_event_id(sql::StatementCache& statements);

// The migrations, oldest first; migration i brings the schema to user_version i+1.
const std::vector<std::string>& store_migrations();

}  // namespace vermas
