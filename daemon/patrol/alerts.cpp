#include "daemon/patrol/alerts.hpp"

#include "common/jsonrpc.hpp"
#include "common/time.hpp"
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
  if (!s.step()) throw rpc::Error(rpc::code::not_found, "no alert " + std::to_string(id) + " (see: co alert list)",
                                  json{{"id", id}});
  return row(s);
}

}  // namespace

std::int64_t raise(Store::Tx& tx, const Draft& d) {
  const std::string now = now_rfc3339_ms();
  {
    sql::Stmt s(tx.statements(),
                "INSERT INTO alerts(created_at, severity, kind, agent, factory, message, data) VALUES(?,?,?,?,?,?,?)",
                "raising an alert");
    s.bind(1, now).bind(2, d.severity).bind(3, d.kind).bind(4, d.agent).bind(5, d.factory).bind(6, d.message);
    s.bind(7, d.data.dump(-1, ' ', false, json::error_handler_t::replace));
    s.run();
  }
  sql::Stmt id_stmt(tx.statements(), "SELECT last_insert_rowid()", "reading the alert id");
  id_stmt.step();
  std::int64_t id = id_stmt.int64(0);
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
  journal.commit([&](Store::Tx& tx) {
    sql::Stmt s(tx.statements(), "UPDATE alerts SET resolved_at = ? WHERE id = ?", "resolving an alert");
    s.bind(1, now_rfc3339_ms()).bind(2, id).run();
    std::optional<std::string> factory, agent;
    if (alert["factory"].is_string()) factory = alert["factory"].get<std::string>();
    if (alert["agent"].is_string()) agent = alert["agent"].get<std::string>();
    tx.append({"alert.resolved", actor, factory, agent, {{"alert_id", id}, {"kind", alert["kind"]}}});
  });
  return get(journal.store(), id);
}

}  // namespace vermas::alerts
