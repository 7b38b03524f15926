// Methods of governance (spec §6): cost.report, cost.summary, run.list, budget.get|set,
// approval.list|approve|deny. An agent reports its own costs (the peer decides who it is);
// everything that changes a cap or decides an approval is the operator's.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/json.hpp"
#include "common/time.hpp"
#include "daemon/agents/agent_record.hpp"
#include "daemon/daemon.hpp"
#include "daemon/error.hpp"
#include "daemon/governance/costs.hpp"
#include "daemon/store/audit.hpp"
#include "daemon/rpc/connection.hpp"

namespace vermas {

namespace {

constexpr double kMaxAmount = 1e9;                   // dollars in one report: far past any cap
constexpr std::int64_t kMaxTokens = 1'000'000'000'000;  // a trillion

// A label an operator reads in tables: printable, no control characters.
std::optional<std::string> label(const Call& c, const char* name) {
  auto v = c.params.str(name, 128);
  if (!v) return v;
  if (v->empty()) throw rpc::Error(rpc::code::invalid_params, std::string(name) + " must not be empty", json{{"field", name}});
  for (unsigned char ch : *v)
    if (ch < 0x20 || ch == 0x7f)
      throw rpc::Error(rpc::code::invalid_params, std::string(name) + " must not contain control characters",
                       json{{"field", name}});
  return v;
}

// "YYYY-MM-DD", or an RFC 3339 time (its UTC day).
std::optional<std::string> since_day(const Call& c) {
  auto v = c.params.str("since", 64);
  if (!v) return v;
  if (v->size() == 10) {
    if (parse_rfc3339(*v + "T00:00:00Z")) return v;
  } else if (auto t = parse_rfc3339(*v)) {
    return format_rfc3339_ms(*t).substr(0, 10);
  }
  throw rpc::Error(rpc::code::invalid_params, "since: expected YYYY-MM-DD or an RFC 3339 time", json{{"field", "since"}});
}

json rpc_cost_report(Daemon& d, Call& c) {
  CostReport r;
  if (c.agent) {
    r.agent = *c.agent;  // the router refused a different `agent` already
  } else {
    auto agent = c.params.str("agent", 128);
    if (!agent)
      throw rpc::Error(rpc::code::invalid_params, "agent is required when the operator reports a cost",
                       json{{"field", "agent"}});
    r.agent = *agent;
  }
  const AgentView who = d.supervisor().agent(r.agent);  // -32001 for an agent nobody knows
  r.factory = who.record.factory;
  auto amount = c.params.number("amount", 0, kMaxAmount);
  if (!amount || !std::isfinite(*amount))
    throw rpc::Error(rpc::code::invalid_params, "amount is required: dollars, a finite number >= 0",
                     json{{"field", "amount"}});
  r.amount = *amount;
  r.tokens_in = c.params.integer("tokens_in", 0, kMaxTokens).value_or(0);
  r.tokens_out = c.params.integer("tokens_out", 0, kMaxTokens).value_or(0);
  r.model = label(c, "model");
  r.run_id = label(c, "run_id");
  r.work_order = c.params.str("work_order", 64);
  if (!r.work_order && who.record.current_work_order) r.work_order = who.record.current_work_order;
  if (r.work_order) r.wo_type = d.work_orders().require(*r.work_order).type;  // -32001 when unknown
  return d.spending().report(r, c.actor());
}

json rpc_cost_summary(Daemon& d, Call& c) {
  const std::string by = c.params.str("by", 16).value_or("agent");
  if (by != "agent" && by != "factory" && by != "day" && by != "type")
    throw rpc::Error(rpc::code::invalid_params, "by: expected agent, factory, day or type", json{{"field", "by"}});
  json out = d.spending().costs().summary(by, since_day(c));
  out["today"] = d.spending().costs().today_company();
  return out;
}

json rpc_run_list(Daemon& d, Call& c) {
  const std::string sort = c.params.str("sort", 16).value_or("time");
  if (sort != "cost" && sort != "time")
    throw rpc::Error(rpc::code::invalid_params, "sort: expected cost or time", json{{"field", "sort"}});
  const int limit = static_cast<int>(c.params.integer("limit", 1, 10000).value_or(50));
  return {{"runs", d.spending().costs().runs(c.params.str("agent", 128), sort, limit)}};
}

// The scope and its id: none for the company; a registered factory; a known agent.
std::pair<caps::Scope, std::string> budget_scope(Daemon& d, const Call& c) {
  const std::string text = c.params.required_str("scope", 16);
  auto scope = caps::parse_scope(text);
  if (!scope)
    throw rpc::Error(rpc::code::invalid_params, "scope: expected company, factory or agent", json{{"field", "scope"}});
  auto id = c.params.str("id", 128);
  if (*scope == caps::Scope::company) {
    if (id && !id->empty())
      throw rpc::Error(rpc::code::invalid_params, "id: the company scope takes no id", json{{"field", "id"}});
    return {*scope, ""};
  }
  if (!id) throw rpc::Error(rpc::code::invalid_params, std::string("id is required for the ") + text + " scope",
                            json{{"field", "id"}});
  if (*scope == caps::Scope::factory) d.factories().require(*id);  // -32001 when not registered
  else d.supervisor().agent(*id);
  return {*scope, *id};
}

json rpc_budget_get(Daemon& d, Call& c) {
  if (c.params.str("scope", 16)) {
    auto [scope, id] = budget_scope(d, c);
    return d.spending().budget(scope, id);
  }
  // Everything: the company, every factory, every agent.
  json factories = json::array(), agents = json::array();
  for (const auto& entry : d.factories().all()) factories.push_back(d.spending().budget(caps::Scope::factory, entry.first));
  for (const auto& v : d.supervisor().list({})) agents.push_back(d.spending().budget(caps::Scope::agent, v.record.id));
  return {{"company", d.spending().budget(caps::Scope::company, "")},
          {"factories", factories},
          {"agents", agents},
          {"on_exceed", d.config().budgets.on_exceed}};
}

// Raising a cap resumes nothing by itself: approving does (spec §4).
json rpc_budget_set(Daemon& d, Call& c) {
  auto [scope, id] = budget_scope(d, c);
  auto cap = c.params.number("daily_cap", 0, kMaxAmount);
  if (!cap || !std::isfinite(*cap))
    throw rpc::Error(rpc::code::invalid_params, "daily_cap is required: dollars per UTC day, >= 0 (0: no cap)",
                     json{{"field", "daily_cap"}});
  json out = d.spending().budgets().set(scope, id, *cap, c.actor());
  out["budget"] = d.spending().budget(scope, id);
  return out;
}

std::int64_t approval_id(const Call& c) {
  auto id = c.params.integer("id", 1, INT64_MAX);
  if (!id) throw rpc::Error(rpc::code::invalid_params, "id is required", json{{"field", "id"}});
  return *id;
}

std::string decision_of(const Call& c) {
  auto decision = c.params.str("decision", 1024);
  if (!decision || decision->empty())
    throw rpc::Error(rpc::code::invalid_params, "decision is required: say why (it is recorded)",
                     json{{"field", "decision"}});
  return *decision;
}

json rpc_approval_list(Daemon& d, Call& c) {
  auto status = c.params.str("status", 16);
  if (status && *status != "pending" && *status != "approved" && *status != "denied")
    throw rpc::Error(rpc::code::invalid_params, "status: expected pending, approved or denied", json{{"field", "status"}});
  return {{"approvals", d.spending().approvals().list(status)}};
}

json rpc_approval_approve(Daemon& d, Call& c) {
  const auto id = approval_id(c);
  const std::string decision = decision_of(c);
  const std::string approver = c.params.str("approver", 128).value_or(c.actor());
  return d.spending().approve(id, approver, decision, c.params.boolean("override").value_or(false), c.actor());
}

json rpc_approval_deny(Daemon& d, Call& c) {
  const auto id = approval_id(c);
  const std::string decision = decision_of(c);
  const std::string approver = c.params.str("approver", 128).value_or(c.actor());
  return d.spending().deny(id, approver, decision, c.actor());
}

// A bound of the audit range: YYYY-MM-DD (the whole day) or an RFC 3339 time; both ends
// inclusive. Returns the RFC 3339 bound as events store them (`end`: exclusive, just after).
std::string audit_bound(const Call& c, const char* name, bool end) {
  const std::string v = c.params.required_str(name, 64);
  auto bad = [&] {
    return rpc::Error(rpc::code::invalid_params, std::string(name) + ": expected YYYY-MM-DD or an RFC 3339 time",
                      json{{"field", name}});
  };
  if (v.size() == 10) {
    // A day is compared as text, as the events' times are: "T24:00" sorts after every time of
    // that day and before the next day (no clock arithmetic, so year 2999 is fine too).
    const bool digits = std::isdigit(static_cast<unsigned char>(v[0])) && v[4] == '-' && v[7] == '-' &&
                        std::all_of(v.begin(), v.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) || ch == '-'; });
    const int month = digits ? std::stoi(v.substr(5, 2)) : 0, day = digits ? std::stoi(v.substr(8, 2)) : 0;
    if (!digits || month < 1 || month > 12 || day < 1 || day > 31) throw bad();
    return v + (end ? "T24:00:00.000Z" : "T00:00:00.000Z");
  }
  auto t = parse_rfc3339(v);
  if (!t) throw bad();
  if (end) *t += std::chrono::milliseconds(1);
  return format_rfc3339_ms(*t);
}

json rpc_audit_export(Daemon& d, Call& c) {
  const std::string since = audit_bound(c, "start", false), until = audit_bound(c, "end", true);
  if (until <= since) throw rpc::Error(rpc::code::invalid_params, "end is before start", json{{"field", "end"}});
  const std::int64_t after = c.params.integer("after_id", 0, INT64_MAX).value_or(0);
  const int limit = static_cast<int>(c.params.integer("limit", 1, INT32_MAX).value_or(1000));
  auto page = audit::page(d.store(), d.paths().archive_dir(), since, until, after, limit);
  return {{"events", std::move(page.events)},
          {"next_after_id", page.next_after_id ? json(*page.next_after_id) : json(nullptr)},
          {"start", since},
          {"end", until},
          {"limit", std::min(limit, audit::kMaxPage)}};
}

// The runbook's "Reset Agent State", without lying about history: counters and the start
// limit cleared, today's spend counted from zero (the records stay), its work order returned
// (a worker in a slot is saved, stopped and freed first).
boost::asio::awaitable<json> rpc_agent_reset(Daemon& d, Call& c) {
  const std::string id = c.params.required_str("id", 128);
  d.supervisor().agent(id);  // -32001 when unknown
  json freed = nullptr;
  if (auto row = d.dispatcher().slot_for_agent(id)) {
    WoActor who;
    who.id = c.actor();
    freed = co_await d.dispatcher().release(row->factory, row->slot, "reset", who, false);
  }
  d.spending().costs().forget_today(id, c.actor());
  json out = to_json(d.supervisor().reset_agent(id, c.actor()));
  out["freed"] = freed;
  co_return out;
}

// Quarantine: stopped first (a worker through its slot: saved, stopped, freed, its work
// order returned), then held out of work until released.
boost::asio::awaitable<json> rpc_agent_quarantine(Daemon& d, Call& c) {
  const std::string id = c.params.required_str("id", 128);
  const std::string why = c.params.str("reason", 256).value_or("");
  const AgentView v = d.supervisor().agent(id);  // -32001 when unknown
  json freed = nullptr;
  if (v.record.role == AgentRole::worker && v.record.factory && v.record.slot &&
      (d.dispatcher().slot_for_agent(id) || d.supervisor().is_live(id))) {
    WoActor who;
    who.id = c.actor();
    freed = co_await d.dispatcher().release(*v.record.factory, *v.record.slot, "quarantine", who, false);
  } else if (d.supervisor().is_live(id)) {
    AgentView stopped = co_await d.supervisor().stop_agent(id, c.actor(), false, "quarantine");
    (void)stopped;
  }
  json out = to_json(d.supervisor().quarantine_agent(id, c.actor(), why));
  out["freed"] = freed;
  co_return out;
}

json rpc_agent_release(Daemon& d, Call& c) {
  return to_json(d.supervisor().release_agent(c.params.required_str("id", 128), c.actor()));
}

json rpc_squad_pause(Daemon& d, Call& c) {
  return d.squad().pause(c.params.str("reason", 256).value_or("operator"), c.actor());
}

json rpc_squad_resume(Daemon& d, Call& c) { return d.squad().resume(c.actor()); }

}  // namespace

void register_governance_methods(Router& router, Daemon& d) {
  using namespace access;
  static const DaemonMethod kMethods[] = {
      {"cost.report", {"agent", "amount", "tokens_in", "tokens_out", "model", "run_id", "work_order"},
       agent_self("agent"), "report spend (an agent for itself; the operator names the agent)", rpc_cost_report},
      {"cost.summary", {"by", "since"}, anyone, "spend summed by agent, factory, day or work-order type",
       rpc_cost_summary},
      {"run.list", {"agent", "sort", "limit"}, anyone, "runs (reports summed by run), by time or by cost, descending",
       rpc_run_list},
      {"budget.get", {"scope", "id"}, anyone, "daily caps and today's spend: one scope, or all", rpc_budget_get},
      {"budget.set", {"scope", "id", "daily_cap"}, operator_only, "set a scope's daily cap (0: no cap)",
       rpc_budget_set},
      {"audit.export", {"start", "end", "after_id", "limit"}, anyone,
       "every event in [start, end], archived days included, a page at a time (next_after_id)", rpc_audit_export},
      {"agent.reset", {"id"}, operator_only,
       "clear an agent's counters, start limit and today's spend count; its work order returned", rpc_agent_reset},
      {"agent.quarantine", {"id", "reason"}, operator_only,
       "stop an agent (worktree saved, work order returned) and hold it out of work until released",
       rpc_agent_quarantine},
      {"agent.release", {"id"}, operator_only, "end a quarantine: the agent is stopped, startable again",
       rpc_agent_release},
      {"squad.pause", {"reason"}, operator_only,
       "freeze every agent (reason squad); dispatch, spawns and starts refused until squad.resume", rpc_squad_pause},
      {"squad.resume", {}, operator_only, "thaw what the squad pause froze; starts resume", rpc_squad_resume},
      {"approval.list", {"status"}, anyone, "approvals, newest first (pending, approved, denied)", rpc_approval_list},
      {"approval.approve", {"id", "approver", "decision", "override"}, operator_only,
       "approve: the agent thawed, its work order back (refused while the cap is exceeded, unless override)",
       rpc_approval_approve},
      {"approval.deny", {"id", "approver", "decision"}, operator_only,
       "deny: the work order canceled, the agent stopped (its worktree saved)", rpc_approval_deny},
  };
  add_methods(router, d, kMethods);
}

}  // namespace vermas
