// Methods of work orders, dispatch and the event log's upkeep (spec §5, §6): handlers
// parse and validate every parameter, find out who is asking (from the peer, never from
// a parameter), and leave the work to WorkOrders, Dispatcher, WoSync and LogMaintenance.
#include "common/time.hpp"
#include "common/json.hpp"
#include "common/work_order.hpp"
#include "daemon/rpc/connection.hpp"
#include "daemon/daemon.hpp"

namespace vermas {

namespace {


constexpr std::size_t kMaxTitle = 500;
constexpr std::size_t kMaxDescription = 64 * 1024;
constexpr std::size_t kMaxReason = 2000;
constexpr std::size_t kMaxKey = 128;

[[noreturn]] void bad(const char* field, const std::string& why) {
  throw rpc::Error(rpc::code::invalid_params, std::string(field) + ": " + why, json{{"field", field}});
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == '/' || c == '@' || c == ':';
}

// Names that end up in events and tables: printable, no spaces, bounded.
std::string checked_name(const rpc::Params& p, const char* field, std::size_t max, bool required) {
  auto v = required ? std::optional<std::string>(p.required_str(field, max)) : p.str(field, max);
  if (!v) return "";
  if (v->empty() || !std::all_of(v->begin(), v->end(), name_char))
    bad(field, "expected letters, digits and _ - . / @ : (got \"" + *v + "\")");
  return *v;
}

std::string text(const rpc::Params& p, const char* field, std::size_t max, bool required) {
  auto v = required ? std::optional<std::string>(p.required_str(field, max)) : p.str(field, max);
  if (required && v->find_first_not_of(" \t\r\n") == std::string::npos) bad(field, "must not be empty");
  return v.value_or("");
}

std::string work_order_id(const rpc::Params& p, const char* field = "id") {
  auto id = p.required_str(field, 64);
  if (!wo::valid_id(id)) bad(field, "not a work order id (expected PREFIX-abc123), got \"" + id + "\"");
  return id;
}

std::optional<std::string> factory_param(const rpc::Params& p, const char* field = "factory") {
  auto f = p.str(field, 64);
  if (f && !valid_factory_name(*f)) bad(field, "not a factory name ([a-z0-9][a-z0-9_-]{0,31})");
  return f;
}

std::optional<std::string> idempotency_key(const rpc::Params& p) {
  auto k = p.str("idempotency_key", kMaxKey);
  if (k && k->empty()) bad("idempotency_key", "must not be empty");
  return k;
}

wo::Status status_param(const std::string& text, const char* field) {
  auto s = wo::parse_status(text);
  if (!s) bad(field, "not a work order status (open, assigned, in_progress, review, needs_approval, blocked, failed, done, canceled)");
  return *s;
}

// Who is asking. An agent is who its peer is; an operator may name herself (`actor`), which
// is kept as requested_by, never as the actor.
WoActor actor_of(const Call& c) {
  auto claimed = c.params.str("actor", 128);
  WoActor a;
  if (!c.agent) {
    if (claimed && !claimed->empty()) a.label = *claimed;
    return a;
  }
  a.id = *c.agent;
  if (claimed && *claimed != a.id)
    throw rpc::Error(rpc::code::permission_denied,
                     "the actor is the calling agent (" + a.id + "); it cannot act as " + *claimed,
                     json{{"agent", a.id}, {"actor", *claimed}});
  if (a.id == "ceo") {
    a.role = "ceo";
  } else {
    const auto slash = a.id.find('/');
    a.factory = a.id.substr(0, slash);
    const std::string rest = slash == std::string::npos ? "" : a.id.substr(slash + 1);
    a.role = rest == "supervisor" ? "supervisor" : rest == "qa" ? "qa" : "worker";
  }
  return a;
}

// `older_than` / `since`: a duration ("30d") or an RFC 3339 time.
std::string ago(const rpc::Params& p, const char* field, const std::optional<std::string>& fallback) {
  auto v = p.str(field, 64);
  if (!v) v = fallback;
  if (!v) return "";
  auto t = parse_since(*v, std::chrono::system_clock::now());
  if (!t) bad(field, "expected a duration such as 30d, 7d, 1h or an RFC 3339 time");
  return format_rfc3339_ms(*t);
}

// The refusals' wording from before the router checked them, kept.
constexpr const char* kDispatchRefusal = "only a supervisor, the CEO or an operator may dispatch work";
constexpr const char* kDispatchElsewhere = "{agent} may only dispatch into its own factory";

json rpc_wo_create(Daemon& d, Call& c) {
  WoCreate r;
  r.title = text(c.params, "title", kMaxTitle, true);
  r.type = c.params.str("type", 16).value_or("task");
  if (!wo::valid_type(r.type)) bad("type", "expected bug, feature, task or chore");
  r.priority = static_cast<int>(c.params.integer("priority", wo::kMinPriority, wo::kMaxPriority).value_or(wo::kDefaultPriority));
  r.factory = factory_param(c.params);
  r.description = text(c.params, "description", kMaxDescription, false);
  r.idempotency_key = idempotency_key(c.params);
  return wo::to_json(d.work_orders().create(r, actor_of(c)));
}

json rpc_wo_list(Daemon& d, Call& c) {
  WoListFilter f;
  if (auto s = c.params.str("status", 256)) {
    std::size_t start = 0;
    while (start <= s->size()) {
      auto end = s->find(',', start);
      if (end == std::string::npos) end = s->size();
      std::string one = s->substr(start, end - start);
      if (!one.empty()) f.statuses.push_back(status_param(one, "status"));
      start = end + 1;
    }
  }
  f.factory = factory_param(c.params);
  if (auto a = checked_name(c.params, "assignee", 128, false); !a.empty()) f.assignee = a;
  if (auto t = ago(c.params, "older_than", std::nullopt); !t.empty()) f.updated_before = t;
  f.limit = static_cast<int>(c.params.integer("limit", 1, 10000).value_or(1000));
  return d.work_orders().list(f);
}

json rpc_wo_show(Daemon& d, Call& c) { return d.work_orders().show(work_order_id(c.params)); }

json rpc_wo_timeline(Daemon& d, Call& c) { return d.work_orders().timeline(work_order_id(c.params)); }

json rpc_wo_update(Daemon& d, Call& c) {
  const std::string id = work_order_id(c.params);
  json set = json::object();
  if (c.params.has("title")) set["title"] = text(c.params, "title", kMaxTitle, true);
  if (c.params.has("description")) set["description"] = text(c.params, "description", kMaxDescription, false);
  if (auto p = c.params.integer("priority", wo::kMinPriority, wo::kMaxPriority)) set["priority"] = *p;
  if (c.params.raw().contains("assignee")) {
    if (c.params.raw()["assignee"].is_null()) set["assignee"] = nullptr;
    else set["assignee"] = checked_name(c.params, "assignee", 128, true);
  }
  return wo::to_json(d.work_orders().update(id, set, actor_of(c)));
}

json rpc_wo_transition(Daemon& d, Call& c) {
  WoTransition t;
  t.id = work_order_id(c.params);
  t.to = status_param(c.params.required_str("to", 32), "to");
  t.reason = text(c.params, "reason", kMaxReason, true);
  t.idempotency_key = idempotency_key(c.params);
  return wo::to_json(d.work_orders().transition(t, actor_of(c)));
}

json rpc_wo_verify(Daemon& d, Call& c) {
  const std::string id = work_order_id(c.params);
  const std::string check = checked_name(c.params, "check", 128, true);
  auto passed = c.params.boolean("passed");
  if (!passed) bad("passed", "required: true (--pass) or false (--fail)");
  const bool objective = c.params.boolean("objective").value_or(true);
  const std::string note = text(c.params, "note", kMaxReason, false);
  return d.work_orders().verify(id, check, *passed, objective, note, actor_of(c));
}

json rpc_wo_stats(Daemon& d, Call& c) { return d.work_orders().stats(factory_param(c.params)); }

json rpc_report_eval(Daemon& d, Call& c) { return d.work_orders().eval(ago(c.params, "since", std::string("7d"))); }

boost::asio::awaitable<json> rpc_wo_rebuild_projections(Daemon& d, Call& c) {
  json out = co_await d.log_maintenance().rebuild(c.actor());
  co_return out;
}

boost::asio::awaitable<json> rpc_events_archive(Daemon& d, Call& c) {
  if (!c.params.has("older_than")) bad("older_than", "required, e.g. 7d");
  const std::string cutoff = ago(c.params, "older_than", std::nullopt);
  json out = co_await d.log_maintenance().archive(cutoff, d.config().events.partition_by_day, c.actor());
  co_return out;
}

boost::asio::awaitable<json> rpc_wo_sync(Daemon& d, Call& c) {
  std::vector<std::string> names;
  if (auto f = factory_param(c.params)) {
    d.factories().require(*f);
    names.push_back(*f);
  } else {
    for (const auto& [name, rec] : d.factories().all()) names.push_back(name);
  }
  json results = json::array();
  for (const auto& name : names) {
    json one = co_await d.wo_sync().sync(name, c.actor());
    results.push_back(one);
  }
  co_return json{{"factories", results}};
}

// Only the CEO and the factory's own supervisor get here from an agent (factory_roles).
boost::asio::awaitable<json> rpc_dispatch(Daemon& d, Call& c) {
  const std::string id = work_order_id(c.params, "work_order");
  auto factory = factory_param(c.params);
  if (!factory) bad("factory", "required");
  std::optional<std::string> team;
  if (auto t = checked_name(c.params, "team", 64, false); !t.empty()) team = t;
  WoActor actor = actor_of(c);
  json out = co_await d.dispatcher().dispatch(id, *factory, team, actor);
  co_return out;
}

}  // namespace

void register_work_order_methods(Router& router, Daemon& d) {
  using namespace access;
  static const DaemonMethod kMethods[] = {
      {"wo.create", {"title", "type", "priority", "factory", "description", "idempotency_key", "actor"}, agent_scoped,
       "create a work order (agents: not a worker)", rpc_wo_create},
      {"wo.list", {"status", "factory", "assignee", "older_than", "limit"}, anyone, "work orders, filtered",
       rpc_wo_list},
      {"wo.show", {"id"}, anyone, "one work order with its checks, slot and verdict", rpc_wo_show},
      {"wo.timeline", {"id"}, anyone, "every event of one work order", rpc_wo_timeline},
      {"wo.update", {"id", "title", "description", "priority", "assignee", "actor"}, agent_scoped,
       "edit a work order (agents: the CEO, and supervisors for their own factory's)", rpc_wo_update},
      {"wo.transition", {"id", "to", "actor", "reason", "idempotency_key"}, agent_scoped,
       "move a work order along spec §5's table (agents: a worker only its own assigned work order, "
       "supervisors and QA only their own factory's)",
       rpc_wo_transition},
      {"wo.verify", {"id", "check", "passed", "objective", "note", "actor"}, agent_scoped,
       "record a check on a work order (agents: not a worker; QA and supervisors only their own factory's)",
       rpc_wo_verify},
      {"wo.stats", {"factory"}, anyone, "work orders counted by status, type and factory", rpc_wo_stats},
      {"report.eval", {"since"}, anyone, "time to done and reviews reached without intervention", rpc_report_eval},
      {"wo.rebuild_projections", {}, operator_only, "replay the event log into fresh tables and swap them in",
       rpc_wo_rebuild_projections},
      {"events.archive", {"older_than"}, operator_only, "move old events to day files and the checkpoint",
       rpc_events_archive},
      {"wo.sync", {"factory", "all"}, anyone, "work orders to and from each factory's sync branch", rpc_wo_sync},
      {"dispatch", {"work_order", "factory", "team"},
       factory_roles("factory", {"ceo", "supervisor"}, kDispatchRefusal, kDispatchElsewhere),
       "give a work order to a worker slot of the factory", rpc_dispatch},
  };
  add_methods(router, d, kMethods);
}

}  // namespace vermas
