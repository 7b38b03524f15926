#pragma once
// Work orders (spec §5): create, update, transition, verify, and the read side (list,
// show, timeline, stats, eval). Every change is one event committed through the journal;
// the projections follow from it in the same transaction (daemon/store/projections.cpp). Every
// transition, the daemon's own included, is checked against the one table in
// common/work_order.cpp and against the factory's verification gate.
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/work_order.hpp"
#include "daemon/factories.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

// Who asks: an operator (any peer outside an agent) or an agent, known from the peer.
struct WoActor {
  std::string id = "operator";        // event actor: agent id | operator | operations
  std::optional<std::string> role;    // supervisor | qa | worker | ceo for agents
  std::optional<std::string> factory; // the agent's factory
  std::optional<std::string> label;   // an operator's own name for the record (--actor)
  bool is_agent() const { return role.has_value(); }
  static WoActor operations() { return {"operations", std::nullopt, std::nullopt, std::nullopt}; }
};

struct WoCreate {
  std::string title;
  std::string type = "task";
  int priority = wo::kDefaultPriority;
  std::optional<std::string> factory;
  std::string description;
  std::optional<std::string> idempotency_key;
};

struct WoTransition {
  std::string id;
  wo::Status to = wo::Status::open;
  std::string reason;
  std::optional<std::string> idempotency_key;
  // Set (or, when it holds null, cleared) together with the status: dispatch assigns.
  std::optional<nlohmann::json> assignee;
  // Set together with the status when the work order had none (dispatch into a factory).
  std::optional<std::string> factory;
};

struct WoListFilter {
  std::vector<wo::Status> statuses;
  std::optional<std::string> factory;
  std::optional<std::string> assignee;
  std::optional<std::string> updated_before;  // RFC 3339
  int limit = 1000;
};

class WorkOrders {
 public:
  WorkOrders(Journal& journal, Factories& factories);

  // The work orders as they are after the change (to_json at the edge).
  wo::WorkOrder create(const WoCreate& request, const WoActor& actor);
  wo::WorkOrder update(const std::string& id, const nlohmann::json& set, const WoActor& actor);
  // Checks the table, the actor's rights and the verification gate; -32002 with
  // {from, to, allowed} or {failing, missing} in error.data when refused. `extra` events
  // are committed in the same transaction (dispatch's slot.assigned).
  wo::WorkOrder transition(const WoTransition& request, const WoActor& actor, std::vector<EventDraft> extra = {});
  // Refusal reasons without changing anything (dispatch checks before touching git).
  void check_transition(const wo::WorkOrder& work_order, wo::Status to, const WoActor& actor) const;
  nlohmann::json verify(const std::string& id, const std::string& check, bool passed, bool objective,
                        const std::string& note, const WoActor& actor);

  std::optional<wo::WorkOrder> find(const std::string& id) const;
  wo::WorkOrder require(const std::string& id) const;  // not_found when unknown
  // The answers of wo.show, wo.list ...: JSON views built here, where the queries are.
  nlohmann::json show(const std::string& id) const;  // + checks and slot
  nlohmann::json list(const WoListFilter& filter) const;
  // Every work order of a factory, by id (wo sync exports them all, past any list limit).
  std::vector<wo::WorkOrder> all_of(const std::string& factory) const;
  nlohmann::json timeline(const std::string& id) const;
  // Counts by status alone, as `status` shows them: stats()'s first query, not its five.
  nlohmann::json count_by_status() const;
  nlohmann::json stats(const std::optional<std::string>& factory) const;
  nlohmann::json eval(const std::string& since) const;  // report.eval
  nlohmann::json checks(const std::string& id) const;
  // {all_pass, failing, missing} under the factory's [verification] rules.
  nlohmann::json verdict(const wo::WorkOrder& work_order) const;

 private:
  std::string new_id(const std::optional<std::string>& factory);
  Journal& journal_;
  Factories& factories_;
  std::mt19937_64 random_;
};

}  // namespace vermas
