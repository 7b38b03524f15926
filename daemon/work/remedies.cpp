// The patrol's remedies, carried out where slots and worktrees live (spec §4, "Idle and
// stuck"). The patrol decides that one is due (daemon/patrol/timeouts.hpp); here each looks
// again at what it finds (the agent may have woken, its work may have left its hands), saves
// the worktree to a wip ref before any stop, and records every step as an event.
#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "daemon/patrol/alerts.hpp"
#include "daemon/patrol/mail.hpp"
#include "daemon/work/dispatcher.hpp"
#include "daemon/work/slot_reservation.hpp"

namespace vermas {

namespace asio = boost::asio;
using nlohmann::json;

void Dispatcher::remedy(const Remedy& r) {
  if (stopping_ || r.factory.empty()) return;
  auto work = r.what == timeouts::Due::reclaim ? reclaim_idle(r) : unstick(r);
  asio::co_spawn(io_, std::move(work), [agent = r.agent](std::exception_ptr ep) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("agent {}: its remedy failed: {}", agent, e.what());
    }
  });
}

// A worker without a work order, idle for twice idle_timeout_minutes: saved, stopped, its
// worktree removed, the slot free for the next dispatch.
asio::awaitable<void> Dispatcher::reclaim_idle(Remedy r) {
  const AgentView v = supervisor_.agent(r.agent);
  if (v.record.status != AgentStatus::idle || v.record.current_work_order || slot_for_agent(r.agent)) co_return;
  json freed = co_await free_slot(r.factory, r.slot, "idle_timeout", WoActor::operations(), false, false);
  if (freed.value("busy", false)) co_return;
  freed["quiet_seconds"] = r.quiet_seconds;
  record("worker.reclaimed", r.factory, r.agent, freed);
  spdlog::info("agent {}: reclaimed after {:.1f} s idle", r.agent, r.quiet_seconds);
}

// A stuck worker, still quiet after another stuck_timeout_minutes: restarted in its slot
// while it has had fewer than max_stuck_restarts such restarts for this work order; else
// its work order goes back to open.
asio::awaitable<void> Dispatcher::unstick(Remedy r) {
  auto row = slot_for_agent(r.agent);
  if (!row || row->work_order != r.work_order.value_or("")) co_return;  // its work left its hands
  if (supervisor_.agent(r.agent).record.status != AgentStatus::stuck) co_return;  // it woke meanwhile
  if (row->stuck_restarts < config_.worker.max_stuck_restarts)
    co_await restart_stuck(std::move(r), std::move(*row));
  else
    co_await give_back(std::move(r), std::move(*row));
}

asio::awaitable<void> Dispatcher::restart_stuck(Remedy r, SlotRow row) {
  if (reserved_->count({row.factory, row.slot})) co_return;
  Reservation reservation(reserved_, {row.factory, row.slot});
  std::vector<std::string> refs;
  auto saved = co_await save(row.factory, row.slot, row.worktree, "stuck_timeout", row.work_order, std::nullopt, &refs);
  // A worktree that could not be saved is not stopped: a restart keeps its files, but no
  // stop may come before the save that protects them.
  if (!saved) co_return;
  json data = {{"factory", row.factory}, {"slot", row.slot},     {"agent", r.agent},
               {"work_order", row.work_order}, {"reason", "stuck_timeout"}, {"quiet_seconds", r.quiet_seconds},
               {"stuck_restarts", row.stuck_restarts + 1}, {"saved", saved->empty() ? json(nullptr) : json(*saved)},
               {"refs", refs}};
  record("slot.restarted", row.factory, row.work_order, data);
  spdlog::warn("agent {}: stuck on {}, restarted in slot {} ({} of {})", r.agent, row.work_order, row.slot,
               row.stuck_restarts + 1, config_.worker.max_stuck_restarts);
  AgentView restarted = co_await supervisor_.restart_agent(r.agent, "operations", "stuck_timeout");
  (void)restarted;
}

// Past max_stuck_restarts: the worker is reclaimed (saved before and after its stop), its
// work order goes in_progress -> assigned -> open through the table (each step an event),
// and the factory's supervisor gets mail naming the work order and the wip refs, with a
// `stuck` alert.
asio::awaitable<void> Dispatcher::give_back(Remedy r, SlotRow row) {
  json freed = co_await free_slot(row.factory, row.slot, "stuck_timeout", WoActor::operations(), false, false);
  if (freed.value("busy", false)) co_return;
  const std::string& id = row.work_order;
  for (wo::Status to : {wo::Status::assigned, wo::Status::open}) {
    auto w = work_orders_.find(id);
    if (!w || !w->status() || !wo::transition_allowed(*w->status(), to)) break;
    if (*w->status() != wo::Status::in_progress && to == wo::Status::assigned) continue;  // assigned already
    try {
      work_orders_.transition({id, to, "stuck_timeout", std::nullopt, json(nullptr), std::nullopt},
                              WoActor::operations());
    } catch (const std::exception& e) {
      spdlog::error("giving {} back: {}", id, e.what());
      break;
    }
  }
  const json refs = freed.value("refs", json::array());
  std::string where = "no changes to save (its branch work/" + id + " has everything)";
  if (!refs.empty()) {
    where = "its worktree was saved to";
    for (const auto& ref : refs) where += " " + ref.get<std::string>();
  }
  const int restarts = row.stuck_restarts;
  const std::string message = r.agent + " was stuck on " + id + " (no activity for " +
                              std::to_string(static_cast<long>(r.quiet_seconds)) + " s, restarted " +
                              std::to_string(restarts) + (restarts == 1 ? " time" : " times") +
                              "); " + id + " is open again for dispatch; " + where + ".";
  const std::string supervisor = agent_id_for(row.factory, AgentRole::supervisor);
  try {
    mail::send(journal_, "operations", supervisor, "STUCK",
               message + " Look at the work before dispatching it again: git log " +
                   (refs.empty() ? "work/" + id : refs.back().get<std::string>()));
  } catch (const std::exception& e) {
    spdlog::error("mail to {}: {}", supervisor, e.what());
  }
  journal_.commit([&](Store::Tx& tx) {
    alerts::raise(tx, alerts::about_agent(alerts::Severity::warning, "stuck", r.agent, row.factory, message,
                                          {{"work_order", id}, {"refs", refs}, {"stuck_restarts", restarts}}));
  });
  spdlog::warn("{}", message);
}

}  // namespace vermas
