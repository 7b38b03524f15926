#pragma once
// The agent registry: every agent by id (and its process by pid), and the one way an
// agent's status changes and is stored. A change is a move of the lifecycle table, then the
// row and its events in one transaction; whoever waits on the agent is woken after.
//
// The bottom of supervision: it calls only the journal. The launcher, the lifecycle, the
// patrol and re-adoption all call into it, never the other way round.
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/agents/agent.hpp"
#include "daemon/patrol/alerts.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

struct AgentFilter {
  std::optional<std::string> factory;
  std::optional<AgentRole> role;
  std::optional<AgentStatus> status;
  bool slot_holders_only = false;  // workers: only those holding a slot
  std::string sort = "id";         // id | status | started_at | restarts | last_heartbeat | today_spend
};

class AgentRegistry {
 public:
  using Agents = std::map<std::string, std::unique_ptr<Agent>>;

  AgentRegistry(boost::asio::io_context& io, const Config& config, const Paths& paths, Journal& journal)
      : io_(io), config_(config), paths_(paths), journal_(journal) {}
  AgentRegistry(const AgentRegistry&) = delete;
  AgentRegistry& operator=(const AgentRegistry&) = delete;

  // Today's spend and daily cap of an agent, as views show them (governance: costs and
  // budgets, wired by the composition root; supervision knows nothing of money).
  struct Money {
    std::function<double(const std::string& agent)> spend;
    std::function<double(const AgentRecord& agent)> cap;
    // {scope, id, spend, cap} of the first of its scopes past its cap today, or null.
    std::function<nlohmann::json(const AgentRecord& agent)> over_cap;
  };
  void money(Money m) { money_ = std::move(m); }

  // The stored records, at start-up (before anything runs).
  void load();
  Agent* find(const std::string& id);
  const Agent* find(const std::string& id) const;
  Agent& require(const std::string& id);  // -32001 when unknown
  // The agent of a factory's role (and slot), created (agent.created) when new.
  Agent& ensure(const std::string& factory, AgentRole role, int slot, const std::string& runner);
  // Forgets an agent without a process (agent.removed).
  void remove(const std::string& id, const std::string& actor, const std::string& reason);
  Agents& all() { return agents_; }
  const Agents& all() const { return agents_; }
  std::vector<std::string> ids() const;

  // The one way an agent's status changes: the lifecycle table's move for `e`, or a
  // std::logic_error when the table refuses it (requests are checked before they get here,
  // so a refusal is a bug: refused, never applied). Clears the history when the move says so.
  AgentMove move(Agent& a, AgentEvent e, std::string reason);
  EventDraft event(const Agent& a, std::string type, nlohmann::json data, std::string actor = "operations") const;
  // The row and the events (after any still pending) in one transaction, then wakes waiters.
  // In the same transaction: `raise` raised (or repeated), and the agent's open alerts of
  // the types in `resolve` resolved by operations.
  void commit(Agent& a, std::vector<EventDraft> events, const std::vector<alerts::Draft>& raise = {},
              const std::vector<std::string>& resolve = {});
  // One transaction for the rows and pending events of several agents.
  void commit_batch(std::vector<Agent*>& batch);
  // Commits every agent's pending events at the next turn of the loop, in one transaction:
  // starts made in one pass share one fsync (200 agents at start-up).
  void flush_soon();
  void wake(Agent& a);
  void record(const Agent& a, std::string type, nlohmann::json data);  // an event, no row

  // Processes: the pid index that names the agent calling the socket.
  void index_pid(const Agent& a) { by_pid_[a.rec.pid] = a.rec.id; }
  void unindex_pid(const Agent& a) { by_pid_.erase(a.rec.pid); }
  // The agent whose process tree holds `pid` (its session, group or an ancestor).
  std::optional<std::string> agent_for_pid(pid_t pid) const;
  int live_process_count() const;  // running or being launched

  // R/logs/<session>/output.log: made when asked, not kept per agent (80 bytes each).
  std::string log_path(const Agent& a) const {
    std::string out;
    log_path_into(a, out);
    return out;
  }
  // The same into `out`, which keeps its storage (a view reused from agent to agent).
  void log_path_into(const Agent& a, std::string& out) const {
    out.assign(logs_prefix_);
    out += a.rec.session;
    out += "/output.log";
  }

  // Views.
  AgentView view(const Agent& a) const;
  // The same into an existing view, reusing its storage (status writes one agent at a time).
  void view_into(const Agent& a, AgentView& v) const;
  AgentView view(const std::string& id) const;  // not_found when unknown
  std::vector<AgentView> list(const AgentFilter& filter) const;
  // The agents `filter` selects, in its order, without copying them (agent.list writes one
  // view at a time: copies of 200 records were half its time).
  std::vector<const Agent*> pick(const AgentFilter& filter) const;
  nlohmann::json counts(const std::optional<std::string>& factory) const;  // {total, by_status}
  int failed_count() const;
  std::optional<std::string> log_file(const std::string& id) const;
  void note_activity(const std::string& id);
  // New output in its log (the direct runner's, or the tmux pane piped into it), written at
  // `at`: activity as of then.
  void note_output(Agent& a, std::chrono::system_clock::time_point at);

  Journal& journal() { return journal_; }

 private:
  void woke(Agent& a, const char* by);
  // The agent named by `pid`'s environment, if that agent is being launched right now.
  std::optional<std::string> launching_agent_in_environ(pid_t pid) const;

  boost::asio::io_context& io_;
  const Config& config_;
  Paths paths_;
  std::string logs_prefix_ = paths_.session_log_dir("").string();  // R/logs/
  Journal& journal_;
  Agents agents_;
  Money money_;
  std::map<pid_t, std::string> by_pid_;
  bool flush_posted_ = false;
};

}  // namespace vermas
