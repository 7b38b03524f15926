#pragma once
// Command bodies, kept apart from the CLI11 wiring in main.cpp (CLI11 is slow to compile).
#include <optional>
#include <string>
#include <vector>

#include "client/context.hpp"

namespace vermas::client {

struct InitOptions {
  std::optional<std::string> name;
};
int cmd_init(Context& ctx, const InitOptions& opts);

int cmd_operations_start(Context& ctx, bool foreground);
int cmd_operations_stop(Context& ctx, bool keep_agents);
int cmd_operations_status(Context& ctx);
int cmd_operations_logs(Context& ctx, bool follow, int lines);

int cmd_ping(Context& ctx);
int cmd_status(Context& ctx);
int cmd_health(Context& ctx);
int cmd_config_check(Context& ctx, const std::optional<std::string>& file);
int cmd_config_reload(Context& ctx);
int cmd_config_get(Context& ctx);

struct EventsTailOptions {
  bool follow = false;
  int lines = 20;
  std::optional<std::string> type;
};
int cmd_events_tail(Context& ctx, const EventsTailOptions& opts);
int cmd_events_stats(Context& ctx, const std::optional<std::string>& since);

// --- factories and teams (cmd_factory.cpp)
struct FactoryAddOptions {
  std::string name;
  std::string url;
  std::optional<std::string> prefix;
};
int cmd_factory_add(Context& ctx, const FactoryAddOptions& opts);
int cmd_factory_list(Context& ctx);
int cmd_factory_status(Context& ctx, const std::string& name);
int cmd_factory_remove(Context& ctx, const std::string& name);
int cmd_team_add(Context& ctx, const std::string& name, const std::string& factory);
int cmd_team_list(Context& ctx, const std::optional<std::string>& factory);

// --- agents, workers, heartbeat, attach (cmd_agent.cpp)
inline constexpr const char* kAgentRoles[] = {"supervisor", "qa", "worker", "ceo"};
inline constexpr const char* kAgentStatuses[] = {"starting",    "running",  "idle",    "stuck",  "backoff", "paused",
                                                 "quarantined", "stopping", "stopped", "failed", "lost"};
inline constexpr const char* kAgentSortKeys[] = {"id",       "status",         "started_at",
                                                 "restarts", "last_heartbeat", "today_spend"};
struct AgentListOptions {
  std::optional<std::string> factory, role, status, sort;
};
int cmd_agent_list(Context& ctx, const AgentListOptions& opts);
int cmd_agent_show(Context& ctx, const std::string& id);
// action: start | stop | restart | kill (the method agent.<action>)
int cmd_agent_action(Context& ctx, const std::string& action, const std::string& id);
struct AgentLogsOptions {
  std::string id;
  int lines = 50;
  bool follow = false;
};
int cmd_agent_logs(Context& ctx, const AgentLogsOptions& opts);
struct WorkerListOptions {
  std::optional<std::string> factory;
  bool all = false;
  std::optional<std::string> status;
};
int cmd_worker_list(Context& ctx, const WorkerListOptions& opts);
int cmd_worker_status(Context& ctx, const std::string& factory, const std::string& slot);
int cmd_worker_spawn(Context& ctx, const std::string& factory, bool verbose);
int cmd_worker_kill(Context& ctx, const std::string& factory, const std::string& slot);
struct HeartbeatOptions {
  std::optional<std::string> activity, id;
};
int cmd_heartbeat(Context& ctx, const HeartbeatOptions& opts);
int cmd_attach(Context& ctx, const std::string& id, int lines);

// --- alerts (cmd_alert.cpp)
int cmd_alert_list(Context& ctx, bool all);
int cmd_alert_resolve(Context& ctx, const std::string& id);

// --- work orders, dispatch, sprint, event archive, eval report (cmd_wo.cpp)
// Statuses, types and priorities: common/work_order.hpp, shared with the daemon.
struct WoCreateOptions {
  std::string title;
  std::optional<std::string> type, factory, description, idempotency_key;
  std::optional<int> priority;
};
int cmd_wo_create(Context& ctx, const WoCreateOptions& opts);
struct WoListOptions {
  std::vector<std::string> status;  // any of these (--status=open,failed)
  std::optional<std::string> factory, assignee, older_than;
  std::optional<int> limit;
};
int cmd_wo_list(Context& ctx, const WoListOptions& opts);
int cmd_wo_show(Context& ctx, const std::string& id);
struct WoUpdateOptions {
  std::string id;
  std::optional<std::string> title, description;
  std::optional<int> priority;
};
int cmd_wo_update(Context& ctx, const WoUpdateOptions& opts);
struct WoAssignOptions {
  std::string id;
  std::optional<std::string> agent;
  bool clear = false;  // instead of an agent: unassign
};
int cmd_wo_assign(Context& ctx, const WoAssignOptions& opts);
struct WoTransitionOptions {
  std::string id, to, reason;
  std::optional<std::string> idempotency_key, actor;
};
int cmd_wo_transition(Context& ctx, const WoTransitionOptions& opts);
int cmd_wo_timeline(Context& ctx, const std::string& id);
int cmd_wo_stats(Context& ctx, const std::optional<std::string>& factory);
struct WoVerifyOptions {
  std::string id, check;
  bool pass = false, fail = false;  // exactly one
  bool subjective = false;
  std::optional<std::string> note;
};
int cmd_wo_verify(Context& ctx, const WoVerifyOptions& opts);
int cmd_wo_rebuild_projections(Context& ctx);
struct WoSyncOptions {
  std::optional<std::string> factory;
  bool all_factories = false;  // also the default when no --factory is given
};
int cmd_wo_sync(Context& ctx, const WoSyncOptions& opts);
int cmd_events_archive(Context& ctx, const std::string& older_than);
int cmd_eval_report(Context& ctx, const std::optional<std::string>& since);
struct DispatchOptions {
  std::string work_order, factory;
  std::optional<std::string> team;
};
int cmd_dispatch(Context& ctx, const DispatchOptions& opts);
int cmd_sprint_list(Context& ctx, const std::optional<std::string>& factory);

// Low-level escape hatch for tool authors and debugging: `co call METHOD [JSON]`.
int cmd_call(Context& ctx, const std::string& method, const std::optional<std::string>& params);

}  // namespace vermas::client
