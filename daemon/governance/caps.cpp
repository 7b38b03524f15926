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

std::optional<Crossing> holding(const std::vector<Level>& levels) {
  for (const Level& l : levels)
    if (l.cap > 0 && !l.waived && l.spent > l.cap) return Crossing{l.scope, l.id, l.spent, l.cap};
  return std::nullopt;
}

Verdict judge(const std::vector<Level>& levels, double amount, const std::string& on_exceed) {
  Verdict v;
  // Past a cap already: nothing more is counted until an operator approves, raises the cap
  // or waives the scope; "alert" leaves it to the operator.
  if (on_exceed != "alert" && (v.refused = holding(levels))) return v;
  for (const Level& l : levels) {
    if (l.cap <= 0 || l.waived || l.spent > l.cap) continue;
    if (l.spent + amount > l.cap) v.crossed.push_back({l.scope, l.id, l.spent + amount, l.cap});
  }
  return v;
}

}  // namespace vermas::caps
