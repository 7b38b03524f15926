#include "client/agent_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "client/table.hpp"
#include "common/time.hpp"

namespace vermas::client {

namespace {

const json& get(const json& obj, const char* key) {
  static const json null_value;
  if (!obj.is_object()) return null_value;
  auto it = obj.find(key);
  return it == obj.end() ? null_value : *it;
}

std::string number_text(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number_unsigned()) return std::to_string(v.get<unsigned long long>());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v.get<double>());
  return buf;
}

double number_or(const json& v, double fallback) { return v.is_number() ? v.get<double>() : fallback; }

std::string clip(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  s.resize(max - 3);
  while (!s.empty() && (s.back() & 0xC0) == 0x80) s.pop_back();  // don't split a UTF-8 sequence
  if (!s.empty() && (s.back() & 0x80)) s.pop_back();
  return s + "...";
}

std::string spend_text(const json& a) {
  double spend = number_or(get(a, "today_spend"), 0), cap = number_or(get(a, "daily_cap"), 0);
  return cap > 0 ? money(spend) + "/" + money(cap) : money(spend);
}

}  // namespace

const json& member(const json& obj, const char* key) { return get(obj, key); }

std::string field(const json& obj, const char* key, const std::string& missing) {
  const json& v = get(obj, key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return number_text(v);
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return missing;
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

long long count_of(const json& obj, const char* key) {
  const json& v = get(obj, key);
  return v.is_number() ? static_cast<long long>(v.get<double>()) : 0;
}

std::string age_since(const json& rfc3339) {
  if (!rfc3339.is_string()) return "-";
  auto t = parse_rfc3339(rfc3339.get<std::string>());
  if (!t) return "-";
  return format_age(std::chrono::system_clock::now() - *t) + " ago";
}

std::string duration_text(const json& seconds) {
  return seconds.is_number() ? format_age(std::chrono::duration<double>(seconds.get<double>())) : "-";
}

std::string money(double dollars) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "$%.2f", std::isfinite(dollars) ? dollars : 0.0);
  return buf;
}

std::string cpu_text(const json& percent) {
  if (!percent.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", std::max(0.0, percent.get<double>()));
  return buf;
}

std::string bytes_text(const json& bytes) {
  if (!bytes.is_number()) return "-";
  double v = std::max(0.0, bytes.get<double>());
  static const char* const units[] = {"B", "K", "M", "G", "T"};
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f%s", v, units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f%s", v, units[u]);
  return buf;
}

std::string agent_status(const json& agent) {
  std::string status = field(agent, "status", "?");
  std::string reason = field(agent, "reason", "");
  if (status != "running" && !reason.empty()) status += " (" + reason + ")";
  if (agent.value("stale", false)) status += ", stale";  // heartbeats stopped
  return status;
}

std::string agent_summary(const json& a) {
  std::string s = field(a, "id", "?") + ": " + agent_status(a);
  if (get(a, "pid").is_number()) s += ", pid " + field(a, "pid");
  if (get(a, "next_start_in_seconds").is_number())
    s += ", next start in " + duration_text(get(a, "next_start_in_seconds"));
  if (field(a, "runner", "") == "tmux" && get(a, "pid").is_number()) s += ", tmux session " + field(a, "session");
  return s;
}

void print_agents(std::ostream& out, const json& agents, std::initializer_list<Col> cols, const std::string& indent,
                  const std::string& empty_text) {
  std::vector<std::string> headers;
  for (Col c : cols) {
    switch (c) {
      case Col::id:
        headers.push_back("ID");
        break;
      case Col::role:
        headers.push_back("ROLE");
        break;
      case Col::status:
        headers.push_back("STATUS");
        break;
      case Col::pid:
        headers.push_back("PID");
        break;
      case Col::cpu:
        headers.push_back("CPU");
        break;
      case Col::rss:
        headers.push_back("RSS");
        break;
      case Col::uptime:
        headers.push_back("UPTIME");
        break;
      case Col::restarts:
        headers.push_back("RESTARTS");
        break;
      case Col::heartbeat:
        headers.push_back("HEARTBEAT");
        break;
      case Col::work_order:
        headers.push_back("WORK ORDER");
        break;
      case Col::spend:
        headers.push_back("SPEND TODAY");
        break;
      case Col::activity:
        headers.push_back("ACTIVITY");
        break;
    }
  }
  Table t(headers);
  if (agents.is_array()) {
    for (const auto& a : agents) {
      std::vector<std::string> row;
      for (Col c : cols) {
        switch (c) {
          case Col::id:
            row.push_back(field(a, "id", "?"));
            break;
          case Col::role:
            row.push_back(field(a, "role"));
            break;
          case Col::status:
            row.push_back(agent_status(a));
            break;
          case Col::pid:
            row.push_back(field(a, "pid"));
            break;
          case Col::cpu:
            row.push_back(cpu_text(get(a, "cpu_percent")));
            break;
          case Col::rss:
            row.push_back(bytes_text(get(a, "rss_bytes")));
            break;
          case Col::uptime:
            row.push_back(duration_text(get(a, "uptime_seconds")));
            break;
          case Col::restarts:
            row.push_back(std::to_string(count_of(a, "restart_count")));
            break;
          case Col::heartbeat:
            row.push_back(age_since(get(a, "last_heartbeat")));
            break;
          case Col::work_order:
            row.push_back(field(a, "current_work_order"));
            break;
          case Col::spend:
            row.push_back(spend_text(a));
            break;
          case Col::activity:
            row.push_back(clip(field(a, "activity"), 40));
            break;
        }
      }
      t.add(std::move(row));
    }
  }
  if (t.empty())
    out << indent << empty_text << "\n";
  else
    t.print(out, indent);
}

void print_agent_detail(std::ostream& out, const json& a) {
  auto line = [&](const char* label, const std::string& value) {
    std::string l = std::string("  ") + label + ":";
    l.resize(std::max<std::size_t>(l.size() + 1, 16), ' ');
    out << l << value << "\n";
  };
  const std::string id = field(a, "id", "?");
  out << id << "\n";
  line("role", field(a, "role"));
  line("factory", field(a, "factory"));
  if (get(a, "slot").is_number()) line("slot", field(a, "slot"));
  std::string status = agent_status(a);
  if (get(a, "next_start_in_seconds").is_number())
    status += ", next start in " + duration_text(get(a, "next_start_in_seconds"));
  line("status", status);
  line("desired", field(a, "desired"));
  std::string runner = field(a, "runner");
  if (runner == "tmux") runner += " (session " + field(a, "session") + "; co attach " + id + ")";
  line("runner", runner);
  line("pid", field(a, "pid"));
  if (a.is_object() && a.contains("cpu_percent")) line("cpu", cpu_text(get(a, "cpu_percent")));
  if (a.is_object() && a.contains("rss_bytes")) line("memory", bytes_text(get(a, "rss_bytes")) + " resident");
  std::string started = field(a, "started_at");
  if (get(a, "uptime_seconds").is_number()) started += " (up " + duration_text(get(a, "uptime_seconds")) + ")";
  line("started", started);
  std::string hb = age_since(get(a, "last_heartbeat"));
  if (hb != "-") hb += " (" + field(a, "last_heartbeat") + ")";
  line("heartbeat", hb);
  std::string activity = field(a, "activity");
  if (get(a, "last_activity").is_string()) activity += " (" + age_since(get(a, "last_activity")) + ")";
  line("activity", activity);
  line("restarts", std::to_string(count_of(a, "restart_count")) + " (error streak " +
                       std::to_string(count_of(a, "error_streak")) + ")");
  line("last exit", field(a, "last_exit"));
  line("work order", field(a, "current_work_order"));
  double cap = number_or(get(a, "daily_cap"), 0);
  line("spend today",
       money(number_or(get(a, "today_spend"), 0)) + (cap > 0 ? " of " + money(cap) + " cap" : " (no cap)"));
  if (const json& held = get(a, "over_cap"); held.is_object()) {
    const std::string scope = field(held, "scope"), scope_id = field(held, "id", "");
    line("held by", (scope == "company" ? std::string("the company") : scope + " " + scope_id) + "'s cap: " +
                        money(number_or(get(held, "spend"), 0)) + " of " + money(number_or(get(held, "cap"), 0)));
  }
  line("log", field(a, "log"));
}

}  // namespace vermas::client
