#include "daemon/store/log_maintenance.hpp"
#include "daemon/error.hpp"
#include "common/json.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace P = projections;

namespace {

// A superset of projections::affects, as event type patterns for the scan.
const std::vector<std::string> kProjected = {"slot.", "wo.", "factory.", "team.", "alert.", "mail.", "cost.", "budget.", "approval.", "squad."};

class Busy {
 public:
  explicit Busy(bool& flag) : flag_(flag) {
    if (flag_) throw Error(Errc::conflict, "a rebuild or archive of the event log is already running");
    flag_ = true;
  }
  ~Busy() { flag_ = false; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  bool& flag_;
};

// A larger page cache for the length of a rebuild, then the previous size again. Each chunk
// updates work orders all over the rebuild tables (~250 bytes per work order) while the scan
// streams the events through the same cache: with SQLite's default 2 MiB, dirty pages are
// spilled to the WAL and read back again and again (bench/bench_work_orders, 1M events and
// 100k work orders: the kernel's page copies were ~40 % of the rebuild's CPU time). Pages
// are allocated only as the cache fills; SQLite frees them when the size is restored, and
// malloc_trim hands them back to the system (glibc keeps freed small blocks otherwise, and
// the daemon would stay as large as the cache after a rebuild).
class LargerCache {
 public:
  // `schema`: main, or temp (the rebuild's scratch tables).
  LargerCache(Store& store, std::int64_t kib, std::string schema = "main") : store_(store), schema_(std::move(schema)) {
    {
      sql::Stmt s(store_.statements(), "PRAGMA " + schema_ + ".cache_size", "reading the cache size");
      previous_ = s.step() ? s.int64(0) : -2000;  // SQLite's default
    }
    if (previous_ < 0 && -previous_ >= kib) return;  // already as large
    set(-kib);
    changed_ = true;
  }
  ~LargerCache() {
    if (!changed_) return;
    try {
      set(previous_);
    } catch (const std::exception& e) {
      spdlog::warn("rebuild: restoring the page cache size: {}", e.what());
    }
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
  }
  LargerCache(const LargerCache&) = delete;
  LargerCache& operator=(const LargerCache&) = delete;

 private:
  void set(std::int64_t value) {
    // PRAGMA takes no bound parameters; the value is our own integer.
    sql::exec(store_.db(), ("PRAGMA " + schema_ + ".cache_size=" + std::to_string(value)).c_str(),
              "setting the cache size");
  }
  Store& store_;
  std::string schema_;
  std::int64_t previous_ = 0;
  bool changed_ = false;
};

// Holds the rebuild tables of ~100k work orders (the target's 1M events).
constexpr std::int64_t kRebuildCacheKiB = 32 * 1024;

// The replay's scratch tables: TEMP, so the replay writes no WAL, syncs nothing and needs no
// checkpoint. Replayed straight into the database's own rebuild tables, each ~20 ms chunk's
// commit wrote every page it had touched to the WAL again, and the checkpoints copied them
// once more: at 1M events that was more than half of the rebuild (39 s), and a chunk held the
// io thread for 0.1 s. From the scratch tables the rows are copied once, in chunks.
const std::string kScratch = "replay_";

// Closes the connection's temp database, whose cache otherwise keeps the dropped scratch
// tables' pages (27 MB of heap after a rebuild of 1M events): changing temp_store closes it,
// and SQLite opens a new one when it needs one. Outside any transaction.
void close_temp_schema(Store& store) noexcept {
  try {
    store.end_batch();  // temp_store cannot change inside a transaction
    sql::exec(store.db(), "PRAGMA temp_store=FILE; PRAGMA temp_store=DEFAULT;", "closing the temp database");
  } catch (const std::exception& e) {
    spdlog::warn("rebuild: closing the temp database: {}", e.what());
  }
}

std::int64_t count(sql::StatementCache& st, const std::string& table) {
  sql::Stmt s(st, "SELECT count(*) FROM " + table, "counting rows");
  return s.step() ? s.int64(0) : 0;
}

void set_meta(sql::StatementCache& st, const std::string& key, const std::string& value) {
  sql::Stmt s(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", "writing meta");
  s.bind(1, key).bind(2, value);
  s.run();
}

// Appends whole lines and fsyncs: an archived event is on disk before it leaves the db.
std::string append_durably(const fs::path& file, const std::string& text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return "opening " + file.string() + ": " + std::strerror(errno);
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string e = "writing " + file.string() + ": " + std::strerror(errno);
      ::close(fd);
      return e;
    }
    off += static_cast<std::size_t>(n);
  }
  std::string error;
  if (::fsync(fd) != 0) error = "fsync " + file.string() + ": " + std::strerror(errno);
  ::close(fd);
  return error;
}

// The id of the last event in an archive file (0 if none): a crash between writing a
// chunk and deleting it from the database must not write that chunk twice.
std::int64_t last_id_in(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return 0;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - (1 << 20));
  std::string tail(static_cast<std::size_t>(size - from), '\0');
  in.seekg(from);
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  json last = json::parse(tail.substr(tail.rfind('\n') == std::string::npos ? 0 : tail.rfind('\n') + 1), nullptr, false);
  return last.is_object() && last.value("id", json()).is_number_integer() ? last["id"].get<std::int64_t>() : 0;
}

}  // namespace

std::int64_t fold_log(sql::StatementCache& st, const std::string& prefix, std::int64_t& cursor, std::int64_t up_to,
                      std::int64_t limit) {
  return scan_events(st, cursor, up_to, limit, kProjected, [&](const Event& e) {
    if (P::affects(e.event_type)) P::apply(st, prefix, e);
    cursor = e.id;
  });
}

std::int64_t checkpoint_event_id(sql::StatementCache& st) {
  sql::Stmt s(st, "SELECT value FROM meta WHERE key = 'checkpoint_event_id'", "reading the checkpoint");
  return s.step() ? std::atoll(s.text(0).c_str()) : 0;
}

namespace {
// The rebuild's generation, counted in meta: it names the rebuilt set's indexes.
std::int64_t next_generation(sql::StatementCache& st) {
  std::int64_t n = 1;
  {
    sql::Stmt s(st, "SELECT value FROM meta WHERE key = 'rebuild_generation'", "reading the rebuild generation");
    if (s.step()) n = std::atoll(s.text(0).c_str()) + 1;
  }
  set_meta(st, "rebuild_generation", std::to_string(n));
  return n;
}
}  // namespace

ChunkSizer LogMaintenance::sizer() const {
  if (fixed_chunk_ > 0) return ChunkSizer::fixed(fixed_chunk_);
  return ChunkSizer(1000, 100, 200000);
}

std::int64_t LogMaintenance::checkpoint_event_id() const {
  return vermas::checkpoint_event_id(journal_.store().statements());
}

asio::awaitable<json> LogMaintenance::rebuild(std::string actor) {
  Busy busy(busy_);
  Store& store = journal_.store();
  auto& st = store.statements();
  const auto t0 = std::chrono::steady_clock::now();
  LargerCache cache(store, kRebuildCacheKiB);
  LargerCache scratch_cache(store, kRebuildCacheKiB, "temp");
  // A rebuild that fails half-way does not keep the scratch tables' memory either.
  bool scratch_open = true;
  struct CloseScratch {
    Store& store;
    bool& open;
    ~CloseScratch() {
      if (open) close_temp_schema(store);
    }
  } close_scratch{store, scratch_open};
  std::int64_t cursor = checkpoint_event_id();
  std::int64_t replayed = 0;
  // The scratch tables need no rollback journal: a rebuild that fails drops them, so a chunk
  // is never undone. Journaled, each chunk kept a copy of every page it touched, in memory,
  // freed at its commit. (Outside any transaction; closing the temp database ends it.)
  store.end_batch();
  sql::exec(store.db(), "PRAGMA temp.journal_mode = OFF", "turning the replay's journal off");
  store.transact([&](Store::Tx&) {
    sql::exec(store.db(), P::drop_tables(P::kRebuild).c_str(), "dropping an old rebuild");
    sql::exec(store.db(), P::drop_tables(P::kRetired).c_str(), "dropping a set an earlier rebuild replaced");
    sql::exec(store.db(), P::drop_tables(kScratch).c_str(), "dropping an old replay");
    sql::exec(store.db(), P::create_temp_tables(kScratch).c_str(), "creating the replay's tables");
    P::copy(st, P::kCheckpoint, kScratch);
  }, Store::Share::own);
  // The longest the io thread was held at once: how long a request may have waited.
  double longest_hold = 0, longest_chunk = 0, catch_up = 0;
  auto held_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  // Each step in its own transaction, sized to hold the io thread ~20 ms, requests between.
  auto step = [&](ChunkSizer& chunks, const std::function<std::int64_t(std::int64_t)>& work) -> asio::awaitable<bool> {
    std::int64_t n = 0;
    const std::int64_t limit = chunks.next();
    const auto chunk_start = std::chrono::steady_clock::now();
    store.transact([&](Store::Tx&) { n = work(limit); }, Store::Share::own);
    const double held = held_since(chunk_start);
    longest_hold = std::max(longest_hold, held);
    longest_chunk = std::max(longest_chunk, held);
    chunks.took(n, ChunkSizer::Seconds(held));
    if (n < limit) co_return false;
    co_await asio::post(io_, asio::use_awaitable);  // let requests in between chunks
    co_return true;
  };
  {
    ChunkSizer chunks = sizer();
    auto fold_scratch = [&](std::int64_t limit) {
      const std::int64_t n = fold_log(st, kScratch, cursor, INT64_MAX, limit);
      replayed += n;
      return n;
    };
    while (co_await step(chunks, fold_scratch)) {
    }
  }
  // The rebuild tables get their indexes before the copy, so the copy keeps them up in its
  // chunks: an index built at the swap is one statement over every row (0.1 s at 100k work
  // orders), holding the io thread. Their names carry a generation of their own (see
  // create_indexes).
  store.transact([&](Store::Tx&) {
    const std::string generation = std::to_string(next_generation(st));
    sql::exec(store.db(), (P::create_tables(P::kRebuild, false) + P::create_indexes(P::kRebuild, "_g" + generation)).c_str(),
              "creating rebuild tables");
  }, Store::Share::own);
  // The copy, a table at a time in chunks of rowid ranges of the scratch table (every
  // scratch table has a rowid: create_temp_tables), each chunk's end found by a walk of its
  // own rows, so no chunk pays for the rows before it.
  for (const auto& t : P::table_names()) {
    std::int64_t after = 0;  // the last rowid copied
    ChunkSizer chunks = sizer();
    auto copy_rows = [&](std::int64_t limit) -> std::int64_t {
      std::int64_t last = 0, n = 0;
      {
        sql::Stmt end(st, "SELECT max(rowid), count(*) FROM (SELECT rowid FROM " + kScratch + t +
                              " WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
                      "finding a chunk of replayed rows");
        end.bind(1, after).bind(2, limit);
        if (end.step() && !end.is_null(0)) {
          last = end.int64(0);
          n = end.int64(1);
        }
      }
      if (n == 0) return 0;
      sql::Stmt ins(st, "INSERT INTO " + P::kRebuild + t + " SELECT * FROM " + kScratch + t +
                            " WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid",
                    "copying replayed rows");
      ins.bind(1, after).bind(2, last);
      ins.run();
      after = last;
      return n;
    };
    while (co_await step(chunks, copy_rows)) {
    }
  }
  store.transact([&](Store::Tx&) {
    sql::exec(store.db(), P::drop_tables(kScratch).c_str(), "dropping the replay's tables");
  }, Store::Share::own);
  close_temp_schema(store);
  scratch_open = false;
  // From here on the events appended meanwhile are folded into the rebuild tables directly.
  auto fold = [&](std::int64_t limit) { return fold_log(st, P::kRebuild, cursor, INT64_MAX, limit); };
  // Compare with the live tables at one position of the log, on a second connection in a
  // thread of its own (a whole-table EXCEPT takes ~0.8 s at 100k work orders): fold up to the
  // last event, and in the same handler open the reader's snapshot, so nothing is appended
  // in between. Meanwhile live goes on; the rebuild tables wait for the swap.
  std::int64_t compared_at = 0;
  {
    const auto step_start = std::chrono::steady_clock::now();
    store.transact([&](Store::Tx&) { replayed += fold(INT64_MAX); }, Store::Share::own);
    compared_at = cursor;
    catch_up = held_since(step_start);
    longest_hold = std::max(longest_hold, catch_up);
  }
  const auto by_table = co_await compare_off_thread();
  std::int64_t diff = 0;
  std::vector<std::string> replaced, kept;  // tables swapped in, tables the live one stays
  for (const auto& [table, d] : by_table) {
    diff += d;
    (d > 0 ? replaced : kept).push_back(table);
  }
  json out;
  const auto swap_start = std::chrono::steady_clock::now();
  journal_.commit([&](Store::Tx& tx) {
    // The rest (events appended while we compared) and the swap, with nothing in between.
    replayed += fold(INT64_MAX);
    // Only the tables that differ: one that equals its replay at the comparison equals it
    // still (both took the same events since, through the one reducer), and each rename
    // reloads the whole schema (~1.1 ms): all 26 held the io thread 38-67 ms at 1M events.
    // Renames only: dropping the old set frees its pages, which takes time in proportion
    // to its size; that is done after, a table per step.
    if (!replaced.empty()) {
      std::string swap;
      for (const auto& t : replaced) swap += "ALTER TABLE " + t + " RENAME TO " + P::kRetired + t + ";\n";
      for (const auto& t : replaced) swap += "ALTER TABLE " + P::kRebuild + t + " RENAME TO " + t + ";\n";
      // Legacy renames: nothing refers to a projection table (no view, trigger or foreign
      // key), and the modern rename re-checks the whole schema for each.
      sql::exec(store.db(), ("PRAGMA legacy_alter_table = ON;\n" + swap + "PRAGMA legacy_alter_table = OFF;").c_str(),
                "swapping in the rebuilt projections");
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out = {{"events_replayed", replayed},
           {"checkpoint_event_id", checkpoint_event_id()},
           {"work_orders", count(st, "work_orders")},
           {"slots", count(st, "slots")},
           {"checks", count(st, "wo_checks")},
           {"factories", count(st, "factories")},
           {"teams", count(st, "teams")},
           {"alerts", count(st, "alerts")},
           {"messages", count(st, "messages")},
           {"runs", count(st, "runs")},
           {"differences", diff},
           {"replaced", replaced},
           {"compared_at_event_id", compared_at},
           {"matched_live", diff == 0},
           {"seconds", seconds},
           // Up to the commit of this step (the commit's own fsync is not counted).
           {"longest_hold_seconds", std::max(longest_hold, held_since(swap_start))},
           // Where the io thread was held longest: a chunk, the catch-up before the
           // comparison, or the swap.
           {"holds", {{"longest_chunk_seconds", longest_chunk},
                      {"catch_up_seconds", catch_up},
                      {"swap_seconds", held_since(swap_start)}}}};
    tx.append({"projections.rebuilt", actor, std::nullopt, std::nullopt, out});
  }, Store::Share::own);
  if (!out.value("matched_live", true))
    spdlog::warn("rebuild: the live projections differed from the log in {} rows; replaced {}", diff,
                 out["replaced"].dump());
  // What is left over, a table per step: the replaced live tables, the rebuilt ones not used.
  std::vector<std::string> leftovers;
  for (const auto& t : replaced) leftovers.push_back(P::kRetired + t);
  for (const auto& t : kept) leftovers.push_back(P::kRebuild + t);
  for (const auto& t : leftovers) {
    co_await asio::post(io_, asio::use_awaitable);
    store.transact([&](Store::Tx&) {
      sql::exec(store.db(), ("DROP TABLE IF EXISTS " + t).c_str(), "dropping a replaced or unused projection");
    }, Store::Share::own);
  }
  co_return out;
}

asio::awaitable<std::vector<std::pair<std::string, std::int64_t>>> LogMaintenance::compare_off_thread() {
  sqlite3* reader = nullptr;
  int rc = sqlite3_open_v2(paths_.db_file().c_str(), &reader, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = reader ? sqlite3_errmsg(reader) : "out of memory";
    sqlite3_close_v2(reader);
    throw Error(Errc::unavailable, "rebuild: opening a reader: " + why);
  }
  sqlite3_busy_timeout(reader, 2000);
  try {
    // The snapshot starts at the first read, here on the io thread: at the last fold.
    sql::exec(reader, "BEGIN; SELECT count(*) FROM events;", "starting the comparison's snapshot");
  } catch (...) {
    sqlite3_close_v2(reader);
    throw;
  }
  auto done = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
  std::vector<std::pair<std::string, std::int64_t>> diff;
  std::string error;
  if (comparer_.joinable()) comparer_.join();
  // The thread owns the reader from here on; it only hands its answer back to the io thread,
  // which writes it into this frame (alive: it is suspended until then).
  comparer_ = std::thread([this, reader, done, &diff, &error] {
    std::vector<std::pair<std::string, std::int64_t>> d;
    std::string e;
    try {
      sql::StatementCache cache(reader);
      d = P::differences_by_table(cache, P::kLive, P::kRebuild);
    } catch (const std::exception& x) {
      e = x.what();
    }
    sqlite3_exec(reader, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close_v2(reader);
    asio::post(io_, [done, d = std::move(d), e, &diff, &error]() mutable {
      diff = std::move(d);
      error = e;
      done->cancel();
    });
  });
  co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
  comparer_.join();
  if (!error.empty()) throw Error(Errc::internal, "rebuild: comparing with the live tables: " + error);
  co_return diff;
}

LogMaintenance::~LogMaintenance() {
  if (comparer_.joinable()) comparer_.join();
}

asio::awaitable<json> LogMaintenance::archive(std::string cutoff, bool partition_by_day, std::string actor) {
  Busy busy(busy_);
  Store& store = journal_.store();
  auto& st = store.statements();
  // A prefix of the log by id, so the checkpoint is the fold of exactly what left.
  std::int64_t upto = store.last_event_id();
  {
    // The daily retention pass mostly finds nothing to do: the oldest event answers that in
    // O(1), where the range query below would walk every newer entry of the ts index.
    sql::Stmt oldest(st, "SELECT ts FROM events ORDER BY id LIMIT 1", "finding the oldest event");
    if (!oldest.step() || oldest.text(0) >= cutoff) upto = checkpoint_event_id();
  }
  if (upto > checkpoint_event_id()) {
    sql::Stmt s(st, "SELECT min(id) FROM events WHERE ts >= ?", "finding the archive point");
    s.bind(1, cutoff);
    if (s.step() && !s.is_null(0)) upto = s.int64(0) - 1;
  }
  std::error_code ec;
  fs::create_directories(paths_.archive_dir(), ec);
  if (ec) throw Error(Errc::unavailable, "creating " + paths_.archive_dir().string() + ": " + ec.message());
  std::int64_t archived = 0;
  std::set<std::string> files;
  ChunkSizer chunks = sizer();
  for (;;) {
    const auto chunk_start = std::chrono::steady_clock::now();
    const std::int64_t from = checkpoint_event_id();
    std::vector<Event> chunk;
    store.scan(from, upto, chunks.next(), {}, [&](const Event& e) { chunk.push_back(e); });
    if (chunk.empty()) break;
    std::map<fs::path, std::string> lines;
    std::map<fs::path, std::int64_t> written;  // per file: the last id already in it
    for (const auto& e : chunk) {
      const std::string name = partition_by_day ? "events-" + e.ts.substr(0, 10) + ".jsonl" : "events.jsonl";
      const fs::path file = paths_.archive_dir() / name;
      if (!written.count(file)) written[file] = last_id_in(file);
      if (e.id <= written[file]) continue;
      lines[file] += to_json(e).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    }
    for (const auto& [file, text] : lines) {
      if (auto err = append_durably(file, text); !err.empty()) throw Error(Errc::unavailable, err);
      files.insert(file.string());
    }
    const std::int64_t last = chunk.back().id;
    store.transact([&](Store::Tx&) {
      for (const auto& e : chunk)
        if (P::affects(e.event_type)) P::apply(st, P::kCheckpoint, e);
      set_meta(st, "archiving", "1");
      sql::Stmt del(st, "DELETE FROM events WHERE id <= ?", "deleting archived events");
      del.bind(1, last);
      del.run();
      set_meta(st, "archiving", "0");
      set_meta(st, "checkpoint_event_id", std::to_string(last));
    }, Store::Share::own);
    archived += static_cast<std::int64_t>(chunk.size());
    chunks.took(static_cast<std::int64_t>(chunk.size()),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - chunk_start));
    co_await asio::post(io_, asio::use_awaitable);
  }
  json out = {{"archived", archived},
              {"files", json(std::vector<std::string>(files.begin(), files.end()))},
              {"checkpoint_event_id", checkpoint_event_id()},
              {"older_than", cutoff}};
  // Nothing moved, nothing to audit (the caller has the answer): a daily pass stays silent.
  if (archived > 0) journal_.record({"events.archived", actor, std::nullopt, std::nullopt, out});
  co_return out;
}

}  // namespace vermas
