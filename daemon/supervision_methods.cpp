// Methods of factories, teams, agents, workers and alerts (spec §6). Handlers validate and
// translate; the supervisor and the factory registry do the work.
#include <fstream>

#include "daemon/alerts.hpp"
#include "daemon/connection.hpp"
#include "daemon/daemon.hpp"

namespace vermas {

namespace {

using rpc::json;

constexpr std::size_t kMaxId = 128;

std::string required_id(const Call& c) { return c.params.required_str("id", kMaxId); }

// Spec §6: an agent acts for itself only, and §4: it never changes its own status. So
// starting, stopping, killing and restarting agents are operator methods (Access below).
// Spawning a worker is a supervisor's (or the CEO's) job in its own factory, as dispatch is.
void refuse_spawn_by_other_agents(const Call& c, const std::string& factory) {
  if (c.agent && *c.agent != "ceo" && *c.agent != factory + "/supervisor")
    throw rpc::Error(rpc::code::permission_denied,
                     "only an operator, the CEO or " + factory + "/supervisor may spawn a worker in " + factory +
                         "; agent " + *c.agent + " may not",
                     json{{"agent", *c.agent}, {"method", c.request.method}});
}

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
    json out = d.supervisor().agent_json(id);
    out["freed"] = freed;
    co_return out;
  }
  json out = co_await d.supervisor().stop_agent(id, actor, kill);
  co_return out;
}

}  // namespace

void register_supervision_methods(Router& router, Daemon& d) {
  // ---- factories and teams
  router.add_async(
      "factory.add",
      [&d](Call& c) -> boost::asio::awaitable<json> {
        c.params.allow_only({"name", "url", "prefix"});
        auto name = c.params.required_str("name", 64);
        auto url = c.params.required_str("url", 4096);
        auto prefix = c.params.str("prefix", 16);
        FactoryRecord f = co_await d.factories().add(name, url, prefix, c.actor());
        d.supervisor().patrol_soon();
        json out = to_json(f);
        out["agents"] = d.supervisor().counts(name);
        co_return out;
      },
      Access::operator_only);

  router.add("factory.list", [&d](Call& c) -> json {
    c.params.allow_only({});
    json list = json::array();
    for (const auto& [name, f] : d.factories().all()) {
      json j = to_json(f);
      j["agents"] = d.supervisor().counts(name);
      list.push_back(j);
    }
    return {{"factories", list}};
  });

  router.add("factory.status", [&d](Call& c) -> json {
    c.params.allow_only({"name"});
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
    return {{"factory", f}, {"agents", d.supervisor().list(filter)}, {"config", to_json(cfg.value)},
            {"config_errors", errors}, {"teams", teams}};
  });

  router.add_async(
      "factory.remove",
      [&d](Call& c) -> boost::asio::awaitable<json> {
        c.params.allow_only({"name"});
        auto name = c.params.required_str("name", 64);
        const FactoryRecord f = d.factories().require(name);
        auto stopped = co_await d.supervisor().retire_factory(name, c.actor());
        d.factories().remove(name, c.actor(), stopped);
        co_return json{{"removed", name}, {"stopped", stopped}, {"kept_directory", f.path}};
      },
      Access::operator_only);

  router.add_async(
      "team.add",
      [&d](Call& c) -> boost::asio::awaitable<json> {
        c.params.allow_only({"factory", "name"});
        auto factory = c.params.required_str("factory", 64);
        auto name = c.params.required_str("name", 64);
        TeamRecord t = co_await d.factories().add_team(factory, name, c.actor());
        co_return to_json(t);
      },
      Access::operator_only);

  router.add("team.list", [&d](Call& c) -> json {
    c.params.allow_only({"factory"});
    json list = json::array();
    for (const auto& t : d.factories().teams(c.params.str("factory", 64))) list.push_back(to_json(t));
    return {{"teams", list}};
  });

  // ---- agents
  router.add("agent.list", [&d](Call& c) -> json {
    c.params.allow_only({"factory", "role", "status", "sort"});
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
    return {{"agents", d.supervisor().list(f)}};
  });

  router.add("agent.get", [&d](Call& c) -> json {
    c.params.allow_only({"id"});
    return d.supervisor().agent_json(required_id(c));
  });

  router.add_async("agent.start", [&d](Call& c) -> boost::asio::awaitable<json> {
    c.params.allow_only({"id"});
    auto id = required_id(c);
    json out = co_await d.supervisor().start_agent(id, c.actor());
    co_return out;
  }, Access::operator_only);

  router.add_async("agent.stop", [&d](Call& c) -> boost::asio::awaitable<json> {
    c.params.allow_only({"id"});
    auto id = required_id(c);
    json out = co_await stop_agent_or_free_slot(d, id, c.actor(), false);
    co_return out;
  }, Access::operator_only);

  router.add_async("agent.kill", [&d](Call& c) -> boost::asio::awaitable<json> {
    c.params.allow_only({"id"});
    auto id = required_id(c);
    json out = co_await stop_agent_or_free_slot(d, id, c.actor(), true);
    co_return out;
  }, Access::operator_only);

  router.add_async("agent.restart", [&d](Call& c) -> boost::asio::awaitable<json> {
    c.params.allow_only({"id"});
    auto id = required_id(c);
    json out = co_await d.supervisor().restart_agent(id, c.actor());
    co_return out;
  }, Access::operator_only);

  router.add("agent.heartbeat", [&d](Call& c) -> json {
    c.params.allow_only({"id", "activity"});
    auto id = c.params.str("id", kMaxId);
    auto activity = c.params.str("activity", 1024);
    if (c.agent && id && *id != *c.agent)
      throw rpc::Error(rpc::code::permission_denied,
                       "agent " + *c.agent + " cannot heartbeat for " + *id, json{{"agent", *c.agent}});
    if (!id && !c.agent)
      throw rpc::Error(rpc::code::invalid_params,
                       "id is required when the caller is not an agent (run inside an agent, or pass --id)",
                       json{{"field", "id"}});
    return d.supervisor().heartbeat(id ? *id : *c.agent, activity);
  });

  router.add("agent.logs", [&d](Call& c) -> json {
    c.params.allow_only({"id", "lines"});
    auto id = required_id(c);
    auto lines = c.params.integer("lines", 1, 10000).value_or(50);
    auto file = d.supervisor().log_file(id);
    if (!file) throw rpc::Error(rpc::code::not_found, "no agent '" + id + "' (see: co agent list)", json{{"id", id}});
    return {{"id", id}, {"file", *file}, {"lines", tail_lines(*file, static_cast<std::size_t>(lines))}};
  });

  // ---- workers
  router.add_async("worker.spawn", [&d](Call& c) -> boost::asio::awaitable<json> {
    c.params.allow_only({"factory"});
    auto factory = c.params.required_str("factory", 64);
    refuse_spawn_by_other_agents(c, factory);
    json out = co_await d.dispatcher().spawn_worker(factory, c.actor());
    co_return out;
  });

  router.add("worker.list", [&d](Call& c) -> json {
    c.params.allow_only({"factory", "all", "status"});
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
    return {{"workers", d.supervisor().list(f)}};
  });

  router.add("worker.status", [&d](Call& c) -> json {
    c.params.allow_only({"factory", "slot"});
    return d.supervisor().agent_json(worker_id(c));
  });

  router.add_async("worker.kill", [&d](Call& c) -> boost::asio::awaitable<json> {
    c.params.allow_only({"factory", "slot"});
    auto id = worker_id(c);
    auto factory = c.params.required_str("factory", 64);
    const int slot = static_cast<int>(*c.params.integer("slot", 0, 1000));
    // Saved to a wip ref before the kill; the slot is freed and its work order returned.
    WoActor actor;
    actor.id = c.actor();
    json freed = co_await d.dispatcher().release(factory, slot, "operator_kill", actor, true);
    json out = d.supervisor().agent_json(id);
    out["freed"] = freed;
    co_return out;
  }, Access::operator_only);

  // ---- alerts
  router.add("alert.list", [&d](Call& c) -> json {
    c.params.allow_only({"resolved"});
    return {{"alerts", alerts::list(d.store(), c.params.boolean("resolved"))}};
  });

  router.add(
      "alert.resolve",
      [&d](Call& c) -> json {
        c.params.allow_only({"id"});
        auto id = c.params.integer("id", 1, INT64_MAX);
        if (!id) throw rpc::Error(rpc::code::invalid_params, "id is required", json{{"field", "id"}});
        return alerts::resolve(d.journal(), *id, c.actor());
      },
      Access::operator_only);
}

}  // namespace vermas
