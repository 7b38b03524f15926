#include "daemon/reports/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "common/work_order.hpp"
#include "daemon/agents/agent_state.hpp"

namespace vermas::metrics {

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Family family(std::string name, Type type, std::string help) { return Family{std::move(name), type, std::move(help), {}}; }

void add(Family& f, Labels labels, double value, std::string suffix = "") {
  f.samples.push_back(Sample{std::move(suffix), std::move(labels), value});
}

// A process is there and not frozen: what the runbook counts as an active agent.
bool metrics_active(const std::string& status) {
  return status == "starting" || status == "running" || status == "idle" || status == "stuck";
}

// Every factory a figure names, the registered ones first (sorted, as std::set is).
std::set<std::string> factory_names(const Snapshot& s) {
  std::set<std::string> out(s.factories.begin(), s.factories.end());
  for (const auto& a : s.agents) out.insert(a.factory);
  for (const auto& [f, by] : s.work_orders) out.insert(f);
  for (const auto& [f, n] : s.done_total) out.insert(f);
  return out;
}

}  // namespace

const char* to_string(Type type) {
  switch (type) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::summary: return "summary";
  }
  return "untyped";
}

std::vector<Family> families(const Snapshot& s) {
  std::vector<Family> out;
  const auto factories = factory_names(s);

  auto& info = out.emplace_back(family("vermas_info", Type::gauge, "The daemon's version and company; always 1"));
  add(info, {{"version", s.version}, {"company", s.company}}, 1);
  add(out.emplace_back(family("vermas_uptime_seconds", Type::gauge, "Seconds since the daemon started")), {},
      s.uptime_seconds);
  add(out.emplace_back(family("vermas_metrics_generated_timestamp_seconds", Type::gauge,
                              "When these figures were taken (Unix time)")),
      {}, s.now);
  add(out.emplace_back(family("vermas_events_total", Type::counter, "Events appended to the log since it began")), {},
      double(s.events_last_id));

  // Agent health.
  {
    auto& by = out.emplace_back(family("vermas_agents", Type::gauge, "Agents by factory and status"));
    std::map<std::pair<std::string, std::string>, int> count;
    std::set<std::string> agent_factories;
    for (const auto& a : s.agents) {
      ++count[{a.factory, a.status}];
      agent_factories.insert(a.factory);
    }
    for (const auto& f : factories) {
      // Factories with agents, and registered ones (their agents are about to be created).
      if (!agent_factories.count(f) && std::find(s.factories.begin(), s.factories.end(), f) == s.factories.end())
        continue;
      for (AgentStatus st : all_agent_statuses()) {
        const std::string name = to_string(st);
        auto it = count.find({f, name});
        add(by, {{"factory", f}, {"status", name}}, it == count.end() ? 0 : it->second);
      }
    }
  }
  {
    int active = 0, stale = 0;
    for (const auto& a : s.agents) {
      active += metrics_active(a.status);
      stale += a.stale;
    }
    add(out.emplace_back(family("vermas_agents_active", Type::gauge,
                                "Agents with a process that is not frozen (starting, running, idle, stuck)")),
        {}, active);
    add(out.emplace_back(family("vermas_agents_stale", Type::gauge,
                                "Agents whose heartbeats stopped for heartbeat_stale_seconds")),
        {}, stale);
  }
  {
    auto streak = family("vermas_agent_error_streak", Type::gauge, "Consecutive failed exits of each agent");
    auto restarts =
        family("vermas_agent_restarts_total", Type::counter, "Restarts of each agent (agent.reset starts it again)");
    auto spend =
        family("vermas_agent_spend_today_dollars", Type::gauge, "Each agent's reported spend today (UTC), US dollars");
    auto beat = family("vermas_agent_last_heartbeat_timestamp_seconds", Type::gauge,
                       "Each agent's last heartbeat (Unix time); absent before its first");
    for (const auto& a : s.agents) {
      Labels labels{{"agent", a.id}, {"factory", a.factory}, {"role", a.role}};
      add(streak, labels, a.error_streak);
      add(restarts, labels, a.restart_count);
      add(spend, labels, a.today_spend);
      if (a.last_heartbeat) add(beat, labels, *a.last_heartbeat);
    }
    for (auto* f : {&streak, &restarts, &spend, &beat}) out.push_back(std::move(*f));
  }

  // Task throughput.
  {
    auto by = family("vermas_work_orders", Type::gauge, "Work orders by factory and status");
    auto done = family("vermas_work_orders_done_total", Type::counter, "Work orders that reached done, by factory");
    auto day = family("vermas_work_orders_done_24h", Type::gauge, "Work orders that reached done in the last 24 hours");
    for (const auto& f : factories) {
      auto of_factory = s.work_orders.find(f);
      for (std::string_view st : wo::kStatusNames) {
        std::int64_t n = 0;
        if (of_factory != s.work_orders.end())
          if (auto it = of_factory->second.find(std::string(st)); it != of_factory->second.end()) n = it->second;
        add(by, {{"factory", f}, {"status", std::string(st)}}, double(n));
      }
      auto d = s.done_total.find(f);
      add(done, {{"factory", f}}, d == s.done_total.end() ? 0 : double(d->second));
      auto d24 = s.done_24h.find(f);
      add(day, {{"factory", f}}, d24 == s.done_24h.end() ? 0 : double(d24->second));
    }
    for (auto* fam : {&by, &done, &day}) out.push_back(std::move(*fam));
    auto& ttd = out.emplace_back(family("vermas_work_order_time_to_done_seconds", Type::summary,
                                        "Time from creation to done; the quantile over the last 7 days, "
                                        "sum and count over every done work order"));
    add(ttd, {{"quantile", "0.5"}}, s.time_to_done_median_7d.value_or(kNaN));
    add(ttd, {}, s.time_to_done_sum, "_sum");
    add(ttd, {}, double(s.time_to_done_count), "_count");
    add(out.emplace_back(family("vermas_work_orders_reached_review_total", Type::counter,
                                "Work orders that reached review")),
        {}, double(s.reached_review));
    add(out.emplace_back(family("vermas_work_orders_reached_review_without_intervention_total", Type::counter,
                                "Work orders that reached review the first time without an operator's or "
                                "the daemon's intervention")),
        {}, double(s.reached_review_clean));
    add(out.emplace_back(family("vermas_work_orders_review_without_intervention_ratio", Type::gauge,
                                "Share of the work orders first reaching review in the last 7 days that "
                                "needed no intervention (NaN: none)")),
        {}, s.review_clean_share_7d.value_or(kNaN));
  }

  // Cost.
  add(out.emplace_back(family("vermas_spend_today_dollars", Type::gauge, "The company's spend today (UTC), US dollars")),
      {}, s.spend_today);
  {
    auto& by = out.emplace_back(
        family("vermas_factory_spend_today_dollars", Type::gauge, "Each factory's spend today (UTC), US dollars"));
    for (const auto& f : factories) {
      if (f.empty()) continue;
      auto it = s.factory_spend_today.find(f);
      add(by, {{"factory", f}}, it == s.factory_spend_today.end() ? 0 : it->second);
    }
    // `by` is not used past here: emplace_back may move the families.
    auto& type = out.emplace_back(family("vermas_spend_today_by_type_dollars", Type::gauge,
                                         "Spend today (UTC) by work-order type (none: no work order), US dollars"));
    for (const auto& [t, v] : s.type_spend_today) add(type, {{"type", t.empty() ? "none" : t}}, v);
  }

  // Incidents.
  {
    auto& open = out.emplace_back(family("vermas_alerts_open", Type::gauge, "Open alerts by type and severity"));
    for (const auto& [key, n] : s.alerts_open) add(open, {{"type", key.first}, {"severity", key.second}}, double(n));
    auto& raised = out.emplace_back(family("vermas_alerts_raised_total", Type::counter,
                                           "Alerts raised by type (a repeat of an open one is not counted)"));
    for (const auto& [t, n] : s.alerts_raised) add(raised, {{"type", t}}, double(n));
  }
  add(out.emplace_back(family("vermas_approvals_total", Type::counter, "Approvals requested")), {},
      double(s.approvals_total));
  add(out.emplace_back(family("vermas_approvals_pending", Type::gauge, "Approvals waiting for an operator")), {},
      double(s.approvals_pending));
  return out;
}

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<std::int64_t>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back the same
  return std::string(buf, r.ptr);
}

std::string render(const std::vector<Family>& families) {
  std::string out;
  out.reserve(families.size() * 160);
  for (const auto& f : families) {
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + to_string(f.type) + "\n";
    for (const auto& s : f.samples) {
      out += f.name + s.suffix;
      if (!s.labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < s.labels.size(); ++i) {
          if (i) out += ',';
          out += s.labels[i].first + "=\"" + escape_label(s.labels[i].second) + '"';
        }
        out += '}';
      }
      out += ' ' + format_value(s.value) + '\n';
    }
  }
  return out;
}

nlohmann::json to_json(const std::vector<Family>& families) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : families) {
    nlohmann::json samples = nlohmann::json::array();
    for (const auto& s : f.samples) {
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& [k, v] : s.labels) labels[k] = v;
      samples.push_back({{"name", f.name + s.suffix},
                         {"labels", labels},
                         {"value", std::isfinite(s.value) ? nlohmann::json(s.value) : nlohmann::json(nullptr)}});
    }
    out.push_back({{"name", f.name}, {"type", to_string(f.type)}, {"help", f.help}, {"samples", samples}});
  }
  return {{"families", out}};
}

}  // namespace vermas::metrics
