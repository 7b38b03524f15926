#include "daemon/governance/budgets.hpp"

#include "daemon/store/sqlite.hpp"

namespace vermas {

using nlohmann::json;

void Budgets::load() {
  set_.clear();
  sql::Stmt s(journal_.store().statements(), "SELECT scope, id, daily_cap FROM budgets", "reading budgets");
  while (s.step())
    if (auto scope = caps::parse_scope(s.text(0))) set_[{*scope, s.text(1)}] = s.real(2);
}

double Budgets::cap(caps::Scope scope, const std::string& id) const {
  if (auto it = set_.find({scope, id}); it != set_.end()) return it->second;
  switch (scope) {
    case caps::Scope::agent: return config_.budgets.agent_daily_cap;
    case caps::Scope::factory: return config_.budgets.factory_daily_cap;
    case caps::Scope::company: return config_.budgets.company_daily_cap;
  }
  return 0;
}

bool Budgets::is_set(caps::Scope scope, const std::string& id) const { return set_.count({scope, id}) > 0; }

json Budgets::set(caps::Scope scope, const std::string& id, double daily_cap, const std::string& actor) {
  const double previous = cap(scope, id);
  json data = {{"scope", caps::to_string(scope)}, {"id", id}, {"daily_cap", daily_cap}, {"previous", previous}};
  journal_.commit([&](Store::Tx& tx) {
    tx.append({"budget.set", actor, std::nullopt, id.empty() ? std::nullopt : std::optional<std::string>(id), data});
  });
  set_[{scope, id}] = daily_cap;
  return data;
}

}  // namespace vermas
