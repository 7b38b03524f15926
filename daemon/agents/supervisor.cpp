#include "daemon/agents/supervisor.hpp"
#include "daemon/error.hpp"

#include <filesystem>
#include <memory>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/json.hpp"
#include "common/time.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = Agent::Clock;

namespace {
constexpr auto kStartWait = std::chrono::seconds(30);
}  // namespace

Supervisor::Supervisor(asio::io_context& io, const Config& config, const Paths& paths, Journal& journal,
                       Factories& factories, std::string socket_path)
    : io_(io), config_(config), factories_(factories), registry_(io, config, paths, journal),
      launcher_(io, config, paths, registry_, factories, std::move(socket_path)),
      lifecycle_(io, config, registry_, launcher_), patrol_(io, config, registry_, launcher_, lifecycle_, factories),
      heartbeats_(io, config, registry_, journal), readoption_(config, registry_, launcher_, lifecycle_) {
  lifecycle_.on_running([this](Agent& a) { patrol_.noticed(a); });
}

asio::awaitable<void> Supervisor::start() {
  co_await readoption_.run();
  patrol_.start();
}

void Supervisor::config_changed() {
  patrol_.rearm();
  heartbeats_.config_changed();
  launcher_.pump();
}

void Supervisor::stop_all(std::function<void()> done) {
  patrol_.stop();
  heartbeats_.stop();
  lifecycle_.stop_all(std::move(done));
}

void Supervisor::release_all() {
  patrol_.stop();
  heartbeats_.stop();
  lifecycle_.release_all();
}

asio::awaitable<void> Supervisor::wait_for(const std::string& id, Clock::time_point deadline,
                                           std::function<bool(const Agent&)> settled) {
  for (;;) {
    Agent* cur = registry_.find(id);
    if (!cur) throw Error(Errc::not_found, "agent " + id + " was removed");
    if (settled(*cur) || Clock::now() >= deadline) co_return;
    auto t = std::make_shared<asio::steady_timer>(io_, deadline);
    cur->waiters.push_back(t);
    co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<AgentView> Supervisor::start_agent(std::string id, std::string actor) {
  if (launcher_.held())
    throw Error(Errc::conflict, "squad paused: nothing starts until co resume --all", json{{"squad", "paused"}});
  if (lifecycle_.shutting_down()) throw Error(Errc::unavailable, "the daemon is shutting down");
  if (id == "ceo" && !registry_.find(id)) ensure_ceo();
  Agent& a = registry_.require(id);
  if (a.rec.status == AgentStatus::stopping)
    throw Error(Errc::conflict, id + " is stopping; start it once it has stopped",
                     json{{"id", id}, {"status", "stopping"}});
  if (a.rec.status == AgentStatus::quarantined)
    throw Error(Errc::conflict, id + " is quarantined: release it first (co agent release " + id + ")",
                json{{"id", id}, {"status", "quarantined"}});
  if (a.rec.factory && !factories_.find(*a.rec.factory))
    throw Error(Errc::conflict, "factory " + *a.rec.factory + " is not registered");
  if (!a.proc && !a.busy) {
    a.rec.want_running = true;
    a.history = {};  // an operator's start clears the start limit (like reset-failed)
    a.rec.error_streak = 0;
    if (a.restart_timer) a.restart_timer->cancel();
    a.restart_at.reset();
    registry_.commit(a, {registry_.event(a, "agent.start_requested", {}, actor)});
    launcher_.enqueue(a);
  } else if (!a.rec.want_running) {
    a.rec.want_running = true;
    registry_.commit(a, {});
  }
  co_await wait_for(id, Clock::now() + kStartWait,
                    [](const Agent& cur) { return !cur.busy && !cur.queued && cur.pending.empty(); });
  co_return registry_.view(id);
}

// The CEO has a record once an operator first starts it (co ceo): a company that never uses
// it lists no CEO agent. Its command must be configured first.
void Supervisor::ensure_ceo() {
  auto c = config_.agents.find("ceo");
  if (c == config_.agents.end() || c->second.command.empty())
    throw Error(Errc::conflict, "no command configured in [agents.ceo] of the company configuration",
                json{{"id", "ceo"}, {"key", "agents.ceo.command"}});
  registry_.ensure("", AgentRole::ceo, 0, launcher_.runner_name_for("", AgentRole::ceo));
}

asio::awaitable<AgentView> Supervisor::stop_agent(std::string id, std::string actor, bool kill, std::string reason) {
  Agent& a = registry_.require(id);
  a.rec.want_running = false;
  lifecycle_.begin_stop(a, kill ? ExitIntent::kill : ExitIntent::stop, actor, reason);
  co_await wait_for(id, Clock::now() + to_ms(config_.operations.stop_timeout_seconds) + std::chrono::seconds(10),
                    [](const Agent& cur) { return !cur.proc && !cur.busy; });
  co_return registry_.view(id);
}

asio::awaitable<AgentView> Supervisor::restart_agent(std::string id, std::string actor, std::string reason) {
  if (lifecycle_.shutting_down()) throw Error(Errc::unavailable, "the daemon is shutting down");
  Agent& a = registry_.require(id);
  if (!a.proc) {
    AgentView started = co_await start_agent(id, actor);
    co_return started;
  }
  if (!next(a.rec.status, AgentEvent::restart))
    throw Error(Errc::conflict,
                     id + " is " + to_string(a.rec.status) + ": it cannot be restarted now" +
                         (a.rec.status == AgentStatus::quarantined ? " (release it first)" : ""),
                     json{{"id", id}, {"status", to_string(a.rec.status)}});
  a.rec.want_running = true;
  lifecycle_.begin_stop(a, ExitIntent::restart, actor, reason);
  const std::uint64_t gen = a.generation;
  co_await wait_for(id, Clock::now() + to_ms(config_.operations.stop_timeout_seconds) + kStartWait,
                    [gen](const Agent& cur) {
                      const bool new_process = cur.proc && cur.generation != gen && !cur.busy && cur.pending.empty();
                      const bool gave_up = !cur.proc && !cur.busy && !cur.queued && cur.intent != ExitIntent::restart;
                      return new_process || gave_up;
                    });
  co_return registry_.view(id);
}

AgentView Supervisor::agent_with_usage(const std::string& id) {
  AgentView v = registry_.view(id);
  add_usage(v);
  return v;
}

void Supervisor::each_view(const AgentFilter& filter, bool usage, const std::function<void(const AgentView&)>& fn) {
  AgentView view;
  for (const Agent* a : registry_.pick(filter)) {
    registry_.view_into(*a, view);
    if (usage) add_usage(view);
    fn(view);
  }
}

void Supervisor::add_usage(AgentView& v) {
  v.usage_read = true;
  const Agent* a = registry_.find(v.record.id);
  if (!a || !a->proc) return;
  if (auto u = usage_.sample(a->proc->identity)) {
    v.cpu_percent = u->cpu_percent;
    v.rss_bytes = u->rss_bytes;
  }
}

AgentView Supervisor::pause_agent(const std::string& id, const std::string& actor, const std::string& reason,
                                  AgentEvent event, json data) {
  Agent& a = registry_.require(id);
  lifecycle_.freeze(a, event, reason, actor, std::move(data));
  return registry_.view(id);
}

AgentView Supervisor::resume_agent(const std::string& id, const std::string& actor, AgentEvent event) {
  Agent& a = registry_.require(id);
  lifecycle_.thaw(a, event, event == AgentEvent::squad_resume ? "squad_resume" : "resumed", actor);
  return registry_.view(id);
}

AgentView Supervisor::quarantine_agent(const std::string& id, const std::string& actor, const std::string& why) {
  Agent& a = registry_.require(id);
  if (a.proc || a.busy || !next(a.rec.status, AgentEvent::quarantine))
    throw Error(Errc::conflict, id + " is " + to_string(a.rec.status) + ": stop it before it is quarantined",
                json{{"id", id}, {"status", to_string(a.rec.status)}});
  launcher_.dequeue(a);
  if (a.restart_timer) a.restart_timer->cancel();
  a.restart_at.reset();
  a.rec.want_running = false;
  const AgentStatus was = a.rec.status;
  registry_.move(a, AgentEvent::quarantine, "quarantine");
  json data = {{"was", to_string(was)}};
  if (!why.empty()) data["why"] = why;
  registry_.commit(a, {registry_.event(a, "agent.quarantined", std::move(data), actor)});
  return registry_.view(id);
}

AgentView Supervisor::release_agent(const std::string& id, const std::string& actor) {
  Agent& a = registry_.require(id);
  if (a.rec.status != AgentStatus::quarantined)
    throw Error(Errc::conflict, id + " is " + to_string(a.rec.status) + ", not quarantined",
                json{{"id", id}, {"status", to_string(a.rec.status)}});
  registry_.move(a, AgentEvent::release, "released");  // -> stopped
  // Workers wait for a dispatch, the CEO for an operator's co ceo.
  a.rec.want_running = a.rec.role == AgentRole::supervisor || a.rec.role == AgentRole::qa;
  registry_.commit(a, {registry_.event(a, "agent.released", {}, actor)});
  patrol_.soon();
  return registry_.view(id);
}

AgentView Supervisor::reset_agent(const std::string& id, const std::string& actor) {
  Agent& a = registry_.require(id);
  lifecycle_.reset(a, actor);
  patrol_.soon();
  return registry_.view(id);
}

std::vector<std::string> Supervisor::pause_all(const std::string& actor) {
  launcher_.hold(true);
  std::vector<std::string> frozen_now;
  for (auto& entry : registry_.all()) {
    Agent& a = *entry.second;
    if (!a.proc || a.busy || !next(a.rec.status, AgentEvent::squad_pause)) continue;
    if (frozen(a.rec.status)) continue;  // paused already, for its own reason: it keeps it
    if (lifecycle_.freeze(a, AgentEvent::squad_pause, "squad", actor)) frozen_now.push_back(a.rec.id);
  }
  return frozen_now;
}

std::vector<std::string> Supervisor::resume_all(const std::string& actor) {
  std::vector<std::string> thawed;
  for (auto& entry : registry_.all()) {
    Agent& a = *entry.second;
    if (a.rec.status != AgentStatus::paused || a.rec.reason != "squad") continue;
    if (lifecycle_.thaw(a, AgentEvent::squad_resume, "squad_resume", actor)) thawed.push_back(a.rec.id);
  }
  launcher_.hold(false);
  return thawed;
}

asio::awaitable<AgentView> Supervisor::start_worker(std::string factory, int slot, std::optional<std::string> work_order,
                                               std::string worktree, std::string actor) {
  if (lifecycle_.shutting_down()) throw Error(Errc::unavailable, "the daemon is shutting down");
  if (launcher_.held())
    throw Error(Errc::conflict, "squad paused: no dispatch or spawn until co resume --all", json{{"squad", "paused"}});
  Agent& a = registry_.ensure(factory, AgentRole::worker, slot, launcher_.runner_name_for(factory, AgentRole::worker));
  a.rec.want_running = true;
  a.history = {};
  a.rec.last_exit.reset();
  a.rec.restart_count = 0;
  a.rec.error_streak = 0;
  a.rec.current_work_order = work_order;
  a.rec.worktree = worktree.empty() ? std::nullopt : std::optional<std::string>(worktree);
  json data = {{"slot", slot}};
  if (work_order) data["work_order"] = *work_order;
  if (const FactoryRecord* f = factories_.find(factory))
    data["worktree"] = worktree.empty() ? (fs::path(f->path) / ".worktrees" / ("slot" + std::to_string(slot))).string()
                                        : worktree;
  registry_.commit(a, {registry_.event(a, "worker.spawned", std::move(data), actor)});
  AgentView started = co_await start_agent(a.rec.id, actor);
  co_return started;
}

void Supervisor::assign_work(const std::string& id, const std::optional<std::string>& work_order) {
  Agent* a = registry_.find(id);
  if (!a || a->rec.current_work_order == work_order) return;
  a->rec.current_work_order = work_order;
  registry_.commit(*a, {});
}

bool Supervisor::is_live(const std::string& id) const {
  const Agent* a = registry_.find(id);
  if (!a) return false;
  return a->proc || a->busy || a->queued || a->restart_at ||
         (a->rec.status != AgentStatus::stopped && a->rec.status != AgentStatus::failed &&
          a->rec.status != AgentStatus::lost);
}

asio::awaitable<std::vector<std::string>> Supervisor::retire_factory(std::string factory, std::string actor) {
  std::vector<std::string> ids;
  for (auto& [id, a] : registry_.all())
    if (a->rec.factory == factory) ids.push_back(id);
  std::vector<std::string> stopped;
  for (const auto& id : ids) {
    Agent* a = registry_.find(id);
    if (!a) continue;
    if (a->proc || a->busy) stopped.push_back(id);
    AgentView ignored = co_await stop_agent(id, actor, false);
    (void)ignored;
  }
  for (const auto& id : ids) {
    Agent* a = registry_.find(id);
    if (!a || a->proc || a->busy) continue;  // still going: keep its record rather than lose track
    registry_.remove(id, actor, "factory_removed");
  }
  co_return stopped;
}

}  // namespace vermas
