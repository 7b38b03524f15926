// co ping|status|health, co config check|reload|get, co call: their bodies and their entries in the
// command table.
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

int cmd_ping(Context& ctx) {
  auto r = ctx.call("ping");
  return ctx.print(r, [](const json& j) { std::cout << "pong (vermas-operations " << j.value("version", "?") << ")\n"; });
}

int cmd_status(Context& ctx) {
  auto r = ctx.call_for_table("status", json::object(),
                              {"id", "status", "reason", "stale", "pid", "uptime_seconds", "restart_count",
                               "last_heartbeat"});
  return ctx.print(r, [](const json& s) {
    std::cout << "company " << s.value("company", "?") << "  (" << s.value("root", "") << ")\n"
              << "operations: pid " << s.value("pid", 0) << ", up " << age_of(s.value("uptime_seconds", json()))
              << ", version " << s.value("version", "?") << "\n";
    const json& agents = member(s, "agents");
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
    const json& factories = member(s, "factories");
    if (!factories.is_array() || factories.empty()) {
      std::cout << "factories: none (add one with: co factory add NAME URL)\n";
    }
    for (const auto& f : factories) {
      std::cout << "\nfactory " << field(f, "name", "?") << "  " << field(f, "url", "") << "\n";
      print_agents(std::cout, member(f, "agents"),
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
  json errors = json::array(), warnings = json::array();
  for (const auto& e : loaded.errors) errors.push_back(e.to_string());
  for (const auto& w : loaded.warnings) warnings.push_back(w.to_string());
  if (ctx.json_output()) {
    ctx.print_json({{"file", path.string()}, {"ok", loaded.ok()}, {"errors", errors}, {"warnings", warnings}});
  } else if (loaded.ok()) {
    // Warnings alone leave the file valid (exit 0), as with co doctor's "!".
    for (const auto& w : loaded.warnings) std::cerr << "warning: " << w.to_string() << "\n";
    std::cout << path.string() << ": ok" << (loaded.warnings.empty() ? "" : " (" + std::to_string(loaded.warnings.size()) + " warning(s))") << "\n";
  } else {
    for (const auto& w : loaded.warnings) std::cerr << "warning: " << w.to_string() << "\n";
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

// Low-level escape hatch for tool authors and debugging: `co call METHOD [JSON]`.
struct CallOptions {
  std::string method;
  std::optional<std::string> params;
};

int cmd_call(Context& ctx, const CallOptions& opts) {
  ctx.set_raw_call();
  json p = json::object();
  if (opts.params) {
    p = json::parse(*opts.params, nullptr, false);
    if (p.is_discarded()) return fail(ctx, kUsage, "PARAMS is not valid JSON");
  }
  auto r = ctx.call(opts.method, p);
  std::cout << r.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return kOk;
}

}  // namespace

std::vector<Command> overview_commands() {
  return {
      {"ping", "check that the daemon answers", cmd_ping},
      {"status", "company overview: factories, agents, mail, alerts, spend", cmd_status},
      {"health", "health of the daemon's services (exit 1 when degraded)", cmd_health},
  };
}

std::vector<Command> config_commands() {
  return {
      {"config", "check, reload or show the configuration"},
      {"config check", "validate the config file (no daemon needed)",
       [](Args& a, std::optional<std::string>& file) {
         a.positional("file", file, "file to check (default: ROOT/.vermas/config.toml)");
       },
       cmd_config_check},
      {"config reload", "make the daemon re-read its config (a bad file keeps the old one)", cmd_config_reload},
      {"config get", "the daemon's effective configuration", cmd_config_get},
  };
}

std::vector<Command> call_commands() {
  return {
      {"call", "send one raw JSON-RPC call and print its result",
       [](Args& a, CallOptions& o) {
         a.positional("method", o.method, "method name, e.g. events.query").required();
         a.positional("params", o.params, "named params as a JSON object");
       },
       cmd_call},
  };
}

}  // namespace vermas::client
