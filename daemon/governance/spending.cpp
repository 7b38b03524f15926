#include "daemon/governance/spending.hpp"

#include <cstdio>

#include <spdlog/spdlog.h>

#include "daemon/error.hpp"
#include "daemon/patrol/alerts.hpp"

namespace vermas {

using nlohmann::json;

namespace {

std::string dollars(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%.2f", v);
  return buf;
}

std::string scope_name(caps::Scope scope, const std::string& id) {
  return scope == caps::Scope::company ? std::string("the company") : std::string(caps::to_string(scope)) + " " + id;
}

}  // namespace

json Spending::to_json(const caps::Crossing& c) {
  return {{"scope", caps::to_string(c.scope)}, {"id", c.id}, {"spend", c.spend}, {"cap", c.cap}};
}

Spending::Spending(Journal& journal, const Config& config, Supervisor& supervisor, WorkOrders& work_orders)
    : journal_(journal), config_(config), supervisor_(supervisor), work_orders_(work_orders), costs_(journal),
      budgets_(journal, config), approvals_(journal) {}

void Spending::load() {
  costs_.load();
  budgets_.load();
  approvals_.load();
}

double Spending::spend_of(caps::Scope scope, const std::string& id) const {
  switch (scope) {
    case caps::Scope::agent: return costs_.today_agent(id);
    case caps::Scope::factory: return costs_.today_factory(id);
    case caps::Scope::company: return costs_.today_company();
  }
  return 0;
}

std::vector<std::string> Spending::covered(const caps::Crossing& c) const {
  if (c.scope == caps::Scope::agent) return {c.id};
  AgentFilter f;
  if (c.scope == caps::Scope::factory) f.factory = c.id;
  std::vector<std::string> out;
  for (const auto& v : supervisor_.list(f)) out.push_back(v.record.id);
  return out;
}

std::optional<std::int64_t> Spending::pause_for_budget(const std::string& agent, const caps::Crossing& c) {
  const AgentView v = supervisor_.agent(agent);
  if (!v.pid || frozen(v.record.status)) return std::nullopt;  // nothing runs, or frozen already
  if (!next(v.record.status, AgentEvent::budget_exceeded)) return std::nullopt;
  supervisor_.pause_agent(agent, "operations", "budget", AgentEvent::budget_exceeded, to_json(c));  // SIGSTOP first
  Approval a;
  a.kind = "budget";
  a.agent = agent;
  a.scope = caps::to_string(c.scope);
  a.scope_id = c.id;
  a.spend = c.spend;
  a.cap = c.cap;
  if (v.record.current_work_order) {
    auto w = work_orders_.find(*v.record.current_work_order);
    if (w && w->status() && wo::transition_allowed(*w->status(), wo::Status::needs_approval)) {
      a.work_order = w->id;
      a.prior_status = w->status_text;
      try {
        work_orders_.transition({w->id, wo::Status::needs_approval, "budget", std::nullopt, std::nullopt, std::nullopt},
                                WoActor::operations());
      } catch (const std::exception& e) {
        spdlog::error("{} to needs_approval: {}", w->id, e.what());
      }
    } else if (w) {
      a.work_order = w->id;  // named, but its status has no move to needs_approval
    }
  }
  std::int64_t id = 0;
  journal_.commit([&](Store::Tx& tx) { id = approvals_.open(tx, a); });
  return id;
}

std::vector<caps::Level> Spending::levels(const std::string& agent, const std::optional<std::string>& factory) const {
  const Spend spend = costs_.today(agent, factory);
  std::vector<caps::Level> out;
  auto level = [&](caps::Scope scope, const std::string& id, double spent) {
    out.push_back({scope, id, spent, budgets_.cap(scope, id), approvals_.waived(scope, id)});
  };
  level(caps::Scope::agent, agent, spend.agent);
  if (factory) level(caps::Scope::factory, *factory, spend.factory);
  level(caps::Scope::company, "", spend.company);
  return out;
}

std::optional<caps::Crossing> Spending::holding(const std::string& agent,
                                                const std::optional<std::string>& factory) const {
  // Nothing spent today anywhere: no scope can be past a cap (agent.list asks per agent).
  if (costs_.today_company() <= 0) return std::nullopt;
  return caps::holding(levels(agent, factory));
}

void Spending::started(const std::string& agent) {
  if (config_.budgets.on_exceed == "alert") return;
  try {
    const AgentView v = supervisor_.agent(agent);
    const auto held = holding(agent, v.record.factory);
    if (!held) return;
    spdlog::warn("{} started under {}'s past cap: on_exceed = {}", agent, scope_name(held->scope, held->id),
                 config_.budgets.on_exceed);
    if (config_.budgets.on_exceed == "pause")
      pause_for_budget(agent, *held);
    else if (stop_ && supervisor_.is_live(agent))
      stop_(agent, "budget");
  } catch (const std::exception& e) {
    spdlog::error("enforcing the cap on {} at its start: {}", agent, e.what());
  }
}

json Spending::report(const CostReport& r, const std::string& actor) {
  const caps::Verdict v = caps::judge(levels(r.agent, r.factory), r.amount, config_.budgets.on_exceed);
  if (v.refused) {
    const auto& c = *v.refused;
    throw Error(Errc::budget_exceeded,
                scope_name(c.scope, c.id) + " is past its daily cap (" + dollars(c.spend) + " of " + dollars(c.cap) +
                    " today): nothing more is counted until an operator approves (co approval list) or raises it "
                    "(co budget set " + caps::to_string(c.scope) + (c.id.empty() ? "" : " " + c.id) + " --daily-cap N)",
                to_json(c));
  }
  json crossed = json::array();
  const std::string run = costs_.report(r, actor, [&](Store::Tx& tx) {
    for (const auto& c : v.crossed) {
      crossed.push_back(to_json(c));
      const std::string msg = scope_name(c.scope, c.id) + " passed its daily cap: " + dollars(c.spend) + " of " +
                              dollars(c.cap) + " (the report of " + r.agent + "; on_exceed = " +
                              config_.budgets.on_exceed + ")";
      alerts::Draft d;
      d.severity = alerts::Severity::critical;
      d.type = "budget_exceeded";
      d.subject = c.scope == caps::Scope::company ? std::string("company") : c.id;  // the capped scope
      d.factory = c.scope == caps::Scope::company ? std::nullopt : r.factory;
      d.message = msg;
      d.data = {{"scope", caps::to_string(c.scope)}, {"id", c.id}, {"agent", r.agent}, {"spend", c.spend}, {"cap", c.cap}};
      if (c.scope == caps::Scope::agent) d.agent = r.agent;
      alerts::raise(tx, d);
    }
  });
  json paused = json::array(), approvals = json::array(), stopped = json::array();
  for (const auto& c : v.crossed) {
    spdlog::warn("{} passed its daily cap: {} of {}", scope_name(c.scope, c.id), dollars(c.spend), dollars(c.cap));
    for (const std::string& agent : covered(c)) {
      try {
        if (config_.budgets.on_exceed == "pause") {
          if (auto approval = pause_for_budget(agent, c)) {
            paused.push_back(agent);
            approvals.push_back(*approval);
          }
        } else if (config_.budgets.on_exceed == "stop" && stop_ && supervisor_.is_live(agent)) {
          stop_(agent, "budget");
          stopped.push_back(agent);
        }
      } catch (const std::exception& e) {
        spdlog::error("enforcing the cap on {}: {}", agent, e.what());
      }
    }
  }
  const Spend spend = costs_.today(r.agent, r.factory);
  return {{"agent", r.agent},
          {"amount", r.amount},
          {"run_id", run},
          {"work_order", r.work_order ? json(*r.work_order) : json(nullptr)},
          {"today_spend", spend.agent},
          {"daily_cap", budgets_.cap(caps::Scope::agent, r.agent)},
          {"factory_today_spend", spend.factory},
          {"company_today_spend", spend.company},
          {"exceeded", !v.crossed.empty()},
          {"crossed", crossed},
          {"on_exceed", config_.budgets.on_exceed},
          {"paused", paused},
          {"approvals", approvals},
          {"stopped", stopped}};
}

json Spending::approve(std::int64_t id, const std::string& approver, const std::string& decision, bool override_cap,
                       const std::string& actor) {
  const Approval a = approvals_.require(id);
  if (a.status != "pending")
    throw Error(Errc::conflict, "approval " + std::to_string(id) + " is " + a.status + " already",
                json{{"id", id}, {"status", a.status}});
  if (auto scope = caps::parse_scope(a.scope); scope && a.kind == "budget" && !override_cap) {
    const double spend = spend_of(*scope, a.scope_id), cap = budgets_.cap(*scope, a.scope_id);
    if (cap > 0 && spend > cap && !approvals_.waived(*scope, a.scope_id))
      throw Error(Errc::budget_exceeded,
                  scope_name(*scope, a.scope_id) + " is still past its daily cap (" + dollars(spend) + " of " +
                      dollars(cap) + "): raise it first (co budget set " + a.scope +
                      (a.scope_id.empty() ? "" : " " + a.scope_id) + " --daily-cap N), or approve with --override "
                      "(waives the cap until the UTC day ends)",
                  json{{"scope", a.scope}, {"id", a.scope_id}, {"spend", spend}, {"cap", cap}});
  }
  approvals_.decide(a, true, approver, decision, override_cap, actor);
  // The agent thawed (if it is still the paused one), the work order back where it was.
  try {
    const AgentView v = supervisor_.agent(a.agent);
    if (v.record.status == AgentStatus::paused && v.record.reason == "budget") supervisor_.resume_agent(a.agent, actor);
  } catch (const std::exception& e) {
    spdlog::warn("approval {}: resuming {}: {}", id, a.agent, e.what());
  }
  if (a.work_order && a.prior_status)
    if (auto to = wo::parse_status(*a.prior_status)) {
      auto w = work_orders_.find(*a.work_order);
      if (w && w->status() == wo::Status::needs_approval) {
        WoActor who;
        who.id = actor;
        work_orders_.transition({*a.work_order, *to, "approved: " + decision, std::nullopt, std::nullopt, std::nullopt},
                                who);
      }
    }
  return approvals_.require(id).to_json();
}

json Spending::deny(std::int64_t id, const std::string& approver, const std::string& decision,
                    const std::string& actor) {
  const Approval a = approvals_.require(id);
  if (a.status != "pending")
    throw Error(Errc::conflict, "approval " + std::to_string(id) + " is " + a.status + " already",
                json{{"id", id}, {"status", a.status}});
  approvals_.decide(a, false, approver, decision, false, actor);
  // The work order canceled with the decision as its reason (a worker holding it is then
  // stopped by the dispatcher, its worktree saved first); any other agent stopped here.
  bool canceled = false;
  if (a.work_order) {
    auto w = work_orders_.find(*a.work_order);
    if (w && w->status() && wo::transition_allowed(*w->status(), wo::Status::canceled)) {
      WoActor who;
      who.id = actor;
      work_orders_.transition({*a.work_order, wo::Status::canceled, decision, std::nullopt, std::nullopt, std::nullopt},
                              who);
      canceled = true;
    }
  }
  if (!canceled && stop_ && supervisor_.is_live(a.agent)) stop_(a.agent, "budget");
  return approvals_.require(id).to_json();
}

json Spending::budget(caps::Scope scope, const std::string& id) const {
  double spend = 0;
  switch (scope) {
    case caps::Scope::agent: spend = costs_.today_agent(id); break;
    case caps::Scope::factory: spend = costs_.today_factory(id); break;
    case caps::Scope::company: spend = costs_.today_company(); break;
  }
  return {{"scope", caps::to_string(scope)},
          {"id", id.empty() ? json(nullptr) : json(id)},
          {"daily_cap", budgets_.cap(scope, id)},
          {"source", budgets_.is_set(scope, id) ? "set" : "default"},
          {"today_spend", spend}};
}

}  // namespace vermas
