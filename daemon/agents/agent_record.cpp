#include "daemon/agents/agent_record.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "common/json_text.hpp"
#include "common/time.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {

namespace {
constexpr std::array<const char*, 4> kRoles = {"supervisor", "qa", "worker", "ceo"};

const char* kAgentColumns =
    "id, factory, role, slot, status, reason, desired, runner, session, pid, start_time, boot_id, pane, "
    "started_at, last_heartbeat, last_activity, activity, restart_count, error_streak, current_work_order, "
    "last_exit, updated_at, worktree";

nlohmann::json opt(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
}  // namespace

const char* to_string(AgentRole role) { return kRoles[static_cast<std::size_t>(role)]; }

std::optional<AgentRole> parse_agent_role(std::string_view text) {
  for (std::size_t i = 0; i < kRoles.size(); ++i)
    if (text == kRoles[i]) return static_cast<AgentRole>(i);
  return std::nullopt;
}

std::string agent_id_for(const std::string& factory, AgentRole role, int slot) {
  switch (role) {
    case AgentRole::supervisor: return factory + "/supervisor";
    case AgentRole::qa: return factory + "/qa";
    case AgentRole::worker: return factory + "/workers/slot" + std::to_string(slot);
    case AgentRole::ceo: return "ceo";
  }
  return {};
}

std::string session_for(const std::string& factory, AgentRole role, int slot) {
  switch (role) {
    case AgentRole::supervisor: return "supervisor-" + factory;
    case AgentRole::qa: return "qa-" + factory;
    case AgentRole::worker: return "worker-" + factory + "-slot" + std::to_string(slot);
    case AgentRole::ceo: return "ceo";
  }
  return {};
}

nlohmann::json to_json(const AgentRecord& r) {
  return {{"id", r.id},
          {"factory", opt(r.factory)},
          {"role", to_string(r.role)},
          {"slot", r.slot ? nlohmann::json(*r.slot) : nlohmann::json(nullptr)},
          {"status", to_string(r.status)},
          {"reason", r.reason},
          {"desired", r.want_running ? "running" : "stopped"},
          {"runner", r.runner},
          {"session", r.session},
          {"pid", has_process(r.status) && r.pid > 0 ? nlohmann::json(r.pid) : nlohmann::json(nullptr)},
          {"started_at", opt(r.started_at)},
          {"last_heartbeat", opt(r.last_heartbeat)},
          {"last_activity", opt(r.last_activity)},
          {"activity", opt(r.activity)},
          {"restart_count", r.restart_count},
          {"error_streak", r.error_streak},
          {"current_work_order", opt(r.current_work_order)},
          {"last_exit", opt(r.last_exit)}};
}

nlohmann::json to_json(const AgentView& v) {
  nlohmann::json j = to_json(v.record);
  auto opt_num = [](const auto& x) { return x ? nlohmann::json(*x) : nlohmann::json(nullptr); };
  j["pid"] = opt_num(v.pid);
  j["uptime_seconds"] = opt_num(v.uptime_seconds);
  j["next_start_in_seconds"] = opt_num(v.next_start_in_seconds);
  j["today_spend"] = v.today_spend;
  j["daily_cap"] = v.daily_cap;
  j["over_cap"] = v.over_cap;
  j["log"] = v.log;
  if (v.pane) j["pane"] = *v.pane;
  j["stale"] = v.stale;
  if (v.usage_read) {
    // One decimal: finer is noise at 100 ticks a second.
    j["cpu_percent"] = v.cpu_percent ? nlohmann::json(std::round(*v.cpu_percent * 10) / 10) : nlohmann::json(nullptr);
    j["rss_bytes"] = opt_num(v.rss_bytes);
  }
  return j;
}

const std::vector<std::string_view> kAgentMembers = {
    "activity",   "cpu_percent",   "current_work_order", "daily_cap",   "desired",   "error_streak",
    "factory",    "id",            "last_activity",      "last_exit",   "last_heartbeat", "log",
    "next_start_in_seconds", "over_cap", "pane",         "pid",         "reason",    "restart_count",
    "role",       "rss_bytes",     "runner",             "session",     "slot",      "stale",
    "started_at", "status",        "today_spend",        "uptime_seconds"};

std::optional<AgentMembers> agent_members(const std::vector<std::string>& names, std::string* unknown) {
  AgentMembers set = 0;
  for (const auto& name : names) {
    auto it = std::find(kAgentMembers.begin(), kAgentMembers.end(), name);
    if (it == kAgentMembers.end()) {
      if (unknown) *unknown = name;
      return std::nullopt;
    }
    set |= AgentMembers{1} << (it - kAgentMembers.begin());
  }
  static const auto id_bit = AgentMembers{1} << (std::find(kAgentMembers.begin(), kAgentMembers.end(), "id") -
                                                  kAgentMembers.begin());
  return set | id_bit;
}

void append_json(std::string& out, const AgentView& v, AgentMembers members) {
  namespace t = json_text;
  const AgentRecord& r = v.record;
  std::size_t index = 0;  // into kAgentMembers: each member below is the next name
  bool first = true;
  // Whether the next member is written; its key written when it is.
  auto member = [&](bool present = true) {
    const std::string_view name = kAgentMembers[index];
    const bool wanted = present && (members >> index & 1);
    ++index;
    if (!wanted) return false;
    t::key(out, name, first);
    first = false;
    return true;
  };
  auto null_or = [&](const auto& opt, auto write) {
    if (opt) write(*opt);
    else out += "null";
  };
  auto number = [&](auto x) { t::append_number(out, x); };
  out += '{';
  if (member()) t::append_opt(out, r.activity);
  if (member(v.usage_read)) null_or(v.cpu_percent, [&](double x) { number(std::round(x * 10) / 10); });
  if (member()) t::append_opt(out, r.current_work_order);
  if (member()) number(v.daily_cap);
  if (member()) out += r.want_running ? "\"running\"" : "\"stopped\"";
  if (member()) number(r.error_streak);
  if (member()) t::append_opt(out, r.factory);
  if (member()) t::append_string(out, r.id);
  if (member()) t::append_opt(out, r.last_activity);
  if (member()) t::append_opt(out, r.last_exit);
  if (member()) t::append_opt(out, r.last_heartbeat);
  if (member()) t::append_string(out, v.log);
  if (member()) null_or(v.next_start_in_seconds, number);
  if (member()) {
    if (v.over_cap.is_null()) out += "null";
    else t::append_json(out, v.over_cap);
  }
  if (member(v.pane.has_value())) t::append_string(out, *v.pane);
  if (member()) null_or(v.pid, [&](pid_t p) { number(static_cast<std::int64_t>(p)); });
  if (member()) t::append_string(out, r.reason);
  if (member()) number(r.restart_count);
  if (member()) t::append_string(out, to_string(r.role));
  if (member(v.usage_read)) null_or(v.rss_bytes, number);
  if (member()) t::append_string(out, r.runner);
  if (member()) t::append_string(out, r.session);
  if (member()) null_or(r.slot, number);
  if (member()) t::append_bool(out, v.stale);
  if (member()) t::append_opt(out, r.started_at);
  if (member()) t::append_string(out, to_string(r.status));
  if (member()) number(v.today_spend);
  if (member()) null_or(v.uptime_seconds, number);
  out += '}';
}

namespace agent_table {

std::vector<AgentRecord> load_all(const Store& store) {
  std::vector<AgentRecord> out;
  sql::Stmt s(store.statements(), std::string("SELECT ") + kAgentColumns + " FROM agents ORDER BY id", "loading agents");
  while (s.step()) {
    AgentRecord r;
    r.id = s.text(0);
    r.factory = s.opt_text(1);
    r.role = parse_agent_role(s.text(2)).value_or(AgentRole::worker);
    if (auto slot = s.opt_int64(3)) r.slot = static_cast<int>(*slot);
    r.status = parse_agent_status(s.text(4)).value_or(AgentStatus::lost);
    r.reason = s.text(5);
    r.want_running = s.text(6) != "stopped";
    r.runner = s.text(7);
    r.session = s.text(8);
    r.pid = static_cast<pid_t>(s.opt_int64(9).value_or(0));
    r.start_time = static_cast<std::uint64_t>(s.opt_int64(10).value_or(0));
    r.boot_id = s.opt_text(11).value_or("");
    r.pane = s.opt_text(12).value_or("");
    r.started_at = s.opt_text(13);
    r.last_heartbeat = s.opt_text(14);
    r.last_activity = s.opt_text(15);
    r.activity = s.opt_text(16);
    r.restart_count = static_cast<int>(s.int64(17));
    r.error_streak = static_cast<int>(s.int64(18));
    r.current_work_order = s.opt_text(19);
    r.last_exit = s.opt_text(20);
    r.worktree = s.opt_text(22);
    out.push_back(std::move(r));
  }
  return out;
}

void save(Store::Tx& tx, const AgentRecord& r) {
  sql::Stmt s(tx.statements(),
              std::string("INSERT OR REPLACE INTO agents(") + kAgentColumns +
                  ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
              "saving agent " + r.id);
  s.bind(1, r.id).bind(2, r.factory).bind(3, to_string(r.role));
  if (r.slot) s.bind(4, *r.slot); else s.bind_null(4);
  s.bind(5, to_string(r.status)).bind(6, r.reason).bind(7, r.want_running ? "running" : "stopped");
  s.bind(8, r.runner).bind(9, r.session);
  if (r.pid > 0) {
    s.bind(10, static_cast<std::int64_t>(r.pid)).bind(11, static_cast<std::int64_t>(r.start_time));
  } else {
    s.bind_null(10).bind_null(11);
  }
  s.bind(12, r.boot_id).bind(13, r.pane);
  s.bind(14, r.started_at).bind(15, r.last_heartbeat).bind(16, r.last_activity).bind(17, r.activity);
  s.bind(18, r.restart_count).bind(19, r.error_streak).bind(20, r.current_work_order).bind(21, r.last_exit);
  s.bind(22, now_rfc3339_ms()).bind(23, r.worktree);
  s.run();
}

void remove(Store::Tx& tx, const std::string& id) {
  sql::Stmt s(tx.statements(), "DELETE FROM agents WHERE id = ?", "removing agent " + id);
  s.bind(1, id).run();
}

void save_heartbeat(Store& store, const std::string& id, const std::string& ts,
                    const std::optional<std::string>& activity) {
  sql::Stmt s(store.statements(),
              "UPDATE agents SET last_heartbeat = ?1, last_activity = ?1, activity = COALESCE(?2, activity) WHERE id = ?3",
              "recording a heartbeat of " + id);
  s.bind(1, ts).bind(2, activity).bind(3, id).run();
}

}  // namespace agent_table

}  // namespace vermas
