#pragma once
// Costs and runs (spec §6 cost.*, run.list; the runbook's "Runaway Costs"): every report is a
// `cost.reported` event; the reducer folds them into `runs` (a run sums its reports: cost,
// tokens, model, work order, first and last report) and `cost_daily` (per UTC day, agent,
// factory and work-order type), from which summaries are read. Today's spend per agent,
// factory and company is also kept here as running totals, so a cap check is O(1): loaded
// from cost_daily at start, added to at each report, begun again when the UTC day turns.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/journal.hpp"

namespace vermas {

struct CostReport {
  std::string agent;
  std::optional<std::string> factory;
  double amount = 0;  // US dollars, finite and >= 0 (the caller checked)
  std::int64_t tokens_in = 0;
  std::int64_t tokens_out = 0;
  std::optional<std::string> model;
  std::optional<std::string> run_id;      // none: a run of its own
  std::optional<std::string> work_order;
  std::optional<std::string> wo_type;     // the work order's type, for summaries by type
};

// The cost_daily row of an agent's resets (wo_type): the negative of what it had spent.
inline constexpr const char* kResetRow = "(reset)";

struct Spend {
  double agent = 0;
  double factory = 0;
  double company = 0;
};

class Costs {
 public:
  explicit Costs(Journal& journal) : journal_(journal) {}
  Costs(const Costs&) = delete;
  Costs& operator=(const Costs&) = delete;

  // Today's totals from the projection (at start, and after a rebuild).
  void load();
  // Appends cost.reported (and whatever `also` appends, in the same transaction: the alert
  // of a crossed cap) and adds to today's totals; returns the run id.
  std::string report(const CostReport& r, const std::string& actor,
                     const std::function<void(Store::Tx&)>& also = nullptr);

  // Today's spend (UTC) of an agent, a factory, the company.
  double today_agent(const std::string& agent) const;
  double today_factory(const std::string& factory) const;
  double today_company() const;
  Spend today(const std::string& agent, const std::optional<std::string>& factory) const;
  // Today's count of an agent starts again from zero (agent.reset): a `cost.reset` event,
  // folded as an adjustment that summaries and the factory and company totals leave out.
  void forget_today(const std::string& agent, const std::string& actor);

  // {by, since, rows: [{key, cost, tokens_in, tokens_out, reports}], total} — by agent,
  // factory, day or type (the work order's), costliest first (days: newest first).
  nlohmann::json summary(const std::string& by, const std::optional<std::string>& since_day) const;
  // Runs, descending by cost or by last report time.
  nlohmann::json runs(const std::optional<std::string>& agent, const std::string& sort, int limit) const;

 private:
  void roll() const;  // a new UTC day: the totals start from zero

  Journal& journal_;
  // Mutable: a read on a new UTC day finds the totals begun again.
  mutable std::string day_;
  mutable std::map<std::string, double> agents_, factories_;
  mutable double company_ = 0;
};

}  // namespace vermas
