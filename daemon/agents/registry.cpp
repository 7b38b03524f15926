#include "daemon/agents/registry.hpp"
#include "daemon/error.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <stdexcept>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/json.hpp"
#include "common/time.hpp"
#include "daemon/agents/process.hpp"

namespace vermas {

namespace asio = boost::asio;
using Clock = Agent::Clock;

namespace {

Error no_such_agent(const std::string& id) {
  return Error(Errc::not_found, "no agent '" + id + "' (see: co agent list)", json{{"id", id}});
}

}  // namespace

void AgentRegistry::load() {
  for (auto& rec : agent_table::load_all(journal_.store())) {
    auto a = std::make_unique<Agent>();
    a->rec = std::move(rec);
    std::string id = a->rec.id;
    agents_[id] = std::move(a);
  }
}

Agent* AgentRegistry::find(const std::string& id) {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : it->second.get();
}

const Agent* AgentRegistry::find(const std::string& id) const {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : it->second.get();
}

Agent& AgentRegistry::require(const std::string& id) {
  if (auto a = find(id)) return *a;
  throw no_such_agent(id);
}

std::vector<std::string> AgentRegistry::ids() const {
  std::vector<std::string> out;
  out.reserve(agents_.size());
  for (const auto& [id, a] : agents_) out.push_back(id);
  return out;
}

Agent& AgentRegistry::ensure(const std::string& factory, AgentRole role, int slot, const std::string& runner) {
  std::string id = agent_id_for(factory, role, slot);
  if (auto a = find(id)) return *a;
  auto a = std::make_unique<Agent>();
  a->rec.id = id;
  if (role != AgentRole::ceo) a->rec.factory = factory;  // the CEO is the company's, of no factory
  a->rec.role = role;
  if (role == AgentRole::worker) a->rec.slot = slot;
  a->rec.session = session_for(factory, role, slot);
  a->rec.runner = runner;
  a->rec.status = AgentStatus::stopped;
  a->rec.reason = "new";
  Agent& ref = *a;
  agents_[id] = std::move(a);
  commit(ref, {event(ref, "agent.created", {{"role", to_string(role)}, {"runner", ref.rec.runner}})});
  return ref;
}

void AgentRegistry::remove(const std::string& id, const std::string& actor, const std::string& reason) {
  Agent* a = find(id);
  if (!a) return;
  journal_.commit([&](Store::Tx& tx) {
    agent_table::remove(tx, id);
    tx.append({"agent.removed", actor, a->rec.factory, id, {{"reason", reason}}});
  });
  wake(*a);
  agents_.erase(id);
}

// ---------------------------------------------------------------------------------------
// Changes

EventDraft AgentRegistry::event(const Agent& a, std::string type, json data, std::string actor) const {
  data["status"] = to_string(a.rec.status);
  if (!a.rec.reason.empty() && !data.contains("reason")) data["reason"] = a.rec.reason;
  return EventDraft{std::move(type), std::move(actor), a.rec.factory, a.rec.id, std::move(data)};
}

AgentMove AgentRegistry::move(Agent& a, AgentEvent e, std::string reason) {
  auto m = next(a.rec.status, e);
  if (!m)
    throw std::logic_error("agent " + a.rec.id + ": " + to_string(e) + " is not a move from " +
                           to_string(a.rec.status) + " (daemon/agents/agent_lifecycle.cpp)");
  if (m->to != a.rec.status) a.rec.reason = std::move(reason);  // a move onto itself keeps why it is there
  a.rec.status = m->to;
  if (m->effects & effect::clear_history) a.history = {};
  return *m;
}

void AgentRegistry::commit(Agent& a, std::vector<EventDraft> events, const std::vector<alerts::Draft>& raise,
                           const std::vector<std::string>& resolve) {
  // Events still waiting for a batch (a start) come first: the log keeps their order.
  std::vector<EventDraft> all = std::exchange(a.pending, {});
  for (auto& e : events) all.push_back(std::move(e));
  journal_.commit([&](Store::Tx& tx) {
    agent_table::save(tx, a.rec);
    for (auto& e : all) tx.append(std::move(e));
    for (const auto& d : raise) alerts::raise(tx, d);
    if (!resolve.empty()) alerts::resolve_open(tx, resolve, a.rec.id, "operations");
  });
  wake(a);
}

void AgentRegistry::commit_batch(std::vector<Agent*>& batch) {
  if (batch.empty()) return;
  journal_.commit([&](Store::Tx& tx) {
    for (Agent* a : batch) {
      agent_table::save(tx, a->rec);
      for (auto& e : a->pending) tx.append(std::move(e));
    }
  });
  for (Agent* a : batch) {
    a->pending.clear();
    wake(*a);
  }
  batch.clear();
}

// Nobody is told of a start before this commit: its waiters wake only once it is on disk.
void AgentRegistry::flush_soon() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    std::vector<Agent*> batch;
    for (auto& [id, a] : agents_)
      if (!a->pending.empty()) batch.push_back(a.get());
    try {
      commit_batch(batch);
    } catch (const std::exception& e) {
      spdlog::error("recording agent starts: {}", e.what());
    }
  });
}

void AgentRegistry::wake(Agent& a) {
  for (auto& t : a.waiters) t->cancel();
  a.waiters.clear();
}

void AgentRegistry::record(const Agent& a, std::string type, json data) {
  journal_.record(event(a, std::move(type), std::move(data)));
}

// ---------------------------------------------------------------------------------------
// Processes

int AgentRegistry::live_process_count() const {
  int n = 0;
  for (const auto& [id, a] : agents_) n += a->proc.has_value() || a->busy;
  return n;
}

std::optional<std::string> AgentRegistry::agent_for_pid(pid_t pid) const {
  auto hit = [&](pid_t p) -> const std::string* {
    auto it = by_pid_.find(p);
    return it == by_pid_.end() ? nullptr : &it->second;
  };
  // A tmux agent runs before tmux tells us its pane's pid, so it can call the socket
  // while its launch is still pending. Then a process carrying the environment of an
  // agent being launched (AGENT_ID and our COMPANY_ROOT) is that agent: this only ever
  // takes rights away from a caller, and only while such a launch is under way.
  bool launching = false;
  for (const auto& [id, a] : agents_) launching = launching || (a->busy && !a->proc);
  if (by_pid_.empty() && !launching) return std::nullopt;
  pid_t p = pid;
  // Agents lead their own session and process group, so one /proc read usually settles
  // it; the parent walk covers a descendant that started a session of its own.
  for (int depth = 0; depth < 64 && p > 1; ++depth) {
    if (auto id = hit(p)) return *id;
    if (launching)
      if (auto id = launching_agent_in_environ(p)) return *id;
    auto rel = proc::relations(p);
    if (!rel) break;
    if (rel->session > 1)
      if (auto id = hit(rel->session)) return *id;
    if (rel->pgrp > 1)
      if (auto id = hit(rel->pgrp)) return *id;
    p = rel->ppid;
  }
  return std::nullopt;
}

std::optional<std::string> AgentRegistry::launching_agent_in_environ(pid_t pid) const {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  if (!in) return std::nullopt;
  std::string agent, root;
  for (std::string kv; std::getline(in, kv, '\0');) {
    if (kv.rfind("AGENT_ID=", 0) == 0) agent = kv.substr(9);
    else if (kv.rfind("COMPANY_ROOT=", 0) == 0) root = kv.substr(13);
  }
  if (agent.empty() || root != paths_.root.string()) return std::nullopt;
  const Agent* a = find(agent);
  if (!a || !a->busy || a->proc) return std::nullopt;
  return agent;
}

// ---------------------------------------------------------------------------------------
// Views

AgentView AgentRegistry::view(const Agent& a) const {
  AgentView v;
  view_into(a, v);
  return v;
}

void AgentRegistry::view_into(const Agent& a, AgentView& v) const {
  // Assigned member by member, never from a new AgentView: a view reused across agents
  // keeps its strings' storage (status at 2,000 agents was mostly malloc and free).
  v.record = a.rec;
  v.pid.reset();
  v.uptime_seconds.reset();
  v.pane.reset();
  v.next_start_in_seconds.reset();
  if (a.proc) {
    v.pid = a.proc->identity.pid;
    v.uptime_seconds = std::chrono::duration<double>(Clock::now() - a.started_steady).count();
    if (!a.rec.pane.empty()) v.pane = a.rec.pane;
  }
  if (a.restart_at)
    v.next_start_in_seconds = std::max(0.0, std::chrono::duration<double>(*a.restart_at - Clock::now()).count());
  v.today_spend = money_.spend ? money_.spend(a.rec.id) : 0.0;
  v.daily_cap = money_.cap ? money_.cap(a.rec) : config_.budgets.agent_daily_cap;
  v.over_cap = money_.over_cap ? money_.over_cap(a.rec) : nlohmann::json(nullptr);
  log_path_into(a, v.log);
  v.stale = a.stale;
  v.usage_read = false;
  v.cpu_percent.reset();
  v.rss_bytes.reset();
}

AgentView AgentRegistry::view(const std::string& id) const {
  auto a = find(id);
  if (!a) throw no_such_agent(id);
  return view(*a);
}

std::vector<AgentView> AgentRegistry::list(const AgentFilter& f) const {
  std::vector<AgentView> out;
  const auto picked = pick(f);
  out.reserve(picked.size());
  for (auto a : picked) out.push_back(view(*a));
  return out;
}

std::vector<const Agent*> AgentRegistry::pick(const AgentFilter& f) const {
  std::vector<const Agent*> picked;
  for (const auto& [id, a] : agents_) {
    if (f.factory && a->rec.factory != f.factory) continue;
    if (f.role && a->rec.role != *f.role) continue;
    if (f.status && a->rec.status != *f.status) continue;
    if (f.slot_holders_only && (a->rec.status == AgentStatus::stopped || a->rec.status == AgentStatus::failed) &&
        !a->busy && !a->queued)
      continue;
    picked.push_back(a.get());
  }
  auto by = [&](auto key) {
    std::stable_sort(picked.begin(), picked.end(), [&](const Agent* x, const Agent* y) { return key(x) < key(y); });
  };
  if (f.sort == "status") by([](const Agent* a) { return std::string(to_string(a->rec.status)); });
  else if (f.sort == "started_at") by([](const Agent* a) { return a->rec.started_at.value_or(""); });
  else if (f.sort == "restarts") by([](const Agent* a) { return -a->rec.restart_count; });
  else if (f.sort == "last_heartbeat") by([](const Agent* a) { return a->rec.last_heartbeat.value_or(""); });
  else if (f.sort == "today_spend" && money_.spend)  // descending: the biggest spender first
    by([this](const Agent* a) { return -money_.spend(a->rec.id); });
  return picked;
}

json AgentRegistry::counts(const std::optional<std::string>& factory) const {
  // Tallied by the enum, then named: one json member per status present, not a lookup by
  // name per agent.
  std::array<int, 32> n{};
  int total = 0;
  for (const auto& [id, a] : agents_) {
    if (factory && a->rec.factory != factory) continue;
    ++n[static_cast<std::size_t>(a->rec.status)];
    ++total;
  }
  json by = json::object();
  for (AgentStatus s : all_agent_statuses())
    if (n[static_cast<std::size_t>(s)]) by[to_string(s)] = n[static_cast<std::size_t>(s)];
  return {{"total", total}, {"by_status", by}};
}

int AgentRegistry::failed_count() const {
  int n = 0;
  for (const auto& [id, a] : agents_) n += a->rec.status == AgentStatus::failed;
  return n;
}

std::optional<std::string> AgentRegistry::log_file(const std::string& id) const {
  auto a = find(id);
  if (!a) return std::nullopt;
  return log_path(*a);
}

void AgentRegistry::note_activity(const std::string& id) {
  Agent* a = find(id);
  if (!a) return;
  a->rec.last_activity = now_rfc3339_ms();
  a->last_activity_steady = Clock::now();
  woke(*a, "rpc");
}

void AgentRegistry::note_output(Agent& a, std::chrono::system_clock::time_point at) {
  const auto ago = std::chrono::system_clock::now() - at;
  const auto steady = Clock::now() - std::chrono::duration_cast<Clock::duration>(std::max(ago, ago.zero()));
  if (a.last_activity_steady && steady <= *a.last_activity_steady) return;
  a.rec.last_activity = format_rfc3339_ms(at);
  a.last_activity_steady = steady;
  woke(a, "output");
}

// An idle or stuck agent that does something is running again: news, with its reason.
void AgentRegistry::woke(Agent& a, const char* by) {
  if (a.rec.status != AgentStatus::idle && a.rec.status != AgentStatus::stuck) return;
  const AgentStatus was = a.rec.status;
  move(a, AgentEvent::activity, "activity");
  commit(a, {event(a, "agent.active", {{"was", to_string(was)}, {"by", by}})});
}


}  // namespace vermas
