// co (and wo): the CLI. This file only wires CLI11 to the command bodies.
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>

#include "client/commands.hpp"
#include "version.hpp"

namespace vermas::client {
void set_program_name(std::string name);
}

using namespace vermas::client;

int main(int argc, char** argv) {
  std::string invoked = std::filesystem::path(argv[0]).filename().string();
  std::vector<std::string> args(argv + 1, argv + argc);
  // `wo X` is `co wo X`.
  if (invoked == "wo") args.insert(args.begin(), "wo");
  set_program_name(invoked == "wo" ? "wo" : "co");

  CLI::App app{"co: the VerMAS operations client (wo: its work-order commands)", "co"};
  app.fallthrough();  // global flags work after the subcommand too
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("co ") + vermas::kVersion);
  Globals g;
  app.add_flag("--json", g.json, "machine output: exactly one JSON document on stdout");
  app.add_option("--socket", g.socket, "daemon socket (default: from the config, or ROOT/.work/operations.sock)");
  app.add_option("--timeout", g.timeout_seconds, "seconds to wait for the daemon")->check(CLI::Range(0.01, 86400.0));
  app.add_option("--company-root", g.company_root, "company root (default: $COMPANY_ROOT, nearest parent with .vermas/, ~/company)");

  int rc = 0;
  std::unique_ptr<Context> ctx;
  auto run = [&](std::function<int(Context&)> body) {
    return [&, body] {
      ctx = std::make_unique<Context>(g);
      rc = guarded(*ctx, [&] { return body(*ctx); });
    };
  };

  // --- company and daemon lifecycle
  InitOptions init;
  auto* init_cmd = app.add_subcommand("init", "create a company root here: .vermas/config.toml, .work/, logs/");
  init_cmd->add_option("--name", init.name, "company name written to the config");
  init_cmd->callback(run([&](Context& c) { return cmd_init(c, init); }));

  auto* ops = app.add_subcommand("operations", "start, stop and inspect the operations daemon");
  ops->require_subcommand(1);
  bool foreground = false, keep_agents = false, follow = false;
  int log_lines = 50;
  auto* start = ops->add_subcommand("start", "start the daemon (detached) and wait until it answers");
  start->add_flag("--foreground", foreground, "run in this terminal instead");
  start->callback(run([&](Context& c) { return cmd_operations_start(c, foreground); }));
  auto* stop = ops->add_subcommand("stop", "stop the daemon and wait for it to exit");
  stop->add_flag("--keep-agents", keep_agents, "leave agents running (for an upgrade)");
  stop->callback(run([&](Context& c) { return cmd_operations_stop(c, keep_agents); }));
  ops->add_subcommand("status", "is the daemon running? pid, uptime, socket")
      ->callback(run([&](Context& c) { return cmd_operations_status(c); }));
  auto* logs = ops->add_subcommand("logs", "show the daemon's log");
  logs->add_flag("-f,--follow", follow, "keep printing new lines");
  logs->add_option("-n,--lines", log_lines, "lines to show")->check(CLI::Range(0, 1000000));
  logs->callback(run([&](Context& c) { return cmd_operations_logs(c, follow, log_lines); }));

  app.add_subcommand("ping", "check that the daemon answers")->callback(run([](Context& c) { return cmd_ping(c); }));
  app.add_subcommand("status", "company overview: factories, agents, mail, alerts, spend")
      ->callback(run([](Context& c) { return cmd_status(c); }));
  app.add_subcommand("health", "health of the daemon's services (exit 1 when degraded)")
      ->callback(run([](Context& c) { return cmd_health(c); }));

  // --- configuration
  auto* config = app.add_subcommand("config", "check, reload or show the configuration");
  config->require_subcommand(1);
  std::optional<std::string> config_file;
  auto* check = config->add_subcommand("check", "validate the config file (no daemon needed)");
  check->add_option("file", config_file, "file to check (default: ROOT/.vermas/config.toml)");
  check->callback(run([&](Context& c) { return cmd_config_check(c, config_file); }));
  config->add_subcommand("reload", "make the daemon re-read its config (a bad file keeps the old one)")
      ->callback(run([](Context& c) { return cmd_config_reload(c); }));
  config->add_subcommand("get", "the daemon's effective configuration")
      ->callback(run([](Context& c) { return cmd_config_get(c); }));

  // --- work orders (`wo ...`) and the event log
  auto* wo = app.add_subcommand("wo", "work-order commands (also available as `wo`)");
  wo->require_subcommand(1);
  EventsTailOptions tail;
  std::optional<std::string> since;
  auto add_events = [&](CLI::App* parent) {
    auto* events = parent->add_subcommand("events", "the event log");
    events->require_subcommand(1);
    auto* t = events->add_subcommand("tail", "the latest events; -f keeps following");
    t->add_flag("-f,--follow", tail.follow, "keep printing new events");
    t->add_option("-n,--lines", tail.lines, "events to show first")->check(CLI::Range(1, 10000));
    t->add_option("--type", tail.type, "only this event type, or a prefix such as agent.*");
    t->callback(run([&](Context& c) { return cmd_events_tail(c, tail); }));
    auto* s = events->add_subcommand("stats", "event counts by type");
    s->add_option("--since", since, "a duration (1h, 30m, 7d) or an RFC 3339 time");
    s->callback(run([&](Context& c) { return cmd_events_stats(c, since); }));
  };
  add_events(wo);
  add_events(&app);

  std::string method;
  std::optional<std::string> params;
  auto* call = app.add_subcommand("call", "send one raw JSON-RPC call and print its result");
  call->add_option("method", method, "method name, e.g. events.query")->required();
  call->add_option("params", params, "named params as a JSON object");
  call->callback(run([&](Context& c) { return cmd_call(c, method, params); }));

  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kUsage;
  }
  return rc;
}
