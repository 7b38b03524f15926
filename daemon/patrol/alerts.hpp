#pragma once
// Alerts: a projection of the log. The domain code appends events; the reducer in
// daemon/store/projections.cpp folds them into the `alerts` table:
//   alert.raised   {alert_id, type, kind, severity, message, data, agent?}  a new alert (count 1)
//   alert.repeated {alert_id, type, message, data}   the same condition again: count + 1, last_at
//   alert.resolved {alert_id, type, kind, resolved_by}
// (event subject = the alert's subject, event factory = its factory; times are the events').
//
// An alert is open until resolved. Raising a type for a subject that has an open alert of
// that type repeats it instead of opening a second one, so a crash loop is one alert with a
// count, and [alerts] command (AlertNotifier, a journal subscriber of alert.raised) runs
// once for it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/alert_severity.hpp"
#include "daemon/store/journal.hpp"

namespace vermas::alerts {

// What to raise. Generic on purpose: start_limit, heartbeat_missed, error_streak, stuck,
// loop_detected, budget_exceeded ... all go through raise().
struct Draft {
  Severity severity = Severity::warning;
  std::string type;                    // start_limit, heartbeat_missed, error_streak, stuck ...
  std::optional<std::string> subject;  // what it is about: an agent id, a work order id, a factory
  std::optional<std::string> factory;
  std::string message;
  nlohmann::json data = nlohmann::json::object();
  std::optional<std::string> agent;    // the agent concerned, if any (the JSON's `agent`)
};

// An alert about an agent: subject and agent are its id.
Draft about_agent(Severity severity, std::string type, const std::string& agent_id,
                  std::optional<std::string> factory, std::string message,
                  nlohmann::json data = nlohmann::json::object());

struct Raised {
  std::int64_t id = 0;
  bool opened = false;  // true: a new alert (alert.raised); false: an open one repeated
};

// Inside a transaction: appends alert.raised, or alert.repeated when an open alert of the
// same type and subject exists. The reducer changes the table.
Raised raise(Store::Tx& tx, const Draft& draft);

// The open alert of `type` about `subject`, if any.
std::optional<std::int64_t> open_id(sql::StatementCache& statements, const std::string& type,
                                    const std::optional<std::string>& subject);
// Inside a transaction: resolves the open alerts of these types about `subject`
// (alert.resolved, resolved_by = actor); returns their ids.
std::vector<std::int64_t> resolve_open(Store::Tx& tx, const std::vector<std::string>& types,
                                       const std::string& subject, const std::string& actor);

// {id, type, severity, subject, factory, message, data, count, first_at, last_at, resolved,
// resolved_at, resolved_by} plus the older names kind (= type), agent, created_at (= first_at).
nlohmann::json get(const Store& store, std::int64_t id);  // not_found when unknown
// Newest first (at most 1000). `resolved`: only resolved (true) or open (false) ones;
// `min_severity`: that severity and above.
nlohmann::json list(const Store& store, std::optional<bool> resolved, std::optional<Severity> min_severity = {});
std::int64_t open_count(const Store& store);
// -32001 when unknown; resolving twice is a no-op that returns the alert.
nlohmann::json resolve(Journal& journal, std::int64_t id, const std::string& actor);

}  // namespace vermas::alerts
