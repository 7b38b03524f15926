#pragma once
// Daily caps per agent, factory and company (spec §3 [budgets], §6 budget.*): the [budgets]
// defaults, and the operator's `budget.set` for one scope (a `budget.set` event folded into
// the `budgets` projection; kept here in memory too, so a check is a map lookup).
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "daemon/governance/caps.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Budgets {
 public:
  Budgets(Journal& journal, const Config& config) : journal_(journal), config_(config) {}
  Budgets(const Budgets&) = delete;
  Budgets& operator=(const Budgets&) = delete;

  void load();
  // The cap in force: the operator's for this scope and id, else the [budgets] default.
  double cap(caps::Scope scope, const std::string& id) const;
  bool is_set(caps::Scope scope, const std::string& id) const;
  // Records budget.set (the caller checked that the id exists); returns {scope, id, daily_cap, previous}.
  nlohmann::json set(caps::Scope scope, const std::string& id, double daily_cap, const std::string& actor);

 private:
  Journal& journal_;
  const Config& config_;
  std::map<std::pair<caps::Scope, std::string>, double> set_;
};

}  // namespace vermas
