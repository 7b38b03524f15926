#include "daemon/agents/lifecycle.hpp"

#include <csignal>

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/json.hpp"
#include "common/time.hpp"
#include "daemon/error.hpp"

namespace vermas {

namespace asio = boost::asio;
using Clock = Agent::Clock;

namespace {

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

// The error_streak alert (warning) once an agent's consecutive failures reach [alerts]
// error_streak_threshold; while it is open, each further failure repeats it (counts up).
std::optional<alerts::Draft> error_streak_draft(const Config& config, const Agent& a, const std::string& last) {
  const int threshold = config.alerts.error_streak_threshold;
  if (a.rec.error_streak < threshold) return std::nullopt;
  const std::string msg = a.rec.id + " failed " + std::to_string(a.rec.error_streak) + " times in a row (last: " +
                          last + "; error_streak_threshold = " + std::to_string(threshold) + ")";
  return alerts::about_agent(alerts::Severity::warning, "error_streak", a.rec.id, a.rec.factory, msg,
                             {{"error_streak", a.rec.error_streak}, {"last_exit", last}});
}

// What a stable run ends: the alerts of a crash loop.
const std::vector<std::string>& crash_loop_alerts() {
  static const std::vector<std::string> types = {"start_limit", "error_streak"};
  return types;
}

// Supervisors and QA are kept running; a worker's restart is the dispatcher's to decide and
// the CEO runs only while an operator wants it (co ceo).
bool restarted_by_policy(AgentRole role) { return role == AgentRole::supervisor || role == AgentRole::qa; }

int shutdown_phase_of(AgentRole role) {
  switch (role) {
    case AgentRole::worker: return 0;
    case AgentRole::qa: return 1;
    default: return 2;
  }
}

}  // namespace

Lifecycle::Lifecycle(asio::io_context& io, const Config& config, AgentRegistry& registry, Launcher& launcher)
    : io_(io), config_(config), registry_(registry), launcher_(launcher) {
  launcher_.set_reports({[this](Agent& a) { refused(a); },
                         [this](Agent& a, const std::string& why, AgentStatus from) { failed(a, why, from); },
                         [this](Agent& a) { started(a); },
                         [this](Agent& a, const proc::ExitInfo& e) { exited(a, e); }});
}

// ---------------------------------------------------------------------------------------
// Starts, as the launcher reports them

// About to start, but it started too often within the window: failed, with an alert.
void Lifecycle::refused(Agent& a) {
  const AgentMove m = registry_.move(a, AgentEvent::start_limit, "start_limit");
  json data = {{"starts", a.history.starts.size()}};
  if ((m.effects & effect::hand_back) && a.rec.role == AgentRole::worker) data["gone"] = "failed";
  const std::string msg = a.rec.id + " was started more than " + std::to_string(config_.restart.start_limit_burst) +
                          " times in " + std::to_string(config_.restart.start_limit_interval_seconds) +
                          " s; not restarting until an operator starts it (co agent start " + a.rec.id + ")";
  registry_.commit(a, {registry_.event(a, "agent.failed", std::move(data))},
                   {alerts::about_agent(alerts::Severity::critical, "start_limit", a.rec.id, a.rec.factory, msg)});
}

// The launch failed (starting -> backoff or failed): the restart policy says which.
void Lifecycle::failed(Agent& a, const std::string& why, AgentStatus from) {
  spdlog::warn("agent {}: cannot start: {}", a.rec.id, why);
  a.rec.last_exit = "start failed: " + why;
  ++a.rec.error_streak;
  RestartDecision d;
  if (restarted_by_policy(a.rec.role) && a.intent == ExitIntent::none)
    d = decide_restart(config_.restart, config_.operations.restart_on_failure, ExitFacts{}, a.history, Clock::now());
  a.intent = ExitIntent::none;
  const bool retry = d.action == RestartDecision::Action::restart;
  const AgentMove m = retry ? registry_.move(a, AgentEvent::spawn_retry, "start_error")  // -> backoff
                            : registry_.move(a, AgentEvent::spawn_failed,                // -> failed
                                             d.action == RestartDecision::Action::give_up ? "start_limit" : "start_error");
  json data = {{"error", why}, {"from", to_string(from)}};
  // A worker that cannot start gives its slot (and its work order) back.
  if ((m.effects & effect::hand_back) && a.rec.role == AgentRole::worker) data["gone"] = "failed";
  std::vector<EventDraft> events;
  events.push_back(registry_.event(a, "agent.start_failed", std::move(data)));
  if (retry) events.push_back(registry_.event(a, "agent.restarting", {{"delay_seconds", d.delay_seconds}}));
  std::vector<alerts::Draft> raise;
  if (auto streak = error_streak_draft(config_, a, "start failed: " + why)) raise.push_back(std::move(*streak));
  registry_.commit(a, std::move(events), raise);
  if (m.effects & effect::arm_backoff) schedule_restart(a, d.delay_seconds);
}

// Running now: a stop asked for while it was launching is carried out.
void Lifecycle::started(Agent& a) {
  if (a.intent == ExitIntent::restart) a.intent = ExitIntent::none;
  watch_stable(a);
  if (a.intent != ExitIntent::none) {
    begin_stop(a, a.intent, a.intent_actor, a.intent_reason);
    return;
  }
  if (on_running_) on_running_(a);
  if (on_started_) on_started_(a);
}

// A deadline on the loop, one per running agent (no scan): once this process has run for
// reset_after_stable_seconds its crash loop is over, as the restart policy sees it too.
void Lifecycle::watch_stable(Agent& a) {
  if (!a.proc) return;
  if (!a.stable_timer) a.stable_timer = std::make_unique<asio::steady_timer>(io_);
  a.stable_timer->expires_at(a.started_steady + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                                    std::max(0.0, config_.restart.reset_after_stable_seconds))));
  const std::string id = a.rec.id;
  const std::uint64_t generation = a.generation;
  a.stable_timer->async_wait([this, id, generation](boost::system::error_code ec) {
    if (ec) return;
    Agent* ag = registry_.find(id);
    if (!ag || !ag->proc || ag->generation != generation) return;  // exited (or another process) since
    try {
      ran_stable(*ag);
    } catch (const std::exception& e) {
      spdlog::error("agent {}: recording a stable run: {}", id, e.what());
    }
  });
}

// The error streak starts again, and the daemon resolves the start_limit and error_streak
// alerts (resolved_by "operations"): their condition has ended.
void Lifecycle::ran_stable(Agent& a) {
  bool open = false;
  for (const auto& type : crash_loop_alerts())
    open = open || alerts::open_id(registry_.journal().store().statements(), type, a.rec.id).has_value();
  if (!open && a.rec.error_streak == 0) return;
  a.rec.error_streak = 0;
  if (open) spdlog::info("agent {}: stable for {} s; its crash-loop alerts are resolved", a.rec.id,
                         config_.restart.reset_after_stable_seconds);
  registry_.commit(a, {}, {}, open ? crash_loop_alerts() : std::vector<std::string>{});
}

// ---------------------------------------------------------------------------------------
// Exits

// classify_exit names the lifecycle event from everything that decides it (what was asked
// for, the worker's work, the restart policy), the table gives the status and the effects,
// and the exit is committed (row, events, alert) before any effect runs.
void Lifecycle::exited(Agent& a, const proc::ExitInfo& exit) {
  const double ran = std::chrono::duration<double>(Clock::now() - a.started_steady).count();
  if (a.stable_timer) a.stable_timer->cancel();
  a.rec.last_exit = exit.describe();
  const ExitIntent intent = std::exchange(a.intent, ExitIntent::none);
  const bool worker = a.rec.role == AgentRole::worker;
  const std::string id = a.rec.id;
  spdlog::info("agent {}: {} after {:.3f} s", id, exit.describe(), ran);

  ExitContext ctx;
  ctx.status = a.rec.status;
  ctx.intent = intent;
  ctx.worker = worker;
  ctx.worker_has_work = worker && !shutting_down_ && a.rec.current_work_order.has_value();
  ctx.shutting_down = shutting_down_;
  ctx.held = a.rec.status == AgentStatus::paused && a.rec.reason != "squad";
  ctx.on_demand = a.rec.role == AgentRole::ceo;
  const bool asked = intent != ExitIntent::none || a.rec.status == AgentStatus::stopping;
  // The restart policy is asked (and counts the failure) only about an exit it may restart.
  RestartDecision d;
  const bool consulted = !asked && !shutting_down_ && a.rec.status != AgentStatus::quarantined && !ctx.held &&
                         !ctx.on_demand && (!worker || ctx.worker_has_work);
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
  const std::string asked_reason = std::exchange(a.intent_reason, {});
  const std::string asked_by = std::exchange(a.intent_actor, {});
  switch (ev) {
    case AgentEvent::exit_as_asked: reason = asked_reason.empty() ? "operator" : asked_reason; break;
    case AgentEvent::exit_at_shutdown: reason = "daemon_stop"; break;
    case AgentEvent::exit_for_restart: reason = asked_reason.empty() ? "operator_restart" : asked_reason; break;
    case AgentEvent::exit_failed: reason = "start_limit"; break;
    default: break;
  }
  const AgentMove m = registry_.move(a, ev, reason);

  json data = exit_data(exit, ran);
  // A worker gone for good says so in its exit event: the dispatcher hands its slot back.
  if ((m.effects & effect::hand_back) && worker)
    data["gone"] = ev == AgentEvent::exit_as_asked ? "operator" : ev == AgentEvent::exit_failed ? "failed" : "exited";
  std::vector<EventDraft> events;
  std::vector<alerts::Draft> raise;
  if (asked) {
    const bool by_operator = ev != AgentEvent::exit_at_shutdown && intent != ExitIntent::none;
    const std::string actor = !by_operator ? "operations" : asked_by.empty() ? "operator" : asked_by;
    events.push_back(registry_.event(a, "agent.stopped", data, actor));
  } else {
    if (consulted && ev == AgentEvent::exit_stays_down) data["policy"] = config_.restart.policy;
    events.push_back(registry_.event(a, "agent.exited", data));
  }
  if (m.effects & effect::arm_backoff)
    events.push_back(registry_.event(a, "agent.restarting",
                                     {{"delay_seconds", d.delay_seconds}, {"attempt", a.history.consecutive_failures}}));
  if (m.effects & effect::raise_alert) {
    events.push_back(registry_.event(a, "agent.failed", {{"starts", a.history.starts.size()},
                                                         {"window_seconds", config_.restart.start_limit_interval_seconds}}));
    const std::string msg = id + " crashed " + std::to_string(a.history.starts.size()) + " times within " +
                            std::to_string(static_cast<long>(config_.restart.start_limit_interval_seconds)) +
                            " s (last: " + exit.describe() + "); it stays failed until: co agent start " + id;
    spdlog::error("{}", msg);
    raise.push_back(alerts::about_agent(alerts::Severity::critical, "start_limit", id, a.rec.factory, msg,
                                        {{"last_exit", exit.describe()}}));
  }
  if (consulted && !exit.success())
    if (auto streak = error_streak_draft(config_, a, exit.describe())) raise.push_back(std::move(*streak));
  // An exit the policy leaves down is final: the patrol must agree (and so must a worker's slot).
  if (ev == AgentEvent::exit_stays_down && (worker || consulted || ctx.held || ctx.on_demand))
    a.rec.want_running = false;
  if (ev == AgentEvent::exit_for_restart) a.intent = ExitIntent::restart;  // counted as a restart by the launcher
  registry_.commit(a, std::move(events), raise);

  // Effects, once the exit is on disk.
  if (m.effects & effect::arm_backoff) schedule_restart(a, d.delay_seconds);
  if (m.effects & effect::enqueue_start) launcher_.enqueue(a);
  if (shutting_down_) stop_phase(shutdown_phase_);
  launcher_.pump();
}

void Lifecycle::lost(Agent& a, const std::string& why) {
  spdlog::warn("agent {}: lost ({})", a.rec.id, why);
  const bool was_stopping = a.rec.status == AgentStatus::stopping;
  a.rec.pid = 0;
  std::vector<EventDraft> events;
  if (was_stopping) {  // stopping -> stopped: it went while we were away
    registry_.move(a, AgentEvent::lost, a.rec.want_running ? "daemon_stop" : "operator");
    events.push_back(registry_.event(a, "agent.stopped", {{"why", why}}));
    registry_.commit(a, std::move(events));
    return;
  }
  registry_.move(a, AgentEvent::lost, "daemon_restart");
  events.push_back(registry_.event(a, "agent.lost", {{"why", why}}));
  // Handled as an exit. A worker is not restarted here: the dispatcher's reconciliation
  // decides about its slot. Past the start limit it stays down too (no alert for a loss).
  RestartDecision decision;
  if (restarted_by_policy(a.rec.role) && a.rec.want_running)
    decision = decide_restart(config_.restart, config_.operations.restart_on_failure, ExitFacts{}, a.history,
                              Clock::now());
  if (decision.action == RestartDecision::Action::restart) {
    registry_.move(a, AgentEvent::exit_restart, "lost");  // lost -> backoff
    events.push_back(registry_.event(a, "agent.restarting", {{"delay_seconds", decision.delay_seconds}}));
    registry_.commit(a, std::move(events));
    schedule_restart(a, decision.delay_seconds);
  } else {
    registry_.move(a, AgentEvent::exit_stays_down, "lost");  // lost -> stopped
    events.push_back(registry_.event(a, "agent.stopped", {}));
    registry_.commit(a, std::move(events));
  }
}

void Lifecycle::schedule_restart(Agent& a, double delay_seconds) {
  if (shutting_down_) return;
  if (delay_seconds <= 0) {
    a.restart_at.reset();
    launcher_.enqueue(a);
    return;
  }
  if (!a.restart_timer) a.restart_timer = std::make_unique<asio::steady_timer>(io_);
  a.restart_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay_seconds));
  a.restart_timer->expires_at(*a.restart_at);
  const std::string id = a.rec.id;
  a.restart_timer->async_wait([this, id](boost::system::error_code ec) {
    if (ec) return;
    if (auto ag = registry_.find(id)) {
      ag->restart_at.reset();
      if (ag->rec.want_running && ag->rec.status == AgentStatus::backoff) launcher_.enqueue(*ag);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Stopping

void Lifecycle::begin_stop(Agent& a, ExitIntent intent, const std::string& actor, const std::string& reason,
                           std::vector<Agent*>* batch) {
  if (a.restart_timer) a.restart_timer->cancel();
  a.restart_at.reset();
  launcher_.dequeue(a);
  // The reason is the caller's: an operator's stop says "operator", the patrol's reclaim
  // "idle_timeout", a release after review "work_order_review".
  const std::string status_reason = !reason.empty()                 ? reason
                                    : intent == ExitIntent::shutdown  ? "daemon_stop"
                                    : intent == ExitIntent::restart ? "operator_restart"
                                                                    : "operator";
  const AgentEvent ev = intent == ExitIntent::kill      ? AgentEvent::kill
                        : intent == ExitIntent::restart ? AgentEvent::restart
                                                        : AgentEvent::stop;
  if (a.proc) {
    const bool was_stopping = a.rec.status == AgentStatus::stopping;
    const AgentMove m = registry_.move(a, ev, status_reason);  // -> stopping
    a.intent = intent;
    a.intent_reason = status_reason;
    a.intent_actor = actor;
    const auto grace = (m.effects & effect::kill_now) ? std::chrono::milliseconds(0)
                                                      : to_ms(config_.operations.stop_timeout_seconds);
    // Signal first, record after: the stop must not wait for an fsync (nor ten of them).
    a.proc->process.stop(grace);
    if (!was_stopping) {
      a.pending.push_back(registry_.event(a, "agent.stopping",
                                          {{"signal", intent == ExitIntent::kill ? "SIGKILL" : "SIGTERM"},
                                           {"grace_seconds", std::chrono::duration<double>(grace).count()}},
                                          actor));
      if (batch) batch->push_back(&a);
      else registry_.commit(a, {});
    }
    return;
  }
  if (a.busy) {  // launching: stopped as soon as it runs (the launcher's `started` report)
    a.intent = intent;
    a.intent_reason = status_reason;
    a.intent_actor = actor;
    return;
  }
  // No process: backoff and lost become stopped; stopped and failed stay as they are.
  const AgentStatus before = a.rec.status;
  registry_.move(a, ev, status_reason);
  if (a.rec.status == before) {
    registry_.commit(a, {});  // only want_running may have changed
    return;
  }
  registry_.commit(a, {registry_.event(a, "agent.stopped", {}, actor)});
}

// ---------------------------------------------------------------------------------------
// Freezing

bool Lifecycle::freeze(Agent& a, AgentEvent event, const std::string& reason, const std::string& actor, json data) {
  if (!a.proc) throw Error(Errc::conflict, a.rec.id + " has no process to pause (it is " + to_string(a.rec.status) + ")",
                           json{{"id", a.rec.id}, {"status", to_string(a.rec.status)}});
  if (!next(a.rec.status, event))
    throw Error(Errc::conflict, a.rec.id + " is " + to_string(a.rec.status) + ": it cannot be paused now",
                json{{"id", a.rec.id}, {"status", to_string(a.rec.status)}});
  const AgentStatus was = a.rec.status;
  const AgentMove m = registry_.move(a, event, reason);
  // Signalled before the commit: the freeze must not wait for an fsync.
  if (m.effects & effect::freeze) a.proc->process.signal_group(SIGSTOP);
  if (was == a.rec.status) {
    registry_.commit(a, {});
    return false;
  }
  data["was"] = to_string(was);
  registry_.commit(a, {registry_.event(a, event == AgentEvent::quarantine ? "agent.quarantined" : "agent.paused",
                                       std::move(data), actor)});
  return true;
}

bool Lifecycle::thaw(Agent& a, AgentEvent event, const std::string& reason, const std::string& actor) {
  if (!next(a.rec.status, event))
    throw Error(Errc::conflict, a.rec.id + " is " + to_string(a.rec.status) + ": there is nothing to resume",
                json{{"id", a.rec.id}, {"status", to_string(a.rec.status)}});
  const AgentStatus was = a.rec.status;
  const AgentMove m = registry_.move(a, event, reason);
  if ((m.effects & effect::thaw) && a.proc) a.proc->process.signal_group(SIGCONT);
  // Frozen, it could neither heartbeat nor show activity: its spans start over.
  a.last_activity_steady = Clock::now();
  a.last_beat = Clock::now();
  if (was == a.rec.status) {
    registry_.commit(a, {});
    return false;
  }
  registry_.commit(a, {registry_.event(a, event == AgentEvent::release ? "agent.released" : "agent.resumed",
                                       {{"was", to_string(was)}}, actor)});
  if (on_running_) on_running_(a);
  return true;
}

void Lifecycle::reset(Agent& a, const std::string& actor) {
  const json was = {{"error_streak", a.rec.error_streak}, {"restart_count", a.rec.restart_count},
                    {"status", to_string(a.rec.status)}};
  const AgentStatus before = a.rec.status;
  registry_.move(a, AgentEvent::reset, "reset");  // the table clears the start history
  a.rec.error_streak = 0;
  a.rec.restart_count = 0;
  // Supervisors and QA are the patrol's to start again; workers wait for a dispatch, the CEO
  // for an operator.
  if (restarted_by_policy(a.rec.role)) a.rec.want_running = true;
  registry_.commit(a, {registry_.event(a, "agent.reset", {{"was", was}}, actor)}, {}, crash_loop_alerts());
  if (before == AgentStatus::backoff) {  // its backoff is over: it starts now
    if (a.restart_timer) a.restart_timer->cancel();
    a.restart_at.reset();
    launcher_.enqueue(a);
  }
}

bool Lifecycle::refreeze(Agent& a) {
  if (!a.proc || !frozen(a.rec.status)) return false;
  if (proc::group_stopped(a.proc->identity.pid)) return false;
  a.proc->process.signal_group(SIGSTOP);
  spdlog::warn("agent {}: found running while {}; stopped again", a.rec.id, to_string(a.rec.status));
  registry_.commit(a, {registry_.event(a, "agent.refrozen", {{"pid", a.proc->identity.pid}})});
  return true;
}

void Lifecycle::resume_stop(Agent& a) {
  if (!a.proc) return;
  a.intent = a.rec.want_running ? ExitIntent::shutdown : ExitIntent::stop;
  a.proc->process.stop(to_ms(config_.operations.stop_timeout_seconds));
}

void Lifecycle::stop_all(std::function<void()> done) {
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  launcher_.close();
  for (auto& [id, a] : registry_.all()) {
    if (!a->proc && !a->busy && a->rec.status == AgentStatus::backoff)
      begin_stop(*a, ExitIntent::shutdown, "operations", "daemon_stop");
  }
  shutdown_phase_ = 0;
  stop_phase(0);
}

// Workers, then QA, then supervisors: each phase is signalled together (one transaction)
// and waited for; exited() resumes the phase.
void Lifecycle::stop_phase(std::size_t phase) {
  if (!shutdown_done_) return;
  for (; phase <= 2; ++phase) {
    shutdown_phase_ = phase;
    int pending = 0;
    std::vector<Agent*> batch;
    for (auto& [id, a] : registry_.all()) {
      if (shutdown_phase_of(a->rec.role) != static_cast<int>(phase)) continue;
      if (!a->proc && !a->busy) continue;
      ++pending;
      if (a->intent != ExitIntent::shutdown && a->intent != ExitIntent::kill && a->intent != ExitIntent::stop)
        begin_stop(*a, ExitIntent::shutdown, "operations", "daemon_stop", &batch);
    }
    registry_.commit_batch(batch);
    if (pending) return;
  }
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  asio::post(io_, std::move(done));
}

void Lifecycle::release_all() {
  shutting_down_ = true;
  launcher_.close();
  std::vector<Agent*> batch;
  for (auto& [id, a] : registry_.all()) {
    if (a->restart_timer) a->restart_timer->cancel();
    if (a->stable_timer) a->stable_timer->cancel();
    if (a->proc) a->proc->process.release();
    if (!a->pending.empty()) batch.push_back(a.get());
  }
  registry_.commit_batch(batch);  // starts not yet recorded: the next daemon must find them
}

}  // namespace vermas
