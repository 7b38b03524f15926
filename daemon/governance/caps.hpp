#pragma once
// Daily caps (spec §3 [budgets], §4 budgets) as one pure rule: given today's spend of an
// agent's three scopes before a report, the report's amount, the caps and which scopes an
// operator waived for today, is the report refused (-32004: a scope already past its cap),
// and which caps does it take spend past? The running totals make this O(1).
#include <optional>
#include <string>
#include <vector>

namespace vermas::caps {

enum class Scope { agent, factory, company };
const char* to_string(Scope scope);
std::optional<Scope> parse_scope(const std::string& text);

struct Level {
  Scope scope = Scope::agent;
  std::string id;        // the agent, the factory; "" for the company
  double spent = 0;      // today, before this report
  double cap = 0;        // 0: no cap
  bool waived = false;   // an approval with override: this scope is not capped today
};

struct Crossing {
  Scope scope;
  std::string id;
  double spend = 0;  // after the report
  double cap = 0;
};

struct Verdict {
  std::optional<Crossing> refused;  // already past this cap: the report is refused
  std::vector<Crossing> crossed;    // this report takes spend past these caps
};

// The first scope (agent, factory, company order) already past its cap and not waived: what
// holds an agent today. Spend above the cap, not at it: a report that lands exactly on the
// cap crossed nothing.
std::optional<Crossing> holding(const std::vector<Level>& levels);

// on_exceed "alert" never refuses: it only tells (the alert), so reports go on counting.
Verdict judge(const std::vector<Level>& levels, double amount, const std::string& on_exceed);

}  // namespace vermas::caps
