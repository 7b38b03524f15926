#include "daemon/governance/caps.hpp"

namespace vermas::caps {

const char* to_string(Scope scope) {
  switch (scope) {
    case Scope::agent: return "agent";
    case Scope::factory: return "factory";
    case Scope::company: return "company";
  }
  return "?";
}

std::optional<Scope> parse_scope(const std::string& text) {
  if (text == "agent") return Scope::agent;
  if (text == "factory") return Scope::factory;
  if (text == "company") return Scope::company;
  return std::nullopt;
}

Verdict judge(const std::vector<Level>& levels, double amount, const std::string& on_exceed) {
  Verdict v;
  for (const Level& l : levels) {
    if (l.cap <= 0 || l.waived) continue;
    // Past the cap already (spend above it): nothing more is counted until an operator
    // approves, raises the cap or waives the scope; "alert" leaves it to the operator.
    if (l.spent > l.cap) {
      if (on_exceed != "alert" && !v.refused) v.refused = Crossing{l.scope, l.id, l.spent, l.cap};
      continue;
    }
    if (l.spent + amount > l.cap) v.crossed.push_back({l.scope, l.id, l.spent + amount, l.cap});
  }
  if (v.refused) v.crossed.clear();
  return v;
}

}  // namespace vermas::caps
