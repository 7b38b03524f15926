#include "daemon/governance/costs.hpp"

#include <random>

#include "common/time.hpp"
#include "common/work_order.hpp"
#include "daemon/error.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {

using nlohmann::json;

namespace {

std::string utc_day() { return utc_today(); }

json opt_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

void Costs::roll() const {
  const std::string today = utc_day();
  if (today == day_) return;
  day_ = today;
  agents_.clear();
  factories_.clear();
  company_ = 0;
}

void Costs::load() {
  day_.clear();
  roll();
  sql::Stmt s(journal_.store().statements(),
              "SELECT agent, factory, wo_type, sum(cost) FROM cost_daily WHERE day = ? GROUP BY agent, factory, wo_type",
              "reading today's spend");
  s.bind(1, day_);
  while (s.step()) {
    const double cost = s.real(3);
    agents_[s.text(0)] += cost;
    if (s.text(2) == kResetRow) continue;  // an agent's reset: its own count only
    if (!s.text(1).empty()) factories_[s.text(1)] += cost;
    company_ += cost;
  }
}

void Costs::forget_today(const std::string& agent, const std::string& actor) {
  roll();
  const double amount = today_agent(agent);
  if (amount == 0) return;
  journal_.commit([&](Store::Tx& tx) {
    tx.append({"cost.reset", actor, std::nullopt, agent, {{"agent", agent}, {"day", day_}, {"amount", amount}}});
  });
  agents_[agent] = 0;
}

std::string Costs::report(const CostReport& r, const std::string& actor, const std::function<void(Store::Tx&)>& also) {
  roll();
  // A run of its own when none is named; the id is drawn here, never by the reducer.
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const std::string run = r.run_id ? *r.run_id : wo::make_id("run", random(), 10);
  json data = {{"agent", r.agent},          {"amount", r.amount},         {"tokens_in", r.tokens_in},
               {"tokens_out", r.tokens_out}, {"model", opt_json(r.model)},      {"run_id", run},
               {"work_order", opt_json(r.work_order)}, {"wo_type", opt_json(r.wo_type)}, {"day", day_}};
  journal_.commit([&](Store::Tx& tx) {
    tx.append({"cost.reported", actor, r.factory, r.agent, std::move(data)});
    if (also) also(tx);
  });
  agents_[r.agent] += r.amount;
  if (r.factory) factories_[*r.factory] += r.amount;
  company_ += r.amount;
  return run;
}

double Costs::today_agent(const std::string& agent) const {
  roll();
  auto it = agents_.find(agent);
  return it == agents_.end() ? 0 : it->second;
}

double Costs::today_factory(const std::string& factory) const {
  roll();
  auto it = factories_.find(factory);
  return it == factories_.end() ? 0 : it->second;
}

double Costs::today_company() const {
  roll();
  return company_;
}

Spend Costs::today(const std::string& agent, const std::optional<std::string>& factory) const {
  return {today_agent(agent), factory ? today_factory(*factory) : 0.0, today_company()};
}

json Costs::summary(const std::string& by, const std::optional<std::string>& since_day) const {
  const char* key = by == "agent" ? "agent" : by == "factory" ? "factory" : by == "day" ? "day" : "wo_type";
  std::string sql = std::string("SELECT ") + key +
                    ", sum(cost), sum(tokens_in), sum(tokens_out), sum(reports) FROM cost_daily";
  sql += std::string(" WHERE wo_type != '") + kResetRow + "'";
  if (since_day) sql += " AND day >= ?";
  sql += std::string(" GROUP BY ") + key + (by == "day" ? " ORDER BY day DESC" : " ORDER BY 2 DESC, 1");
  sql::Stmt s(journal_.store().statements(), sql, "summing costs");
  if (since_day) s.bind(1, *since_day);
  json rows = json::array();
  double total = 0;
  while (s.step()) {
    const std::string k = s.text(0);
    rows.push_back({{"key", k.empty() ? json(nullptr) : json(k)},
                    {"cost", s.real(1)},
                    {"tokens_in", s.int64(2)},
                    {"tokens_out", s.int64(3)},
                    {"reports", s.int64(4)}});
    total += s.real(1);
  }
  return {{"by", by}, {"since", opt_json(since_day)}, {"rows", rows}, {"total", total}};
}

json Costs::runs(const std::optional<std::string>& agent, const std::string& sort, int limit) const {
  std::string sql =
      "SELECT id, agent, factory, model, work_order, cost, tokens_in, tokens_out, reports, first_at, last_at FROM runs";
  if (agent) sql += " WHERE agent = ?";
  sql += sort == "cost" ? " ORDER BY cost DESC, last_at DESC" : " ORDER BY last_at DESC";
  sql += " LIMIT ?";
  sql::Stmt s(journal_.store().statements(), sql, "listing runs");
  int i = 1;
  if (agent) s.bind(i++, *agent);
  s.bind(i, static_cast<std::int64_t>(limit));
  json out = json::array();
  while (s.step())
    out.push_back({{"id", s.text(0)},          {"agent", s.text(1)},         {"factory", opt_json(s.opt_text(2))},
                   {"model", opt_json(s.opt_text(3))}, {"work_order", opt_json(s.opt_text(4))}, {"cost", s.real(5)},
                   {"tokens_in", s.int64(6)},  {"tokens_out", s.int64(7)},   {"reports", s.int64(8)},
                   {"first_at", s.text(9)},    {"last_at", s.text(10)}});
  return out;
}

}  // namespace vermas
