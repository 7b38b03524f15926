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

json crossing_json(const caps::Crossing& c) {
  return {{"scope", caps::to_string(c.scope)}, {"id", c.id}, {"spend", c.spend}, {"cap", c.cap}};
}

}  // namespace

Spending::Spending(Journal& journal, const Config& config, Supervisor& supervisor)
    : journal_(journal), config_(config), supervisor_(supervisor), costs_(journal), budgets_(journal, config) {}

void Spending::load() {
  costs_.load();
  budgets_.load();
}

std::vector<caps::Level> Spending::levels(const std::string& agent, const std::optional<std::string>& factory) const {
  const Spend spend = costs_.today(agent, factory);
  std::vector<caps::Level> out;
  out.push_back({caps::Scope::agent, agent, spend.agent, budgets_.cap(caps::Scope::agent, agent), false});
  if (factory)
    out.push_back({caps::Scope::factory, *factory, spend.factory, budgets_.cap(caps::Scope::factory, *factory), false});
  out.push_back({caps::Scope::company, "", spend.company, budgets_.cap(caps::Scope::company, ""), false});
  return out;
}

json Spending::report(const CostReport& r, const std::string& actor) {
  const caps::Verdict v = caps::judge(levels(r.agent, r.factory), r.amount, config_.budgets.on_exceed);
  if (v.refused) {
    const auto& c = *v.refused;
    throw Error(Errc::budget_exceeded,
                scope_name(c.scope, c.id) + " is past its daily cap (" + dollars(c.spend) + " of " + dollars(c.cap) +
                    " today): nothing more is counted until an operator approves (co approval list) or raises it "
                    "(co budget set " + caps::to_string(c.scope) + (c.id.empty() ? "" : " " + c.id) + " --daily-cap N)",
                crossing_json(c));
  }
  json crossed = json::array();
  const std::string run = costs_.report(r, actor, [&](Store::Tx& tx) {
    for (const auto& c : v.crossed) {
      crossed.push_back(crossing_json(c));
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
  for (const auto& c : v.crossed)
    spdlog::warn("{} passed its daily cap: {} of {}", scope_name(c.scope, c.id), dollars(c.spend), dollars(c.cap));
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
          {"on_exceed", config_.budgets.on_exceed}};
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
