#pragma once
// The projections of the event log: work orders, their QA checks, idempotency keys, worker
// slot assignments, factories, teams and alerts. One reducer, `apply`, folds an event into a set of tables; it
// reads nothing but the event and the tables it folds into (no clock, no randomness), so
// replaying the log into empty tables yields exactly the live ones.
//
// Table sets share one schema and differ by a name prefix:
//   ""            the live tables, updated in the transaction that appends each event
//   "checkpoint_" the fold of every event archived so far (events.archive deletes them)
//   "rebuild_"    a replay in progress (wo.rebuild_projections), swapped in when done
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/work_order.hpp"
#include "daemon/store/store.hpp"

namespace vermas::sql {
class StatementCache;
class Stmt;
}

namespace vermas::projections {

inline const std::string kLive;
inline const std::string kCheckpoint = "checkpoint_";
inline const std::string kRebuild = "rebuild_";
inline const std::string kRetired = "retired_";  // the live set a rebuild replaced, until dropped

// CREATE TABLE statements for one set; secondary indexes where asked.
std::string create_tables(const std::string& prefix, bool with_indexes);
// The same tables as TEMP ones, each with a rowid: a scratch set (db.verify's replay, on a
// read-only connection; the rebuild's replay).
std::string create_temp_tables(const std::string& prefix);
// `suffix` makes the names unique: a rebuilt set keeps its index names once it is renamed
// live, so the next rebuild's must differ.
std::string create_indexes(const std::string& prefix, const std::string& suffix = "");
std::string drop_tables(const std::string& prefix);
// The tables of one set, for copies, comparisons and swaps.
const std::vector<std::string>& table_names();

// Events the reducer folds (the others leave the projections alone).
bool affects(std::string_view event_type);
// Folds `e` into the set `prefix`. Total: an event it cannot use changes nothing.
void apply(sql::StatementCache& statements, const std::string& prefix, const Event& e);

// "SELECT <the columns work_order_row reads> FROM <prefix>work_orders", for a WHERE to follow.
std::string select_work_orders(const std::string& prefix);
// The current row of such a statement (spec §5 fields plus counters).
wo::WorkOrder work_order_row(const sql::Stmt& row);
// One work order, or nullopt if absent.
std::optional<wo::WorkOrder> work_order(sql::StatementCache& statements, const std::string& prefix,
                                        const std::string& id);
// The result stored for an idempotency key (scope: the work order id, "" for creates).
std::optional<nlohmann::json> keyed_result(sql::StatementCache& statements, const std::string& scope,
                                           const std::string& key);

// Rows present in one set and not the other, per table (table_names() order), and summed
// over every table (0: identical).
std::vector<std::pair<std::string, std::int64_t>> differences_by_table(sql::StatementCache& statements,
                                                                       const std::string& a, const std::string& b);
std::int64_t differences(sql::StatementCache& statements, const std::string& a, const std::string& b);
// The keys (primary key columns joined by '/') of the rows of `table` that are in one set
// and not the other, at most `limit`, sorted: what db.verify names.
std::vector<std::string> differing_keys(sql::StatementCache& statements, const std::string& a, const std::string& b,
                                        const std::string& table, std::int64_t limit);
// Replaces the contents of set `to` with those of set `from`.
void copy(sql::StatementCache& statements, const std::string& from, const std::string& to);

}  // namespace vermas::projections
