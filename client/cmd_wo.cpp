// wo create|list|show|update|assign|transition|timeline|stats|verify|rebuild-projections|sync,
// wo events tail|stats|archive (also co events), wo eval report, co dispatch, co sprint list:
// their bodies and their entries in the command table.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/table.hpp"
#include "common/paths.hpp"
#include "common/time.hpp"
#include "common/work_order.hpp"

namespace vermas::client {

namespace {

constexpr const char* kWoHint = "wo list";
constexpr const char* kWoIdHelp = "work order id, e.g. wo-abc123 (see: wo list)";

// Replaying or archiving the whole event log, or a git push per factory, takes a while;
// dispatch may spawn a worker and create its worktree first.
constexpr double kRebuildSeconds = 300;
constexpr double kArchiveSeconds = 300;
constexpr double kSyncSeconds = 120;
constexpr double kDispatchSeconds = 60;

// What `co sprint list` counts as work in progress.
constexpr const char* kInProgress = "assigned,in_progress,review,blocked,needs_approval";

// Every command that looks a work order up: a malformed id is a typo (usage), an unknown
// one points at `wo list`.
int check_wo_id(Context& ctx, const std::string& id) {
  ctx.set_not_found_hint(kWoHint);
  if (wo::valid_id(id)) return kOk;
  return fail(ctx, kUsage, "invalid work order id '" + id + "': ids look like wo-abc123 (see: " + kWoHint + ")");
}

// On a terminal, a long wait is announced so that it is not mistaken for a hang.
void announce_wait(const Context& ctx, const std::string& what, double at_least_seconds) {
  if (!ctx.json_output() && isatty(STDERR_FILENO))
    std::cerr << what << " (up to " << static_cast<long>(ctx.waiting_seconds(at_least_seconds)) << " s)...\n";
}

const json& member(const json& obj, const char* key) {
  static const json null_value;
  if (!obj.is_object()) return null_value;
  auto it = obj.find(key);
  return it == obj.end() ? null_value : *it;
}

std::string compact(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// A scalar as text: strings as they are, integers without ".0", null "-", the rest as JSON.
std::string text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  return v.is_null() ? "-" : compact(v);
}

// The one formatter for lists of names in human output: "a,b" ("-" when empty).
std::string joined(const json& names) {
  std::string s;
  if (names.is_array())
    for (const auto& n : names) s += (s.empty() ? "" : ",") + text(n);
  return s.empty() ? "-" : s;
}

// "open=3 review=1", known keys (in `order`) first, then the rest as the daemon sent them.
std::string counts_text(const json& counts, const std::vector<std::string>& order = {}) {
  if (!counts.is_object() || counts.empty()) return "-";
  std::string s;
  auto add = [&](const std::string& k, const json& n) { s += (s.empty() ? "" : " ") + k + "=" + text(n); };
  for (const auto& k : order)
    if (counts.contains(k)) add(k, counts[k]);
  for (const auto& [k, n] : counts.items())
    if (std::find(order.begin(), order.end(), k) == order.end()) add(k, n);
  return s;
}

// "2026-11-22T03:47:40.123Z (3h ago)"
std::string time_and_age(const json& ts) {
  return ts.is_string() ? ts.get<std::string>() + " (" + age_since(ts) + ")" : "-";
}

// One "  label:   value" line of a detail view, values aligned at `width`.
void detail(const std::string& indent, const char* label, const std::string& value, std::size_t width = 16) {
  std::string l = indent + label + ":";
  if (!value.empty()) l.resize(std::max(l.size() + 1, indent.size() + width), ' ');
  std::cout << l << value << "\n";
}

// "wo-abc123 (open, p1 bug): Fix bug X"
std::string wo_summary(const json& wo) {
  return field(wo, "id", "?") + " (" + field(wo, "status") + ", p" + field(wo, "priority", "?") + " " +
         field(wo, "type") + "): " + field(wo, "title", "");
}

// A count the daemon may send as a number or as the list itself.
std::string count_text(const json& v) { return v.is_array() ? std::to_string(v.size()) : text(v); }

std::string percent(const json& share) {
  if (!share.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", share.get<double>() * 100);
  return buf;
}

// Durations are checked as the command line is parsed, so a typo is a usage error before any call.
std::string check_duration(const std::string& s) {
  return parse_duration(s) ? std::string() : "not a duration such as 90s, 30m, 12h or 7d: " + s;
}

std::string check_since(const std::string& s) {
  return parse_since(s, std::chrono::system_clock::now())
             ? std::string()
             : "not a duration (7d) or an RFC 3339 time (2026-11-22T03:47:40Z): " + s;
}

// The ID argument of the commands that act on one work order.
void declare_wo_id(Args& a, std::string& id) { a.positional("ID", id, kWoIdHelp).required(); }

struct WoCreateOptions {
  std::string title;
  std::optional<std::string> type, factory, description, idempotency_key;
  std::optional<int> priority;
};

int cmd_wo_create(Context& ctx, const WoCreateOptions& opts) {
  if (opts.title.empty()) return fail(ctx, kUsage, "--title must not be empty");
  json params{{"title", opts.title}};
  if (opts.type) params["type"] = *opts.type;
  if (opts.priority) params["priority"] = *opts.priority;
  if (opts.factory) {
    if (int rc = check_factory_name(ctx, *opts.factory); rc != kOk) return rc;
    params["factory"] = *opts.factory;
  }
  if (opts.description) params["description"] = *opts.description;
  if (opts.idempotency_key) params["idempotency_key"] = *opts.idempotency_key;
  ctx.set_not_found_hint("co factory list");
  auto r = ctx.call("wo.create", params);
  // Only the id: scripts do id=$(wo create ...). A missing id is an error, never a blank line.
  return ctx.print(r, [](const json& wo) { std::cout << wo.at("id").get<std::string>() << "\n"; });
}

struct WoListOptions {
  std::vector<std::string> status;  // any of these (--status=open,failed)
  std::optional<std::string> factory, assignee, older_than;
  std::optional<int> limit;
};

int cmd_wo_list(Context& ctx, const WoListOptions& opts) {
  json params = json::object();
  if (!opts.status.empty()) params["status"] = joined(json(opts.status));
  if (opts.factory) {
    if (int rc = check_factory_name(ctx, *opts.factory); rc != kOk) return rc;
    params["factory"] = *opts.factory;
  }
  if (opts.assignee) params["assignee"] = *opts.assignee;
  if (opts.older_than) params["older_than"] = *opts.older_than;
  if (opts.limit) params["limit"] = *opts.limit;
  ctx.set_not_found_hint("co factory list");
  auto r = ctx.call("wo.list", params);
  return ctx.print(r, [](const json& j) {
    const json& wos = j.value("work_orders", json::array());
    if (wos.empty()) {
      std::cout << "no work orders\n";
      return;
    }
    Table t({"ID", "STATUS", "PRI", "TYPE", "FACTORY", "ASSIGNEE", "UPDATED", "TITLE"});
    for (const auto& wo : wos)
      t.add({field(wo, "id", "?"), field(wo, "status"), field(wo, "priority"), field(wo, "type"), field(wo, "factory"),
             field(wo, "assignee"), age_since(member(wo, "updated_at")), field(wo, "title", "")});
    t.print(std::cout);
    if (long long total = count_of(j, "total"); total > static_cast<long long>(wos.size()))
      std::cout << "showing " << wos.size() << " of " << total << " (more with --limit N)\n";
  });
}

int cmd_wo_show(Context& ctx, const std::string& id) {
  if (int rc = check_wo_id(ctx, id); rc != kOk) return rc;
  auto r = ctx.call("wo.show", {{"id", id}});
  return ctx.print(r, [&](const json& wo) {
    const std::string in = "  ";
    std::cout << field(wo, "id", id) << "  " << field(wo, "title", "") << "\n";
    detail(in, "status", field(wo, "status"));
    detail(in, "type", field(wo, "type"));
    detail(in, "priority", field(wo, "priority"));
    detail(in, "factory", field(wo, "factory"));
    detail(in, "assignee", field(wo, "assignee"));
    detail(in, "created", time_and_age(member(wo, "created_at")));
    detail(in, "updated", time_and_age(member(wo, "updated_at")));
    detail(in, "transitions", count_text(member(wo, "transitions")));
    detail(in, "review cycles", count_text(member(wo, "review_cycles")));
    const json& artifacts = member(wo, "artifacts");
    detail(in, "artifacts", artifacts.is_array() && !artifacts.empty() ? "" : "-");
    if (artifacts.is_array())
      for (const auto& a : artifacts) std::cout << in << "  - " << text(a) << "\n";
    std::string description = field(wo, "description", "");
    while (!description.empty() && description.back() == '\n') description.pop_back();
    if (!description.empty()) {
      std::cout << in << "description:\n";
      std::size_t start = 0;
      while (start <= description.size()) {
        auto end = description.find('\n', start);
        if (end == std::string::npos) end = description.size();
        std::cout << in << "  " << description.substr(start, end - start) << "\n";
        start = end + 1;
      }
    }
    const json& checks = member(wo, "checks");
    if (checks.is_array() && !checks.empty()) {
      std::cout << "\nchecks:\n";
      Table t({"CHECK", "RESULT", "KIND", "ACTOR", "WHEN", "NOTE"});
      for (const auto& c : checks)
        t.add({field(c, "check", "?"), member(c, "passed") == true ? "passed" : "failed",
               member(c, "objective") == false ? "subjective" : "objective", field(c, "actor"),
               age_since(member(c, "ts")), field(c, "note", "")});
      t.print(std::cout, in);
    }
    const json& slot = member(wo, "slot");
    if (slot.is_object()) {
      std::cout << "\nslot:\n";
      detail(in, "agent", field(slot, "agent") + " (" + field(slot, "factory") + " slot " + field(slot, "slot") + ")");
      detail(in, "branch", field(slot, "branch"));
      detail(in, "worktree", field(slot, "worktree"));
      detail(in, "team", field(slot, "team"));
      detail(in, "assigned", time_and_age(member(slot, "assigned_at")));
    }
  });
}

struct WoUpdateOptions {
  std::string id;
  std::optional<std::string> title, description;
  std::optional<int> priority;
};

int cmd_wo_update(Context& ctx, const WoUpdateOptions& opts) {
  if (int rc = check_wo_id(ctx, opts.id); rc != kOk) return rc;
  if (!opts.title && !opts.description && !opts.priority)
    return fail(ctx, kUsage, "nothing to update: give --title, --description and/or --priority");
  json params{{"id", opts.id}};
  if (opts.title) params["title"] = *opts.title;
  if (opts.description) params["description"] = *opts.description;
  if (opts.priority) params["priority"] = *opts.priority;
  auto r = ctx.call("wo.update", params);
  return ctx.print(r, [](const json& wo) { std::cout << "updated " << wo_summary(wo) << "\n"; });
}

struct WoAssignOptions {
  std::string id;
  std::optional<std::string> agent;
  bool clear = false;  // instead of an agent: unassign
};

int cmd_wo_assign(Context& ctx, const WoAssignOptions& opts) {
  if (int rc = check_wo_id(ctx, opts.id); rc != kOk) return rc;
  if (opts.clear == opts.agent.has_value())
    return fail(ctx, kUsage, "give an AGENT to assign it to, or --clear to unassign it");
  auto r = ctx.call("wo.update", {{"id", opts.id}, {"assignee", opts.agent ? json(*opts.agent) : json(nullptr)}});
  return ctx.print(r, [&](const json& wo) {
    std::string id = field(wo, "id", opts.id);
    if (member(wo, "assignee").is_string())
      std::cout << id << " assigned to " << field(wo, "assignee") << "\n";
    else
      std::cout << id << " unassigned\n";
  });
}

struct WoTransitionOptions {
  std::string id, to, reason;
  std::optional<std::string> idempotency_key, actor;
};

int cmd_wo_transition(Context& ctx, const WoTransitionOptions& opts) {
  if (int rc = check_wo_id(ctx, opts.id); rc != kOk) return rc;
  if (opts.reason.empty()) return fail(ctx, kUsage, "--reason must not be empty: say why, for the timeline");
  json params{{"id", opts.id}, {"to", opts.to}, {"reason", opts.reason}};
  if (opts.actor) params["actor"] = *opts.actor;
  if (opts.idempotency_key) params["idempotency_key"] = *opts.idempotency_key;
  auto r = ctx.call("wo.transition", params);
  // The status from the answer: a repeated idempotency key returns the first result.
  return ctx.print(r, [&](const json& wo) {
    std::cout << field(wo, "id", opts.id) << " is now " << field(wo, "status", opts.to) << "\n";
  });
}

int cmd_wo_timeline(Context& ctx, const std::string& id) {
  if (int rc = check_wo_id(ctx, id); rc != kOk) return rc;
  auto r = ctx.call("wo.timeline", {{"id", id}});
  return ctx.print(r, [&](const json& j) {
    const json& events = j.value("events", json::array());
    if (events.empty()) {
      std::cout << "no events for " << field(j, "id", id) << "\n";
      return;
    }
    Table t({"TIME", "ACTOR", "EVENT", "DETAIL"});
    for (const auto& e : events) {
      std::string type = field(e, "event_type", "?");
      const json& data = member(e, "data");
      std::string what;
      if (type == "wo.transitioned")
        what = field(data, "from", "?") + " -> " + field(data, "to", "?") + ": " + field(data, "reason", "");
      else if (data.is_object() && !data.empty())
        what = compact(data);
      t.add({field(e, "ts", ""), field(e, "actor"), type, what});
    }
    t.print(std::cout);
  });
}

int cmd_wo_stats(Context& ctx, const std::optional<std::string>& factory) {
  json params = json::object();
  if (factory) {
    if (int rc = check_factory_name(ctx, *factory); rc != kOk) return rc;
    params["factory"] = *factory;
  }
  ctx.set_not_found_hint("co factory list");
  auto r = ctx.call("wo.stats", params);
  return ctx.print(r, [](const json& s) {
    std::cout << count_of(s, "total") << " work order(s)\n";
    detail("  ", "by status", counts_text(member(s, "by_status"), {wo::kStatusNames.begin(), wo::kStatusNames.end()}));
    detail("  ", "by type", counts_text(member(s, "by_type"), {wo::kTypes.begin(), wo::kTypes.end()}));
    detail("  ", "by factory", counts_text(member(s, "by_factory")));
    const json& oldest = member(s, "oldest_open");
    detail("  ", "oldest open",
           oldest.is_object() ? field(oldest, "id", "?") + " (" + duration_text(member(oldest, "age_seconds")) + ")"
                              : "-");
  });
}

struct WoVerifyOptions {
  std::string id, check;
  bool pass = false, fail = false;  // exactly one
  bool subjective = false;
  std::optional<std::string> note;
};

int cmd_wo_verify(Context& ctx, const WoVerifyOptions& opts) {
  if (int rc = check_wo_id(ctx, opts.id); rc != kOk) return rc;
  if (opts.pass == opts.fail) return fail(ctx, kUsage, "give exactly one of --pass or --fail");
  json params{{"id", opts.id}, {"check", opts.check}, {"passed", opts.pass}, {"objective", !opts.subjective}};
  if (opts.note) params["note"] = *opts.note;
  auto r = ctx.call("wo.verify", params);
  return ctx.print(r, [&](const json& j) {
    const json& check = member(j, "check");
    const json& verdict = member(j, "verdict");
    bool passed = member(check, "passed").is_boolean() ? member(check, "passed").get<bool>() : opts.pass;
    std::string v;
    if (member(verdict, "all_pass") == true) {
      v = "all pass";
    } else {
      for (const char* key : {"failing", "missing"})
        if (const json& names = member(verdict, key); names.is_array() && !names.empty())
          v += (v.empty() ? "" : "; ") + std::string(key) + ": " + joined(names);
      if (v.empty()) v = "not all pass";
    }
    std::cout << "check " << field(check, "check", opts.check) << ": " << (passed ? "passed" : "failed")
              << "; verdict: " << v << "\n";
  });
}

int cmd_wo_rebuild_projections(Context& ctx) {
  announce_wait(ctx, "replaying the event log", kRebuildSeconds);
  auto r = ctx.call_waiting("wo.rebuild_projections", json::object(), kRebuildSeconds);
  return ctx.print(r, [](const json& j) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f",
                  member(j, "seconds").is_number() ? member(j, "seconds").get<double>() : 0.0);
    std::cout << "replayed " << count_of(j, "events_replayed") << " event(s) in " << secs
              << " s: " << count_of(j, "work_orders") << " work order(s), " << count_of(j, "slots") << " slot(s), "
              << count_of(j, "checks") << " check(s)\n";
    if (member(j, "matched_live") == true)
      std::cout << "matches the live projections\n";
    else
      std::cout << "differs from the live projections in " << count_of(j, "differences") << " place(s)\n";
  });
}

struct WoSyncOptions {
  std::optional<std::string> factory;
  bool all_factories = false;  // also the default when no --factory is given
};

int cmd_wo_sync(Context& ctx, const WoSyncOptions& opts) {
  json params = json::object();
  if (opts.factory) {
    if (int rc = check_factory_name(ctx, *opts.factory); rc != kOk) return rc;
    params["factory"] = *opts.factory;
  } else {
    params["all"] = true;  // no --factory: every factory, as --all-factories
  }
  ctx.set_not_found_hint("co factory list");
  announce_wait(ctx, "syncing work orders", kSyncSeconds);
  auto r = ctx.call_waiting("wo.sync", params, kSyncSeconds);
  return ctx.print(r, [](const json& j) {
    const json& factories = j.value("factories", json::array());
    if (factories.empty()) std::cout << "no factories to sync\n";
    for (const auto& f : factories) {
      std::cout << field(f, "factory", "?") << " (branch " << field(f, "branch") << "): exported "
                << count_of(f, "exported") << ", imported " << count_of(f, "imported") << ", rejected "
                << count_of(f, "rejected");
      if (member(f, "changed") == true)
        std::cout << "; commit " << field(f, "commit").substr(0, 12);
      else
        std::cout << "; no changes";
      std::cout << "\n";
    }
  });
}

// One event in human output: time, id, type, actor, then whatever it carries.
std::string event_line(const json& e) {
  std::string s = e.value("ts", "") + "  #" + std::to_string(e.value("id", 0L)) + "  " + e.value("event_type", "") +
                  "  " + e.value("actor", "");
  if (e.contains("factory") && e["factory"].is_string()) s += "  factory=" + e["factory"].get<std::string>();
  if (e.contains("subject") && e["subject"].is_string()) s += "  subject=" + e["subject"].get<std::string>();
  if (e.contains("data") && !e["data"].empty()) s += "  " + e["data"].dump(-1, ' ', false, json::error_handler_t::replace);
  return s;
}

struct EventsTailOptions {
  bool follow = false;
  int lines = 20;
  std::optional<std::string> type;
};

int cmd_events_tail(Context& ctx, const EventsTailOptions& opts) {
  json filter = json::object();
  if (opts.type) filter["types"] = json::array({*opts.type});
  // Subscribe before the catch-up query so nothing falls between the two; ids dedupe.
  if (opts.follow) ctx.call("events.subscribe", filter);
  json q{{"limit", opts.lines}, {"newest_first", true}};
  if (opts.type) q["type"] = *opts.type;
  auto r = ctx.call("events.query", q);
  const json events = r.value("events", json::array());  // the last N, oldest first
  std::int64_t last = 0;
  for (const auto& e : events) last = std::max(last, e.value("id", std::int64_t{0}));
  // --json: one document, {"events": [...]}. Following, there is no end to wait for: one
  // event per line (JSON lines), as `journalctl -f -o json` does.
  if (!opts.follow) return ctx.print(json{{"events", events}}, [&](const json&) {
      for (const auto& e : events) std::cout << event_line(e) << "\n";
    });
  for (const auto& e : events) {
    if (ctx.json_output()) std::cout << e.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    else std::cout << event_line(e) << "\n";
  }
  std::cout << std::flush;
  for (;;) {
    auto n = ctx.rpc().next_notification(std::nullopt);
    if (!n || n->value("method", "") != "event") continue;
    const json& e = (*n)["params"];
    if (e.value("id", std::int64_t{0}) <= last) continue;
    last = e.value("id", std::int64_t{0});
    if (ctx.json_output()) std::cout << e.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    else std::cout << event_line(e) << "\n";
    std::cout << std::flush;
  }
}

int cmd_events_stats(Context& ctx, const std::optional<std::string>& since) {
  json params = json::object();
  if (since) params["since"] = *since;
  auto r = ctx.call("events.stats", params);
  return ctx.print(r, [&](const json& s) {
    std::cout << s.value("total", 0L) << " event(s)";
    if (s["since"].is_string()) std::cout << " since " << s["since"].get<std::string>();
    std::cout << "\n";
    Table t({"EVENT TYPE", "COUNT"});
    for (const auto& [type, n] : s["by_type"].items()) t.add({type, std::to_string(n.get<long>())});
    if (!t.empty()) t.print(std::cout, "  ");
  });
}

int cmd_events_archive(Context& ctx, const std::string& older_than) {
  announce_wait(ctx, "archiving events older than " + older_than, kArchiveSeconds);
  auto r = ctx.call_waiting("events.archive", {{"older_than", older_than}}, kArchiveSeconds);
  return ctx.print(r, [&](const json& j) {
    long long archived = count_of(j, "archived");
    if (archived == 0) {
      std::cout << "no events older than " << older_than << " to archive\n";
      return;
    }
    std::cout << "archived " << archived << " event(s) older than " << older_than << "\n";
    for (const auto& f : j.value("files", json::array())) std::cout << "  " << text(f) << "\n";
    if (member(j, "checkpoint_event_id").is_number())
      std::cout << "  checkpoint: event #" << field(j, "checkpoint_event_id") << "\n";
  });
}

int cmd_eval_report(Context& ctx, const std::optional<std::string>& since) {
  json params = json::object();
  if (since) params["since"] = *since;
  auto r = ctx.call("report.eval", params);
  return ctx.print(r, [](const json& j) {
    std::cout << "work orders since " << field(j, "since") << "\n";
    constexpr std::size_t w = 24;  // the longest label, "median time to done:", and a gap
    detail("  ", "done", std::to_string(count_of(j, "done")), w);
    detail("  ", "median time to done", duration_text(member(j, "median_time_to_done_seconds")), w);
    detail("  ", "reached review", std::to_string(count_of(j, "reached_review")), w);
    detail("  ", "without intervention",
           std::to_string(count_of(j, "reached_review_without_intervention")) + " (" +
               percent(member(j, "share_without_intervention")) + ")",
           w);
  });
}

struct DispatchOptions {
  std::string work_order, factory;
  std::optional<std::string> team;
};

int cmd_dispatch(Context& ctx, const DispatchOptions& opts) {
  if (int rc = check_wo_id(ctx, opts.work_order); rc != kOk) return rc;
  if (int rc = check_factory_name(ctx, opts.factory); rc != kOk) return rc;
  json params{{"work_order", opts.work_order}, {"factory", opts.factory}};
  if (opts.team) params["team"] = *opts.team;
  ctx.set_not_found_hint(kWoHint + std::string(", co factory list"));
  announce_wait(ctx, "dispatching " + opts.work_order + " to " + opts.factory, kDispatchSeconds);
  auto r = ctx.call_waiting("dispatch", params, kDispatchSeconds);
  return ctx.print(r, [&](const json& d) {
    std::cout << "dispatched " << field(member(d, "work_order"), "id", opts.work_order) << " to "
              << field(d, "agent", "?") << " (slot " << field(d, "slot") << ") in " << field(d, "worktree")
              << " on branch " << field(d, "branch") << "\n";
  });
}

int cmd_sprint_list(Context& ctx, const std::optional<std::string>& factory) {
  json params{{"status", kInProgress}};
  if (factory) {
    if (int rc = check_factory_name(ctx, *factory); rc != kOk) return rc;
    params["factory"] = *factory;
  }
  ctx.set_not_found_hint("co factory list");
  auto r = ctx.call("wo.list", params);
  return ctx.print(r, [](const json& j) {
    const json& wos = j.value("work_orders", json::array());
    if (wos.empty()) {
      std::cout << "no work in progress\n";
      return;
    }
    std::map<std::string, std::vector<const json*>> by_factory;
    for (const auto& wo : wos) by_factory[field(wo, "factory", "(no factory)")].push_back(&wo);
    bool first = true;
    for (auto& [name, list] : by_factory) {
      std::stable_sort(list.begin(), list.end(), [](const json* a, const json* b) {
        return std::pair(field(*a, "assignee"), field(*a, "id")) < std::pair(field(*b, "assignee"), field(*b, "id"));
      });
      std::cout << (first ? "" : "\n") << "factory " << name << "\n";
      first = false;
      Table t({"ASSIGNEE", "STATUS", "ID", "AGE", "TITLE"});
      for (const json* wo : list)
        t.add({field(*wo, "assignee"), field(*wo, "status"), field(*wo, "id", "?"),
               age_since(member(*wo, "updated_at")), field(*wo, "title", "")});
      t.print(std::cout, "  ");
    }
    if (long long total = count_of(j, "total"); total > static_cast<long long>(wos.size()))
      std::cout << "showing " << wos.size() << " of " << total << " (the rest: wo list --status=" << kInProgress
                << " --limit N)\n";
  });
}

// `events` is the path of the group: "wo events" or "events".
std::vector<Command> event_log_commands(const std::string& events) {
  return {
      {events, "the event log"},
      {events + " tail", "the latest events; -f keeps following",
       [](Args& a, EventsTailOptions& o) {
         a.flag("-f,--follow", o.follow, "keep printing new events (with --json: one event per line, JSON lines)");
         a.option("-n,--lines", o.lines, "events to show first").range(1, 10000);
         a.option("--type", o.type, "only this event type, or a prefix such as agent.*");
       },
       cmd_events_tail},
      {events + " stats", "event counts by type",
       [](Args& a, std::optional<std::string>& since) {
         a.option("--since", since, "a duration (1h, 30m, 7d) or an RFC 3339 time");
       },
       cmd_events_stats},
      {events + " archive", "move old events out of the database into archive files",
       [](Args& a, std::string& older_than) {
         a.option("--older-than", older_than, "archive events older than this, e.g. 7d")
             .required()
             .check("DURATION", check_duration);
       },
       cmd_events_archive},
  };
}

std::vector<Command> dispatch_commands() {
  return {
      {"dispatch", "give a work order to a worker of a factory (spawning one if needed)",
       [](Args& a, DispatchOptions& o) {
         a.positional("WO", o.work_order, kWoIdHelp).required();
         a.positional("FACTORY", o.factory, "factory name (see: co factory list)").required();
         a.option("--team", o.team, "work in this team's worktree and branch (see: co team list)");
       },
       cmd_dispatch},
      {"sprint", "work in progress"},
      {"sprint list", "work orders in progress, by factory and assignee",
       [](Args& a, std::optional<std::string>& factory) {
         a.option("--factory", factory, "only this factory's work orders");
       },
       cmd_sprint_list},
  };
}

}  // namespace

std::vector<Command> wo_commands() {
  std::vector<Command> table = {
      {"wo", "work-order commands (also available as `wo`)"},
      {"wo create", "create a work order and print its id (id=$(wo create ...))",
       [](Args& a, WoCreateOptions& o) {
         a.option("--title", o.title, "one-line title").required();
         a.option("--type", o.type, "kind of work").one_of(wo::kTypes);
         a.option("--priority", o.priority, "0 (highest) to 4").range(wo::kMinPriority, wo::kMaxPriority);
         a.option("--factory", o.factory, "the factory it belongs to");
         a.option("--description", o.description, "longer description");
         a.option("--idempotency-key", o.idempotency_key,
                  "repeating a create with this key returns the first work order and creates nothing");
       },
       cmd_wo_create},
      {"wo list", "work orders, optionally filtered",
       [](Args& a, WoListOptions& o) {
         a.option("--status", o.status, "only these statuses (comma-separated: --status=open,failed)")
             .delimiter(',')
             .one_of(wo::kStatusNames);
         a.option("--factory", o.factory, "only this factory's work orders");
         a.option("--assignee", o.assignee, "only those assigned to this agent");
         a.option("--older-than", o.older_than, "only those not updated for this long, e.g. 30d")
             .check("DURATION", check_duration);
         a.option("--limit", o.limit, "at most this many").range(1, 1000000);
       },
       cmd_wo_list},
      {"wo show", "every field of a work order, its checks and its worker slot", declare_wo_id, cmd_wo_show},
      {"wo update", "change a work order's title, description or priority",
       [](Args& a, WoUpdateOptions& o) {
         declare_wo_id(a, o.id);
         a.option("--title", o.title, "new title");
         a.option("--description", o.description, "new description");
         a.option("--priority", o.priority, "0 (highest) to 4").range(wo::kMinPriority, wo::kMaxPriority);
       },
       cmd_wo_update},
      {"wo assign", "assign a work order to an agent (--clear: unassign it)",
       [](Args& a, WoAssignOptions& o) {
         declare_wo_id(a, o.id);
         a.positional("AGENT", o.agent, "agent id, e.g. myproject/workers/slot0 (see: co agent list)");
         a.flag("--clear", o.clear, "unassign instead").excludes("AGENT");
       },
       cmd_wo_assign},
      {"wo transition", "move a work order to another status",
       [](Args& a, WoTransitionOptions& o) {
         declare_wo_id(a, o.id);
         a.option("--to", o.to, "the new status").required().one_of(wo::kStatusNames);
         a.option("--reason", o.reason, "why, recorded in the timeline").required();
         a.option("--idempotency-key", o.idempotency_key,
                  "repeating a transition with this key returns the first result and changes nothing");
         a.option("--actor", o.actor, "who makes it (default: you, or the agent this runs in)");
       },
       cmd_wo_transition},
      {"wo timeline", "a work order's events, one per line", declare_wo_id, cmd_wo_timeline},
      {"wo stats", "work-order counts by status, type and factory; the oldest open one",
       [](Args& a, std::optional<std::string>& factory) {
         a.option("--factory", factory, "only this factory's work orders");
       },
       cmd_wo_stats},
      {"wo verify", "record a verification check's result; prints the verdict",
       [](Args& a, WoVerifyOptions& o) {
         declare_wo_id(a, o.id);
         a.option("--check", o.check, "check name, e.g. tests or lint").required();
         a.flag("--pass", o.pass, "the check passed");
         a.flag("--fail", o.fail, "the check failed").excludes("--pass");
         a.flag("--subjective", o.subjective, "a judgement rather than an objective check");
         a.option("--note", o.note, "details, e.g. what failed");
       },
       cmd_wo_verify},
      {"wo rebuild-projections",
       "rebuild work orders, slots and checks from the event log and compare with the live ones",
       cmd_wo_rebuild_projections},
      {"wo sync", "sync work orders with the factories' sync branches (default: all)",
       [](Args& a, WoSyncOptions& o) {
         a.option("--factory", o.factory, "only this factory");
         a.flag("--all-factories", o.all_factories, "every factory (the default)").excludes("--factory");
       },
       cmd_wo_sync},
      {"wo eval", "evaluation of how work orders went"},
      {"wo eval report", "done, median time to done, review reached without intervention",
       [](Args& a, std::optional<std::string>& since) {
         a.option("--since", since, "a duration (7d) or an RFC 3339 time (default: the daemon's)")
             .check("SINCE", check_since);
       },
       cmd_eval_report},
  };
  // The event log is both `wo events` and `co events`; dispatch and the sprint come after it.
  for (const auto& part : {event_log_commands("wo events"), event_log_commands("events"), dispatch_commands()})
    table.insert(table.end(), part.begin(), part.end());
  return table;
}

}  // namespace vermas::client
