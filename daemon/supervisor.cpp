#include "daemon/supervisor.hpp"
#include "common/json.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/jsonrpc.hpp"
#include "common/time.hpp"
#include "daemon/alerts.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kStartWait = std::chrono::seconds(30);

// co_spawn completion: a coroutine that throws is a bug worth a log line, never a crash.
auto log_errors(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{}: {}", what, ex.what());
    }
  };
}

std::string own_bin_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

json exit_data(const proc::ExitInfo& e, double ran_seconds) {
  json d = {{"exit", e.describe()}, {"status_known", e.status_known}, {"ran_seconds", ran_seconds}};
  if (e.status_known && !e.lost) {
    if (e.signaled) d["signal"] = e.code; else d["code"] = e.code;
  }
  if (!e.detail.empty()) d["detail"] = e.detail;
  return d;
}

const char* exit_reason(const proc::ExitInfo& e) {
  if (e.lost) return "lost";
  if (e.status_known && e.signaled) return "signal";
  return "exit";
}

int shutdown_phase_of(AgentRole role) {
  switch (role) {
    case AgentRole::worker: return 0;
    case AgentRole::qa: return 1;
    default: return 2;
  }
}

}  // namespace

struct Supervisor::Agent {
  AgentRecord rec;
  std::optional<Launched> proc;
  std::uint64_t generation = 0;  // of the current process: a stale exit callback is ignored
  RestartHistory history;
  Clock::time_point started_steady{};
  std::unique_ptr<asio::steady_timer> restart_timer;
  std::optional<Clock::time_point> restart_at;
  bool queued = false;
  bool busy = false;  // launching, adopting or preparing a worktree: the patrol leaves it alone
  bool deferred_noted = false;
  Intent intent = Intent::none;
  std::string intent_reason;
  std::string log;
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  std::vector<EventDraft> pending;  // events of a change signalled but not yet committed
};

Supervisor::Supervisor(asio::io_context& io, const Config& config, const Paths& paths, Journal& journal,
                       Factories& factories, std::string socket_path)
    : io_(io), config_(config), paths_(paths), journal_(journal), factories_(factories),
      socket_path_(std::move(socket_path)), boot_id_(proc::boot_id()), bin_dir_(own_bin_dir()),
      direct_(make_direct_runner()), tmux_(make_tmux_runner()), throttle_timer_(io), patrol_timer_(io) {}

Supervisor::~Supervisor() = default;

// ---------------------------------------------------------------------------------------
// Lookup and JSON

Supervisor::Agent* Supervisor::find(const std::string& id) {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : it->second.get();
}

const Supervisor::Agent* Supervisor::find(const std::string& id) const {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : it->second.get();
}

Supervisor::Agent& Supervisor::require(const std::string& id) {
  if (auto a = find(id)) return *a;
  throw rpc::Error(rpc::code::not_found, "no agent '" + id + "' (see: co agent list)", json{{"id", id}});
}

json Supervisor::to_json(const Agent& a) const {
  json j = vermas::to_json(a.rec);
  if (a.proc) {
    j["pid"] = a.proc->identity.pid;
    j["uptime_seconds"] = std::chrono::duration<double>(Clock::now() - a.started_steady).count();
  } else {
    j["pid"] = nullptr;
    j["uptime_seconds"] = nullptr;
  }
  if (a.restart_at)
    j["next_start_in_seconds"] = std::max(0.0, std::chrono::duration<double>(*a.restart_at - Clock::now()).count());
  else
    j["next_start_in_seconds"] = nullptr;
  j["today_spend"] = 0.0;
  j["daily_cap"] = config_.budgets.agent_daily_cap;
  j["log"] = a.log;
  if (a.rec.pane.size() && a.proc) j["pane"] = a.rec.pane;
  return j;
}

json Supervisor::agent_json(const std::string& id) const {
  auto a = find(id);
  if (!a) throw rpc::Error(rpc::code::not_found, "no agent '" + id + "' (see: co agent list)", json{{"id", id}});
  return to_json(*a);
}

json Supervisor::list(const AgentFilter& f) const {
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
  json out = json::array();
  for (auto a : picked) out.push_back(to_json(*a));
  return out;
}

std::optional<std::string> Supervisor::log_file(const std::string& id) const {
  auto a = find(id);
  if (!a) return std::nullopt;
  return a->log;
}

json Supervisor::counts(const std::optional<std::string>& factory) const {
  json by = json::object();
  int total = 0;
  for (const auto& [id, a] : agents_) {
    if (factory && a->rec.factory != factory) continue;
    const char* s = to_string(a->rec.status);
    by[s] = by.value(s, 0) + 1;
    ++total;
  }
  return {{"total", total}, {"by_status", by}};
}

int Supervisor::failed_count() const {
  int n = 0;
  for (const auto& [id, a] : agents_) n += a->rec.status == AgentStatus::failed;
  return n;
}

int Supervisor::live_process_count() const {
  int n = 0;
  for (const auto& [id, a] : agents_) n += a->proc.has_value() || a->busy;
  return n;
}

std::optional<std::string> Supervisor::agent_for_pid(pid_t pid) const {
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

std::optional<std::string> Supervisor::launching_agent_in_environ(pid_t pid) const {
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

void Supervisor::note_activity(const std::string& id) {
  if (auto a = find(id)) a->rec.last_activity = now_rfc3339_ms();
}

// ---------------------------------------------------------------------------------------
// Committing changes

EventDraft Supervisor::event(const Agent& a, std::string type, json data, std::string actor) const {
  data["status"] = to_string(a.rec.status);
  if (!a.rec.reason.empty() && !data.contains("reason")) data["reason"] = a.rec.reason;
  return EventDraft{std::move(type), std::move(actor), a.rec.factory, a.rec.id, std::move(data)};
}

AgentMove Supervisor::move(Agent& a, AgentEvent e, std::string reason) {
  auto m = next(a.rec.status, e);
  // Requests are checked against the table before they get here (a refusal is -32002), so
  // a refusal now is a bug: refused, never applied.
  if (!m)
    throw std::logic_error("agent " + a.rec.id + ": " + to_string(e) + " is not a move from " +
                           to_string(a.rec.status) + " (daemon/agent_lifecycle.cpp)");
  if (m->to != a.rec.status) a.rec.reason = std::move(reason);  // a move onto itself keeps why it is there
  a.rec.status = m->to;
  if (m->effects & effect::clear_history) a.history = {};
  return *m;
}

void Supervisor::commit(Agent& a, std::vector<EventDraft> events, const std::optional<alerts::Draft>& alert) {
  // Events still waiting for a batch (a start) come first: the log keeps their order.
  std::vector<EventDraft> all = std::exchange(a.pending, {});
  for (auto& e : events) all.push_back(std::move(e));
  journal_.commit([&](Store::Tx& tx) {
    agent_table::save(tx, a.rec);
    for (auto& e : all) tx.append(std::move(e));
    if (alert) alerts::raise(tx, *alert);
  });
  wake(a);
}

// Starts made in one pass of the loop share one transaction (one fsync instead of one per
// agent: 200 agents at start-up). Nobody is told of a start before this commit.
void Supervisor::schedule_flush() {
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

void Supervisor::wake(Agent& a) {
  for (auto& t : a.waiters) t->cancel();
  a.waiters.clear();
}


// ---------------------------------------------------------------------------------------
// Start-up and patrol

Supervisor::Agent& Supervisor::ensure_agent(const std::string& factory, AgentRole role, int slot) {
  std::string id = agent_id_for(factory, role, slot);
  if (auto a = find(id)) return *a;
  auto a = std::make_unique<Agent>();
  a->rec.id = id;
  a->rec.factory = factory;
  a->rec.role = role;
  if (role == AgentRole::worker) a->rec.slot = slot;
  a->rec.session = session_for(factory, role, slot);
  a->rec.runner = runner_name_for(factory, role);
  a->rec.status = AgentStatus::stopped;
  a->rec.reason = "new";
  a->log = (paths_.session_log_dir(a->rec.session) / "output.log").string();
  Agent& ref = *a;
  agents_[id] = std::move(a);
  commit(ref, {event(ref, "agent.created", {{"role", to_string(role)}, {"runner", ref.rec.runner}})});
  return ref;
}

asio::awaitable<void> Supervisor::start() {
  for (auto& rec : agent_table::load_all(journal_.store())) {
    auto a = std::make_unique<Agent>();
    a->log = (paths_.session_log_dir(rec.session) / "output.log").string();
    a->rec = std::move(rec);
    std::string id = a->rec.id;
    agents_[id] = std::move(a);
  }
  std::vector<std::string> ids;
  for (const auto& [id, a] : agents_) ids.push_back(id);
  for (const auto& id : ids) {
    Agent* a = find(id);
    if (!a) continue;
    const AgentStatus s = a->rec.status;
    if (has_process(s)) {
      if (a->rec.pid > 0 && a->rec.boot_id == boot_id_ &&
          proc::identity_matches({a->rec.pid, a->rec.start_time})) {
        co_await adopt(id);
      } else {
        handle_lost(*a, a->rec.pid <= 0 ? "no process recorded"
                        : a->rec.boot_id != boot_id_ ? "the machine rebooted"
                                                     : "pid " + std::to_string(a->rec.pid) + " is gone or was reused");
      }
    } else if (s == AgentStatus::backoff) {
      // The old daemon's timer died with it: restart after the first backoff step.
      schedule_restart(*a, config_.restart.backoff_initial_seconds);
    }
  }
  started_ = true;
  patrol();
}

asio::awaitable<void> Supervisor::adopt(std::string id) {
  Agent* a = find(id);
  if (!a) co_return;
  a->busy = true;
  RecordedProcess recorded{a->rec.id, a->rec.session, {a->rec.pid, a->rec.start_time}, a->rec.pane};
  Runner& runner = runner_for(a->rec.runner);
  LaunchResult res = co_await runner.adopt(recorded);
  a = find(id);
  if (!a) co_return;
  a->busy = false;
  if (!res.launched) {
    handle_lost(*a, res.error);
    co_return;
  }
  std::optional<std::string> started_at = a->rec.started_at;
  attach_process(*a, *res.launched);
  const AgentMove m = move(*a, AgentEvent::adopt, a->rec.reason.empty() ? "adopted" : a->rec.reason);
  // Uptime continues from the recorded start.
  a->rec.started_at = started_at;
  if (started_at)
    if (auto t = parse_rfc3339(*started_at))
      a->started_steady = Clock::now() - std::chrono::duration_cast<Clock::duration>(std::chrono::system_clock::now() - *t);
  commit(*a, {event(*a, "agent.adopted", {{"pid", a->rec.pid}, {"runner", a->rec.runner}})});
  spdlog::info("agent {}: re-adopted pid {}", id, a->rec.pid);
  if (m.effects & effect::terminate) {
    // The previous daemon was stopping it: finish the job.
    a->intent = a->rec.want_running ? Intent::shutdown : Intent::stop;
    a->proc->process.stop(to_ms(config_.operations.stop_timeout_seconds));
  }
}

void Supervisor::handle_lost(Agent& a, const std::string& why) {
  spdlog::warn("agent {}: lost ({})", a.rec.id, why);
  const bool was_stopping = a.rec.status == AgentStatus::stopping;
  a.rec.pid = 0;
  std::vector<EventDraft> events;
  if (was_stopping) {  // stopping -> stopped: it went while we were away
    move(a, AgentEvent::lost, a.rec.want_running ? "daemon_stop" : "operator");
    events.push_back(event(a, "agent.stopped", {{"why", why}}));
    commit(a, std::move(events));
    return;
  }
  move(a, AgentEvent::lost, "daemon_restart");
  events.push_back(event(a, "agent.lost", {{"why", why}}));
  // Handled as an exit. A worker is not restarted here: the dispatcher's reconciliation
  // decides about its slot. Past the start limit it stays down too (no alert for a loss).
  RestartDecision decision;
  if (a.rec.role != AgentRole::worker && a.rec.want_running)
    decision = decide_restart(config_.restart, config_.operations.restart_on_failure, ExitFacts{}, a.history,
                              Clock::now());
  if (decision.action == RestartDecision::Action::restart) {
    move(a, AgentEvent::exit_restart, "lost");  // lost -> backoff
    events.push_back(event(a, "agent.restarting", {{"delay_seconds", decision.delay_seconds}}));
    commit(a, std::move(events));
    schedule_restart(a, decision.delay_seconds);
  } else {
    move(a, AgentEvent::exit_stays_down, "lost");  // lost -> stopped
    events.push_back(event(a, "agent.stopped", {}));
    commit(a, std::move(events));
  }
}

void Supervisor::patrol_soon() {
  if (patrol_posted_) return;
  patrol_posted_ = true;
  asio::post(io_, [this] {
    patrol_posted_ = false;
    try {
      patrol();
    } catch (const std::exception& e) {
      spdlog::error("patrol: {}", e.what());
    }
  });
}

void Supervisor::config_changed() {
  arm_patrol();
  pump_starts();
}

void Supervisor::arm_patrol() {
  if (shutting_down_) return;
  patrol_timer_.expires_after(to_ms(std::max(0.01, config_.operations.patrol_interval_seconds)));
  patrol_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    try {
      patrol();
    } catch (const std::exception& e) {
      spdlog::error("patrol: {}", e.what());
      arm_patrol();
    }
  });
}

void Supervisor::patrol() {
  if (!started_ || shutting_down_) return;
  for (const auto& [name, f] : factories_.all()) {
    ensure_agent(name, AgentRole::supervisor, 0);
    ensure_agent(name, AgentRole::qa, 0);
  }
  for (auto& [id, a] : agents_) {
    if (a->rec.role == AgentRole::worker || !a->rec.want_running) continue;
    if (a->proc || a->busy || a->queued || a->restart_at) continue;
    if (!a->rec.factory || !factories_.find(*a->rec.factory)) continue;
    const AgentStatus s = a->rec.status;
    if (s == AgentStatus::stopped || s == AgentStatus::lost || s == AgentStatus::backoff) enqueue_start(*a);
  }
  rotate_logs();
  arm_patrol();
}

void Supervisor::rotate_logs() {
  const auto max_bytes = static_cast<std::uintmax_t>(config_.operations.log_max_mb * 1024 * 1024);
  const int keep = std::max(1, config_.operations.log_keep);
  for (auto& [id, a] : agents_) {
    if (!a->proc || a->log.empty()) continue;
    std::error_code ec;
    auto size = fs::file_size(a->log, ec);
    if (ec || size < max_bytes) continue;
    // copytruncate: the writer (the agent itself, or tmux's pipe) holds an O_APPEND fd we
    // cannot reopen, so the file is copied aside and truncated in place. A few lines
    // written between the two may be lost: the price of a log the daemon needn't feed.
    fs::path log = a->log;
    for (int i = keep - 1; i >= 1; --i) {
      fs::rename(log.string() + "." + std::to_string(i), log.string() + "." + std::to_string(i + 1), ec);
    }
    fs::copy_file(log, log.string() + ".1", fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::resize_file(log, 0, ec);
    spdlog::info("agent {}: rotated {} at {} bytes", id, a->log, size);
  }
}

// ---------------------------------------------------------------------------------------
// Starting

std::string Supervisor::runner_name_for(const std::string& factory, AgentRole role) const {
  const char* key = to_string(role);
  auto fc = factories_.config(factory);
  auto it = fc.value.agents.find(key);
  if (it != fc.value.agents.end()) return it->second.runner;
  auto c = config_.agents.find(key);
  return c == config_.agents.end() ? "tmux" : c->second.runner;
}

Runner& Supervisor::runner_for(const std::string& name) { return name == "direct" ? *direct_ : *tmux_; }

LaunchRequest Supervisor::launch_request(const Agent& a, std::string& error) const {
  LaunchRequest req;
  const std::string factory = a.rec.factory.value_or("");
  const FactoryRecord* f = factories_.find(factory);
  if (!f) {
    error = "factory '" + factory + "' is not registered";
    return req;
  }
  auto fc = factories_.config(factory);
  if (!fc.ok()) {
    error = "factory config: " + fc.errors.front().to_string();
    return req;
  }
  const char* key = to_string(a.rec.role);
  AgentConfig ac;
  if (auto it = fc.value.agents.find(key); it != fc.value.agents.end()) ac = it->second;
  else if (auto c = config_.agents.find(key); c != config_.agents.end()) ac = c->second;
  if (ac.command.empty()) {
    error = std::string("no command configured in [agents.") + key + "]";
    return req;
  }
  req.agent_id = a.rec.id;
  req.session = a.rec.session;
  req.argv = ac.command;
  req.cwd = a.rec.role == AgentRole::worker ? fs::path(f->path) / ".worktrees" / ("slot" + std::to_string(a.rec.slot.value_or(0)))
                                            : fs::path(f->path);
  if (a.rec.role == AgentRole::worker && a.rec.worktree) req.cwd = *a.rec.worktree;
  req.env = {{"AGENT_ID", a.rec.id},
             {"COMPANY_ROOT", paths_.root.string()},
             {"VERMAS_SOCKET", socket_path_},
             {"FACTORY", factory}};
  if (a.rec.current_work_order) req.env["WORK_ORDER"] = *a.rec.current_work_order;
  // Agents call `co`: the daemon's own directory comes first in their PATH.
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  if (!bin_dir_.empty()) p = bin_dir_ + ":" + p;
  req.env["PATH"] = p;
  req.output_log = a.log;
  std::error_code ec;
  fs::create_directories(req.output_log.parent_path(), ec);
  if (ec) error = "creating " + req.output_log.parent_path().string() + ": " + ec.message();
  return req;
}

void Supervisor::enqueue_start(Agent& a) {
  if (a.queued || a.busy || a.proc || shutting_down_) return;
  a.queued = true;
  start_queue_.push_back(a.rec.id);
  pump_starts();
}

void Supervisor::pump_starts() {
  while (!start_queue_.empty()) {
    if (shutting_down_) {
      for (auto& id : start_queue_)
        if (auto a = find(id)) a->queued = false;
      start_queue_.clear();
      return;
    }
    const std::string id = start_queue_.front();
    Agent* a = find(id);
    if (!a || !a->queued) {
      start_queue_.erase(start_queue_.begin());
      continue;
    }
    if (live_process_count() >= config_.operations.max_agents) {
      // Resumed when a process exits (or the cap is raised by a reload).
      if (!a->deferred_noted) {
        a->deferred_noted = true;
        spdlog::warn("agent {}: start deferred: max_agents ({}) running", id, config_.operations.max_agents);
        journal_.record(event(*a, "agent.start_deferred", {{"max_agents", config_.operations.max_agents}}));
      }
      return;
    }
    auto wait = throttle_.take(config_.operations.spawn_rate_per_second, Clock::now());
    if (wait.count() > 0) {
      if (!throttle_armed_) {
        throttle_armed_ = true;
        throttle_timer_.expires_after(std::chrono::duration_cast<Clock::duration>(wait));
        throttle_timer_.async_wait([this](boost::system::error_code ec) {
          throttle_armed_ = false;
          if (!ec) pump_starts();
        });
      }
      return;
    }
    start_queue_.erase(start_queue_.begin());
    a->queued = false;
    a->deferred_noted = false;
    a->busy = true;
    asio::co_spawn(io_, launch(id), log_errors("starting an agent"));
  }
}

asio::awaitable<void> Supervisor::launch(std::string id) {
  Agent* a = find(id);
  if (!a) co_return;
  const AgentStatus from = a->rec.status;
  // The launch failed (starting -> backoff or failed): the restart policy says which.
  auto fail_start = [this](Agent& ag, const std::string& why, AgentStatus prior) {
    ag.busy = false;
    spdlog::warn("agent {}: cannot start: {}", ag.rec.id, why);
    std::vector<EventDraft> events;
    ag.rec.last_exit = "start failed: " + why;
    ++ag.rec.error_streak;
    RestartDecision d;
    if (ag.rec.role != AgentRole::worker && ag.intent == Intent::none)
      d = decide_restart(config_.restart, config_.operations.restart_on_failure, ExitFacts{}, ag.history, Clock::now());
    ag.intent = Intent::none;
    const bool retry = d.action == RestartDecision::Action::restart;
    const AgentMove m = retry ? move(ag, AgentEvent::spawn_retry, "start_error")  // -> backoff
                              : move(ag, AgentEvent::spawn_failed,                // -> failed
                                     d.action == RestartDecision::Action::give_up ? "start_limit" : "start_error");
    json data = {{"error", why}, {"from", to_string(prior)}};
    // A worker that cannot start gives its slot (and its work order) back.
    if ((m.effects & effect::hand_back) && ag.rec.role == AgentRole::worker) data["gone"] = "failed";
    events.push_back(event(ag, "agent.start_failed", std::move(data)));
    if (retry) events.push_back(event(ag, "agent.restarting", {{"delay_seconds", d.delay_seconds}}));
    commit(ag, std::move(events));
    if (m.effects & effect::arm_backoff) schedule_restart(ag, d.delay_seconds);
  };

  if (!admit_start(config_.restart, a->history, Clock::now())) {
    a->busy = false;
    const AgentMove m = move(*a, AgentEvent::start_limit, "start_limit");  // -> failed, with an alert
    json data = {{"starts", a->history.starts.size()}};
    if ((m.effects & effect::hand_back) && a->rec.role == AgentRole::worker) data["gone"] = "failed";
    const std::string msg = a->rec.id + " was started more than " + std::to_string(config_.restart.start_limit_burst) +
                            " times in " + std::to_string(config_.restart.start_limit_interval_seconds) +
                            " s; not restarting until an operator starts it (co agent start " + a->rec.id + ")";
    journal_.commit([&](Store::Tx& tx) {
      agent_table::save(tx, a->rec);
      tx.append(event(*a, "agent.failed", std::move(data)));
      alerts::raise(tx, {"critical", "start_limit", a->rec.id, a->rec.factory, msg, {}});
    });
    wake(*a);
    co_return;
  }

  // stopped | failed | lost -> starting (start), backoff -> starting (backoff_elapsed)
  move(*a, from == AgentStatus::backoff ? AgentEvent::backoff_elapsed : AgentEvent::start, "start");
  std::string error;
  a->rec.runner = runner_name_for(a->rec.factory.value_or(""), a->rec.role);
  LaunchRequest req = launch_request(*a, error);
  if (!error.empty()) {
    fail_start(*a, error, from);
    co_return;
  }
  Runner& runner = runner_for(a->rec.runner);
  LaunchResult res = co_await runner.launch(req);
  a = find(id);
  if (!a) {
    if (res.launched) res.launched->process.stop(std::chrono::milliseconds(0));
    co_return;
  }
  if (!res.launched) {
    fail_start(*a, res.error, from);
    co_return;
  }
  a->busy = false;
  const bool is_restart = from == AgentStatus::backoff || from == AgentStatus::lost ||
                          a->intent == Intent::restart || a->rec.last_exit.has_value();
  if (is_restart) ++a->rec.restart_count;
  attach_process(*a, *res.launched);
  move(*a, AgentEvent::spawned, "started");  // starting -> running
  a->restart_at.reset();
  a->pending.push_back(event(*a, "agent.started",
                             {{"pid", a->rec.pid}, {"runner", a->rec.runner}, {"session", a->rec.session},
                              {"restart_count", a->rec.restart_count}, {"from", to_string(from)}}));
  schedule_flush();
  spdlog::info("agent {}: started pid {} ({})", id, a->rec.pid, a->rec.runner);
  if (a->intent == Intent::restart) a->intent = Intent::none;
  if (a->intent != Intent::none) begin_stop(*a, a->intent, "operations", a->intent_reason);
}

void Supervisor::attach_process(Agent& a, Launched launched) {
  a.generation = next_generation_++;
  a.rec.pid = launched.identity.pid;
  a.rec.start_time = launched.identity.start_time;
  a.rec.boot_id = boot_id_;
  a.rec.pane = launched.pane;
  a.rec.started_at = now_rfc3339_ms();
  a.started_steady = Clock::now();
  by_pid_[a.rec.pid] = a.rec.id;
  const std::string id = a.rec.id;
  const std::uint64_t gen = a.generation;
  launched.process.on_exit([this, id, gen](const proc::ExitInfo& e) { on_exit(id, gen, e); });
  a.proc = std::move(launched);
}

void Supervisor::schedule_restart(Agent& a, double delay_seconds) {
  if (shutting_down_) return;
  if (delay_seconds <= 0) {
    a.restart_at.reset();
    enqueue_start(a);
    return;
  }
  if (!a.restart_timer) a.restart_timer = std::make_unique<asio::steady_timer>(io_);
  a.restart_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay_seconds));
  a.restart_timer->expires_at(*a.restart_at);
  const std::string id = a.rec.id;
  a.restart_timer->async_wait([this, id](boost::system::error_code ec) {
    if (ec) return;
    if (auto ag = find(id)) {
      ag->restart_at.reset();
      if (ag->rec.want_running && ag->rec.status == AgentStatus::backoff) enqueue_start(*ag);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Exits

void Supervisor::on_exit(const std::string& id, std::uint64_t generation, proc::ExitInfo exit) {
  Agent* a = find(id);
  if (!a || a->generation != generation || !a->proc) return;
  asio::co_spawn(io_, finish_exit(id, generation, std::move(exit)), log_errors("handling an agent exit"));
}

asio::awaitable<void> Supervisor::finish_exit(std::string id, std::uint64_t generation, proc::ExitInfo exit) {
  Agent* a = find(id);
  if (!a || a->generation != generation || !a->proc) co_return;
  RecordedProcess recorded{a->rec.id, a->rec.session, a->proc->identity, a->proc->pane};
  Runner& runner = runner_for(a->rec.runner);
  proc::ExitInfo refined = co_await runner.after_exit(recorded, exit);
  a = find(id);
  if (!a || a->generation != generation || !a->proc) co_return;
  handle_exit(*a, refined);
}

// An exit: classify_exit names the lifecycle event from everything that decides it (what
// was asked for, the worker's work, the restart policy), the table gives the status and the
// effects, and the exit is committed (row, events, alert) before any effect runs.
void Supervisor::handle_exit(Agent& a, const proc::ExitInfo& exit) {
  const double ran = std::chrono::duration<double>(Clock::now() - a.started_steady).count();
  by_pid_.erase(a.rec.pid);
  a.proc.reset();
  a.rec.last_exit = exit.describe();
  const Intent intent = a.intent;
  a.intent = Intent::none;
  const bool worker = a.rec.role == AgentRole::worker;
  const std::string id = a.rec.id;
  spdlog::info("agent {}: {} after {:.3f} s", id, exit.describe(), ran);

  ExitContext ctx;
  ctx.status = a.rec.status;
  ctx.intent = intent == Intent::stop       ? ExitIntent::stop
               : intent == Intent::kill     ? ExitIntent::kill
               : intent == Intent::restart  ? ExitIntent::restart
               : intent == Intent::shutdown ? ExitIntent::shutdown
                                            : ExitIntent::none;
  ctx.worker = worker;
  ctx.worker_has_work = worker && !shutting_down_ && a.rec.current_work_order.has_value();
  ctx.shutting_down = shutting_down_;
  const bool asked = intent != Intent::none || a.rec.status == AgentStatus::stopping;
  // The restart policy is asked (and counts the failure) only about an exit it may restart.
  RestartDecision d;
  const bool consulted =
      !asked && !shutting_down_ && a.rec.status != AgentStatus::quarantined && (!worker || ctx.worker_has_work);
  if (consulted) {
    ExitFacts facts;
    facts.clean = exit.success();
    facts.ran_seconds = ran;
    d = decide_restart(config_.restart, config_.operations.restart_on_failure, facts, a.history, Clock::now());
    ctx.policy = d.action;
    if (facts.clean) a.rec.error_streak = 0; else ++a.rec.error_streak;
    if (ran >= config_.restart.reset_after_stable_seconds && !facts.clean) a.rec.error_streak = 1;
  }
  const AgentEvent ev = classify_exit(ctx);

  std::string reason = exit_reason(exit);
  switch (ev) {
    case AgentEvent::exit_as_asked: reason = "operator"; break;
    case AgentEvent::exit_at_shutdown: reason = "daemon_stop"; break;
    case AgentEvent::exit_for_restart: reason = "operator_restart"; break;
    case AgentEvent::exit_failed: reason = "start_limit"; break;
    default: break;
  }
  const AgentMove m = move(a, ev, reason);

  json data = exit_data(exit, ran);
  // A worker gone for good says so in its exit event: the dispatcher hands its slot back.
  if ((m.effects & effect::hand_back) && worker)
    data["gone"] = ev == AgentEvent::exit_as_asked ? "operator" : ev == AgentEvent::exit_failed ? "failed" : "exited";
  std::vector<EventDraft> events;
  std::optional<alerts::Draft> alert;
  if (asked) {
    const bool by_operator = ev != AgentEvent::exit_at_shutdown && intent != Intent::none;
    events.push_back(event(a, "agent.stopped", data, by_operator ? "operator" : "operations"));
  } else {
    if (consulted && ev == AgentEvent::exit_stays_down) data["policy"] = config_.restart.policy;
    events.push_back(event(a, "agent.exited", data));
  }
  if (m.effects & effect::arm_backoff)
    events.push_back(event(a, "agent.restarting",
                           {{"delay_seconds", d.delay_seconds}, {"attempt", a.history.consecutive_failures}}));
  if (m.effects & effect::raise_alert) {
    events.push_back(event(a, "agent.failed", {{"starts", a.history.starts.size()},
                                               {"window_seconds", config_.restart.start_limit_interval_seconds}}));
    const std::string msg = id + " crashed " + std::to_string(a.history.starts.size()) + " times within " +
                            std::to_string(static_cast<long>(config_.restart.start_limit_interval_seconds)) +
                            " s (last: " + exit.describe() + "); it stays failed until: co agent start " + id;
    spdlog::error("{}", msg);
    alert = alerts::Draft{"critical", "start_limit", id, a.rec.factory, msg, {{"last_exit", exit.describe()}}};
  }
  // An exit the policy leaves down is final: the patrol must agree (and so must a worker's slot).
  if (ev == AgentEvent::exit_stays_down && (worker || consulted)) a.rec.want_running = false;
  if (ev == AgentEvent::exit_for_restart) a.intent = Intent::restart;  // counted as a restart by launch()
  commit(a, std::move(events), alert);

  // Effects, once the exit is on disk.
  if (m.effects & effect::arm_backoff) schedule_restart(a, d.delay_seconds);
  if (m.effects & effect::enqueue_start) enqueue_start(a);
  if (shutting_down_) stop_phase(shutdown_phase_);
  pump_starts();
}

// ---------------------------------------------------------------------------------------
// Stopping

void Supervisor::begin_stop(Agent& a, Intent intent, const std::string& actor, const std::string& reason,
                            std::vector<Agent*>* batch) {
  if (a.restart_timer) a.restart_timer->cancel();
  a.restart_at.reset();
  if (a.queued) {
    a.queued = false;
    start_queue_.erase(std::remove(start_queue_.begin(), start_queue_.end(), a.rec.id), start_queue_.end());
  }
  const std::string status_reason = intent == Intent::shutdown ? "daemon_stop" : intent == Intent::restart ? "operator_restart" : "operator";
  const AgentEvent ev = intent == Intent::kill ? AgentEvent::kill : intent == Intent::restart ? AgentEvent::restart : AgentEvent::stop;
  if (a.proc) {
    const bool was_stopping = a.rec.status == AgentStatus::stopping;
    const AgentMove m = move(a, ev, status_reason);  // -> stopping
    a.intent = intent;
    a.intent_reason = reason;
    const auto grace = (m.effects & effect::kill_now) ? std::chrono::milliseconds(0)
                                                      : to_ms(config_.operations.stop_timeout_seconds);
    // Signal first, record after: the stop must not wait for an fsync (nor ten of them).
    a.proc->process.stop(grace);
    if (!was_stopping) {
      a.pending.push_back(event(a, "agent.stopping", {{"signal", intent == Intent::kill ? "SIGKILL" : "SIGTERM"},
                                                      {"grace_seconds", std::chrono::duration<double>(grace).count()}},
                                actor));
      if (batch) batch->push_back(&a);
      else commit(a, std::exchange(a.pending, {}));
    }
    return;
  }
  if (a.busy) {  // launching: stopped as soon as it runs (launch() calls us again)
    a.intent = intent;
    a.intent_reason = reason;
    return;
  }
  // No process: backoff and lost become stopped; stopped and failed stay as they are.
  const AgentStatus before = a.rec.status;
  move(a, ev, status_reason);
  if (a.rec.status == before) {
    commit(a, {});  // only want_running may have changed
    return;
  }
  commit(a, {event(a, "agent.stopped", {}, actor)});
}

// One transaction for the rows and events of agents signalled together.
void Supervisor::commit_batch(std::vector<Agent*>& batch) {
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

void Supervisor::stop_all(std::function<void()> done) {
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  patrol_timer_.cancel();
  throttle_timer_.cancel();
  pump_starts();  // empties the queue
  for (auto& [id, a] : agents_) {
    if (!a->proc && !a->busy && a->rec.status == AgentStatus::backoff) begin_stop(*a, Intent::shutdown, "operations", "daemon_stop");
  }
  shutdown_phase_ = 0;
  stop_phase(0);
}

void Supervisor::stop_phase(std::size_t phase) {
  if (!shutdown_done_) return;
  for (; phase <= 2; ++phase) {
    shutdown_phase_ = phase;
    int pending = 0;
    std::vector<Agent*> batch;
    for (auto& [id, a] : agents_) {
      if (shutdown_phase_of(a->rec.role) != static_cast<int>(phase)) continue;
      if (!a->proc && !a->busy) continue;
      ++pending;
      if (a->intent != Intent::shutdown && a->intent != Intent::kill && a->intent != Intent::stop)
        begin_stop(*a, Intent::shutdown, "operations", "daemon_stop", &batch);
    }
    commit_batch(batch);
    if (pending) return;  // resumed by handle_exit
  }
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  asio::post(io_, std::move(done));
}

void Supervisor::release_all() {
  shutting_down_ = true;
  patrol_timer_.cancel();
  throttle_timer_.cancel();
  pump_starts();
  std::vector<Agent*> batch;
  for (auto& [id, a] : agents_) {
    if (a->restart_timer) a->restart_timer->cancel();
    if (a->proc) a->proc->process.release();
    if (!a->pending.empty()) batch.push_back(a.get());
  }
  commit_batch(batch);  // starts not yet recorded: the next daemon must find them
}

// ---------------------------------------------------------------------------------------
// Requests

asio::awaitable<json> Supervisor::start_agent(std::string id, std::string actor) {
  if (shutting_down_) throw rpc::Error(rpc::code::unavailable, "the daemon is shutting down");
  Agent& a = require(id);
  if (a.rec.status == AgentStatus::stopping)
    throw rpc::Error(rpc::code::conflict, id + " is stopping; start it once it has stopped",
                     json{{"id", id}, {"status", "stopping"}});
  if (a.rec.factory && !factories_.find(*a.rec.factory))
    throw rpc::Error(rpc::code::conflict, "factory " + *a.rec.factory + " is not registered");
  if (!a.proc && !a.busy) {
    a.rec.want_running = true;
    a.history = {};  // an operator's start clears the start limit (like reset-failed)
    a.rec.error_streak = 0;
    if (a.restart_timer) a.restart_timer->cancel();
    a.restart_at.reset();
    commit(a, {event(a, "agent.start_requested", {}, actor)});
    enqueue_start(a);
  } else if (!a.rec.want_running) {
    a.rec.want_running = true;
    commit(a, {});
  }
  auto deadline = Clock::now() + kStartWait;
  for (;;) {
    Agent* cur = find(id);
    if (!cur) throw rpc::Error(rpc::code::not_found, "agent " + id + " was removed");
    if (!cur->busy && !cur->queued && cur->pending.empty()) break;
    if (Clock::now() >= deadline) break;
    auto t = std::make_shared<asio::steady_timer>(io_, deadline);
    cur->waiters.push_back(t);
    co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return agent_json(id);
}

asio::awaitable<json> Supervisor::stop_agent(std::string id, std::string actor, bool kill) {
  Agent& a = require(id);
  a.rec.want_running = false;
  begin_stop(a, kill ? Intent::kill : Intent::stop, actor, "operator");
  const auto deadline = Clock::now() + to_ms(config_.operations.stop_timeout_seconds) + std::chrono::seconds(10);
  for (;;) {
    Agent* cur = find(id);
    if (!cur) throw rpc::Error(rpc::code::not_found, "agent " + id + " was removed");
    if (!cur->proc && !cur->busy) break;
    if (Clock::now() >= deadline) break;
    auto t = std::make_shared<asio::steady_timer>(io_, deadline);
    cur->waiters.push_back(t);
    co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return agent_json(id);
}

asio::awaitable<json> Supervisor::restart_agent(std::string id, std::string actor) {
  if (shutting_down_) throw rpc::Error(rpc::code::unavailable, "the daemon is shutting down");
  Agent& a = require(id);
  if (!a.proc) {
    json j = co_await start_agent(id, actor);
    co_return j;
  }
  if (!next(a.rec.status, AgentEvent::restart))
    throw rpc::Error(rpc::code::conflict,
                     id + " is " + to_string(a.rec.status) + ": it cannot be restarted now" +
                         (a.rec.status == AgentStatus::quarantined ? " (release it first)" : ""),
                     json{{"id", id}, {"status", to_string(a.rec.status)}});
  a.rec.want_running = true;
  begin_stop(a, Intent::restart, actor, "operator_restart");
  const auto deadline = Clock::now() + to_ms(config_.operations.stop_timeout_seconds) + kStartWait;
  const std::uint64_t gen = a.generation;
  for (;;) {
    Agent* cur = find(id);
    if (!cur) throw rpc::Error(rpc::code::not_found, "agent " + id + " was removed");
    const bool new_process = cur->proc && cur->generation != gen && !cur->busy && cur->pending.empty();
    const bool gave_up = !cur->proc && !cur->busy && !cur->queued && cur->intent != Intent::restart;
    if (new_process || gave_up || Clock::now() >= deadline) break;
    auto t = std::make_shared<asio::steady_timer>(io_, deadline);
    cur->waiters.push_back(t);
    co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return agent_json(id);
}

asio::awaitable<json> Supervisor::start_worker(std::string factory, int slot, std::optional<std::string> work_order,
                                               std::string worktree, std::string actor) {
  if (shutting_down_) throw rpc::Error(rpc::code::unavailable, "the daemon is shutting down");
  Agent& a = ensure_agent(factory, AgentRole::worker, slot);
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
  commit(a, {event(a, "worker.spawned", std::move(data), actor)});
  json started = co_await start_agent(a.rec.id, actor);
  co_return started;
}

void Supervisor::assign_work(const std::string& id, const std::optional<std::string>& work_order) {
  Agent* a = find(id);
  if (!a || a->rec.current_work_order == work_order) return;
  a->rec.current_work_order = work_order;
  commit(*a, {});
}

bool Supervisor::is_live(const std::string& id) const {
  const Agent* a = find(id);
  if (!a) return false;
  return a->proc || a->busy || a->queued || a->restart_at ||
         (a->rec.status != AgentStatus::stopped && a->rec.status != AgentStatus::failed &&
          a->rec.status != AgentStatus::lost);
}

asio::awaitable<std::vector<std::string>> Supervisor::retire_factory(std::string factory, std::string actor) {
  std::vector<std::string> ids;
  for (auto& [id, a] : agents_)
    if (a->rec.factory == factory) ids.push_back(id);
  std::vector<std::string> stopped;
  for (const auto& id : ids) {
    Agent* a = find(id);
    if (!a) continue;
    if (a->proc || a->busy) stopped.push_back(id);
    json ignored = co_await stop_agent(id, actor, false);
    (void)ignored;
  }
  for (const auto& id : ids) {
    Agent* a = find(id);
    if (!a) continue;
    if (a->proc || a->busy) continue;  // still going: keep its record rather than lose track
    journal_.commit([&](Store::Tx& tx) {
      agent_table::remove(tx, id);
      tx.append({"agent.removed", actor, a->rec.factory, id, {{"reason", "factory_removed"}}});
    });
    agents_.erase(id);
  }
  co_return stopped;
}

json Supervisor::heartbeat(const std::string& id, const std::optional<std::string>& activity) {
  Agent& a = require(id);
  const std::string now = now_rfc3339_ms();
  agent_table::save_heartbeat(journal_.store(), id, now, activity);
  a.rec.last_heartbeat = now;
  a.rec.last_activity = now;
  if (activity) a.rec.activity = activity;
  return {{"id", id}, {"last_heartbeat", now}};
}

}  // namespace vermas
