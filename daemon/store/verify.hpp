#pragma once
// db.verify and `co verify-db` (issue 13): the checks an operator runs after a restore or
// when the database is suspect. They read only: a connection of their own, opened
// read-only, one read transaction (a consistent snapshot while the daemon writes on), the
// replay into TEMP tables of that connection. So the same function serves the running
// daemon (on a worker thread) and `vermas-operations --verify-db` with the daemon stopped.
//
// Checks: PRAGMA integrity_check; the schema version; event ids strictly increasing, above
// the checkpoint and within sqlite_sequence, each event's data a JSON object; every work
// order's history legal under the transition table of spec §5 (from the checkpoint's status
// on); every projection equal to a replay of checkpoint + log (the reducer and the
// comparison of wo.rebuild_projections); the archive files' ids strictly increasing.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/paths.hpp"

namespace vermas {

struct VerifyFinding {
  std::string kind;    // integrity, schema, event_order, event_data, transition, projection, archive, open
  std::string detail;  // one line for an operator
  nlohmann::json ids = nlohmann::json::object();  // what it is about: {event_id, work_order, table, key, file}
};

struct VerifyReport {
  std::vector<VerifyFinding> findings;
  std::int64_t findings_dropped = 0;  // past the cap, counted only
  nlohmann::json checked = nlohmann::json::object();  // what was looked at: counts per check
  double seconds = 0;
  bool ok() const { return findings.empty() && findings_dropped == 0; }
};

// Runs every check on R/.work/operations.db and R/.work/archive/. Never throws: a database
// that cannot be opened is a finding (kind "open").
VerifyReport verify_database(const Paths& paths);

// {ok, findings: [{kind, detail, ids}], findings_dropped, checked, seconds}
nlohmann::json to_json(const VerifyReport& report);

}  // namespace vermas
