#pragma once
// Approvals (spec §6 approval.*; the runbook's incident 1, "Budget Exceeded"): what the
// daemon cannot decide on its own waits here for an operator. A projection of the log:
//   approval.opened  {approval_id, kind, agent, work_order, scope, scope_id, spend, cap, prior_status}
//   approval.decided {approval_id, status: approved|denied, approver, decision, override}
// An approval with `override` waives its scope's cap until the UTC day ends; the waivers are
// also kept in memory, so a cap check stays O(1).
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "daemon/governance/caps.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

struct Approval {
  std::int64_t id = 0;
  std::string kind;  // budget
  std::string agent;
  std::optional<std::string> work_order;
  std::string scope;     // agent | factory | company
  std::string scope_id;  // "" for the company
  double spend = 0;
  double cap = 0;
  std::string status;                   // pending | approved | denied
  std::optional<std::string> prior_status;  // the work order's, before needs_approval
  std::string created_at;
  std::optional<std::string> decided_at, decided_by, approver, decision;
  bool override_cap = false;
  nlohmann::json to_json() const;
};

class Approvals {
 public:
  explicit Approvals(Journal& journal) : journal_(journal) {}
  Approvals(const Approvals&) = delete;
  Approvals& operator=(const Approvals&) = delete;

  void load();  // today's waivers
  // Inside a transaction: appends approval.opened; returns the id.
  std::int64_t open(Store::Tx& tx, const Approval& draft);
  std::optional<Approval> find(std::int64_t id) const;
  Approval require(std::int64_t id) const;  // not_found when unknown
  nlohmann::json list(const std::optional<std::string>& status) const;
  // Records the decision (the caller carried out what it means).
  void decide(const Approval& a, bool approved, const std::string& approver, const std::string& decision,
              bool override_cap, const std::string& actor);
  // An operator approved with override for this scope today.
  bool waived(caps::Scope scope, const std::string& id) const;

 private:
  Journal& journal_;
  mutable std::set<std::tuple<std::string, std::string, std::string>> waivers_;  // day, scope, id
};

}  // namespace vermas
