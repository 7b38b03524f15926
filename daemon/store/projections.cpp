#include "daemon/store/projections.hpp"
#include "common/json.hpp"

#include <map>
#include <vector>

#include "daemon/store/sqlite.hpp"

namespace vermas::projections {

namespace {


std::string str(const json& data, const char* key) {
  auto it = data.find(key);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::string> opt_str(const json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::int64_t num(const json& data, const char* key, std::int64_t fallback) {
  auto it = data.find(key);
  return it != data.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Column order matters: differences() and copy() compare and move whole rows.
constexpr const char* kWorkOrderColumns =
    "id, title, description, type, priority, status, factory, assignee, created_at, updated_at, artifacts, "
    "transitions, review_cycles, interventions, first_review_at, review_clean, done_at, last_event_id";

// A transition counts as an intervention when the work stalls (blocked, needs_approval,
// failed) or an operator steps in after the work was handed out (report.eval's share of
// work orders reaching review without one).
bool intervention(const Event& e, const std::string& from, const std::string& to) {
  if (to == "blocked" || to == "needs_approval" || to == "failed") return true;
  return e.actor == "operator" && from != "open";
}

void store_key(sql::StatementCache& st, const std::string& p, const std::string& scope, const Event& e,
               const std::string& wo_id) {
  auto key = opt_str(e.data, "idempotency_key");
  if (!key) return;
  auto row = work_order(st, p, wo_id);
  sql::Stmt s(st, "INSERT OR IGNORE INTO " + p + "wo_keys(scope, key, event_id, result) VALUES(?,?,?,?)",
              "recording an idempotency key");
  s.bind(1, scope).bind(2, *key).bind(3, e.id).bind(4, row ? dump(wo::to_json(*row)) : std::string("null"));
  s.run();
}

void apply_created(sql::StatementCache& st, const std::string& p, const Event& e) {
  if (!e.subject) return;
  sql::Stmt s(st,
              "INSERT INTO " + p + "work_orders(" + kWorkOrderColumns +
                  ") VALUES(?,?,?,?,?,'open',?,NULL,?,?,'[]',0,0,0,NULL,NULL,NULL,?) ON CONFLICT(id) DO NOTHING",
              "projecting wo.created");
  s.bind(1, *e.subject).bind(2, str(e.data, "title")).bind(3, str(e.data, "description"));
  s.bind(4, str(e.data, "type")).bind(5, num(e.data, "priority", 2)).bind(6, opt_str(e.data, "factory"));
  s.bind(7, e.ts).bind(8, e.ts).bind(9, e.id);
  s.run();
  store_key(st, p, "", e, *e.subject);
}

void apply_updated(sql::StatementCache& st, const std::string& p, const Event& e) {
  const json* set = e.data.contains("set") && e.data["set"].is_object() ? &e.data["set"] : nullptr;
  if (!e.subject || !set) return;
  // Only the shape depends on which fields changed; a handful of shapes in all.
  std::string text = "UPDATE " + p + "work_orders SET updated_at = ?, last_event_id = ?";
  std::vector<const char*> fields;
  for (const char* f : {"title", "description", "priority", "assignee"})
    if (set->contains(f)) {
      text += std::string(", ") + f + " = ?";
      fields.push_back(f);
    }
  text += " WHERE id = ?";
  sql::Stmt s(st, text, "projecting wo.updated");
  s.bind(1, e.ts).bind(2, e.id);
  int i = 3;
  for (const char* f : fields) {
    const json& v = (*set)[f];
    if (v.is_number_integer()) s.bind(i++, v.get<std::int64_t>());
    else if (v.is_string()) s.bind(i++, v.get<std::string>());
    else s.bind_null(i++);
  }
  s.bind(i, *e.subject);
  s.run();
}

void apply_transitioned(sql::StatementCache& st, const std::string& p, const Event& e) {
  if (!e.subject) return;
  const std::string from = str(e.data, "from"), to = str(e.data, "to");
  if (to.empty()) return;
  const int intervened = intervention(e, from, to) ? 1 : 0;
  {
    // Right-hand sides see the row as it was before this UPDATE.
    sql::Stmt s(st,
                "UPDATE " + p +
                    "work_orders SET status = ?1, updated_at = ?2, last_event_id = ?3,"
                    " transitions = transitions + 1,"
                    " review_cycles = review_cycles + (?4 = 'review' AND ?1 = 'in_progress'),"
                    " interventions = interventions + ?5,"
                    " review_clean = CASE WHEN first_review_at IS NULL AND ?1 = 'review'"
                    "   THEN (interventions + ?5) = 0 ELSE review_clean END,"
                    " first_review_at = CASE WHEN first_review_at IS NULL AND ?1 = 'review' THEN ?2"
                    "   ELSE first_review_at END,"
                    " done_at = CASE WHEN ?1 = 'done' THEN ?2 ELSE done_at END"
                    " WHERE id = ?6",
                "projecting wo.transitioned");
    s.bind(1, to).bind(2, e.ts).bind(3, e.id).bind(4, from).bind(5, intervened).bind(6, *e.subject);
    s.run();
  }
  if (e.data.contains("assignee")) {
    sql::Stmt s(st, "UPDATE " + p + "work_orders SET assignee = ? WHERE id = ?", "projecting an assignee");
    s.bind(1, opt_str(e.data, "assignee")).bind(2, *e.subject);
    s.run();
  }
  if (auto factory = opt_str(e.data, "factory")) {  // dispatched into a factory it had not named
    sql::Stmt s(st, "UPDATE " + p + "work_orders SET factory = ? WHERE id = ?", "projecting a factory");
    s.bind(1, *factory).bind(2, *e.subject);
    s.run();
  }
  store_key(st, p, *e.subject, e, *e.subject);
}

// A file attached by the daemon (a loop summary): appended to the work order's artifacts.
void apply_artifact_added(sql::StatementCache& st, const std::string& p, const Event& e) {
  const auto path = opt_str(e.data, "path");
  if (!e.subject || !path) return;
  sql::Stmt s(st,
              "UPDATE " + p + "work_orders SET artifacts = json_insert(artifacts, '$[#]', ?), updated_at = ?,"
              " last_event_id = ? WHERE id = ?",
              "projecting wo.artifact_added");
  s.bind(1, *path).bind(2, e.ts).bind(3, e.id).bind(4, *e.subject);
  s.run();
}

void apply_imported(sql::StatementCache& st, const std::string& p, const Event& e) {
  const json* r = e.data.contains("record") && e.data["record"].is_object() ? &e.data["record"] : nullptr;
  if (!e.subject || !r) return;
  // The record's own timestamps are kept: a sync compares updated_at across copies.
  sql::Stmt s(st,
              "INSERT INTO " + p + "work_orders(" + kWorkOrderColumns +
                  ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,0,0,0,NULL,NULL,"
                  " CASE WHEN ?6 = 'done' THEN ?10 END,?12)"
                  " ON CONFLICT(id) DO UPDATE SET title = ?2, description = ?3, type = ?4, priority = ?5,"
                  " status = ?6, factory = ?7, assignee = ?8, updated_at = ?10, artifacts = ?11,"
                  " done_at = CASE WHEN ?6 = 'done' THEN COALESCE(done_at, ?10) ELSE done_at END,"
                  " last_event_id = ?12",
              "projecting wo.imported");
  s.bind(1, *e.subject).bind(2, str(*r, "title")).bind(3, str(*r, "description")).bind(4, str(*r, "type"));
  s.bind(5, num(*r, "priority", 2)).bind(6, str(*r, "status")).bind(7, opt_str(*r, "factory"));
  s.bind(8, opt_str(*r, "assignee")).bind(9, str(*r, "created_at")).bind(10, str(*r, "updated_at"));
  s.bind(11, r->contains("artifacts") ? dump((*r)["artifacts"]) : std::string("[]")).bind(12, e.id);
  s.run();
}

void apply_check(sql::StatementCache& st, const std::string& p, const Event& e) {
  if (!e.subject) return;
  auto flag = [&](const char* key, bool fallback) {
    auto it = e.data.find(key);
    return it != e.data.end() && it->is_boolean() ? it->get<bool>() : fallback;
  };
  sql::Stmt s(st,
              "INSERT OR REPLACE INTO " + p +
                  "wo_checks(work_order, name, passed, objective, note, actor, ts, event_id) VALUES(?,?,?,?,?,?,?,?)",
              "projecting wo.check_recorded");
  s.bind(1, *e.subject).bind(2, str(e.data, "check")).bind(3, flag("passed", false) ? 1 : 0);
  s.bind(4, flag("objective", true) ? 1 : 0).bind(5, str(e.data, "note")).bind(6, e.actor).bind(7, e.ts).bind(8, e.id);
  s.run();
}

void apply_slot_assigned(sql::StatementCache& st, const std::string& p, const Event& e) {
  const auto factory = opt_str(e.data, "factory");
  if (!factory || !e.data.contains("slot")) return;
  sql::Stmt s(st,
              "INSERT OR REPLACE INTO " + p +
                  "slots(factory, slot, work_order, agent, branch, worktree, team, assigned_at, event_id)"
                  " VALUES(?,?,?,?,?,?,?,?,?)",
              "projecting slot.assigned");
  s.bind(1, *factory).bind(2, num(e.data, "slot", 0)).bind(3, str(e.data, "work_order")).bind(4, str(e.data, "agent"));
  s.bind(5, str(e.data, "branch")).bind(6, str(e.data, "worktree")).bind(7, opt_str(e.data, "team"));
  s.bind(8, e.ts).bind(9, e.id);
  s.run();
}

// A stuck worker restarted in its slot (the patrol's remedy): counted for as long as the
// slot holds that work order, so the next remedy knows whether to give the work back.
void apply_slot_restarted(sql::StatementCache& st, const std::string& p, const Event& e) {
  const auto factory = opt_str(e.data, "factory");
  if (!factory || !e.data.contains("slot")) return;
  sql::Stmt s(st,
              "UPDATE " + p + "slots SET stuck_restarts = stuck_restarts + 1 WHERE factory = ? AND slot = ? AND "
              "work_order = ?",
              "projecting slot.restarted");
  s.bind(1, *factory).bind(2, num(e.data, "slot", 0)).bind(3, str(e.data, "work_order"));
  s.run();
}

void apply_slot_freed(sql::StatementCache& st, const std::string& p, const Event& e) {
  const auto factory = opt_str(e.data, "factory");
  if (!factory || !e.data.contains("slot")) return;
  sql::Stmt s(st, "DELETE FROM " + p + "slots WHERE factory = ? AND slot = ?", "projecting slot.freed");
  s.bind(1, *factory).bind(2, num(e.data, "slot", 0));
  s.run();
}

// Costs: a report adds to its run (the run's first report creates it) and to its day's row
// of (agent, factory, work-order type). A row's time is its event's.
void apply_cost_reported(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::string agent = str(e.data, "agent"), run = str(e.data, "run_id");
  if (agent.empty() || run.empty()) return;
  const double amount = e.data.contains("amount") && e.data["amount"].is_number() ? e.data["amount"].get<double>() : 0.0;
  const std::int64_t in = num(e.data, "tokens_in", 0), out = num(e.data, "tokens_out", 0);
  {
    sql::Stmt s(st,
                "INSERT INTO " + p +
                    "runs(id, agent, factory, model, work_order, cost, tokens_in, tokens_out, reports, first_at, last_at)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,1,?9,?9) ON CONFLICT(id) DO UPDATE SET cost = cost + ?6,"
                    " tokens_in = tokens_in + ?7, tokens_out = tokens_out + ?8, reports = reports + 1, last_at = ?9,"
                    " model = COALESCE(?4, model), work_order = COALESCE(?5, work_order)",
                "projecting cost.reported");
    s.bind(1, run).bind(2, agent).bind(3, e.factory).bind(4, opt_str(e.data, "model"));
    s.bind(5, opt_str(e.data, "work_order")).bind(6, amount).bind(7, in).bind(8, out).bind(9, e.ts);
    s.run();
  }
  const std::string day = e.data.contains("day") && e.data["day"].is_string() ? e.data["day"].get<std::string>()
                                                                              : e.ts.substr(0, 10);
  sql::Stmt s(st,
              "INSERT INTO " + p +
                  "cost_daily(day, agent, factory, wo_type, cost, tokens_in, tokens_out, reports)"
                  " VALUES(?1,?2,?3,?4,?5,?6,?7,1) ON CONFLICT(day, agent, factory, wo_type) DO UPDATE SET"
                  " cost = cost + ?5, tokens_in = tokens_in + ?6, tokens_out = tokens_out + ?7, reports = reports + 1",
              "projecting cost.reported");
  s.bind(1, day).bind(2, agent).bind(3, e.factory.value_or("")).bind(4, opt_str(e.data, "wo_type").value_or(""));
  s.bind(5, amount).bind(6, in).bind(7, out);
  s.run();
}

// An agent's reset: today's count starts from zero, as an adjustment row (wo_type
// "(reset)", no factory) that summaries and the factory and company totals leave out.
void apply_cost_reset(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::string agent = str(e.data, "agent"), day = str(e.data, "day");
  if (agent.empty() || day.empty() || !e.data.contains("amount") || !e.data["amount"].is_number()) return;
  sql::Stmt s(st,
              "INSERT INTO " + p +
                  "cost_daily(day, agent, factory, wo_type, cost, tokens_in, tokens_out, reports)"
                  " VALUES(?1,?2,'','(reset)',?3,0,0,0) ON CONFLICT(day, agent, factory, wo_type) DO UPDATE SET"
                  " cost = cost + ?3",
              "projecting cost.reset");
  s.bind(1, day).bind(2, agent).bind(3, -e.data["amount"].get<double>());
  s.run();
}

// Budgets: an operator's cap for one scope, the latest one standing.
void apply_budget_set(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::string scope = str(e.data, "scope");
  if (scope.empty() || !e.data.contains("daily_cap") || !e.data["daily_cap"].is_number()) return;
  sql::Stmt s(st, "INSERT OR REPLACE INTO " + p + "budgets(scope, id, daily_cap, set_at, set_by) VALUES(?,?,?,?,?)",
              "projecting budget.set");
  s.bind(1, scope).bind(2, str(e.data, "id")).bind(3, e.data["daily_cap"].get<double>()).bind(4, e.ts).bind(5, e.actor);
  s.run();
}

// Approvals: opened pending by the daemon, decided once by an operator.
void apply_approval_opened(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::int64_t id = num(e.data, "approval_id", 0);
  if (id <= 0) return;
  auto real = [&](const char* key) {
    return e.data.contains(key) && e.data[key].is_number() ? e.data[key].get<double>() : 0.0;
  };
  sql::Stmt s(st,
              "INSERT OR REPLACE INTO " + p +
                  "approvals(id, kind, agent, work_order, scope, scope_id, spend, cap, status, prior_status,"
                  " created_at, decided_at, decided_by, approver, decision, override)"
                  " VALUES(?,?,?,?,?,?,?,?,'pending',?,?,NULL,NULL,NULL,NULL,0)",
              "projecting approval.opened");
  s.bind(1, id).bind(2, str(e.data, "kind")).bind(3, str(e.data, "agent")).bind(4, opt_str(e.data, "work_order"));
  s.bind(5, str(e.data, "scope")).bind(6, str(e.data, "scope_id")).bind(7, real("spend")).bind(8, real("cap"));
  s.bind(9, opt_str(e.data, "prior_status")).bind(10, e.ts);
  s.run();
}

void apply_approval_decided(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::int64_t id = num(e.data, "approval_id", 0);
  const std::string status = str(e.data, "status");
  if (id <= 0 || (status != "approved" && status != "denied")) return;
  const bool override_cap = e.data.contains("override") && e.data["override"].is_boolean() && e.data["override"].get<bool>();
  sql::Stmt s(st,
              "UPDATE " + p +
                  "approvals SET status = ?, decided_at = ?, decided_by = ?, approver = ?, decision = ?, override = ?"
                  " WHERE id = ? AND status = 'pending'",
              "projecting approval.decided");
  s.bind(1, status).bind(2, e.ts).bind(3, e.actor).bind(4, str(e.data, "approver")).bind(5, str(e.data, "decision"));
  s.bind(6, override_cap ? 1 : 0).bind(7, id);
  s.run();
}

// The squad pause: one row, the company's.
void apply_squad(sql::StatementCache& st, const std::string& p, const Event& e, bool paused) {
  sql::Stmt s(st, "INSERT OR REPLACE INTO " + p + "squad(name, paused, reason, since, actor) VALUES('company',?,?,?,?)",
              "projecting the squad");
  s.bind(1, paused ? 1 : 0).bind(2, str(e.data, "reason")).bind(3, e.ts).bind(4, e.actor);
  s.run();
}

// Factories and teams: registered by factory.added and team.added, forgotten (a factory with
// its teams) by factory.removed. A row's time is its event's.
void apply_factory_added(sql::StatementCache& st, const std::string& p, const Event& e) {
  if (!e.subject) return;
  sql::Stmt s(st, "INSERT OR REPLACE INTO " + p + "factories(name, url, prefix, path, added_at) VALUES(?,?,?,?,?)",
              "projecting factory.added");
  s.bind(1, *e.subject).bind(2, str(e.data, "url")).bind(3, str(e.data, "prefix")).bind(4, str(e.data, "path"));
  s.bind(5, e.ts);
  s.run();
}

void apply_factory_removed(sql::StatementCache& st, const std::string& p, const Event& e) {
  if (!e.subject) return;
  sql::Stmt(st, "DELETE FROM " + p + "teams WHERE factory = ?", "projecting factory.removed").bind(1, *e.subject).run();
  sql::Stmt(st, "DELETE FROM " + p + "factories WHERE name = ?", "projecting factory.removed").bind(1, *e.subject).run();
}

void apply_team_added(sql::StatementCache& st, const std::string& p, const Event& e) {
  if (!e.factory || !e.subject) return;
  // The subject is "<factory>/<team>"; newer events also say "team".
  std::string name = str(e.data, "team");
  if (name.empty()) name = e.subject->substr(e.subject->find('/') + 1);
  sql::Stmt s(st,
              "INSERT OR REPLACE INTO " + p + "teams(factory, name, path, branch, created_at) VALUES(?,?,?,?,?)",
              "projecting team.added");
  s.bind(1, *e.factory).bind(2, name).bind(3, str(e.data, "path")).bind(4, str(e.data, "branch")).bind(5, e.ts);
  s.run();
}

// Alerts: alert.raised carries the id the raiser chose (the next after the largest) and
// opens the alert (count 1); alert.repeated counts it up with the latest message;
// alert.resolved closes it. Events from before issue 11 say "kind" and leave the agent to
// the event's subject, and a resolution's resolved_by to its actor.
void apply_alert_raised(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::int64_t id = num(e.data, "alert_id", 0);
  if (id <= 0) return;
  const json data = e.data.contains("data") && e.data["data"].is_object() ? e.data["data"] : json::object();
  const bool current = e.data.contains("type");
  sql::Stmt s(st,
              "INSERT OR REPLACE INTO " + p +
                  "alerts(id, type, severity, subject, agent, factory, message, data, count, first_at, last_at,"
                  " resolved_at, resolved_by) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,1,?9,?9,NULL,NULL)",
              "projecting alert.raised");
  s.bind(1, id).bind(2, str(e.data, current ? "type" : "kind")).bind(3, str(e.data, "severity")).bind(4, e.subject);
  s.bind(5, current ? opt_str(e.data, "agent") : e.subject).bind(6, e.factory).bind(7, str(e.data, "message"));
  s.bind(8, dump(data)).bind(9, e.ts);
  s.run();
}

void apply_alert_repeated(sql::StatementCache& st, const std::string& p, const Event& e) {
  const json data = e.data.contains("data") && e.data["data"].is_object() ? e.data["data"] : json::object();
  sql::Stmt s(st, "UPDATE " + p + "alerts SET count = count + 1, last_at = ?, message = ?, data = ? WHERE id = ?",
              "projecting alert.repeated");
  s.bind(1, e.ts).bind(2, str(e.data, "message")).bind(3, dump(data)).bind(4, num(e.data, "alert_id", 0));
  s.run();
}

void apply_alert_resolved(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::int64_t id = num(e.data, "alert_id", 0);
  sql::Stmt s(st, "UPDATE " + p + "alerts SET resolved_at = ?, resolved_by = ? WHERE id = ? AND resolved_at IS NULL",
              "projecting alert.resolved");
  s.bind(1, e.ts).bind(2, opt_str(e.data, "resolved_by").value_or(e.actor)).bind(3, id);
  s.run();
}

// Mail: mail.sent adds a queued message (its id chosen by the sender: the next after the
// largest), mail.delivered and mail.acked move it on; a state never moves back.
void apply_mail_sent(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::int64_t id = num(e.data, "message_id", 0);
  if (id <= 0) return;
  sql::Stmt s(st,
              "INSERT OR IGNORE INTO " + p +
                  "messages(id, sender, recipient, subject, body, state, created_at, delivered_at, acked_at)"
                  " VALUES(?,?,?,?,?,'queued',?,NULL,NULL)",
              "projecting mail.sent");
  s.bind(1, id).bind(2, str(e.data, "from")).bind(3, str(e.data, "to")).bind(4, str(e.data, "subject"));
  s.bind(5, str(e.data, "body")).bind(6, e.ts);
  s.run();
}

void apply_mail_delivered(sql::StatementCache& st, const std::string& p, const Event& e) {
  auto it = e.data.find("message_ids");
  if (it == e.data.end() || !it->is_array()) return;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) continue;
    sql::Stmt s(st, "UPDATE " + p + "messages SET state = 'delivered', delivered_at = ? WHERE id = ? AND state = 'queued'",
                "projecting mail.delivered");
    s.bind(1, e.ts).bind(2, v.get<std::int64_t>());
    s.run();
  }
}

void apply_mail_acked(sql::StatementCache& st, const std::string& p, const Event& e) {
  sql::Stmt s(st,
              "UPDATE " + p +
                  "messages SET state = 'acked', acked_at = ?1, delivered_at = COALESCE(delivered_at, ?1)"
                  " WHERE id = ?2 AND state <> 'acked'",
              "projecting mail.acked");
  s.bind(1, e.ts).bind(2, num(e.data, "message_id", 0));
  s.run();
}

}  // namespace

const std::vector<std::string>& table_names() {
  static const std::vector<std::string> names = {"work_orders", "wo_checks", "wo_keys", "slots",
                                                 "factories",   "teams",     "alerts",  "messages",
                                                 "runs",        "cost_daily", "budgets",  "approvals",
                                                 "squad"};
  return names;
}

std::string create_tables(const std::string& p, bool with_indexes) {
  std::string s =
      "CREATE TABLE " + p + "work_orders(\n"
      "  id TEXT PRIMARY KEY,\n"
      "  title TEXT NOT NULL,\n"
      "  description TEXT NOT NULL,\n"
      "  type TEXT NOT NULL,\n"
      "  priority INTEGER NOT NULL,\n"
      "  status TEXT NOT NULL,\n"
      "  factory TEXT,\n"
      "  assignee TEXT,\n"
      "  created_at TEXT NOT NULL,\n"
      "  updated_at TEXT NOT NULL,\n"
      "  artifacts TEXT NOT NULL,\n"
      "  transitions INTEGER NOT NULL,\n"
      "  review_cycles INTEGER NOT NULL,\n"
      "  interventions INTEGER NOT NULL,\n"
      "  first_review_at TEXT,\n"
      "  review_clean INTEGER,\n"
      "  done_at TEXT,\n"
      "  last_event_id INTEGER NOT NULL\n"
      ");\n"
      "CREATE TABLE " + p + "wo_checks(\n"
      "  work_order TEXT NOT NULL,\n"
      "  name TEXT NOT NULL,\n"
      "  passed INTEGER NOT NULL,\n"
      "  objective INTEGER NOT NULL,\n"
      "  note TEXT NOT NULL,\n"
      "  actor TEXT NOT NULL,\n"
      "  ts TEXT NOT NULL,\n"
      "  event_id INTEGER NOT NULL,\n"
      "  PRIMARY KEY(work_order, name)\n"
      ") WITHOUT ROWID;\n"
      "CREATE TABLE " + p + "wo_keys(\n"
      "  scope TEXT NOT NULL,\n"
      "  key TEXT NOT NULL,\n"
      "  event_id INTEGER NOT NULL,\n"
      "  result TEXT NOT NULL,\n"
      "  PRIMARY KEY(scope, key)\n"
      ") WITHOUT ROWID;\n"
      "CREATE TABLE " + p + "slots(\n"
      "  factory TEXT NOT NULL,\n"
      "  slot INTEGER NOT NULL,\n"
      "  work_order TEXT NOT NULL,\n"
      "  agent TEXT NOT NULL,\n"
      "  branch TEXT NOT NULL,\n"
      "  worktree TEXT NOT NULL,\n"
      "  team TEXT,\n"
      "  assigned_at TEXT NOT NULL,\n"
      // stuck_restarts came with migration 7's ALTER TABLE, which SQLite writes into the
      // stored SQL just so (after the last column, on its line).
      "  event_id INTEGER NOT NULL, stuck_restarts INTEGER NOT NULL DEFAULT 0,\n"
      "  PRIMARY KEY(factory, slot)\n"
      ") WITHOUT ROWID;\n"
      // Word for word migration 2's text (which created the live three): the frozen-shape
      // test compares the stored SQL.
      "CREATE TABLE " + p + "factories(\n"
      "  name TEXT PRIMARY KEY,\n"
      "  url TEXT NOT NULL,\n"
      "  prefix TEXT NOT NULL,\n"
      "  path TEXT NOT NULL,\n"
      "  added_at TEXT NOT NULL\n"
      ");\n"
      "CREATE TABLE " + p + "teams(\n"
      "  factory TEXT NOT NULL,\n"
      "  name TEXT NOT NULL,\n"
      "  path TEXT NOT NULL,\n"
      "  branch TEXT NOT NULL,\n"
      "  created_at TEXT NOT NULL,\n"
      "  PRIMARY KEY(factory, name)\n"
      ");\n"
      // Migration 10's text, word for word.
      "CREATE TABLE " + p + "alerts(\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  type TEXT NOT NULL,\n"
      "  severity TEXT NOT NULL,\n"
      "  subject TEXT,\n"
      "  agent TEXT,\n"
      "  factory TEXT,\n"
      "  message TEXT NOT NULL,\n"
      "  data TEXT NOT NULL,\n"
      "  count INTEGER NOT NULL,\n"
      "  first_at TEXT NOT NULL,\n"
      "  last_at TEXT NOT NULL,\n"
      "  resolved_at TEXT,\n"
      "  resolved_by TEXT\n"
      ");\n"
      // Migration 6's text, word for word.
      "CREATE TABLE " + p + "messages(\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  sender TEXT NOT NULL,\n"
      "  recipient TEXT NOT NULL,\n"
      "  subject TEXT NOT NULL,\n"
      "  body TEXT NOT NULL,\n"
      "  state TEXT NOT NULL,\n"
      "  created_at TEXT NOT NULL,\n"
      "  delivered_at TEXT,\n"
      "  acked_at TEXT\n"
      ");\n"
      // Migration 8's text, word for word.
      "CREATE TABLE " + p + "runs(\n"
      "  id TEXT PRIMARY KEY,\n"
      "  agent TEXT NOT NULL,\n"
      "  factory TEXT,\n"
      "  model TEXT,\n"
      "  work_order TEXT,\n"
      "  cost REAL NOT NULL,\n"
      "  tokens_in INTEGER NOT NULL,\n"
      "  tokens_out INTEGER NOT NULL,\n"
      "  reports INTEGER NOT NULL,\n"
      "  first_at TEXT NOT NULL,\n"
      "  last_at TEXT NOT NULL\n"
      ") WITHOUT ROWID;\n"
      "CREATE TABLE " + p + "cost_daily(\n"
      "  day TEXT NOT NULL,\n"
      "  agent TEXT NOT NULL,\n"
      "  factory TEXT NOT NULL,\n"
      "  wo_type TEXT NOT NULL,\n"
      "  cost REAL NOT NULL,\n"
      "  tokens_in INTEGER NOT NULL,\n"
      "  tokens_out INTEGER NOT NULL,\n"
      "  reports INTEGER NOT NULL,\n"
      "  PRIMARY KEY(day, agent, factory, wo_type)\n"
      ") WITHOUT ROWID;\n"
      // Migration 9's text, word for word.
      "CREATE TABLE " + p + "budgets(\n"
      "  scope TEXT NOT NULL,\n"
      "  id TEXT NOT NULL,\n"
      "  daily_cap REAL NOT NULL,\n"
      "  set_at TEXT NOT NULL,\n"
      "  set_by TEXT NOT NULL,\n"
      "  PRIMARY KEY(scope, id)\n"
      ") WITHOUT ROWID;\n"
      // Migration 11's text, word for word.
      "CREATE TABLE " + p + "approvals(\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  kind TEXT NOT NULL,\n"
      "  agent TEXT NOT NULL,\n"
      "  work_order TEXT,\n"
      "  scope TEXT NOT NULL,\n"
      "  scope_id TEXT NOT NULL,\n"
      "  spend REAL NOT NULL,\n"
      "  cap REAL NOT NULL,\n"
      "  status TEXT NOT NULL,\n"
      "  prior_status TEXT,\n"
      "  created_at TEXT NOT NULL,\n"
      "  decided_at TEXT,\n"
      "  decided_by TEXT,\n"
      "  approver TEXT,\n"
      "  decision TEXT,\n"
      "  override INTEGER NOT NULL\n"
      ");\n"
      // Migration 12's text, word for word.
      "CREATE TABLE " + p + "squad(\n"
      "  name TEXT PRIMARY KEY,\n"
      "  paused INTEGER NOT NULL,\n"
      "  reason TEXT NOT NULL,\n"
      "  since TEXT NOT NULL,\n"
      "  actor TEXT NOT NULL\n"
      ");\n";
  if (with_indexes) s += create_indexes(p);
  return s;
}

std::string create_temp_tables(const std::string& p) {
  std::string s = create_tables(p, false);
  const std::string plain = "CREATE TABLE ", temp = "CREATE TEMP TABLE ";
  for (auto at = s.find(plain); at != std::string::npos; at = s.find(plain, at + temp.size()))
    s.replace(at, plain.size(), temp);
  // Every scratch table has a rowid, so that it can be read in chunks by rowid ranges (the
  // rebuild's copy); the primary keys stay as unique constraints.
  const std::string without = ") WITHOUT ROWID;";
  for (auto at = s.find(without); at != std::string::npos; at = s.find(without, at))
    s.replace(at, without.size(), ");");
  return s;
}

std::string create_indexes(const std::string& p, const std::string& x) {
  return "CREATE INDEX " + p + "work_orders_status" + x + " ON " + p + "work_orders(status, updated_at);\n"
         "CREATE INDEX " + p + "work_orders_factory" + x + " ON " + p + "work_orders(factory, status);\n"
         "CREATE INDEX " + p + "alerts_open" + x + " ON " + p + "alerts(type, subject) WHERE resolved_at IS NULL;\n"
         "CREATE INDEX " + p + "messages_recipient" + x + " ON " + p + "messages(recipient, state);\n"
         "CREATE INDEX " + p + "runs_agent" + x + " ON " + p + "runs(agent, last_at);\n"
         "CREATE INDEX " + p + "runs_last" + x + " ON " + p + "runs(last_at);\n"
         "CREATE INDEX " + p + "runs_cost" + x + " ON " + p + "runs(cost);\n";
}

std::string drop_tables(const std::string& p) {
  std::string s;
  for (const auto& t : table_names()) s += "DROP TABLE IF EXISTS " + p + t + ";\n";
  return s;
}

bool affects(std::string_view type) {
  return type.substr(0, 3) == "wo." || type == "slot.assigned" || type == "slot.freed" || type == "slot.restarted" ||
         type == "factory.added" || type == "factory.removed" || type == "team.added" || type == "alert.raised" ||
         type == "alert.repeated" || type == "alert.resolved" || type == "mail.sent" || type == "mail.delivered" ||
         type == "mail.acked" || type == "cost.reported" || type == "cost.reset" || type == "budget.set" || type == "approval.opened" ||
         type == "approval.decided" || type == "squad.paused" || type == "squad.resumed";
}

void apply(sql::StatementCache& st, const std::string& p, const Event& e) {
  const std::string& t = e.event_type;
  if (t == "wo.created") apply_created(st, p, e);
  else if (t == "wo.updated") apply_updated(st, p, e);
  else if (t == "wo.transitioned") apply_transitioned(st, p, e);
  else if (t == "wo.imported") apply_imported(st, p, e);
  else if (t == "wo.check_recorded") apply_check(st, p, e);
  else if (t == "wo.artifact_added") apply_artifact_added(st, p, e);
  else if (t == "slot.assigned") apply_slot_assigned(st, p, e);
  else if (t == "slot.freed") apply_slot_freed(st, p, e);
  else if (t == "slot.restarted") apply_slot_restarted(st, p, e);
  else if (t == "factory.added") apply_factory_added(st, p, e);
  else if (t == "factory.removed") apply_factory_removed(st, p, e);
  else if (t == "team.added") apply_team_added(st, p, e);
  else if (t == "alert.raised") apply_alert_raised(st, p, e);
  else if (t == "alert.repeated") apply_alert_repeated(st, p, e);
  else if (t == "alert.resolved") apply_alert_resolved(st, p, e);
  else if (t == "mail.sent") apply_mail_sent(st, p, e);
  else if (t == "mail.delivered") apply_mail_delivered(st, p, e);
  else if (t == "mail.acked") apply_mail_acked(st, p, e);
  else if (t == "cost.reported") apply_cost_reported(st, p, e);
  else if (t == "cost.reset") apply_cost_reset(st, p, e);
  else if (t == "budget.set") apply_budget_set(st, p, e);
  else if (t == "approval.opened") apply_approval_opened(st, p, e);
  else if (t == "approval.decided") apply_approval_decided(st, p, e);
  else if (t == "squad.paused") apply_squad(st, p, e, true);
  else if (t == "squad.resumed") apply_squad(st, p, e, false);
}

std::string select_work_orders(const std::string& p) {
  return std::string("SELECT ") + kWorkOrderColumns + " FROM " + p + "work_orders";
}

wo::WorkOrder work_order_row(const sql::Stmt& s) {
  wo::WorkOrder w;
  w.id = s.text(0);
  w.title = s.text(1);
  w.description = s.text(2);
  w.type = s.text(3);
  w.priority = s.int64(4);
  w.status_text = s.text(5);
  w.factory = s.opt_text(6);
  w.assignee = s.opt_text(7);
  w.created_at = s.text(8);
  w.updated_at = s.text(9);
  json artifacts = json::parse(s.text(10), nullptr, false);
  if (!artifacts.is_discarded()) w.artifacts = std::move(artifacts);
  w.transitions = s.int64(11);
  w.review_cycles = s.int64(12);
  return w;
}

std::optional<wo::WorkOrder> work_order(sql::StatementCache& st, const std::string& p, const std::string& id) {
  sql::Stmt s(st, select_work_orders(p) + " WHERE id = ?", "reading a work order");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return work_order_row(s);
}

std::optional<json> keyed_result(sql::StatementCache& st, const std::string& scope, const std::string& key) {
  sql::Stmt s(st, "SELECT result FROM wo_keys WHERE scope = ? AND key = ?", "reading an idempotency key");
  s.bind(1, scope).bind(2, key);
  if (!s.step()) return std::nullopt;
  json r = json::parse(s.text(0), nullptr, false);
  if (r.is_discarded()) return std::nullopt;
  return r;
}

std::vector<std::pair<std::string, std::int64_t>> differences_by_table(sql::StatementCache& st, const std::string& a,
                                                                       const std::string& b) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& t : table_names()) {
    // |a - b| + |b - a| with one EXCEPT instead of two: every table has a primary key, so
    // no row appears twice in a set, and |b - a| = |b| - |a & b| = |b| - (|a| - |a - b|).
    // Each EXCEPT fills a temporary b-tree with a whole table (~1 s at 100k work orders).
    sql::Stmt s(st,
                "SELECT 2 * (SELECT count(*) FROM (SELECT * FROM " + a + t + " EXCEPT SELECT * FROM " + b + t +
                    ")) + (SELECT count(*) FROM " + b + t + ") - (SELECT count(*) FROM " + a + t + ")",
                "comparing projections");
    out.emplace_back(t, s.step() ? s.int64(0) : 0);
  }
  return out;
}

std::int64_t differences(sql::StatementCache& st, const std::string& a, const std::string& b) {
  std::int64_t n = 0;
  for (const auto& [table, d] : differences_by_table(st, a, b)) n += d;
  return n;
}

std::vector<std::string> differing_keys(sql::StatementCache& st, const std::string& a, const std::string& b,
                                        const std::string& table, std::int64_t limit) {
  // Each table's primary key, as create_tables() declares it.
  static const std::map<std::string, std::string> keys = {
      {"work_orders", "id"},          {"wo_checks", "work_order, name"},
      {"wo_keys", "scope, key"},      {"slots", "factory, slot"},
      {"factories", "name"},          {"teams", "factory, name"},
      {"alerts", "id"},               {"messages", "id"},
      {"runs", "id"},                 {"cost_daily", "day, agent, factory, wo_type"},
      {"budgets", "scope, id"},       {"approvals", "id"},
      {"squad", "name"}};
  auto it = keys.find(table);
  if (it == keys.end()) return {};
  std::string key = it->second;
  std::string joined;  // "a || '/' || b"
  for (std::size_t start = 0;;) {
    auto comma = key.find(", ", start);
    joined += (joined.empty() ? "" : " || '/' || ") + key.substr(start, comma - start);
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  const std::string side = "SELECT * FROM " + a + table + " EXCEPT SELECT * FROM " + b + table;
  const std::string other = "SELECT * FROM " + b + table + " EXCEPT SELECT * FROM " + a + table;
  sql::Stmt s(st,
              "SELECT DISTINCT k FROM (SELECT " + joined + " AS k FROM (" + side + ") UNION ALL SELECT " + joined +
                  " AS k FROM (" + other + ")) ORDER BY k LIMIT ?",
              "naming differing rows");
  s.bind(1, limit);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void copy(sql::StatementCache& st, const std::string& from, const std::string& to) {
  for (const auto& t : table_names()) {
    sql::Stmt del(st, "DELETE FROM " + to + t, "clearing a projection");
    del.run();
    sql::Stmt ins(st, "INSERT INTO " + to + t + " SELECT * FROM " + from + t, "copying a projection");
    ins.run();
  }
}

}  // namespace vermas::projections
