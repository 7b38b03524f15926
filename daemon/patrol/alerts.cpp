#include "daemon/patrol/alerts.hpp"
#include "daemon/error.hpp"

#include "daemon/store/sqlite.hpp"

namespace vermas::alerts {

namespace {

using nlohmann::json;

const char* kSelect =
    "SELECT id, created_at, severity, kind, agent, factory, message, data, resolved_at FROM alerts";

json row(const sql::Stmt& s) {
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  json data = json::parse(s.text(7), nullptr, false);
  if (data.is_discarded()) data = json::object();
  return {{"id", s.int64(0)},          {"created_at", s.text(1)}, {"severity", s.text(2)},
          {"kind", s.text(3)},         {"agent", opt(s.opt_text(4))}, {"factory", opt(s.opt_text(5))},
          {"message", s.text(6)},      {"data", data},            {"resolved_at", opt(s.opt_text(8))}};
}

json get(const Store& store, std::int64_t id) {
  sql::Stmt s(store.statements(), std::string(kSelect) + " WHERE id = ?", "reading an alert");
  s.bind(1, id);
  if (!s.step()) throw Error(Errc::not_found, "no alert " + std::to_string(id) + " (see: co alert list)",
                                  json{{"id", id}});
  return row(s);
}

}  // namespace

std::int64_t raise(Store::Tx& tx, const Draft& d) {
  // The row is the reducer's, folded from the event; the event carries the id it gets. Alerts
  // are never deleted, so the next after the largest is never reused.
  sql::Stmt next(tx.statements(), "SELECT COALESCE(MAX(id), 0) + 1 FROM alerts", "choosing an alert id");
  next.step();
  const std::int64_t id = next.int64(0);
  tx.append({"alert.raised", "operations", d.factory, d.agent,
             {{"alert_id", id}, {"severity", d.severity}, {"kind", d.kind}, {"message", d.message}, {"data", d.data}}});
  return id;
}

json list(const Store& store, std::optional<bool> resolved) {
  std::string sql = kSelect;
  if (resolved) sql += *resolved ? " WHERE resolved_at IS NOT NULL" : " WHERE resolved_at IS NULL";
  sql += " ORDER BY id DESC LIMIT 1000";
  sql::Stmt s(store.statements(), sql, "listing alerts");
  json out = json::array();
  while (s.step()) out.push_back(row(s));
  return out;
}

std::int64_t open_count(const Store& store) {
  sql::Stmt s(store.statements(), "SELECT count(*) FROM alerts WHERE resolved_at IS NULL", "counting alerts");
  s.step();
  return s.int64(0);
}

json resolve(Journal& journal, std::int64_t id, const std::string& actor) {
  json alert = get(journal.store(), id);
  if (!alert["resolved_at"].is_null()) return alert;
  journal.commit([&](Store::Tx& tx) {  // the reducer sets resolved_at
    std::optional<std::string> factory, agent;
    if (alert["factory"].is_string()) factory = alert["factory"].get<std::string>();
    if (alert["agent"].is_string()) agent = alert["agent"].get<std::string>();
    tx.append({"alert.resolved", actor, factory, agent, {{"alert_id", id}, {"kind", alert["kind"]}}});
  });
  return get(journal.store(), id);
}

}  // namespace vermas::alerts
