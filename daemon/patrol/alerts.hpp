#pragma once
// Alerts: a projection of the log (alert.raised, alert.resolved folded by the reducer in
// daemon/store/projections.cpp), raised in the same transaction as the change that caused them. (Delivery to [alerts] command comes with the alerting
// work; here they are recorded, listed and resolved.)
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/journal.hpp"

namespace vermas::alerts {

struct Draft {
  std::string severity = "critical";  // info | warning | critical
  std::string kind;                   // start_limit, budget_exceeded, loop_detected …
  std::optional<std::string> agent;
  std::optional<std::string> factory;
  std::string message;
  nlohmann::json data = nlohmann::json::object();
};

// Inside a transaction: appends alert.raised (the reducer adds the row). Returns the alert id.
std::int64_t raise(Store::Tx& tx, const Draft& draft);
nlohmann::json list(const Store& store, std::optional<bool> resolved);
std::int64_t open_count(const Store& store);
// -32001 when unknown; resolving twice is a no-op that returns the alert.
nlohmann::json resolve(Journal& journal, std::int64_t id, const std::string& actor);

}  // namespace vermas::alerts
