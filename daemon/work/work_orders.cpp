#include "daemon/work/work_orders.hpp"
#include "daemon/error.hpp"
#include "common/json.hpp"

#include <algorithm>

#include "common/time.hpp"
#include "daemon/store/projections.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {

namespace {

namespace P = projections;

std::string status_list(const std::vector<wo::Status>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ", ") + std::string(wo::to_string(x));
  return s.empty() ? "none (terminal)" : s;
}

[[noreturn]] void denied(const std::string& message, const WoActor& a) {
  throw Error(Errc::permission_denied, message, json{{"agent", a.id}});
}

}  // namespace

WorkOrders::WorkOrders(Journal& journal, Factories& factories)
    : journal_(journal), factories_(factories), random_(std::random_device{}()) {}

std::string WorkOrders::new_id(const std::optional<std::string>& factory) {
  std::string prefix = "wo";
  if (factory) {
    auto fc = factories_.config(*factory);
    if (wo::valid_prefix(fc.value.factory.prefix)) prefix = fc.value.factory.prefix;
    else if (auto f = factories_.find(*factory); f && wo::valid_prefix(f->prefix)) prefix = f->prefix;
  }
  // 36^6 ≈ 2e9 ids: a collision is rare, and then a longer id is as valid.
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string id = wo::make_id(prefix, random_(), attempt < 8 ? 6 : 10);
    if (!find(id)) return id;
  }
  throw Error(Errc::internal, "could not find a free work order id");
}

std::optional<wo::WorkOrder> WorkOrders::find(const std::string& id) const {
  return P::work_order(journal_.store().statements(), P::kLive, id);
}

namespace {
// An idempotent answer as it was first given.
wo::WorkOrder stored_answer(const json& first) {
  if (auto w = wo::from_json(first)) return *w;
  throw Error(Errc::internal, "the stored answer of an idempotency key is unreadable");
}
}  // namespace

wo::WorkOrder WorkOrders::require(const std::string& id) const {
  if (auto w = find(id)) return *w;
  throw Error(Errc::not_found, "no work order '" + id + "' (see: wo list)", json{{"id", id}});
}

wo::WorkOrder WorkOrders::create(const WoCreate& r, const WoActor& actor) {
  auto& st = journal_.store().statements();
  if (r.idempotency_key)
    if (auto first = P::keyed_result(st, "", *r.idempotency_key)) return stored_answer(*first);
  if (r.factory) factories_.require(*r.factory);
  if (actor.role == std::string("worker"))
    denied("a worker cannot create work orders; its supervisor or an operator can", actor);
  const std::string id = new_id(r.factory);
  json data = {{"title", r.title}, {"description", r.description}, {"type", r.type}, {"priority", r.priority},
               {"factory", r.factory ? json(*r.factory) : json(nullptr)}};
  if (r.idempotency_key) data["idempotency_key"] = *r.idempotency_key;
  if (actor.label) data["requested_by"] = *actor.label;
  journal_.record({"wo.created", actor.id, r.factory, id, std::move(data)});
  return require(id);
}

wo::WorkOrder WorkOrders::update(const std::string& id, const json& set, const WoActor& actor) {
  const wo::WorkOrder w = require(id);
  if (actor.is_agent()) {
    if (*actor.role != "supervisor" && *actor.role != "ceo")
      denied("only a supervisor, the CEO or an operator may edit a work order", actor);
    if (*actor.role == "supervisor" && !w.in_factory(actor.factory))
      denied(actor.id + " may only edit work orders of its own factory", actor);
  }
  if (set.empty()) throw Error(Errc::invalid_argument, "nothing to update: give title, description, priority or assignee");
  const json before = wo::to_json(w);  // the event records what each field was
  json previous = json::object();
  for (const auto& [k, v] : set.items()) previous[k] = before.value(k, json());
  json data = {{"set", set}, {"previous", previous}};
  if (actor.label) data["requested_by"] = *actor.label;
  journal_.record({"wo.updated", actor.id, w.factory, id, std::move(data)});
  return require(id);
}

void WorkOrders::check_transition(const wo::WorkOrder& w, wo::Status to, const WoActor& actor) const {
  const std::string& from_text = w.status_text;
  const auto from = w.status();
  const std::string& id = w.id;
  if (!from) throw Error(Errc::internal, "work order " + id + " has an unknown status " + from_text);
  if (!wo::transition_allowed(*from, to)) {
    json allowed = json::array();
    for (auto s : wo::allowed_from(*from)) allowed.push_back(wo::to_string(s));
    throw Error(Errc::conflict,
                     "work order " + id + " cannot go from " + from_text + " to " + wo::to_string(to) +
                         " (allowed: " + status_list(wo::allowed_from(*from)) + ")",
                     json{{"from", from_text}, {"to", wo::to_string(to)}, {"allowed", allowed}});
  }
  if (actor.is_agent()) {
    if (*actor.role == "worker" && w.assignee != actor.id)
      denied(actor.id + " may only move work orders assigned to it (" + id + " is not)", actor);
    if ((*actor.role == "supervisor" || *actor.role == "qa") && w.factory && !w.in_factory(actor.factory))
      denied(actor.id + " may only move work orders of its own factory", actor);
  }
  if (*from == wo::Status::review && to == wo::Status::done && w.factory) {
    auto fc = factories_.config(*w.factory);
    // A broken file must not switch the gate off by falling back to the defaults.
    if (!fc.ok())
      throw Error(Errc::conflict,
                       "work order " + id + " cannot be done while its factory's config is broken (" +
                           fc.errors.front().to_string() + "); fix it first",
                       json{{"from", from_text}, {"to", "done"}, {"config_error", fc.errors.front().to_string()}});
    if (fc.value.verification.enabled && fc.value.verification.require_all_pass) {
      json v = verdict(w);
      if (!v.value("all_pass", false)) {
        std::string why;
        if (!v["failing"].empty()) why += "failing: " + v["failing"].dump();
        if (!v["missing"].empty()) why += std::string(why.empty() ? "" : "; ") + "missing: " + v["missing"].dump();
        if (why.empty()) why = "no checks recorded";
        throw Error(Errc::conflict,
                         "work order " + id + " cannot be done until every check passes (" + why +
                             "); record checks with: wo verify " + id + " --check NAME --pass",
                         json{{"from", from_text}, {"to", "done"}, {"failing", v["failing"]}, {"missing", v["missing"]},
                              {"recorded", v["recorded"]}});
      }
    }
  }
}

wo::WorkOrder WorkOrders::transition(const WoTransition& r, const WoActor& actor, std::vector<EventDraft> extra) {
  auto& st = journal_.store().statements();
  if (r.idempotency_key)
    if (auto first = P::keyed_result(st, r.id, *r.idempotency_key)) return stored_answer(*first);
  const wo::WorkOrder w = require(r.id);
  check_transition(w, r.to, actor);
  json data = {{"from", w.status_text}, {"to", wo::to_string(r.to)}, {"reason", r.reason}};
  if (r.idempotency_key) data["idempotency_key"] = *r.idempotency_key;
  if (r.assignee) data["assignee"] = *r.assignee;
  if (actor.label) data["requested_by"] = *actor.label;
  std::optional<std::string> factory = w.factory;
  if (!factory && r.factory) factory = *r.factory, data["factory"] = *r.factory;
  journal_.commit([&](Store::Tx& tx) {
    tx.append({"wo.transitioned", actor.id, factory, r.id, std::move(data)});
    for (auto& e : extra) tx.append(std::move(e));
  });
  return require(r.id);
}

json WorkOrders::checks(const std::string& id) const {
  sql::Stmt s(journal_.store().statements(),
              "SELECT name, passed, objective, note, actor, ts FROM wo_checks WHERE work_order = ? ORDER BY name",
              "reading checks");
  s.bind(1, id);
  json out = json::array();
  while (s.step())
    out.push_back({{"check", s.text(0)}, {"passed", s.int64(1) != 0}, {"objective", s.int64(2) != 0},
                   {"note", s.text(3)}, {"actor", s.text(4)}, {"ts", s.text(5)}});
  return out;
}

json WorkOrders::verdict(const wo::WorkOrder& w) const {
  bool objective_only = false;
  std::vector<std::string> required;
  if (w.factory) {
    auto fc = factories_.config(*w.factory);
    objective_only = fc.value.verification.objective_only;
    required = fc.value.verification.checks;
  }
  json failing = json::array(), missing = json::array();
  std::vector<std::string> recorded;
  for (const auto& c : checks(w.id)) {
    if (objective_only && !c.value("objective", true)) continue;  // subjective: ignored
    recorded.push_back(c.value("check", ""));
    if (!c.value("passed", false)) failing.push_back(c["check"]);
  }
  for (const auto& name : required)
    if (std::find(recorded.begin(), recorded.end(), name) == recorded.end()) missing.push_back(name);
  const bool all_pass = failing.empty() && missing.empty() && !recorded.empty();
  return {{"all_pass", all_pass}, {"failing", failing}, {"missing", missing}, {"recorded", recorded.size()},
          {"objective_only", objective_only}};
}

json WorkOrders::verify(const std::string& id, const std::string& check, bool passed, bool objective,
                        const std::string& note, const WoActor& actor) {
  const wo::WorkOrder w = require(id);
  if (actor.role == std::string("worker"))
    denied("a worker cannot verify work; QA or an operator records checks", actor);
  if (actor.is_agent() && *actor.role != "ceo" && w.factory && !w.in_factory(actor.factory))
    denied(actor.id + " may only verify work orders of its own factory", actor);
  journal_.record({"wo.check_recorded", actor.id, w.factory, id,
                   {{"check", check}, {"passed", passed}, {"objective", objective}, {"note", note}}});
  json all = checks(id);
  json mine;
  for (const auto& c : all)
    if (c.value("check", "") == check) mine = c;
  return {{"work_order", id}, {"check", mine}, {"checks", all}, {"verdict", verdict(w)}};
}

json WorkOrders::show(const std::string& id) const {
  const wo::WorkOrder record = require(id);
  json w = wo::to_json(record);
  w["checks"] = checks(id);
  sql::Stmt s(journal_.store().statements(),
              "SELECT factory, slot, agent, branch, worktree, team, assigned_at FROM slots WHERE work_order = ?",
              "reading a slot");
  s.bind(1, id);
  w["slot"] = nullptr;
  if (s.step())
    w["slot"] = {{"factory", s.text(0)}, {"slot", s.int64(1)}, {"agent", s.text(2)}, {"branch", s.text(3)},
                 {"worktree", s.text(4)}, {"team", s.opt_text(5) ? json(*s.opt_text(5)) : json(nullptr)},
                 {"assigned_at", s.text(6)}};
  if (record.factory) w["verdict"] = verdict(record);
  return w;
}

json WorkOrders::list(const WoListFilter& f) const {
  // Only the shape depends on the filter; every value is bound.
  std::string where = " WHERE 1=1";
  std::vector<std::string> params;
  if (!f.statuses.empty()) {
    where += " AND status IN (";
    for (std::size_t i = 0; i < f.statuses.size(); ++i) {
      where += i ? ",?" : "?";
      params.emplace_back(wo::to_string(f.statuses[i]));
    }
    where += ")";
  }
  if (f.factory) where += " AND factory = ?", params.push_back(*f.factory);
  if (f.assignee) where += " AND assignee = ?", params.push_back(*f.assignee);
  if (f.updated_before) where += " AND updated_at < ?", params.push_back(*f.updated_before);
  const std::string count_text = "SELECT count(*) FROM work_orders" + where;
  const std::string text = P::select_work_orders(P::kLive) + where + " ORDER BY priority, created_at, id LIMIT ?";
  auto& st = journal_.store().statements();
  std::int64_t total = 0;
  {
    sql::Stmt c(st, count_text, "counting work orders");
    for (std::size_t i = 0; i < params.size(); ++i) c.bind(static_cast<int>(i + 1), params[i]);
    if (c.step()) total = c.int64(0);
  }
  json out = json::array();
  sql::Stmt s(st, text, "listing work orders");
  int i = 1;
  for (const auto& p : params) s.bind(i++, p);
  s.bind(i, std::clamp(f.limit, 1, 10000));
  while (s.step()) out.push_back(wo::to_json(P::work_order_row(s)));
  return {{"work_orders", out}, {"total", total}};
}

std::vector<wo::WorkOrder> WorkOrders::all_of(const std::string& factory) const {
  sql::Stmt s(journal_.store().statements(), P::select_work_orders(P::kLive) + " WHERE factory = ? ORDER BY id",
              "listing a factory's work orders");
  s.bind(1, factory);
  std::vector<wo::WorkOrder> out;
  while (s.step()) out.push_back(P::work_order_row(s));
  return out;
}

json WorkOrders::timeline(const std::string& id) const {
  require(id);
  EventFilter f;
  f.subject = id;
  f.limit = 10000;
  json events = json::array();
  for (const auto& e : journal_.store().query(f)) events.push_back(to_json(e));
  return {{"id", id}, {"events", events}};
}

json WorkOrders::count_by_status() const {
  sql::Stmt s(journal_.store().statements(), "SELECT status, count(*) FROM work_orders GROUP BY status",
              "counting work orders");
  json out = json::object();
  while (s.step()) out[s.text(0)] = s.int64(1);
  return out;
}

json WorkOrders::stats(const std::optional<std::string>& factory) const {
  auto& st = journal_.store().statements();
  auto group = [&](const char* column) {
    std::string text = std::string("SELECT COALESCE(") + column + ", '(none)'), count(*) FROM work_orders";
    if (factory) text += " WHERE factory = ?";
    text += std::string(" GROUP BY ") + column;
    sql::Stmt s(st, text, "counting work orders");
    if (factory) s.bind(1, *factory);
    json out = json::object();
    while (s.step()) out[s.text(0)] = s.int64(1);
    return out;
  };
  json by_status = group("status");
  std::int64_t total = 0;
  for (const auto& [k, v] : by_status.items()) total += v.get<std::int64_t>();
  json oldest = nullptr;
  {
    std::string text = "SELECT id, created_at FROM work_orders WHERE status = 'open'";
    if (factory) text += " AND factory = ?";
    text += " ORDER BY created_at LIMIT 1";
    sql::Stmt s(st, text, "finding the oldest open work order");
    if (factory) s.bind(1, *factory);
    if (s.step()) {
      double age = 0;
      if (auto t = parse_rfc3339(s.text(1)))
        age = std::chrono::duration<double>(std::chrono::system_clock::now() - *t).count();
      oldest = {{"id", s.text(0)}, {"created_at", s.text(1)}, {"age_seconds", age}};
    }
  }
  return {{"total", total}, {"by_status", by_status}, {"by_type", group("type")}, {"by_factory", group("factory")},
          {"oldest_open", oldest}};
}

json WorkOrders::eval(const std::string& since) const {
  auto& st = journal_.store().statements();
  std::vector<double> durations;
  {
    sql::Stmt s(st, "SELECT created_at, done_at FROM work_orders WHERE done_at >= ?", "reading finished work orders");
    s.bind(1, since);
    while (s.step()) {
      auto a = parse_rfc3339(s.text(0)), b = parse_rfc3339(s.text(1));
      if (a && b) durations.push_back(std::max(0.0, std::chrono::duration<double>(*b - *a).count()));
    }
  }
  json median = nullptr;
  if (!durations.empty()) {
    std::sort(durations.begin(), durations.end());
    const std::size_t n = durations.size();
    median = n % 2 ? durations[n / 2] : (durations[n / 2 - 1] + durations[n / 2]) / 2;
  }
  std::int64_t reviewed = 0, clean = 0;
  {
    sql::Stmt s(st, "SELECT count(*), COALESCE(sum(review_clean), 0) FROM work_orders WHERE first_review_at >= ?",
                "reading reviewed work orders");
    s.bind(1, since);
    if (s.step()) reviewed = s.int64(0), clean = s.int64(1);
  }
  return {{"since", since},
          {"done", durations.size()},
          {"median_time_to_done_seconds", median},
          {"reached_review", reviewed},
          {"reached_review_without_intervention", clean},
          {"share_without_intervention", reviewed ? json(double(clean) / double(reviewed)) : json(nullptr)}};
}

}  // namespace vermas
