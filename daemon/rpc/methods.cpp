// The daemon's own methods: liveness, overview, lifecycle, configuration, the event log, and
// the method table itself (rpc.methods).
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "common/json.hpp"
#include "daemon/rpc/connection.hpp"
#include "daemon/daemon.hpp"
#include "version.hpp"

namespace vermas {

namespace {


// `since`/`until` accept an RFC 3339 time or a duration meaning "that long ago".
std::optional<std::string> time_param(const rpc::Params& p, const char* name) {
  auto text = p.str(name, 64);
  if (!text) return std::nullopt;
  auto t = parse_since(*text, std::chrono::system_clock::now());
  if (!t)
    throw rpc::Error(rpc::code::invalid_params,
                     std::string(name) + ": expected an RFC 3339 time or a duration such as 1h, 30m, 7d",
                     json{{"field", name}});
  return format_rfc3339_ms(*t);
}

bool type_matches(const std::vector<std::string>& patterns, const std::string& type) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns)
    if (event_type_matches(p, type)) return true;
  return false;
}

json event_list(const std::vector<Event>& events) {
  json out = json::array();
  for (const auto& e : events) out.push_back(to_json(e));
  return out;
}

json rpc_ping(Daemon&, Call&) {
  json r(json::value_t::object);
  r["pong"] = true;
  r["version"] = kVersion;
  return r;
}

json rpc_health(Daemon& d, Call&) { return d.health(); }

json rpc_status(Daemon& d, Call& c) { return d.status(agent_fields(c)); }

json rpc_shutdown(Daemon& d, Call& c) {
  bool stop_agents = c.params.boolean("stop_agents").value_or(true);
  if (d.stopping()) throw rpc::Error(rpc::code::unavailable, "already shutting down");
  // Posted, so this answer is queued before the server starts closing connections.
  boost::asio::post(d.io(), [&d, stop_agents] { d.request_stop("shutdown requested", stop_agents); });
  return json::object();
}

json rpc_config_get(Daemon& d, Call&) {
  return {{"file", d.config_file().string()}, {"config", to_json(d.config())}};
}

json rpc_config_reload(Daemon& d, Call&) {
  auto out = d.reload_config("operator", "config.reload");
  if (!out.ok)
    throw rpc::Error(rpc::code::conflict,
                     "configuration not reloaded: " + std::to_string(out.errors.size()) + " error(s) in " +
                         d.config_file().string() + "; the running configuration is kept",
                     json{{"file", d.config_file().string()}, {"errors", out.errors}});
  return {{"reloaded", true}, {"changed", out.changed}, {"restart_required", out.restart_required}};
}

json rpc_events_query(Daemon& d, Call& c) {
  EventFilter f;
  f.since = time_param(c.params, "since");
  f.until = time_param(c.params, "until");
  f.type = c.params.str("type", 128);
  f.actor = c.params.str("actor", 256);
  f.factory = c.params.str("factory", 64);
  f.after_id = c.params.integer("after_id", 0, INT64_MAX);
  f.limit = static_cast<int>(c.params.integer("limit", 1, 10000).value_or(100));
  f.newest_first = c.params.boolean("newest_first").value_or(false);
  auto events = d.store().query(f);
  return {{"events", event_list(events)}, {"last_id", d.store().last_event_id()}};
}

json rpc_events_stats(Daemon& d, Call& c) {
  auto since = time_param(c.params, "since");
  auto stats = d.store().stats(since);
  json by_type = json::object();
  for (const auto& [type, n] : stats.by_type) by_type[type] = n;
  return {{"since", since ? json(*since) : json(nullptr)}, {"total", stats.total}, {"by_type", by_type}};
}

json rpc_events_subscribe(Daemon& d, Call& c) {
  auto types = c.params.str_list("types").value_or(std::vector<std::string>{});
  Journal* journal = &d.journal();
  // One subscription per connection: subscribing again replaces the filter rather than
  // delivering every event twice.
  if (auto previous = c.conn.subscription()) journal->unsubscribe(*previous);
  std::weak_ptr<Connection> weak = c.conn.shared_from_this();
  auto token = journal->subscribe([weak, types](const Event& e) {
    auto conn = weak.lock();
    if (!conn || !conn->open()) return false;
    if (!type_matches(types, e.event_type)) return true;
    return conn->notify(rpc::make_notification("event", to_json(e)));
  });
  if (!c.conn.subscription()) c.conn.on_close([journal, conn = &c.conn] {
    if (auto t = conn->subscription()) journal->unsubscribe(*t);
  });
  c.conn.set_subscription(token);
  return {{"subscribed", true}, {"types", types}, {"last_id", d.store().last_event_id()}};
}

json rpc_events_unsubscribe(Daemon& d, Call& c) {
  bool was = c.conn.subscription().has_value();
  if (was) d.journal().unsubscribe(*c.conn.subscription());
  c.conn.set_subscription(std::nullopt);
  return {{"unsubscribed", was}};
}

// The daemon's own table, not the router it was reached through (a harness may wrap it).
json rpc_rpc_methods(Daemon& d, Call&) { return d.router().describe(); }

}  // namespace

void register_core_methods(Router& router, Daemon& d) {
  using namespace access;
  static const DaemonMethod kMethods[] = {
      {"ping", {}, anyone, "liveness: {pong, version}", rpc_ping},
      {"health", {}, anyone, "ok or degraded, with the database's and the agents' state", rpc_health},
      {"status", {"fields"}, anyone,
       "company overview: factories and their agents (fields: only those members), counts, alerts", rpc_status},
      {"shutdown", {"stop_agents"}, operator_only, "stop the daemon, and its agents unless stop_agents is false",
       rpc_shutdown},
      {"config.get", {}, anyone, "the running configuration, every default filled in", rpc_config_get},
      {"config.reload", {}, operator_only, "re-read the configuration file (as SIGHUP); a bad file is kept out",
       rpc_config_reload},
      {"events.query", {"since", "until", "type", "actor", "factory", "limit", "after_id", "newest_first"}, anyone,
       "events of the log by time, type, actor, factory, id", rpc_events_query},
      {"events.stats", {"since"}, anyone, "event counts by type", rpc_events_stats},
      {"events.subscribe", {"types"}, anyone, "event notifications on this connection (one subscription)",
       rpc_events_subscribe},
      {"events.unsubscribe", {}, anyone, "end this connection's subscription", rpc_events_unsubscribe},
      {"rpc.methods", {}, anyone, "this table: every method, its params, who may call it", rpc_rpc_methods},
  };
  add_methods(router, d, kMethods);
}

}  // namespace vermas
