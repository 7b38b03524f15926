#pragma once
// The stored agent record (spec §6 agent fields) and its table. A row is rewritten in the
// same transaction as the event that describes the change, so the two never disagree.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/agents/agent_state.hpp"
#include "daemon/store/store.hpp"

namespace vermas {

enum class AgentRole { supervisor, qa, worker, ceo };
const char* to_string(AgentRole role);
std::optional<AgentRole> parse_agent_role(std::string_view text);

struct AgentRecord {
  std::string id;                      // ceo | <f>/supervisor | <f>/qa | <f>/workers/slot<N>
  std::optional<std::string> factory;
  AgentRole role = AgentRole::worker;
  std::optional<int> slot;             // workers only
  AgentStatus status = AgentStatus::stopped;
  std::string reason;                  // why it is in this status: exit, operator, start_limit ...
  bool want_running = true;            // false once an operator stopped it, until agent.start
  std::string runner;                  // direct | tmux
  std::string session;                 // tmux session name and log directory name
  pid_t pid = 0;                       // with start_time and boot_id: the process identity
  std::uint64_t start_time = 0;
  std::string boot_id;
  std::string pane;
  std::optional<std::string> started_at;
  std::optional<std::string> last_heartbeat;
  std::optional<std::string> last_activity;
  std::optional<std::string> activity;
  int restart_count = 0;
  int error_streak = 0;
  std::optional<std::string> current_work_order;
  std::optional<std::string> last_exit;
  std::optional<std::string> worktree;  // a worker's directory when it is not its slot's own
};

// Ids and session names of spec §2.
std::string agent_id_for(const std::string& factory, AgentRole role, int slot = 0);
std::string session_for(const std::string& factory, AgentRole role, int slot = 0);

// The stored fields as JSON.
nlohmann::json to_json(const AgentRecord& record);

// An agent as requests see it: the record and what only the running daemon knows.
struct AgentView {
  AgentRecord record;
  std::optional<pid_t> pid;  // of the running process
  std::optional<double> uptime_seconds;
  std::optional<double> next_start_in_seconds;  // waiting out a backoff
  double today_spend = 0;
  double daily_cap = 0;                // its own (agent scope) cap
  nlohmann::json over_cap = nullptr;   // what holds it: its, its factory's or the company's cap, past
  std::string log;                  // R/logs/<session>/output.log
  std::optional<std::string> pane;  // tmux, while it runs
  bool stale = false;               // heartbeated in this run, then not for heartbeat_stale_seconds
  // Read from /proc for agent.list and agent.get only (usage.hpp); null without a process.
  bool usage_read = false;
  std::optional<double> cpu_percent;
  std::optional<std::uint64_t> rss_bytes;
};
// The API's agent object (spec §6).
nlohmann::json to_json(const AgentView& view);
// Which members of the agent object to write: a bit per name of kAgentMembers.
using AgentMembers = std::uint64_t;
inline constexpr AgentMembers kAllAgentMembers = ~AgentMembers{0};
// Every member name, in the order they are written (nlohmann's: sorted).
extern const std::vector<std::string_view> kAgentMembers;
// The set of `names` (agent.list's and status's `fields`), `id` always in it; nullopt and
// the first unknown name in `unknown` when one is not a member.
std::optional<AgentMembers> agent_members(const std::vector<std::string>& names, std::string* unknown = nullptr);

// The same object as JSON text appended to `out`, byte for byte to_json(view).dump() (what
// agent.list and status write for hundreds of agents; test_json_text.cpp holds them equal),
// or only the members in `members`.
void append_json(std::string& out, const AgentView& view, AgentMembers members = kAllAgentMembers);

namespace agent_table {
std::vector<AgentRecord> load_all(const Store& store);
void save(Store::Tx& tx, const AgentRecord& record);  // insert or replace
void remove(Store::Tx& tx, const std::string& id);
// Heartbeats are not events (one per agent per minute would drown the log): only the row.
void save_heartbeat(Store& store, const std::string& id, const std::string& ts,
                    const std::optional<std::string>& activity);
}  // namespace agent_table

}  // namespace vermas
