#include "daemon/agents/launcher.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "common/json.hpp"
#include "common/time.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = Agent::Clock;

namespace {

// co_spawn completion: a coroutine that throws is a bug worth a log line, never a crash.
auto log_launch_errors(const char* what) {
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

}  // namespace

Launcher::Launcher(asio::io_context& io, const Config& config, const Paths& paths, AgentRegistry& registry,
                   Factories& factories, std::string socket_path)
    : io_(io), config_(config), paths_(paths), registry_(registry), factories_(factories),
      socket_path_(std::move(socket_path)), boot_id_(proc::boot_id()), bin_dir_(own_bin_dir()),
      direct_(make_direct_runner()), tmux_(make_tmux_runner()), throttle_timer_(io),
      turn_timer_(io) {}

Launcher::~Launcher() = default;

std::string Launcher::runner_name_for(const std::string& factory, AgentRole role) const {
  const char* key = to_string(role);
  if (!factory.empty()) {
    auto fc = factories_.config(factory);
    auto it = fc.value.agents.find(key);
    if (it != fc.value.agents.end()) return it->second.runner;
  }
  auto c = config_.agents.find(key);
  return c == config_.agents.end() ? "tmux" : c->second.runner;
}

LaunchRequest Launcher::launch_request(const Agent& a, std::string& error) const {
  LaunchRequest req;
  const std::string factory = a.rec.factory.value_or("");
  const char* key = to_string(a.rec.role);
  AgentConfig ac;
  if (a.rec.role == AgentRole::ceo) {
    // The company's own agent: the company's [agents.ceo], run in the company root.
    if (auto c = config_.agents.find(key); c != config_.agents.end()) ac = c->second;
    req.cwd = paths_.root;
  } else {
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
    if (auto it = fc.value.agents.find(key); it != fc.value.agents.end()) ac = it->second;
    else if (auto c = config_.agents.find(key); c != config_.agents.end()) ac = c->second;
    req.cwd = a.rec.role == AgentRole::worker
                  ? fs::path(f->path) / ".worktrees" / ("slot" + std::to_string(a.rec.slot.value_or(0)))
                  : fs::path(f->path);
    if (a.rec.role == AgentRole::worker && a.rec.worktree) req.cwd = *a.rec.worktree;
  }
  if (ac.command.empty()) {
    error = std::string("no command configured in [agents.") + key + "]";
    return req;
  }
  req.agent_id = a.rec.id;
  req.session = a.rec.session;
  req.argv = ac.command;
  req.env = {{"AGENT_ID", a.rec.id},
             {"COMPANY_ROOT", paths_.root.string()},
             {"VERMAS_SOCKET", socket_path_}};
  if (!factory.empty()) req.env["FACTORY"] = factory;
  if (a.rec.current_work_order) req.env["WORK_ORDER"] = *a.rec.current_work_order;
  // Agents call `co`: the daemon's own directory comes first in their PATH.
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  if (!bin_dir_.empty()) p = bin_dir_ + ":" + p;
  req.env["PATH"] = p;
  req.output_log = registry_.log_path(a);
  std::error_code ec;
  fs::create_directories(req.output_log.parent_path(), ec);
  if (ec) error = "creating " + req.output_log.parent_path().string() + ": " + ec.message();
  return req;
}

// ---------------------------------------------------------------------------------------
// The queue

void Launcher::enqueue(Agent& a) {
  if (a.queued || a.busy || a.proc || closed_) return;
  a.queued = true;
  queue_.push_back(a.rec.id);
  pump();
}

void Launcher::dequeue(Agent& a) {
  if (!a.queued) return;
  a.queued = false;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), a.rec.id), queue_.end());
}

void Launcher::close() {
  closed_ = true;
  throttle_timer_.cancel();
  turn_timer_.cancel();
  pump();  // empties the queue
}

void Launcher::pump() {
  while (!queue_.empty()) {
    if (held_ && !closed_) return;
    if (launched_this_turn_ >= kLaunchesPerTurn && !closed_) return;  // the rest at the loop's next turn
    if (closed_) {
      for (auto& id : queue_)
        if (auto a = registry_.find(id)) a->queued = false;
      queue_.clear();
      return;
    }
    const std::string id = queue_.front();
    Agent* a = registry_.find(id);
    if (!a || !a->queued) {
      queue_.erase(queue_.begin());
      continue;
    }
    if (registry_.live_process_count() >= config_.operations.max_agents) {
      // Resumed when a process exits (or the cap is raised by a reload).
      if (!a->deferred_noted) {
        a->deferred_noted = true;
        spdlog::warn("agent {}: start deferred: max_agents ({}) running", id, config_.operations.max_agents);
        registry_.record(*a, "agent.start_deferred", {{"max_agents", config_.operations.max_agents}});
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
          if (!ec) pump();
        });
      }
      return;
    }
    queue_.erase(queue_.begin());
    a->queued = false;
    a->deferred_noted = false;
    a->busy = true;
    asio::co_spawn(io_, launch(id), log_launch_errors("starting an agent"));
    // A few launches per turn of the loop: a mass start (200 agents at daemon start,
    // enqueued one by one by the patrol) would otherwise run every launch before the socket
    // is polled again, and no request would be answered until the last one. The turn ends
    // when the reactor has run (a timer due at once), whoever asks for the next launch.
    ++launched_this_turn_;
    if (!turn_armed_) {
      turn_armed_ = true;
      turn_timer_.expires_after(std::chrono::steady_clock::duration::zero());
      turn_timer_.async_wait([this](boost::system::error_code ec) {
        turn_armed_ = false;
        launched_this_turn_ = 0;
        if (!ec) pump();
      });
    }
  }
}

// ---------------------------------------------------------------------------------------
// Launching

asio::awaitable<void> Launcher::launch(std::string id) {
  Agent* a = registry_.find(id);
  if (!a) co_return;
  const AgentStatus from = a->rec.status;
  if (!admit_start(config_.restart, a->history, Clock::now())) {
    a->busy = false;
    reports_.refused(*a);
    co_return;
  }
  // stopped | failed | lost -> starting (start), backoff -> starting (backoff_elapsed)
  registry_.move(*a, from == AgentStatus::backoff ? AgentEvent::backoff_elapsed : AgentEvent::start, "start");
  std::string error;
  a->rec.runner = runner_name_for(a->rec.factory.value_or(""), a->rec.role);
  LaunchRequest req = launch_request(*a, error);
  if (!error.empty()) {
    a->busy = false;
    reports_.failed(*a, error, from);
    co_return;
  }
  LaunchResult res = co_await runner(a->rec.runner).launch(req);
  a = registry_.find(id);
  if (!a) {
    if (res.launched) res.launched->process.stop(std::chrono::milliseconds(0));
    co_return;
  }
  a->busy = false;
  if (!res.launched) {
    reports_.failed(*a, res.error, from);
    co_return;
  }
  const bool is_restart = from == AgentStatus::backoff || from == AgentStatus::lost ||
                          a->intent == ExitIntent::restart || a->rec.last_exit.has_value();
  if (is_restart) ++a->rec.restart_count;
  attach(*a, *res.launched);
  registry_.move(*a, AgentEvent::spawned, "started");  // starting -> running
  a->restart_at.reset();
  a->pending.push_back(registry_.event(*a, "agent.started",
                                       {{"pid", a->rec.pid}, {"runner", a->rec.runner}, {"session", a->rec.session},
                                        {"restart_count", a->rec.restart_count}, {"from", to_string(from)}}));
  registry_.flush_soon();
  spdlog::info("agent {}: started pid {} ({})", id, a->rec.pid, a->rec.runner);
  reports_.started(*a);
}

void Launcher::attach(Agent& a, Launched launched) {
  a.generation = next_generation_++;
  a.rec.pid = launched.identity.pid;
  a.rec.start_time = launched.identity.start_time;
  a.rec.boot_id = boot_id_;
  a.rec.pane = launched.pane;
  a.rec.started_at = now_rfc3339_ms();
  a.started_steady = Clock::now();
  registry_.index_pid(a);
  const std::string id = a.rec.id;
  const std::uint64_t gen = a.generation;
  launched.process.on_exit([this, id, gen](const proc::ExitInfo& e) { on_exit(id, gen, e); });
  a.proc = std::move(launched);
}

// ---------------------------------------------------------------------------------------
// Exits: noticed through the pidfd, refined by the runner (tmux keeps the real status in a
// dead pane), then reported.

void Launcher::on_exit(const std::string& id, std::uint64_t generation, proc::ExitInfo exit) {
  Agent* a = registry_.find(id);
  if (!a || a->generation != generation || !a->proc) return;
  asio::co_spawn(io_, after_exit(id, generation, std::move(exit)), log_launch_errors("handling an agent exit"));
}

asio::awaitable<void> Launcher::after_exit(std::string id, std::uint64_t generation, proc::ExitInfo exit) {
  Agent* a = registry_.find(id);
  if (!a || a->generation != generation || !a->proc) co_return;
  RecordedProcess recorded{a->rec.id, a->rec.session, a->proc->identity, a->proc->pane};
  proc::ExitInfo refined = co_await runner(a->rec.runner).after_exit(recorded, exit);
  a = registry_.find(id);
  if (!a || a->generation != generation || !a->proc) co_return;
  registry_.unindex_pid(*a);
  a->proc.reset();
  reports_.exited(*a, refined);
}

}  // namespace vermas
