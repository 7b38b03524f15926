#pragma once
// Spending: a cost report judged against the caps, and what a crossed cap sets off (spec §4
// budgets, the runbook's incidents 1 and 5). Owns the costs and the budgets; calls down to
// the supervisor (to freeze or stop the agents under a crossed cap) and the work orders.
//
//   cost.report ─► caps::judge(spend before, amount, caps, waivers)
//                    ├─ refused (a scope already past its cap): -32004, nothing recorded
//                    └─ recorded (cost.reported), and for each cap it crosses, in the same
//                       transaction, a budget_exceeded alert (critical); then on_exceed:
//                       pause: every agent under the cap frozen (SIGSTOP, before the answer),
//                              its work order -> needs_approval, an approval opened;
//                       stop:  every agent under the cap stopped, its worktree saved first;
//                       alert: nothing more.
//   approval.approve: refused (-32004) while the scope is still past its cap, unless the cap
//   was raised or `override` waives it for the day; then SIGCONT and the work order back to
//   its prior status. approval.deny: the work order canceled, the agent stopped.
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "daemon/agents/supervisor.hpp"
#include "daemon/governance/approvals.hpp"
#include "daemon/governance/budgets.hpp"
#include "daemon/governance/costs.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/work/work_orders.hpp"

namespace vermas {

class Spending {
 public:
  Spending(Journal& journal, const Config& config, Supervisor& supervisor, WorkOrders& work_orders);
  Spending(const Spending&) = delete;
  Spending& operator=(const Spending&) = delete;

  void load();
  Costs& costs() { return costs_; }
  Budgets& budgets() { return budgets_; }
  Approvals& approvals() { return approvals_; }
  // Who stops an agent for good with its worktree saved first (the dispatcher for a worker in
  // a slot, else the supervisor): on_exceed = "stop" and a denied approval. Wired by the
  // composition root; asynchronous.
  void on_stop(std::function<void(const std::string& agent, const std::string& reason)> stop) {
    stop_ = std::move(stop);
  }

  // The report, judged: -32004 (Errc::budget_exceeded) when a scope of the agent is past
  // its cap; else recorded, with {exceeded, crossed: [...]} in the answer.
  nlohmann::json report(const CostReport& r, const std::string& actor);
  // The operator's decision on an approval (see above); returns the approval as decided.
  nlohmann::json approve(std::int64_t id, const std::string& approver, const std::string& decision, bool override_cap,
                         const std::string& actor);
  nlohmann::json deny(std::int64_t id, const std::string& approver, const std::string& decision,
                      const std::string& actor);
  // The first of the agent's scopes past its cap today (not waived), or nothing.
  std::optional<caps::Crossing> holding(const std::string& agent, const std::optional<std::string>& factory) const;
  // A new process of `agent` runs: under a cap already past, on_exceed is carried out on it
  // as on the agents that ran when the cap was crossed (frozen with an approval, or stopped).
  void started(const std::string& agent);
  static nlohmann::json to_json(const caps::Crossing& c);
  // A scope's cap and today's spend: {scope, id, daily_cap, source: default|set, today_spend}.
  nlohmann::json budget(caps::Scope scope, const std::string& id) const;

 private:
  std::vector<caps::Level> levels(const std::string& agent, const std::optional<std::string>& factory) const;
  // The agents a crossed cap covers: the agent, every agent of the factory, every agent.
  std::vector<std::string> covered(const caps::Crossing& c) const;
  // on_exceed = "pause" for one agent: frozen, its work order needs approval, an approval.
  std::optional<std::int64_t> pause_for_budget(const std::string& agent, const caps::Crossing& c);
  double spend_of(caps::Scope scope, const std::string& id) const;

  Journal& journal_;
  const Config& config_;
  Supervisor& supervisor_;
  WorkOrders& work_orders_;
  Costs costs_;
  Budgets budgets_;
  Approvals approvals_;
  std::function<void(const std::string&, const std::string&)> stop_;
};

}  // namespace vermas
