// Methods of factories, teams, agents, workers and alerts (spec §6). Handlers validate and
// translate; the supervisor and the factory registry do the work.
#include <fstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon/patrol/alerts.hpp"
#include "daemon/rpc/errors.hpp"
#include "common/json.hpp"
#include "daemon/rpc/connection.hpp"
#include "daemon/daemon.hpp"

namespace vermas {

namespace {

json agents_json(const std::vector<AgentView>& views) {
  json out = json::array();
  for (const auto& v : views) out.push_back(to_json(v));
  return out;
}


constexpr std::size_t kMaxId = 128;

// The refusal's wording from before the router checked it, kept.
constexpr const char* kSpawnRefusal =
    "only an operator, the CEO or {factory}/supervisor may spawn a worker in {factory}; agent {agent} may not";

std::string required_id(const Call& c) { return c.params.required_str("id", kMaxId); }

std::string worker_id(const Call& c) {
  auto factory = c.params.required_str("factory", 64);
  auto slot = c.params.integer("slot", 0, 1000);
  if (!slot) throw rpc::Error(rpc::code::invalid_params, "slot is required", json{{"field", "slot"}});
  return agent_id_for(factory, AgentRole::worker, static_cast<int>(*slot));
}

// The last `lines` lines of a file, reading backwards from the end in blocks so a large
// log costs only what is returned.
std::vector<std::string> tail_lines(const std::string& file, std::size_t lines) {
  std::ifstream in(file, std::ios::binary);
  std::vector<std::string> out;
  if (!in) return out;
  in.seekg(0, std::ios::end);
  std::streamoff end = in.tellg();
  std::string buf;
  std::streamoff pos = end;
  const std::streamoff block = 64 * 1024;
  std::size_t newlines = 0;
  while (pos > 0 && newlines <= lines) {
    std::streamoff n = std::min(block, pos);
    pos -= n;
    std::string chunk(static_cast<std::size_t>(n), '\0');
    in.seekg(pos);
    in.read(chunk.data(), n);
    newlines += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    buf = chunk + buf;
    if (buf.size() > (64u << 20)) break;  // absurdly long lines: enough is enough
  }
  std::size_t start = 0;
  std::vector<std::string> all;
  for (std::size_t i = 0; i < buf.size(); ++i) {
    if (buf[i] == '\n') {
      all.push_back(buf.substr(start, i - start));
      start = i + 1;
    }
  }
  if (start < buf.size()) all.push_back(buf.substr(start));
  if (pos > 0 && !all.empty()) all.erase(all.begin());  // the first may be partial
  std::size_t from = all.size() > lines ? all.size() - lines : 0;
  for (std::size_t i = from; i < all.size(); ++i) out.push_back(std::move(all[i]));
  return out;
}

// A worker holding a work order is stopped through the dispatcher: its worktree is saved
// before the stop, and its slot freed. Any other agent is simply stopped.
boost::asio::awaitable<json> stop_agent_or_free_slot(Daemon& d, std::string id, std::string actor, bool kill) {
  if (auto row = d.dispatcher().slot_for_agent(id)) {
    WoActor who;
    who.id = actor;
    json freed = co_await d.dispatcher().release(row->factory, row->slot, kill ? "operator_kill" : "operator_stop",
                                                 who, kill);
    json out = to_json(d.supervisor().agent(id));
    out["freed"] = freed;
    co_return out;
  }
  AgentView stopped = co_await d.supervisor().stop_agent(id, actor, kill);
  co_return to_json(stopped);
}

// ---- factories and teams

boost::asio::awaitable<json> rpc_factory_add(Daemon& d, Call& c) {
  auto name = c.params.required_str("name", 64);
  auto url = c.params.required_str("url", 4096);
  auto prefix = c.params.str("prefix", 16);
  FactoryRecord f = co_await d.factories().add(name, url, prefix, c.actor());
  d.supervisor().patrol_soon();
  json out = to_json(f);
  out["agents"] = d.supervisor().counts(name);
  co_return out;
}

json rpc_factory_list(Daemon& d, Call&) {
  json list = json::array();
  for (const auto& [name, f] : d.factories().all()) {
    json j = to_json(f);
    j["agents"] = d.supervisor().counts(name);
    list.push_back(j);
  }
  return {{"factories", list}};
}

json rpc_factory_status(Daemon& d, Call& c) {
  auto name = c.params.required_str("name", 64);
  json f = to_json(d.factories().require(name));
  f["agents"] = d.supervisor().counts(name);
  AgentFilter filter;
  filter.factory = name;
  auto cfg = d.factories().config(name);
  json errors = json::array();
  for (const auto& e : cfg.errors) errors.push_back(e.to_string());
  json teams = json::array();
  for (const auto& t : d.factories().teams(name)) teams.push_back(to_json(t));
  return {{"factory", f}, {"agents", agents_json(d.supervisor().list(filter))}, {"config", to_json(cfg.value)},
          {"config_errors", errors}, {"teams", teams}};
}

boost::asio::awaitable<json> rpc_factory_remove(Daemon& d, Call& c) {
  auto name = c.params.required_str("name", 64);
  const FactoryRecord f = d.factories().require(name);
  auto stopped = co_await d.supervisor().retire_factory(name, c.actor());
  d.factories().remove(name, c.actor(), stopped);
  co_return json{{"removed", name}, {"stopped", stopped}, {"kept_directory", f.path}};
}

boost::asio::awaitable<json> rpc_team_add(Daemon& d, Call& c) {
  auto factory = c.params.required_str("factory", 64);
  auto name = c.params.required_str("name", 64);
  TeamRecord t = co_await d.factories().add_team(factory, name, c.actor());
  co_return to_json(t);
}

json rpc_team_list(Daemon& d, Call& c) {
  json list = json::array();
  for (const auto& t : d.factories().teams(c.params.str("factory", 64))) list.push_back(to_json(t));
  return {{"teams", list}};
}

// ---- agents

json rpc_agent_list(Daemon& d, Call& c) {
  AgentFilter f;
  f.factory = c.params.str("factory", 64);
  if (auto role = c.params.str("role", 32)) {
    f.role = parse_agent_role(*role);
    if (!f.role)
      throw rpc::Error(rpc::code::invalid_params, "role: expected supervisor, qa, worker or ceo", json{{"field", "role"}});
  }
  if (auto status = c.params.str("status", 32)) {
    f.status = parse_agent_status(*status);
    if (!f.status)
      throw rpc::Error(rpc::code::invalid_params, "status: not an agent status (running, backoff, failed, ...)",
                       json{{"field", "status"}});
  }
  f.sort = c.params.str("sort", 32).value_or("id");
  static const char* sorts[] = {"id", "status", "started_at", "restarts", "last_heartbeat", "today_spend"};
  if (std::find(std::begin(sorts), std::end(sorts), f.sort) == std::end(sorts))
    throw rpc::Error(rpc::code::invalid_params,
                     "sort: expected id, status, started_at, restarts, last_heartbeat or today_spend",
                     json{{"field", "sort"}});
  const AgentMembers members = agent_fields(c);
  // Written as text: at hundreds of agents an nlohmann value took milliseconds (json_text.hpp).
  std::string out = "{\"agents\":[";
  out.reserve(d.supervisor().registry().all().size() * (members == kAllAgentMembers ? 700 : 200) + 128);
  bool first = true;
  d.supervisor().each_view(f, c.params.boolean("usage").value_or(false), [&](const AgentView& v) {
    if (!first) out += ',';
    first = false;
    append_json(out, v, members);
  });
  out += "]}";
  return rpc::raw_json(std::move(out));
}

json rpc_agent_get(Daemon& d, Call& c) { return to_json(d.supervisor().agent_with_usage(required_id(c))); }

// ---- group operations: agent.start|stop|kill|restart {all} or {factory?, role?}

enum class GroupAction { start, stop, kill, restart };

// The agents a selector names, for an action: a stop, kill or restart takes those with a
// process; a start takes those without one that start by hand (not quarantined; a worker
// only while it holds a slot, since a worker without one waits for a dispatch; the CEO only
// when named by role, since it runs on demand).
std::vector<std::string> select_agents(Daemon& d, const AgentFilter& f, GroupAction action) {
  std::vector<std::string> ids;
  for (const auto& v : d.supervisor().list(f)) {
    const bool live = d.supervisor().has_process(v.record.id);
    if (action != GroupAction::start) {
      if (live) ids.push_back(v.record.id);
      continue;
    }
    if (live || v.record.status == AgentStatus::quarantined) continue;
    if (v.record.role == AgentRole::worker && !d.dispatcher().slot_for_agent(v.record.id)) continue;
    if (v.record.role == AgentRole::ceo && f.role != AgentRole::ceo) continue;
    ids.push_back(v.record.id);
  }
  return ids;
}

boost::asio::awaitable<json> act_on_one(Daemon& d, GroupAction action, std::string id, std::string actor) {
  switch (action) {
    case GroupAction::start: co_return to_json(co_await d.supervisor().start_agent(id, actor));
    case GroupAction::restart: co_return to_json(co_await d.supervisor().restart_agent(id, actor));
    case GroupAction::stop: co_return co_await stop_agent_or_free_slot(d, id, actor, false);
    case GroupAction::kill: co_return co_await stop_agent_or_free_slot(d, id, actor, true);
  }
  co_return json();
}

// Every selected agent at once (their stops' timeouts overlap instead of adding up); the
// answer comes when all are done: {agents: [agent], count, errors: [{id, code, message}]}.
boost::asio::awaitable<json> act_on_group(Daemon& d, GroupAction action, std::vector<std::string> ids,
                                          std::string actor) {
  struct Outcome {
    std::vector<json> agents, errors;
    std::size_t left = 0;
  };
  auto io = co_await boost::asio::this_coro::executor;
  auto outcome = std::make_shared<Outcome>();
  outcome->agents.resize(ids.size());
  outcome->left = ids.size();
  // A timer that never expires by itself: cancelled by the last to finish, it is the join.
  auto joined = std::make_shared<boost::asio::steady_timer>(io, std::chrono::steady_clock::time_point::max());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    boost::asio::co_spawn(
        io,
        [&d, action, id = ids[i], actor, outcome, i]() -> boost::asio::awaitable<void> {
          try {
            outcome->agents[i] = co_await act_on_one(d, action, id, actor);
          } catch (const Error& e) {
            outcome->errors.push_back(json{{"id", id}, {"code", rpc::to_rpc_code(e.code())}, {"message", e.what()}});
          } catch (const rpc::Error& e) {
            outcome->errors.push_back(json{{"id", id}, {"code", e.code()}, {"message", e.what()}});
          } catch (const std::exception& e) {
            outcome->errors.push_back(json{{"id", id}, {"code", rpc::code::internal_error}, {"message", e.what()}});
          }
        },
        [outcome, joined](std::exception_ptr) {
          if (--outcome->left == 0) joined->cancel();
        });
  }
  if (!ids.empty()) co_await joined->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  json agents = json::array();
  for (auto& a : outcome->agents)
    if (!a.is_null()) agents.push_back(std::move(a));
  const auto count = agents.size();
  co_return json{{"agents", std::move(agents)}, {"count", count}, {"errors", outcome->errors}};
}

// {id} acts on one agent and answers it; {all: true} or {factory?, role?} on every agent
// they select, answering the group.
boost::asio::awaitable<json> rpc_agent_action(Daemon& d, Call& c, GroupAction action) {
  const bool all = c.params.boolean("all").value_or(false);
  const bool selects = all || c.params.has("factory") || c.params.has("role");
  if (c.params.has("id")) {
    if (selects)
      throw rpc::Error(rpc::code::invalid_params, "give either id or a selector (all, factory, role), not both",
                       json{{"field", "id"}});
    co_return co_await act_on_one(d, action, required_id(c), c.actor());
  }
  if (!selects)
    throw rpc::Error(rpc::code::invalid_params, "id is required (or a selector: all: true, factory, role)",
                     json{{"field", "id"}});
  AgentFilter f;
  f.factory = c.params.str("factory", 64);
  if (f.factory && !d.factories().find(*f.factory))
    throw rpc::Error(rpc::code::not_found, "no factory '" + *f.factory + "' (see: co factory list)",
                     json{{"factory", *f.factory}});
  if (auto role = c.params.str("role", 32)) {
    f.role = parse_agent_role(*role);
    if (!f.role)
      throw rpc::Error(rpc::code::invalid_params, "role: expected supervisor, qa, worker or ceo", json{{"field", "role"}});
  }
  if (c.params.has("all") && !all)
    throw rpc::Error(rpc::code::invalid_params, "all: only true selects (or leave it out)", json{{"field", "all"}});
  co_return co_await act_on_group(d, action, select_agents(d, f, action), c.actor());
}

boost::asio::awaitable<json> rpc_agent_start(Daemon& d, Call& c) {
  co_return co_await rpc_agent_action(d, c, GroupAction::start);
}

boost::asio::awaitable<json> rpc_agent_stop(Daemon& d, Call& c) {
  co_return co_await rpc_agent_action(d, c, GroupAction::stop);
}

boost::asio::awaitable<json> rpc_agent_kill(Daemon& d, Call& c) {
  co_return co_await rpc_agent_action(d, c, GroupAction::kill);
}

// An operator's pause: SIGSTOP of the whole process group, until agent.resume (also across
// daemon restarts: the patrol stops it again if someone continued it by hand).
json rpc_agent_pause(Daemon& d, Call& c) {
  const std::string id = required_id(c);
  const std::string why = c.params.str("reason", 256).value_or("");
  return to_json(d.supervisor().pause_agent(id, c.actor(), "operator", AgentEvent::pause,
                                            why.empty() ? json::object() : json{{"why", why}}));
}

json rpc_agent_resume(Daemon& d, Call& c) { return to_json(d.supervisor().resume_agent(required_id(c), c.actor())); }

boost::asio::awaitable<json> rpc_agent_restart(Daemon& d, Call& c) {
  co_return co_await rpc_agent_action(d, c, GroupAction::restart);
}

// Another agent's id from an agent never gets here (agent_self).
json rpc_agent_heartbeat(Daemon& d, Call& c) {
  auto id = c.params.str("id", kMaxId);
  auto activity = c.params.str("activity", 1024);
  if (!id && !c.agent)
    throw rpc::Error(rpc::code::invalid_params,
                     "id is required when the caller is not an agent (run inside an agent, or pass --id)",
                     json{{"field", "id"}});
  return d.supervisor().heartbeat(id ? *id : *c.agent, activity);
}

json rpc_agent_logs(Daemon& d, Call& c) {
  auto id = required_id(c);
  auto lines = c.params.integer("lines", 1, 10000).value_or(50);
  auto file = d.supervisor().log_file(id);
  if (!file) throw rpc::Error(rpc::code::not_found, "no agent '" + id + "' (see: co agent list)", json{{"id", id}});
  return {{"id", id}, {"file", *file}, {"lines", tail_lines(*file, static_cast<std::size_t>(lines))}};
}

// ---- workers

boost::asio::awaitable<json> rpc_worker_spawn(Daemon& d, Call& c) {
  auto factory = c.params.required_str("factory", 64);
  AgentView spawned = co_await d.dispatcher().spawn_worker(factory, c.actor());
  co_return to_json(spawned);
}

json rpc_worker_list(Daemon& d, Call& c) {
  AgentFilter f;
  f.factory = c.params.str("factory", 64);
  f.role = AgentRole::worker;
  f.slot_holders_only = !c.params.boolean("all").value_or(false);
  if (auto status = c.params.str("status", 32)) {
    f.status = parse_agent_status(*status);
    if (!f.status)
      throw rpc::Error(rpc::code::invalid_params, "status: not an agent status (running, idle, stopped, ...)",
                       json{{"field", "status"}});
    f.slot_holders_only = false;
  }
  return {{"workers", agents_json(d.supervisor().list(f))}};
}

json rpc_worker_status(Daemon& d, Call& c) { return to_json(d.supervisor().agent(worker_id(c))); }

boost::asio::awaitable<json> rpc_worker_kill(Daemon& d, Call& c) {
  auto id = worker_id(c);
  auto factory = c.params.required_str("factory", 64);
  const int slot = static_cast<int>(*c.params.integer("slot", 0, 1000));
  // Saved to a wip ref before the kill; the slot is freed and its work order returned.
  WoActor actor;
  actor.id = c.actor();
  json freed = co_await d.dispatcher().release(factory, slot, "operator_kill", actor, true);
  json out = to_json(d.supervisor().agent(id));
  out["freed"] = freed;
  if (const FactoryRecord* f = d.factories().find(factory)) out["repo"] = f->path;  // where the wip refs are
  co_return out;
}

// ---- alerts

json rpc_alert_list(Daemon& d, Call& c) {
  std::optional<alerts::Severity> min;
  if (auto name = c.params.str("severity", 16)) {
    min = alerts::parse_severity(*name);
    if (!min)
      throw rpc::Error(rpc::code::invalid_params, "severity must be one of info, warning, critical; got \"" + *name + "\"",
                       json{{"field", "severity"}});
  }
  return {{"alerts", alerts::list(d.store(), c.params.boolean("resolved"), min)}};
}

json rpc_alert_resolve(Daemon& d, Call& c) {
  auto id = c.params.integer("id", 1, INT64_MAX);
  if (!id) throw rpc::Error(rpc::code::invalid_params, "id is required", json{{"field", "id"}});
  return alerts::resolve(d.journal(), *id, c.actor());
}

}  // namespace

AgentMembers agent_fields(const Call& c) {
  const auto names = c.params.str_list("fields", 64);
  if (!names) return kAllAgentMembers;
  std::string unknown;
  const auto members = agent_members(*names, &unknown);
  if (!members)
    throw rpc::Error(rpc::code::invalid_params, "fields: '" + unknown + "' is not a member of an agent object",
                     json{{"field", "fields"}, {"value", unknown}});
  return *members;
}


// Spec §6: an agent acts for itself only, and §4: it never changes its own status. So
// starting, stopping, killing and restarting agents are operator methods, and so is
// reshaping the company. Spawning a worker is a supervisor's (or the CEO's) job in its own
// factory, as dispatch is.
void register_supervision_methods(Router& router, Daemon& d) {
  using namespace access;
  static const DaemonMethod kMethods[] = {
      {"factory.add", {"name", "url", "prefix"}, operator_only, "clone a repository as a factory; its agents start",
       rpc_factory_add},
      {"factory.list", {}, anyone, "every factory with its agent counts", rpc_factory_list},
      {"factory.status", {"name"}, anyone, "one factory: agents, configuration, teams", rpc_factory_status},
      {"factory.remove", {"name"}, operator_only, "stop a factory's agents and forget it (the clone stays)",
       rpc_factory_remove},
      {"team.add", {"factory", "name"}, operator_only, "a team: its own worktree and branch in a factory",
       rpc_team_add},
      {"team.list", {"factory"}, anyone, "the teams, of one factory or all", rpc_team_list},
      {"agent.list", {"factory", "role", "status", "sort", "usage", "fields"}, anyone,
       "every agent, filtered and sorted; usage: with CPU and memory from /proc; fields: only those members",
       rpc_agent_list},
      {"agent.get", {"id"}, anyone, "one agent", rpc_agent_get},
      {"agent.start", {"id", "all", "factory", "role"}, operator_only,
       "start a stopped agent (and want it running again); or every one a selector names", rpc_agent_start},
      {"agent.stop", {"id", "all", "factory", "role"}, operator_only,
       "stop an agent until agent.start (a worker's work is saved first); or a group at once", rpc_agent_stop},
      {"agent.kill", {"id", "all", "factory", "role"}, operator_only, "agent.stop with SIGKILL", rpc_agent_kill},
      {"agent.restart", {"id", "all", "factory", "role"}, operator_only, "stop and start an agent, or a group",
       rpc_agent_restart},
      {"agent.pause", {"id", "reason"}, operator_only, "freeze an agent's process group (SIGSTOP): paused",
       rpc_agent_pause},
      {"agent.resume", {"id"}, operator_only, "thaw a paused agent (SIGCONT): running again", rpc_agent_resume},
      {"agent.heartbeat", {"id", "activity"}, agent_self("id"), "an agent says it is alive (id: the caller)",
       rpc_agent_heartbeat},
      {"agent.logs", {"id", "lines"}, anyone, "the last lines of an agent's output", rpc_agent_logs},
      {"worker.spawn", {"factory"}, factory_roles("factory", {"ceo", "supervisor"}, kSpawnRefusal),
       "a worker in the factory's lowest free slot", rpc_worker_spawn},
      {"worker.list", {"factory", "all", "status"}, anyone, "workers holding slots (all: every worker)",
       rpc_worker_list},
      {"worker.status", {"factory", "slot"}, anyone, "the worker of one slot", rpc_worker_status},
      {"worker.kill", {"factory", "slot"}, operator_only, "kill a slot's worker; its work is saved, the slot freed",
       rpc_worker_kill},
      {"alert.list", {"resolved", "severity"}, anyone, "alerts, open or resolved, of a severity and above",
       rpc_alert_list},
      {"alert.resolve", {"id"}, operator_only, "mark an alert resolved", rpc_alert_resolve},
  };
  add_methods(router, d, kMethods);
}

}  // namespace vermas
