// The reducer over random workloads: every projected table (work orders, checks, keys,
// slots, factories, teams, alerts, messages) replayed from the log, or from a checkpoint plus the rest
// of the log, equals the live tables row for row.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "daemon/patrol/alerts.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/store/store.hpp"
#include "tests/catch.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

namespace P = vermas::projections;
using vermas::EventDraft;
using vermas::Store;
using vermas::json;

// One random change, as the daemon would log it (including moves it would refuse: the
// reducer must stay total and deterministic on those too).
void random_change(Store::Tx& tx, std::mt19937& rng, int& alerts_raised) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::string factory = "f" + std::to_string(pick(4));
  const std::string wo = "W-" + std::to_string(pick(12));
  static const char* statuses[] = {"open", "assigned", "in_progress", "review", "done", "blocked", "canceled"};
  switch (pick(21)) {
    case 0:
      tx.append(EventDraft{"factory.added", "operator", factory, factory,
                           {{"url", "https://x/" + factory}, {"prefix", "P" + factory}, {"path", "/r/" + factory}}});
      break;
    case 1: tx.append(EventDraft{"factory.removed", "operator", factory, factory, {{"stopped", json::array()}}}); break;
    case 2: {
      const std::string team = "t" + std::to_string(pick(3));
      tx.append(EventDraft{"team.added", "operator", factory, factory + "/" + team,
                           {{"team", team}, {"path", "/r/" + factory + "/" + team}, {"branch", "team/" + team}}});
      break;
    }
    case 3: {
      // Few types and subjects: a raise often finds its alert open and repeats it.
      static const char* types[] = {"start_limit", "error_streak", "stuck"};
      const std::string type = types[pick(3)];
      vermas::alerts::Draft d;
      d.severity = static_cast<vermas::alerts::Severity>(pick(3));
      d.type = type;
      if (pick(5)) d.subject = d.agent = factory + "/qa";  // else about nothing in particular
      d.factory = factory;
      d.message = "crashed " + std::to_string(pick(100));
      d.data = {{"n", pick(100)}};
      auto r = vermas::alerts::raise(tx, d);
      alerts_raised = std::max<int>(alerts_raised, static_cast<int>(r.id));
      break;
    }
    case 4:
      if (alerts_raised > 0 && pick(2))  // an operator's resolve of any alert, open or not
        tx.append(EventDraft{"alert.resolved", "operator", factory, std::nullopt,
                             {{"alert_id", 1 + pick(alerts_raised)}, {"type", "start_limit"}, {"resolved_by", "operator"}}});
      else  // the daemon's: a condition ended
        vermas::alerts::resolve_open(tx, {"start_limit", "error_streak"}, factory + "/qa", "operations");
      break;
    case 8:  // the events of the days before the alert model (kind; resolved_by = the actor)
      if (alerts_raised > 0 && pick(2)) {
        tx.append(EventDraft{"alert.resolved", "operations", factory, factory + "/qa",
                             {{"alert_id", 1 + pick(alerts_raised)}, {"kind", "heartbeat_missed"}}});
      } else {
        tx.append(EventDraft{"alert.raised", "operations", factory, factory + "/supervisor",
                             {{"alert_id", ++alerts_raised}, {"severity", "warning"}, {"kind", "heartbeat_missed"},
                              {"message", "old"}, {"data", {{"k", 1}}}}});
      }
      break;
    case 5:
      tx.append(EventDraft{"wo.created", "operator", factory, wo,
                           {{"title", "t " + wo}, {"type", "task"}, {"priority", pick(4)}, {"factory", factory}}});
      break;
    case 6:
      tx.append(EventDraft{"wo.transitioned", "operator", factory, wo,
                           {{"from", statuses[pick(7)]}, {"to", statuses[pick(7)]}, {"reason", "r"}}});
      break;
    case 7:
      tx.append(EventDraft{"slot.assigned", "operations", factory, wo,
                           {{"factory", factory}, {"slot", pick(3)}, {"work_order", wo}, {"agent", factory + "/w"},
                            {"branch", "work/" + wo}, {"worktree", "/w"}, {"team", nullptr}}});
      break;
    case 9:
      tx.append(EventDraft{"mail.sent", "operator", factory, factory + "/qa",
                           {{"message_id", 1 + pick(20)}, {"from", "operator"}, {"to", factory + "/qa"},
                            {"subject", "s"}, {"body", "b" + std::to_string(pick(9))}}});
      break;
    case 10:
      tx.append(EventDraft{"mail.delivered", factory + "/qa", factory, factory + "/qa",
                           {{"message_ids", json::array({1 + pick(20), 1 + pick(20)})}, {"to", factory + "/qa"}}});
      break;
    case 11:
      tx.append(EventDraft{"mail.acked", factory + "/qa", factory, factory + "/qa", {{"message_id", 1 + pick(20)}}});
      break;
    case 12:
      tx.append(EventDraft{"cost.reported", factory + "/qa", factory, factory + "/qa",
                           {{"agent", factory + "/qa"}, {"amount", pick(1000) / 100.0}, {"tokens_in", pick(500)},
                            {"tokens_out", pick(500)}, {"model", pick(2) ? json("m") : json(nullptr)},
                            {"run_id", "run-" + std::to_string(pick(6))}, {"work_order", wo},
                            {"wo_type", pick(2) ? "bug" : "task"}, {"day", pick(2) ? "2026-12-06" : "2026-12-07"}}});
      break;
    case 13:
      tx.append(EventDraft{"slot.restarted", "operations", factory, wo,
                           {{"factory", factory}, {"slot", pick(3)}, {"work_order", wo}, {"stuck_restarts", 1}}});
      break;
    case 14:
      tx.append(EventDraft{"wo.artifact_added", "operations", factory, wo,
                           {{"path", "/r/.work/artifacts/" + wo + "/loop-" + std::to_string(pick(9)) + ".md"}}});
      break;
    case 15:
      tx.append(EventDraft{"budget.set", "operator", std::nullopt, factory,
                           {{"scope", pick(2) ? "factory" : "agent"}, {"id", factory}, {"daily_cap", pick(20) / 2.0}}});
      break;
    case 16:
      tx.append(EventDraft{"approval.opened", "operations", std::nullopt, factory + "/qa",
                           {{"approval_id", 1 + pick(8)}, {"kind", "budget"}, {"agent", factory + "/qa"},
                            {"work_order", pick(2) ? json(wo) : json(nullptr)}, {"scope", "agent"},
                            {"scope_id", factory + "/qa"}, {"spend", pick(100) / 10.0}, {"cap", 5.0},
                            {"prior_status", "in_progress"}}});
      break;
    case 17:
      tx.append(EventDraft{"approval.decided", "operator", std::nullopt, factory + "/qa",
                           {{"approval_id", 1 + pick(8)}, {"status", pick(2) ? "approved" : "denied"},
                            {"approver", "op"}, {"decision", "d" + std::to_string(pick(5))}, {"override", pick(2) == 1}}});
      break;
    case 19:
      tx.append(EventDraft{"cost.reset", "operator", std::nullopt, factory + "/qa",
                           {{"agent", factory + "/qa"}, {"day", "2026-12-07"}, {"amount", pick(50) / 10.0}}});
      break;
    case 18:
      tx.append(EventDraft{pick(2) ? "squad.paused" : "squad.resumed", "operator", std::nullopt, std::nullopt,
                           {{"reason", "r" + std::to_string(pick(3))}}});
      break;
    default:
      tx.append(EventDraft{"slot.freed", "operations", factory, std::nullopt, {{"factory", factory}, {"slot", pick(3)}}});
      break;
  }
}

std::int64_t rows(Store& store, const std::string& table) {
  vermas::sql::Stmt s(store.statements(), "SELECT count(*) FROM " + table, "counting");
  s.step();
  return s.int64(0);
}

}  // namespace

TEST_CASE("projections: replaying a random workload gives every table back, from the start or a checkpoint",
          "[projections]") {
  for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    INFO("seed " << seed);
    vermas::test::TempDir dir;
    Store store(dir.path / "operations.db");
    std::mt19937 rng(seed);
    int alerts_raised = 0;
    for (int i = 0; i < 500; ++i) store.transact([&](Store::Tx& tx) { random_change(tx, rng, alerts_raised); });
    auto& st = store.statements();
    CHECK(rows(store, "alerts") > 0);  // alerts and messages are never deleted
    CHECK(rows(store, "messages") > 0);
    // The workload holds what the reducer must fold: repeats and both kinds of resolution.
    CHECK(rows(store, "alerts WHERE count > 1") > 0);
    CHECK(rows(store, "alerts WHERE resolved_by = 'operations'") > 0);
    CHECK(rows(store, "alerts WHERE resolved_by = 'operator'") > 0);
    CHECK(rows(store, "alerts WHERE resolved_at IS NULL") > 0);

    // From the start of the log.
    vermas::sql::exec(store.db(), (P::drop_tables(P::kRebuild) + P::create_tables(P::kRebuild, false)).c_str(),
                      "rebuild tables");
    store.scan(0, INT64_MAX, 100000, {}, [&](const vermas::Event& e) {
      if (P::affects(e.event_type)) P::apply(st, P::kRebuild, e);
    });
    CHECK(P::differences(st, P::kLive, P::kRebuild) == 0);

    // From a checkpoint (the first half folded, as events.archive does) plus the rest.
    const std::int64_t half = store.last_event_id() / 2;
    store.scan(0, half, 100000, {}, [&](const vermas::Event& e) {
      if (P::affects(e.event_type)) P::apply(st, P::kCheckpoint, e);
    });
    vermas::sql::exec(store.db(), (P::drop_tables(P::kRebuild) + P::create_tables(P::kRebuild, false)).c_str(),
                      "rebuild tables");
    P::copy(st, P::kCheckpoint, P::kRebuild);
    store.scan(half, INT64_MAX, 100000, {}, [&](const vermas::Event& e) {
      if (P::affects(e.event_type)) P::apply(st, P::kRebuild, e);
    });
    CHECK(P::differences(st, P::kLive, P::kRebuild) == 0);

    // The comparison can fail: one row changed behind the reducer's back is seen.
    vermas::sql::exec(store.db(), "DELETE FROM rebuild_factories WHERE rowid IN (SELECT rowid FROM rebuild_factories LIMIT 1)",
                      "a tampered row");
    if (rows(store, "factories") > 0) CHECK(P::differences(st, P::kLive, P::kRebuild) > 0);
  }
}
