// The daemon's own methods: liveness, overview, lifecycle, configuration and the event log.
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "daemon/connection.hpp"
#include "daemon/daemon.hpp"
#include "version.hpp"

namespace vermas {

namespace {

using rpc::json;

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

}  // namespace

void register_core_methods(Router& router, Daemon& d) {
  router.add("ping", [](Call& c) -> json {
    c.params.allow_only({});
    json r(json::value_t::object);
    r["pong"] = true;
    r["version"] = kVersion;
    return r;
  });

  router.add("health", [&d](Call& c) -> json {
    c.params.allow_only({});
    return d.health();
  });

  router.add("status", [&d](Call& c) -> json {
    c.params.allow_only({});
    return d.status();
  });

  router.add("shutdown", [&d](Call& c) -> json {
    c.params.allow_only({"stop_agents"});
    bool stop_agents = c.params.boolean("stop_agents").value_or(true);
    if (d.stopping()) throw rpc::Error(rpc::code::unavailable, "already shutting down");
    // Posted, so this answer is queued before the server starts closing connections.
    boost::asio::post(d.io(), [&d, stop_agents] { d.request_stop("shutdown requested", stop_agents); });
    return json::object();
  }, Access::operator_only);

  router.add("config.get", [&d](Call& c) -> json {
    c.params.allow_only({});
    return {{"file", d.config_file().string()}, {"config", to_json(d.config())}};
  });

  router.add("config.reload", [&d](Call& c) -> json {
    c.params.allow_only({});
    auto out = d.reload_config("operator", "config.reload");
    if (!out.ok)
      throw rpc::Error(rpc::code::conflict,
                       "configuration not reloaded: " + std::to_string(out.errors.size()) +
                           " error(s) in " + d.config_file().string() + "; the running configuration is kept",
                       json{{"file", d.config_file().string()}, {"errors", out.errors}});
    return {{"reloaded", true}, {"changed", out.changed}, {"restart_required", out.restart_required}};
  }, Access::operator_only);

  router.add("events.query", [&d](Call& c) -> json {
    c.params.allow_only({"since", "until", "type", "actor", "factory", "limit", "after_id", "newest_first"});
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
  });

  router.add("events.stats", [&d](Call& c) -> json {
    c.params.allow_only({"since"});
    auto since = time_param(c.params, "since");
    auto stats = d.store().stats(since);
    json by_type = json::object();
    for (const auto& [type, n] : stats.by_type) by_type[type] = n;
    return {{"since", since ? json(*since) : json(nullptr)}, {"total", stats.total}, {"by_type", by_type}};
  });

  router.add("events.subscribe", [&d](Call& c) -> json {
    c.params.allow_only({"types"});
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
  });

  router.add("events.unsubscribe", [&d](Call& c) -> json {
    c.params.allow_only({});
    bool was = c.conn.subscription().has_value();
    if (was) d.journal().unsubscribe(*c.conn.subscription());
    c.conn.set_subscription(std::nullopt);
    return {{"unsubscribed", was}};
  });
}

}  // namespace vermas
