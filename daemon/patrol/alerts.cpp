#include "daemon/patrol/alerts.hpp"
#include "daemon/error.hpp"

#include "daemon/store/sqlite.hpp"

namespace vermas::alerts {

namespace {

using nlohmann::json;

const char* kSelect =
    "SELECT id, type, severity, subject, agent, factory, message, data, count, first_at, last_at, resolved_at, "
    "resolved_by FROM alerts";

json alert_row(const sql::Stmt& s) {
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  json data = json::parse(s.text(7), nullptr, false);
  if (data.is_discarded()) data = json::object();
  const auto resolved_at = s.opt_text(11);
  return {{"id", s.int64(0)},
          {"type", s.text(1)},
          {"severity", s.text(2)},
          {"subject", opt(s.opt_text(3))},
          {"factory", opt(s.opt_text(5))},
          {"message", s.text(6)},
          {"data", data},
          {"count", s.int64(8)},
          {"first_at", s.text(9)},
          {"last_at", s.text(10)},
          {"resolved", resolved_at.has_value()},
          {"resolved_at", opt(resolved_at)},
          {"resolved_by", opt(s.opt_text(12))},
          // The names alert.list had before issue 11, kept for older readers.
          {"kind", s.text(1)},
          {"agent", opt(s.opt_text(4))},
          {"created_at", s.text(9)}};
}

}  // namespace

Draft about_agent(Severity severity, std::string type, const std::string& agent_id, std::optional<std::string> factory,
                  std::string message, json data) {
  return Draft{severity, std::move(type), agent_id, std::move(factory), std::move(message), std::move(data), agent_id};
}

std::optional<std::int64_t> open_id(sql::StatementCache& st, const std::string& type,
                                    const std::optional<std::string>& subject) {
  // `IS`: a subject-less alert repeats a subject-less one. The partial index alerts_open.
  sql::Stmt s(st, "SELECT id FROM alerts WHERE type = ? AND subject IS ? AND resolved_at IS NULL ORDER BY id LIMIT 1",
              "finding an open alert");
  s.bind(1, type).bind(2, subject);
  if (!s.step()) return std::nullopt;
  return s.int64(0);
}

Raised raise(Store::Tx& tx, const Draft& d) {
  if (auto open = open_id(tx.statements(), d.type, d.subject)) {
    // The same condition again: one alert that counts, with the latest message.
    tx.append({"alert.repeated", "operations", d.factory, d.subject,
               {{"alert_id", *open}, {"type", d.type}, {"message", d.message}, {"data", d.data}}});
    return {*open, false};
  }
  // The row is the reducer's, folded from the event; the event carries the id it gets. Alerts
  // are never deleted, so the next after the largest is never reused.
  sql::Stmt next(tx.statements(), "SELECT COALESCE(MAX(id), 0) + 1 FROM alerts", "choosing an alert id");
  next.step();
  const std::int64_t id = next.int64(0);
  json data = {{"alert_id", id},     {"type", d.type},       {"kind", d.type},
               {"severity", std::string(to_string(d.severity))}, {"message", d.message}, {"data", d.data}};
  if (d.agent) data["agent"] = *d.agent;
  tx.append({"alert.raised", "operations", d.factory, d.subject, std::move(data)});
  return {id, true};
}

std::vector<std::int64_t> resolve_open(Store::Tx& tx, const std::vector<std::string>& types,
                                       const std::string& subject, const std::string& actor) {
  std::vector<std::int64_t> out;
  for (const auto& type : types) {
    auto id = open_id(tx.statements(), type, subject);
    if (!id) continue;
    sql::Stmt f(tx.statements(), "SELECT factory FROM alerts WHERE id = ?", "reading an alert");
    f.bind(1, *id);
    std::optional<std::string> factory;
    if (f.step()) factory = f.opt_text(0);
    tx.append({"alert.resolved", actor, factory, subject,
               {{"alert_id", *id}, {"type", type}, {"kind", type}, {"resolved_by", actor}}});
    out.push_back(*id);
  }
  return out;
}

json get(const Store& store, std::int64_t id) {
  sql::Stmt s(store.statements(), std::string(kSelect) + " WHERE id = ?", "reading an alert");
  s.bind(1, id);
  if (!s.step())
    throw Error(Errc::not_found, "no alert " + std::to_string(id) + " (see: co alert list)", json{{"id", id}});
  return alert_row(s);
}

json list(const Store& store, std::optional<bool> resolved, std::optional<Severity> min_severity) {
  std::string text = std::string(kSelect) + " WHERE 1=1";
  if (resolved) text += *resolved ? " AND resolved_at IS NOT NULL" : " AND resolved_at IS NULL";
  std::vector<std::string> severities;
  if (min_severity) {
    severities = names_at_least(*min_severity);
    text += " AND severity IN (";
    for (std::size_t i = 0; i < severities.size(); ++i) text += i ? ",?" : "?";
    text += ")";
  }
  text += " ORDER BY id DESC LIMIT 1000";
  sql::Stmt s(store.statements(), text, "listing alerts");
  int i = 1;
  for (const auto& name : severities) s.bind(i++, name);
  json out = json::array();
  while (s.step()) out.push_back(alert_row(s));
  return out;
}

std::int64_t open_count(const Store& store) {
  sql::Stmt s(store.statements(), "SELECT count(*) FROM alerts WHERE resolved_at IS NULL", "counting alerts");
  s.step();
  return s.int64(0);
}

json resolve(Journal& journal, std::int64_t id, const std::string& actor) {
  json alert = get(journal.store(), id);
  if (alert["resolved"] == true) return alert;
  journal.commit([&](Store::Tx& tx) {  // the reducer sets resolved_at and resolved_by
    std::optional<std::string> factory, subject;
    if (alert["factory"].is_string()) factory = alert["factory"].get<std::string>();
    if (alert["subject"].is_string()) subject = alert["subject"].get<std::string>();
    tx.append({"alert.resolved", actor, factory, subject,
               {{"alert_id", id}, {"type", alert["type"]}, {"kind", alert["type"]}, {"resolved_by", actor}}});
  });
  return get(journal.store(), id);
}

}  // namespace vermas::alerts
