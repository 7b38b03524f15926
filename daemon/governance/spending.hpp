#pragma once
// Spending: a cost report judged against the caps, and what a crossed cap sets off (spec §4
// budgets, the runbook's incidents 1 and 5). Owns the costs and the budgets; calls down to
// the supervisor (to freeze or stop the agents under a crossed cap) and the work orders.
//
//   cost.report ─► caps::judge(spend before, amount, caps, waivers)
//                    ├─ refused (a scope already past its cap): -32004, nothing recorded
//                    └─ recorded (cost.reported), and for each cap it crosses, in the same
//                       transaction, a budget_exceeded alert (critical); then on_exceed:
//                       alert: nothing more.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "daemon/agents/supervisor.hpp"
#include "daemon/governance/budgets.hpp"
#include "daemon/governance/costs.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Spending {
 public:
  Spending(Journal& journal, const Config& config, Supervisor& supervisor);
  Spending(const Spending&) = delete;
  Spending& operator=(const Spending&) = delete;

  void load();
  Costs& costs() { return costs_; }
  Budgets& budgets() { return budgets_; }

  // The report, judged: -32004 (Errc::budget_exceeded) when a scope of the agent is past
  // its cap; else recorded, with {exceeded, crossed: [...]} in the answer.
  nlohmann::json report(const CostReport& r, const std::string& actor);
  // A scope's cap and today's spend: {scope, id, daily_cap, source: default|set, today_spend}.
  nlohmann::json budget(caps::Scope scope, const std::string& id) const;

 private:
  std::vector<caps::Level> levels(const std::string& agent, const std::optional<std::string>& factory) const;

  Journal& journal_;
  const Config& config_;
  Supervisor& supervisor_;
  Costs costs_;
  Budgets budgets_;
};

}  // namespace vermas
