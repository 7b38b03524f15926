#pragma once
// Dispatch: a work order into a factory's lowest free worker slot, with its own branch
// `work/<id>` and worktree, the assignment file of spec §2, and a worker started with
// WORK_ORDER. The slot stays the work order's until the work leaves the worker's hands
// (review, done, canceled, failed, open) or the worker is gone for good; then the slot
// is freed: the worktree is saved to refs/vermas/wip/... first, the worker stopped, the
// assignment file and the worktree removed. At start-up, slots, assignment files and
// worktrees are reconciled and what was found and fixed is recorded as events.
//
// Slots are a projection (the `slots` table, from slot.assigned / slot.freed events);
// `reserved_` only covers the git work of a dispatch or a release in flight.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "daemon/work/slot_reservation.hpp"
#include "common/paths.hpp"
#include "daemon/factories.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/agents/supervisor.hpp"
#include "daemon/work/work_orders.hpp"

namespace vermas {

struct SlotRow {
  std::string factory;
  int slot = 0;
  std::string work_order;
  std::string agent;
  std::string branch;
  std::string worktree;
  std::optional<std::string> team;
  std::string assigned_at;
  int stuck_restarts = 0;  // the patrol restarted its stuck worker this often (this work order)
  nlohmann::json to_json() const;
};

class Dispatcher {
 public:
  Dispatcher(boost::asio::io_context& io, const Config& config, const Paths& paths, Journal& journal,
             Factories& factories, Supervisor& supervisor, WorkOrders& work_orders);
  ~Dispatcher();

  // Subscribes to the journal: work leaving a worker's hands, and workers gone for good.
  void attach();
  boost::asio::awaitable<nlohmann::json> dispatch(std::string work_order, std::string factory,
                                                  std::optional<std::string> team, WoActor actor);
  // Frees a slot (co worker kill, agent stop of a worker): saves, stops, removes; a work
  // order still held goes back to the pool (open, or blocked where open is not allowed).
  boost::asio::awaitable<nlohmann::json> release(std::string factory, int slot, std::string reason, WoActor actor,
                                                 bool kill);
  boost::asio::awaitable<void> reconcile();
  // Start-up is over (re-adoption, then reconcile): dispatches and spawns wait for this, so
  // one arriving right after `co operations start` is neither undone by the reconciliation
  // (its assignment file taken for a crash's leftover) nor undoes it.
  void ready();
  // Stops an agent for good, in the background: a worker through its slot (saved, stopped,
  // freed; its work order back to the pool), any other agent through the supervisor.
  void retire(const std::string& agent, const std::string& reason);
  // The patrol's remedies (daemon/work/remedies.cpp): an idle worker without work reclaimed;
  // a stuck worker restarted in its slot, or, past [worker] max_stuck_restarts, its work
  // order given back to open and its supervisor told. Each saves the worktree first.
  void remedy(const Remedy& remedy);
  // worker.spawn: a worker without a work order in the lowest free slot, in its own worktree.
  boost::asio::awaitable<AgentView> spawn_worker(std::string factory, std::string actor);

  std::optional<SlotRow> slot_of(const std::string& factory, int slot) const;
  std::optional<SlotRow> slot_for_agent(const std::string& agent) const;
  std::optional<SlotRow> slot_for_work_order(const std::string& id) const;
  std::vector<SlotRow> slots() const;
  void shutting_down() {
    stopping_ = true;
    ready();  // nothing waits for a start-up that will not finish
  }

 private:
  boost::asio::awaitable<void> until_ready();
  void on_event(const Event& e);
  int lowest_free_slot(const std::string& factory) const;
  // The lowest slot whose worker runs without work (running or idle, no slot row), if any.
  std::optional<int> idle_worker_slot(const std::string& factory) const;
  void release_soon(const std::string& factory, int slot, std::string reason, WoActor actor, bool return_work);
  boost::asio::awaitable<nlohmann::json> free_slot(std::string factory, int slot, std::string reason, WoActor actor,
                                                   bool kill, bool return_work);
  boost::asio::awaitable<std::optional<std::string>> save(const std::string& factory, int slot,
                                                          const std::string& worktree, const std::string& reason,
                                                          const std::optional<std::string>& work_order,
                                                          std::optional<std::string> previous,
                                                          std::vector<std::string>* refs = nullptr);
  boost::asio::awaitable<void> reclaim_idle(Remedy r);
  boost::asio::awaitable<void> unstick(Remedy r);
  boost::asio::awaitable<void> restart_stuck(Remedy r, SlotRow row);
  boost::asio::awaitable<void> give_back(Remedy r, SlotRow row);
  void return_to_pool(const std::string& work_order, const std::string& reason, const WoActor& actor);
  int slot_count(const std::string& factory) const;
  std::string default_worktree(const std::string& factory, int slot) const;
  std::filesystem::path assignment_file(const std::string& factory, int slot) const;
  void write_assignment(const SlotRow& row, const std::string& title) const;
  void record(const std::string& type, const std::string& factory, const std::optional<std::string>& subject,
              nlohmann::json data, const std::string& actor = "operations");

  boost::asio::io_context& io_;
  const Config& config_;
  Paths paths_;
  Journal& journal_;
  Factories& factories_;
  Supervisor& supervisor_;
  WorkOrders& work_orders_;
  // Shared only so that a Reservation outliving the dispatcher finds it gone.
  std::shared_ptr<ReservedSlots> reserved_ = std::make_shared<ReservedSlots>();  // dispatching into, or releasing
  std::uint64_t subscription_ = 0;
  bool stopping_ = false;
  bool ready_ = false;
  boost::asio::steady_timer ready_timer_;  // never expires: cancelled once ready, waking every waiter
};

}  // namespace vermas
