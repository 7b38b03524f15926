// co ping|status|health, co config check|reload|get, wo events tail|stats, co call.
#include <iostream>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/table.hpp"
#include "common/config.hpp"
#include "common/time.hpp"

namespace vermas::client {

namespace {

std::string age_of(const json& seconds) {
  return seconds.is_number() ? format_age(std::chrono::duration<double>(seconds.get<double>())) : "-";
}

std::string event_line(const json& e) {
  std::string s = e.value("ts", "") + "  #" + std::to_string(e.value("id", 0L)) + "  " + e.value("event_type", "") +
                  "  " + e.value("actor", "");
  if (e.contains("factory") && e["factory"].is_string()) s += "  factory=" + e["factory"].get<std::string>();
  if (e.contains("subject") && e["subject"].is_string()) s += "  subject=" + e["subject"].get<std::string>();
  if (e.contains("data") && !e["data"].empty()) s += "  " + e["data"].dump(-1, ' ', false, json::error_handler_t::replace);
  return s;
}

}  // namespace

int cmd_ping(Context& ctx) {
  auto r = ctx.call("ping");
  return ctx.print(r, [](const json& j) { std::cout << "pong (vermas-operations " << j.value("version", "?") << ")\n"; });
}

int cmd_status(Context& ctx) {
  auto r = ctx.call("status");
  return ctx.print(r, [](const json& s) {
    std::cout << "company " << s.value("company", "?") << "  (" << s.value("root", "") << ")\n"
              << "operations: pid " << s.value("pid", 0) << ", up " << age_of(s.value("uptime_seconds", json()))
              << ", version " << s.value("version", "?") << "\n";
    const json& agents = s.value("agents", json::object());
    std::cout << "agents: " << count_of(agents, "total");
    if (agents.contains("by_status") && agents["by_status"].is_object())
      for (const auto& [status, n] : agents["by_status"].items())
        std::cout << "  " << status << "=" << (n.is_number() ? std::to_string(n.get<long long>()) : n.dump());
    if (s.contains("work_orders") && s["work_orders"].is_object() && !s["work_orders"].empty()) {
      std::cout << "\nwork orders:";
      for (const auto& [status, n] : s["work_orders"].items())
        std::cout << "  " << status << "=" << (n.is_number() ? std::to_string(n.get<long long>()) : n.dump());
    }
    std::cout << "\nmail: " << count_of(s, "unread_mail") << " unread   spend today: "
              << money(s.contains("today_spend") && s["today_spend"].is_number() ? s["today_spend"].get<double>() : 0.0)
              << "\n";
    const json& factories = s.value("factories", json::array());
    if (factories.empty()) {
      std::cout << "factories: none (add one with: co factory add NAME URL)\n";
    }
    for (const auto& f : factories) {
      std::cout << "\nfactory " << field(f, "name", "?") << "  " << field(f, "url", "") << "\n";
      print_agents(std::cout, f.value("agents", json::array()),
                   {Col::id, Col::status, Col::pid, Col::uptime, Col::restarts, Col::heartbeat}, "  ",
                   "no agents yet (the supervisor and QA start at the next patrol)");
    }
    if (long long open = count_of(s, "open_alerts"); open > 0)
      std::cout << "\n" << open << " open alert" << (open == 1 ? "" : "s") << ": see co alert list\n";
  });
}

int cmd_health(Context& ctx) {
  auto r = ctx.call("health");
  int rc = ctx.print(r, [](const json& h) {
    std::cout << "status: " << h.value("status", "?") << "  (" << h.value("time", "") << ")\n";
    for (const auto& [name, state] : h["services"].items()) {
      std::cout << "  " << name << ": " << (state.is_string() ? state.get<std::string>() : state.dump());
      if (name == "db" && h.contains("db_error")) std::cout << " (" << h.value("db_error", "") << ")";
      std::cout << "\n";
    }
  });
  return r.value("status", "") == "ok" ? rc : kDaemonError;
}

int cmd_config_check(Context& ctx, const std::optional<std::string>& file) {
  std::filesystem::path path = file ? std::filesystem::path(*file) : ctx.paths().config_file();
  auto loaded = load_config(path);
  json errors = json::array();
  for (const auto& e : loaded.errors) errors.push_back(e.to_string());
  if (ctx.json_output()) {
    ctx.print_json({{"file", path.string()}, {"ok", loaded.ok()}, {"errors", errors}});
  } else if (loaded.ok()) {
    std::cout << path.string() << ": ok\n";
  } else {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    std::cerr << program_name() << ": " << loaded.errors.size() << " error(s) in " << path.string() << "\n";
  }
  return loaded.ok() ? kOk : kDaemonError;
}

int cmd_config_reload(Context& ctx) {
  auto r = ctx.call("config.reload");
  return ctx.print(r, [](const json& j) {
    const auto& changed = j["changed"];
    std::cout << "configuration reloaded: " << changed.size() << " key(s) changed\n";
    for (const auto& k : changed) std::cout << "  " << k.get<std::string>() << "\n";
    for (const auto& k : j["restart_required"])
      std::cout << "note: " << k.get<std::string>() << " takes effect at the next daemon start\n";
  });
}

int cmd_config_get(Context& ctx) {
  auto r = ctx.call("config.get");
  return ctx.print(r, [](const json& j) { std::cout << j["config"].dump(2) << "\n"; });
}

int cmd_events_tail(Context& ctx, const EventsTailOptions& opts) {
  json filter = json::object();
  if (opts.type) filter["types"] = json::array({*opts.type});
  // Subscribe before the catch-up query so nothing falls between the two; ids dedupe.
  if (opts.follow) ctx.call("events.subscribe", filter);
  json q{{"limit", opts.lines}, {"newest_first", true}};
  if (opts.type) q["type"] = *opts.type;
  auto r = ctx.call("events.query", q);
  std::int64_t last = 0;
  for (const auto& e : r["events"]) {
    if (ctx.json_output()) std::cout << e.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    else std::cout << event_line(e) << "\n";
    last = std::max(last, e.value("id", std::int64_t{0}));
  }
  std::cout << std::flush;
  if (!opts.follow) return kOk;
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

int cmd_call(Context& ctx, const std::string& method, const std::optional<std::string>& params) {
  ctx.set_raw_call();
  json p = json::object();
  if (params) {
    p = json::parse(*params, nullptr, false);
    if (p.is_discarded()) return fail(ctx, kUsage, "PARAMS is not valid JSON");
  }
  auto r = ctx.call(method, p);
  std::cout << r.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return kOk;
}

}  // namespace vermas::client
