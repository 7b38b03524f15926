#pragma once
// Work on the whole event log: replaying it into fresh projections (wo.rebuild_projections)
// and moving old events to day files (events.archive). Both run on the io thread in
// chunks, each its own short transaction, yielding between chunks so requests keep being
// answered; the last step (the swap, the checkpoint) is one transaction.
//
// Archiving folds the events it removes into the checkpoint tables first, so a replay
// (checkpoint + the events still in the database) always equals the live projections.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/paths.hpp"
#include "daemon/store/chunk_sizer.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

namespace sql {
class StatementCache;
}

// The replay, shared by rebuild and db.verify: folds the events after `cursor` (up to
// `up_to`, at most `limit` of them) into the table set `prefix` through the one reducer,
// advancing `cursor`; returns how many events were read.
std::int64_t fold_log(sql::StatementCache& statements, const std::string& prefix, std::int64_t& cursor,
                      std::int64_t up_to, std::int64_t limit);
// Events up to this id were archived and folded into the checkpoint tables.
std::int64_t checkpoint_event_id(sql::StatementCache& statements);

class LogMaintenance {
 public:
  LogMaintenance(boost::asio::io_context& io, Journal& journal, Paths paths)
      : io_(io), journal_(journal), paths_(std::move(paths)) {}
  ~LogMaintenance();  // waits for a comparison still running
  LogMaintenance(const LogMaintenance&) = delete;
  LogMaintenance& operator=(const LogMaintenance&) = delete;

  // Replays the log into fresh tables and swaps in each table that differs from its replay.
  // {events_replayed, work_orders, slots, checks, seconds, matched_live, differences, replaced}
  boost::asio::awaitable<nlohmann::json> rebuild(std::string actor);
  // Events older than `cutoff` (RFC 3339) to R/.work/archive/events-YYYY-MM-DD.jsonl (one
  // file per day of the events when partition_by_day, else events.jsonl), then out of the
  // database. {archived, files, checkpoint_event_id}
  boost::asio::awaitable<nlohmann::json> archive(std::string cutoff, bool partition_by_day, std::string actor);

  std::int64_t checkpoint_event_id() const;
  // Rows per chunk, fixed; small in tests to exercise the chunking. Otherwise each chunk is
  // sized to hold the io thread ~20 ms (chunk_sizer.hpp).
  void set_chunk(std::int64_t n) { fixed_chunk_ = n; }

 private:
  // Counts the rows in which each live table and its rebuilt one differ, on a read-only
  // connection in a thread of its own, at the log position of this call.
  boost::asio::awaitable<std::vector<std::pair<std::string, std::int64_t>>> compare_off_thread();
  boost::asio::io_context& io_;
  Journal& journal_;
  Paths paths_;
  ChunkSizer sizer() const;
  std::int64_t fixed_chunk_ = 0;
  bool busy_ = false;
  std::thread comparer_;
};

}  // namespace vermas
