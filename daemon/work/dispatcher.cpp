#include "daemon/work/dispatcher.hpp"
#include "daemon/error.hpp"
#include "common/json.hpp"

#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/work/slot_reservation.hpp"
#include "daemon/work/worktrees.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

bool held(const wo::WorkOrder& work_order) {
  auto s = work_order.status();
  return s && wo::held_by_worker(*s);
}

constexpr const char* kSlotColumns =
    "factory, slot, work_order, agent, branch, worktree, team, assigned_at, stuck_restarts";

SlotRow read_slot(const sql::Stmt& s) {
  return {s.text(0), static_cast<int>(s.int64(1)), s.text(2), s.text(3), s.text(4),
          s.text(5), s.opt_text(6), s.text(7), static_cast<int>(s.int64(8))};
}

}  // namespace

json SlotRow::to_json() const {
  return {{"factory", factory}, {"slot", slot},         {"work_order", work_order},
          {"agent", agent},     {"branch", branch},     {"worktree", worktree},
          {"team", team ? json(*team) : json(nullptr)}, {"assigned_at", assigned_at}, {"stuck_restarts", stuck_restarts}};
}

Dispatcher::Dispatcher(asio::io_context& io, const Config& config, const Paths& paths, Journal& journal,
                       Factories& factories, Supervisor& supervisor, WorkOrders& work_orders)
    : io_(io), config_(config), paths_(paths), journal_(journal), factories_(factories), supervisor_(supervisor),
      work_orders_(work_orders), ready_timer_(io, boost::asio::steady_timer::time_point::max()) {}

void Dispatcher::ready() {
  ready_ = true;
  ready_timer_.cancel();
}

asio::awaitable<void> Dispatcher::until_ready() {
  while (!ready_) {
    boost::system::error_code ec;
    co_await ready_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (stopping_) throw Error(Errc::unavailable, "the daemon is shutting down");
}

Dispatcher::~Dispatcher() {
  if (subscription_) journal_.unsubscribe(subscription_);
}

void Dispatcher::attach() {
  subscription_ = journal_.subscribe([this](const Event& e) {
    on_event(e);
    return true;
  });
}

// The dispatcher learns what happened to its workers and work orders from the log: the
// supervisor never calls it.
void Dispatcher::on_event(const Event& e) {
  if (!e.subject || stopping_) return;
  if (e.event_type == "wo.transitioned") {
    auto to = wo::parse_status(e.data.value("to", ""));
    if (!to || wo::held_by_worker(*to)) return;
    // The work left the worker's hands: a crash from now on is not restarted, and its slot
    // is freed (after this commit's answer).
    if (auto row = slot_for_work_order(*e.subject)) {
      supervisor_.assign_work(row->agent, std::nullopt);
      release_soon(row->factory, row->slot, std::string("work_order_") + wo::to_string(*to), WoActor::operations(),
                   false);
    }
    return;
  }
  // A worker gone for good (not a restart, not a daemon stop): "exited", "operator" or
  // "failed". Its work order goes back to the pool and its slot is freed.
  if (e.data.is_object() && e.data.contains("gone") && e.data["gone"].is_string()) {
    const std::string how = e.data["gone"];
    if (auto row = slot_for_agent(*e.subject))
      release_soon(row->factory, row->slot, "worker_" + how, how == "operator" ? WoActor{} : WoActor::operations(),
                   true);
  }
}

// The lowest slot neither assigned, nor being prepared or released, nor running a worker
// (one spawned without work); -32002 when there is none or max_agents run.
int Dispatcher::lowest_free_slot(const std::string& factory) const {
  const int slots = slot_count(factory);
  int slot = -1;
  for (int n = 0; n < slots && slot < 0; ++n)
    if (!reserved_->count({factory, n}) && !slot_of(factory, n) &&
        !supervisor_.is_live(agent_id_for(factory, AgentRole::worker, n)) &&
        !supervisor_.is_quarantined(agent_id_for(factory, AgentRole::worker, n)))  // held out of work
      slot = n;
  if (slot < 0)
    throw Error(Errc::conflict,
                     "no free slot: all " + std::to_string(slots) + " worker slots of " + factory + " are taken",
                     json{{"factory", factory}, {"max_slots_per_factory", slots}});
  if (supervisor_.live_process_count() >= config_.operations.max_agents)
    throw Error(Errc::conflict,
                     "max_agents (" + std::to_string(config_.operations.max_agents) + ") agents are running",
                     json{{"max_agents", config_.operations.max_agents}});
  return slot;
}

std::optional<int> Dispatcher::idle_worker_slot(const std::string& factory) const {
  AgentFilter f;
  f.factory = factory;
  f.role = AgentRole::worker;
  std::optional<int> best;
  for (const AgentView& v : supervisor_.list(f)) {
    const AgentRecord& r = v.record;
    if (!v.pid || !r.slot || r.current_work_order || !r.want_running) continue;
    if (r.status != AgentStatus::running && r.status != AgentStatus::idle) continue;
    if (reserved_->count({factory, *r.slot}) || slot_of(factory, *r.slot)) continue;
    if (!best || *r.slot < *best) best = *r.slot;
  }
  return best;
}

asio::awaitable<AgentView> Dispatcher::spawn_worker(std::string factory, std::string actor) {
  co_await until_ready();
  if (supervisor_.starts_held())
    throw Error(Errc::conflict, "squad paused: no dispatch or spawn until co resume --all", json{{"squad", "paused"}});
  factories_.require(factory);
  const int slot = lowest_free_slot(factory);
  Reservation reservation(reserved_, {factory, slot});  // the slot is ours while git makes the worktree
  std::string error;
  std::string worktree = co_await factories_.ensure_slot_worktree(factory, slot, &error);
  if (worktree.empty()) throw Error(Errc::conflict, "cannot prepare the worker's worktree: " + error);
  AgentView started = co_await supervisor_.start_worker(factory, slot, std::nullopt, "", actor);
  // A worker whose start failed has given its slot back already (the exit's hand-back): the
  // spawn failed, and says why, instead of answering with a worker that is not there.
  const AgentStatus status = started.record.status;
  if (!started.pid && (status == AgentStatus::failed || status == AgentStatus::stopped))
    throw Error(Errc::conflict,
                started.record.id + " did not start (" + started.record.last_exit.value_or(started.record.reason) + ")",
                json{{"agent", started.record.id}, {"worker", to_json(started)}});
  co_return started;
}

void Dispatcher::release_soon(const std::string& factory, int slot, std::string reason, WoActor actor,
                              bool return_work) {
  if (reserved_->count({factory, slot})) return;  // a dispatch or release is already at it
  asio::co_spawn(io_, free_slot(factory, slot, std::move(reason), std::move(actor), false, return_work),
                 [factory, slot](std::exception_ptr ep, const json&) {
                   if (!ep) return;
                   try {
                     std::rethrow_exception(ep);
                   } catch (const std::exception& ex) {
                     spdlog::error("freeing slot {} of {}: {}", slot, factory, ex.what());
                   }
                 });
}

// ---------------------------------------------------------------------------------------
// Reading slots

std::optional<SlotRow> Dispatcher::slot_of(const std::string& factory, int slot) const {
  sql::Stmt s(journal_.store().statements(),
              std::string("SELECT ") + kSlotColumns + " FROM slots WHERE factory = ? AND slot = ?", "reading a slot");
  s.bind(1, factory).bind(2, slot);
  if (!s.step()) return std::nullopt;
  return read_slot(s);
}

std::optional<SlotRow> Dispatcher::slot_for_agent(const std::string& agent) const {
  sql::Stmt s(journal_.store().statements(), std::string("SELECT ") + kSlotColumns + " FROM slots WHERE agent = ?",
              "reading a slot");
  s.bind(1, agent);
  if (!s.step()) return std::nullopt;
  return read_slot(s);
}

std::optional<SlotRow> Dispatcher::slot_for_work_order(const std::string& id) const {
  sql::Stmt s(journal_.store().statements(),
              std::string("SELECT ") + kSlotColumns + " FROM slots WHERE work_order = ?", "reading a slot");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_slot(s);
}

std::vector<SlotRow> Dispatcher::slots() const {
  sql::Stmt s(journal_.store().statements(), std::string("SELECT ") + kSlotColumns + " FROM slots ORDER BY factory, slot",
              "listing slots");
  std::vector<SlotRow> out;
  while (s.step()) out.push_back(read_slot(s));
  return out;
}

int Dispatcher::slot_count(const std::string& factory) const {
  return factories_.config(factory).value.worker.max_slots_per_factory.value_or(config_.worker.max_slots_per_factory);
}

std::string Dispatcher::default_worktree(const std::string& factory, int slot) const {
  const FactoryRecord* f = factories_.find(factory);
  fs::path repo = f ? fs::path(f->path) : paths_.factory_dir(factory);
  return (repo / ".worktrees" / ("slot" + std::to_string(slot))).string();
}

fs::path Dispatcher::assignment_file(const std::string& factory, int slot) const {
  return paths_.assignment_file(factory, slot);
}

void Dispatcher::write_assignment(const SlotRow& row, const std::string& title) const {
  json j = row.to_json();
  j["title"] = title;
  const fs::path file = assignment_file(row.factory, row.slot);
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    if (!out) throw Error(Errc::unavailable, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);  // whole or not at all: an agent never reads half a file
  if (ec) throw Error(Errc::unavailable, "cannot write " + file.string() + ": " + ec.message());
}

void Dispatcher::record(const std::string& type, const std::string& factory, const std::optional<std::string>& subject,
                        json data, const std::string& actor) {
  journal_.record({type, actor, factory, subject, std::move(data)});
}

// ---------------------------------------------------------------------------------------
// Dispatch

asio::awaitable<json> Dispatcher::dispatch(std::string id, std::string factory, std::optional<std::string> team,
                                           WoActor actor) {
  co_await until_ready();
  if (supervisor_.starts_held())
    throw Error(Errc::conflict, "squad paused: no dispatch or spawn until co resume --all", json{{"squad", "paused"}});
  auto check = [&]() -> wo::WorkOrder {
    wo::WorkOrder w = work_orders_.require(id);
    if (w.factory && *w.factory != factory)
      throw Error(Errc::conflict, "work order " + id + " belongs to factory " + *w.factory,
                  json{{"work_order", id}, {"factory", *w.factory}});
    if (auto row = slot_for_work_order(id))
      throw Error(Errc::conflict, "work order " + id + " is already dispatched to " + row->agent,
                       json{{"work_order", id}, {"slot", row->to_json()}});
    work_orders_.check_transition(w, wo::Status::assigned, actor);
    return w;
  };
  const FactoryRecord f = factories_.require(factory);
  check();
  std::optional<TeamRecord> team_record;
  if (team) {
    for (const auto& t : factories_.teams(factory))
      if (t.name == *team) team_record = t;
    if (!team_record)
      throw Error(Errc::not_found, "no team '" + *team + "' in factory " + factory + " (see: co team list)",
                       json{{"team", *team}, {"factory", factory}});
  }
  // A running worker without work (spawned by hand, or done with its last work order) takes
  // it before a new slot is spawned into.
  const std::optional<int> idle = team ? std::nullopt : idle_worker_slot(factory);
  const int slot = idle ? *idle : lowest_free_slot(factory);
  Reservation reservation(reserved_, {factory, slot});
  const std::string agent = agent_id_for(factory, AgentRole::worker, slot);
  const std::string worktree = team_record ? team_record->path : default_worktree(factory, slot);
  const std::string branch = team_record ? team_record->branch : "work/" + id;
  if (idle) {
    // Its worktree is saved (what it left is in a wip ref) and put on the work order's branch.
    auto saved = co_await save(factory, slot, worktree, "dispatch to an idle worker", std::nullopt, std::nullopt);
    if (!saved) throw Error(Errc::conflict, "cannot save the idle worker's worktree " + worktree + "; see the log");
    std::string err = co_await worktrees::switch_to(f.path, worktree, branch);
    if (!err.empty()) throw Error(Errc::conflict, "cannot put the idle worker's worktree on " + branch + ": " + err);
  } else if (!team_record) {
    std::error_code ec;
    if (fs::exists(worktree, ec)) {
      // A leftover (a worker spawned without work, or an interrupted release): save, remove.
      auto saved = co_await save(factory, slot, worktree, "dispatch found a leftover worktree", std::nullopt, std::nullopt);
      if (!saved) throw Error(Errc::conflict, "cannot save the leftover worktree " + worktree + "; see the log");
      std::string err = co_await worktrees::remove(f.path, worktree);
      if (!err.empty()) throw Error(Errc::conflict, err);
    }
    std::string err = co_await worktrees::add(f.path, worktree, branch);
    if (!err.empty()) throw Error(Errc::conflict, "cannot prepare the worker's worktree: " + err);
  }
  const wo::WorkOrder w = check();  // again: the work order may have moved while git ran
  SlotRow row{factory, slot, id, agent, branch, worktree, team, now_rfc3339_ms()};
  write_assignment(row, w.title);
  json slot_data = row.to_json();
  slot_data.erase("assigned_at");  // the event's ts
  try {
    WoTransition t{id, wo::Status::assigned, "dispatched to " + agent, std::nullopt, json(agent), factory};
    work_orders_.transition(t, actor, {EventDraft{"slot.assigned", actor.id, factory, id, slot_data}});
  } catch (...) {
    std::error_code ec;
    fs::remove(assignment_file(factory, slot), ec);
    throw;
  }
  reservation.release();
  if (idle && supervisor_.agent(agent).pid) {
    // Its process runs on: WORK_ORDER in its environment is from its start, so the work
    // reaches it as mail (and typed into its pane under tmux) and in its assignment file.
    supervisor_.assign_work(agent, id);
    supervisor_.note_activity(agent);  // its quiet spell ends: no stuck deadline from before the work
    supervisor_.tell(agent, "ASSIGNED",
                     "You have work: " + id + " \"" + w.title + "\" on branch " + branch + " in your worktree " +
                         worktree + " (what was there is saved in a wip ref). The assignment is also in " +
                         assignment_file(factory, slot).string() + ". Start it: wo transition " + id +
                         " --to in_progress --reason start",
                     "ASSIGNED: " + id + " " + w.title + "; read your mail: co mail inbox");
    const AgentView worker = supervisor_.agent(agent);
    co_return json{{"agent", agent},   {"slot", slot},   {"worktree", worktree},
                   {"branch", branch}, {"work_order", wo::to_json(work_orders_.require(id))},
                   {"worker", to_json(worker)}, {"reused", true}};
  }
  AgentView worker = co_await supervisor_.start_worker(factory, slot, id, worktree, actor.id);
  const AgentStatus status = worker.record.status;
  if (status == AgentStatus::failed || status == AgentStatus::stopped) {
    release_soon(factory, slot, "worker_start_failed", WoActor::operations(), true);
    throw Error(Errc::conflict,
                "work order " + id + " was assigned to " + agent + " but the worker did not start (" +
                    worker.record.last_exit.value_or("see co agent show " + agent) +
                    "); the work order goes back to open",
                json{{"agent", agent}, {"worker", to_json(worker)}});
  }
  co_return json{{"agent", agent},   {"slot", slot},   {"worktree", worktree},
                 {"branch", branch}, {"work_order", wo::to_json(work_orders_.require(id))}, {"worker", to_json(worker)},
                 {"reused", false}};
}

// ---------------------------------------------------------------------------------------
// Freeing

asio::awaitable<std::optional<std::string>> Dispatcher::save(const std::string& factory, int slot,
                                                             const std::string& worktree, const std::string& reason,
                                                             const std::optional<std::string>& work_order,
                                                             std::optional<std::string> previous,
                                                             std::vector<std::string>* refs) {
  const FactoryRecord* f = factories_.find(factory);
  if (!f) co_return previous.value_or("");
  const std::string repo = f->path;
  auto s = co_await worktrees::save(repo, worktree, factory, slot, reason, paths_.work_dir() / "tmp", previous);
  json data = s.to_json();
  data["factory"] = factory;
  data["slot"] = slot;
  data["worktree"] = worktree;
  data["reason"] = reason;
  if (!s.error.empty()) {
    spdlog::error("saving {}: {}", worktree, s.error);
    record("worktree.save_failed", factory, work_order, data);
    co_return std::nullopt;
  }
  if (s.saved) {
    spdlog::info("saved {} to {} ({})", worktree, s.ref, s.commit);
    record("worktree.saved", factory, work_order, data);
    if (refs) refs->push_back(s.ref);
    co_return s.commit;
  }
  co_return previous.value_or("");
}

void Dispatcher::return_to_pool(const std::string& id, const std::string& reason, const WoActor& actor) {
  auto w = work_orders_.find(id);
  if (!w || !held(*w)) return;
  const auto from = *w->status();
  const wo::Status to = wo::transition_allowed(from, wo::Status::open) ? wo::Status::open : wo::Status::blocked;
  try {
    work_orders_.transition({id, to, reason, std::nullopt, json(nullptr), std::nullopt}, actor);
  } catch (const std::exception& e) {
    spdlog::error("returning {} to the pool: {}", id, e.what());
  }
}

asio::awaitable<json> Dispatcher::release(std::string factory, int slot, std::string reason, WoActor actor, bool kill) {
  factories_.require(factory);
  if (reserved_->count({factory, slot}))
    throw Error(Errc::conflict, "slot " + std::to_string(slot) + " of " + factory + " is busy (being dispatched or freed)");
  json out = co_await free_slot(std::move(factory), slot, std::move(reason), std::move(actor), kill, true);
  co_return out;
}

asio::awaitable<json> Dispatcher::free_slot(std::string factory, int slot, std::string reason, WoActor actor, bool kill,
                                            bool return_work) {
  if (reserved_->count({factory, slot})) co_return json{{"busy", true}};
  Reservation reservation(reserved_, {factory, slot});
  const auto row = slot_of(factory, slot);
  const std::string agent = agent_id_for(factory, AgentRole::worker, slot);
  const std::string worktree = row ? row->worktree : default_worktree(factory, slot);
  const bool team = row && row->team;
  std::optional<std::string> wo_id;
  if (row) wo_id = row->work_order;
  // Saved before the worker is stopped, and again after if it changed anything meanwhile.
  std::vector<std::string> refs;
  auto first = co_await save(factory, slot, worktree, reason, wo_id, std::nullopt, &refs);
  if (supervisor_.is_live(agent)) {
    // The stop says why: an operator's, or the daemon's own (review, idle_timeout, stuck_timeout).
    const std::string why = reason.rfind("operator", 0) == 0 ? "operator" : reason;
    AgentView stopped = co_await supervisor_.stop_agent(agent, actor.id, kill, why);
    (void)stopped;
  }
  std::optional<std::string> second;
  if (first) second = co_await save(factory, slot, worktree, reason + " (after stop)", wo_id, *first, &refs);
  const bool saved_ok = first && second;
  std::error_code ec;
  fs::remove(assignment_file(factory, slot), ec);
  bool removed = false;
  if (!team && saved_ok && factories_.find(factory)) {
    std::string err = co_await worktrees::remove(factories_.find(factory)->path, worktree);
    removed = err.empty();
    if (!err.empty()) spdlog::warn("{}", err);
  }
  json saved = json::array();  // the wip commits made for this release (see worktree.saved)
  if (first && !first->empty()) saved.push_back(*first);
  if (second && !second->empty() && second != first) saved.push_back(*second);
  json data = {{"factory", factory}, {"slot", slot}, {"agent", agent}, {"reason", reason},
               {"worktree", worktree}, {"worktree_removed", removed}, {"saved", saved}, {"refs", refs}};
  if (!saved_ok) data["kept_because"] = "the worktree could not be saved";
  if (row) {
    data["work_order"] = row->work_order;
    record("slot.freed", factory, row->work_order, data, actor.id);
  }
  supervisor_.assign_work(agent, std::nullopt);
  reservation.release();
  if (return_work && row) return_to_pool(row->work_order, reason, actor);
  co_return data;
}

void Dispatcher::retire(const std::string& agent, const std::string& reason) {
  auto report = [agent](std::exception_ptr ep, auto&&...) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("stopping {}: {}", agent, e.what());
    }
  };
  const AgentView v = supervisor_.agent(agent);
  if (v.record.role == AgentRole::worker && v.record.factory && v.record.slot) {
    asio::co_spawn(io_, release(*v.record.factory, *v.record.slot, reason, WoActor::operations(), false), report);
    return;
  }
  asio::co_spawn(io_, supervisor_.stop_agent(agent, "operations", false, reason), report);
}

// ---------------------------------------------------------------------------------------
// Reconciliation at start-up

asio::awaitable<void> Dispatcher::reconcile() {
  int fixes = 0;
  for (const SlotRow& row : slots()) {
    json found = json::array(), fixed = json::array();
    const FactoryRecord* f = factories_.find(row.factory);
    auto w = work_orders_.find(row.work_order);
    if (!f || !w || !held(*w)) {
      found.push_back(!f ? "factory not registered" : !w ? "work order unknown"
                                                          : "work order is " + w->status_text);
      json freed = co_await free_slot(row.factory, row.slot, "reconcile", WoActor::operations(), false, false);
      fixed.push_back(freed.value("worktree_removed", false) ? "slot freed, worktree saved and removed" : "slot freed");
    } else {
      std::error_code ec;
      if (!row.team && !fs::exists(row.worktree, ec)) {
        found.push_back("worktree missing");
        std::string err = co_await worktrees::add(f->path, row.worktree, row.branch);
        fixed.push_back(err.empty() ? "worktree recreated on " + row.branch : "worktree not recreated: " + err);
      }
      std::ifstream in(assignment_file(row.factory, row.slot));
      json actual = json::parse(in, nullptr, false);
      bool same = actual.is_object();
      const json expected = row.to_json();  // named: items() of a temporary dangles
      for (const auto& [key, value] : expected.items())
        if (key != "assigned_at" && (!same || actual.value(key, json()) != value)) same = false;
      if (!same) {
        found.push_back(fs::exists(assignment_file(row.factory, row.slot), ec) ? "assignment file differs"
                                                                                : "assignment file missing");
        write_assignment(row, w->title);
        fixed.push_back("assignment file rewritten");
      }
      if (!supervisor_.is_live(row.agent)) {
        found.push_back("worker not running");
        AgentView started =
            co_await supervisor_.start_worker(row.factory, row.slot, row.work_order, row.worktree, "operations");
        fixed.push_back(std::string("worker started (") + to_string(started.record.status) + ")");
      }
    }
    if (!found.empty()) {
      ++fixes;
      record("slot.reconciled", row.factory, row.work_order,
             {{"factory", row.factory}, {"slot", row.slot}, {"agent", row.agent}, {"found", found}, {"fixed", fixed}});
    }
  }
  // Assignment files without a slot: left by a crash between writing one and its commit.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(paths_.work_dir(), ec)) {
    const std::string name = entry.path().filename().string();
    const std::string head = ".assignment-", mark = "-workers-slot";
    if (name.rfind(head, 0) != 0) continue;
    auto at = name.rfind(mark);
    std::string factory = at == std::string::npos ? "" : name.substr(head.size(), at - head.size());
    int slot = -1;
    try {
      if (at != std::string::npos) slot = std::stoi(name.substr(at + mark.size()));
    } catch (const std::exception&) {
    }
    if (slot >= 0 && slot_of(factory, slot)) continue;
    std::error_code rm;
    fs::remove(entry.path(), rm);
    ++fixes;
    record("slot.reconciled", factory, std::nullopt,
           {{"factory", factory}, {"slot", slot}, {"found", json::array({"assignment file without a slot: " + name})},
            {"fixed", json::array({rm ? "could not remove it: " + rm.message() : "removed"})}});
  }
  // Slot worktrees nobody holds: saved, then removed.
  std::vector<FactoryRecord> factories;
  for (const auto& [name, f] : factories_.all()) factories.push_back(f);
  for (const FactoryRecord& f : factories) {
    const std::string& name = f.name;
    const fs::path dir = fs::path(f.path) / ".worktrees";
    std::vector<int> orphans;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string n = entry.path().filename().string();
      if (n.rfind("slot", 0) != 0 || n.size() == 4 || n.find_first_not_of("0123456789", 4) != std::string::npos) continue;
      const int slot = std::stoi(n.substr(4));
      if (!slot_of(name, slot) && !reserved_->count({name, slot}) &&
          !supervisor_.is_live(agent_id_for(name, AgentRole::worker, slot)))
        orphans.push_back(slot);
    }
    for (int slot : orphans) {
      const std::string worktree = (dir / ("slot" + std::to_string(slot))).string();
      auto saved = co_await save(name, slot, worktree, "reconcile: worktree without a slot", std::nullopt, std::nullopt);
      std::string how = "kept: it could not be saved";
      if (saved) {
        std::string err = co_await worktrees::remove(f.path, worktree);
        how = err.empty() ? "saved and removed" : "saved; not removed: " + err;
      }
      ++fixes;
      record("slot.reconciled", name, std::nullopt,
             {{"factory", name}, {"slot", slot}, {"found", json::array({"worktree without a slot: " + worktree})},
              {"fixed", json::array({how})}});
    }
  }
  spdlog::info("slots reconciled: {} fixed", fixes);
}

}  // namespace vermas
