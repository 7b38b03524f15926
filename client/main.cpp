// co (and wo): the CLI. This file only wires CLI11 to the command bodies.
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>

#include "client/commands.hpp"
#include "common/time.hpp"
#include "common/work_order.hpp"
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
  auto* timeout_opt = app.add_option("--timeout", g.timeout_seconds,
                                     "seconds to wait for the daemon (default 10; commands that wait for an action, "
                                     "such as a git clone or stopping an agent, allow longer unless this is given)")
                          ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--company-root", g.company_root, "company root (default: $COMPANY_ROOT, nearest parent with .vermas/, ~/company)");

  int rc = 0;
  std::unique_ptr<Context> ctx;
  auto run = [&](std::function<int(Context&)> body) {
    return [&, body] {
      g.timeout_given = timeout_opt->count() > 0;
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

  // --- factories and teams
  auto* factory =
      app.add_subcommand("factory", "add, list, inspect and remove factories (the repositories agents work on)");
  factory->require_subcommand(1);
  FactoryAddOptions factory_add;
  auto* fadd =
      factory->add_subcommand("add", "clone a repository as a factory; its supervisor and QA start at the next patrol");
  fadd->add_option("NAME", factory_add.name, "factory name: lowercase letters, digits, - and _ (at most 32)")
      ->required();
  fadd->add_option("URL", factory_add.url, "git URL or path to clone into ROOT/NAME")->required();
  fadd->add_option("--prefix", factory_add.prefix,
                   "work-order id prefix for this factory (default: the daemon's choice)");
  fadd->callback(run([&](Context& c) { return cmd_factory_add(c, factory_add); }));
  factory->add_subcommand("list", "every factory with its agents' counts by status")->callback(run([](Context& c) {
    return cmd_factory_list(c);
  }));
  std::string factory_name;
  auto* fstatus = factory->add_subcommand("status", "one factory: its repository, agents and configuration");
  fstatus->add_option("NAME", factory_name, "factory name")->required();
  fstatus->callback(run([&](Context& c) { return cmd_factory_status(c, factory_name); }));
  auto* fremove = factory->add_subcommand("remove", "stop a factory's agents and forget it (its clone stays on disk)");
  fremove->add_option("NAME", factory_name, "factory name")->required();
  fremove->callback(run([&](Context& c) { return cmd_factory_remove(c, factory_name); }));

  auto* team = app.add_subcommand("team", "teams within a factory");
  team->require_subcommand(1);
  std::string team_name, team_factory;
  std::optional<std::string> team_list_factory;
  auto* tadd = team->add_subcommand("add", "add a team (its own worktree and branch) to a factory");
  tadd->add_option("NAME", team_name, "team name")->required();
  tadd->add_option("--factory", team_factory, "the factory it belongs to")->required();
  tadd->callback(run([&](Context& c) { return cmd_team_add(c, team_name, team_factory); }));
  auto* tlist = team->add_subcommand("list", "teams, of every factory or of one");
  tlist->add_option("--factory", team_list_factory, "only this factory's teams");
  tlist->callback(run([&](Context& c) { return cmd_team_list(c, team_list_factory); }));

  // --- agents and workers
  auto member = [](const auto& values) {
    return CLI::IsMember(std::vector<std::string>(std::begin(values), std::end(values)));
  };
  auto* agent = app.add_subcommand("agent", "inspect and control agents: supervisors, QA, workers, the CEO");
  agent->require_subcommand(1);
  AgentListOptions agent_list;
  auto* alist = agent->add_subcommand("list", "every agent with its status, pid, uptime, restarts and heartbeat");
  alist->add_option("--factory", agent_list.factory, "only this factory's agents");
  alist->add_option("--role", agent_list.role, "only this role")->check(member(kAgentRoles));
  alist->add_option("--status", agent_list.status, "only agents in this status")->check(member(kAgentStatuses));
  alist->add_option("--sort", agent_list.sort, "order by this key")->check(member(kAgentSortKeys));
  alist->callback(run([&](Context& c) { return cmd_agent_list(c, agent_list); }));
  std::string agent_id;
  auto* ashow = agent->add_subcommand("show", "every detail of one agent");
  ashow->add_option("ID", agent_id, "agent id, e.g. ceo, myproject/supervisor, myproject/workers/slot0")->required();
  ashow->callback(run([&](Context& c) { return cmd_agent_show(c, agent_id); }));
  const std::pair<const char*, const char*> actions[] = {
      {"start", "start a stopped or failed agent (clears an operator stop) and wait until it runs"},
      {"stop", "stop an agent (SIGTERM, then SIGKILL after the stop timeout); it stays stopped until started"},
      {"restart", "stop an agent and start it again"},
      {"kill", "SIGKILL an agent's process group at once, without the stop timeout"}};
  for (const auto& [action, help] : actions) {
    auto* cmd = agent->add_subcommand(action, help);
    cmd->add_option("ID", agent_id, "agent id (see: co agent list)")->required();
    cmd->callback(run([&, name = std::string(action)](Context& c) { return cmd_agent_action(c, name, agent_id); }));
  }
  AgentLogsOptions agent_logs;
  auto* alogs = agent->add_subcommand("logs", "an agent's captured output; -f keeps following it");
  alogs->add_option("ID", agent_logs.id, "agent id (see: co agent list)")->required();
  alogs->add_option("-n,--lines", agent_logs.lines, "lines to show")->check(CLI::Range(0, 1000000));
  alogs->add_flag("-f,--follow", agent_logs.follow,
                  "keep printing new output, like tail -F (Ctrl-C to stop); with --json, one JSON string per line");
  alogs->callback(run([&](Context& c) { return cmd_agent_logs(c, agent_logs); }));

  auto* worker = app.add_subcommand("worker", "worker slots: list, inspect, spawn and kill workers");
  worker->require_subcommand(1);
  WorkerListOptions worker_list;
  auto* wlist = worker->add_subcommand("list", "workers holding a slot, of every factory or of one");
  wlist->add_option("FACTORY", worker_list.factory, "only this factory's workers");
  wlist->add_flag("--all", worker_list.all, "include stopped and failed workers");
  wlist->add_option("--status", worker_list.status, "only workers in this status, e.g. idle")
      ->check(member(kAgentStatuses));
  wlist->callback(run([&](Context& c) { return cmd_worker_list(c, worker_list); }));
  std::string worker_factory, worker_slot;
  auto* wstatus = worker->add_subcommand("status", "every detail of the worker in one slot");
  wstatus->add_option("FACTORY", worker_factory, "factory name")->required();
  wstatus->add_option("SLOT", worker_slot, "slot number, e.g. 0")->required();
  wstatus->callback(run([&](Context& c) { return cmd_worker_status(c, worker_factory, worker_slot); }));
  bool spawn_verbose = false;
  auto* wspawn = worker->add_subcommand("spawn", "start a worker in the factory's next free slot");
  wspawn->add_option("FACTORY", worker_factory, "factory name")->required();
  wspawn->add_flag("--verbose", spawn_verbose, "also print the events of the spawn (on stderr) and every detail");
  wspawn->callback(run([&](Context& c) { return cmd_worker_spawn(c, worker_factory, spawn_verbose); }));
  auto* wkill = worker->add_subcommand("kill", "save a worker's work to a git ref, stop it and free its slot");
  wkill->add_option("FACTORY", worker_factory, "factory name")->required();
  wkill->add_option("SLOT", worker_slot, "slot number, e.g. 0")->required();
  wkill->callback(run([&](Context& c) { return cmd_worker_kill(c, worker_factory, worker_slot); }));

  HeartbeatOptions heartbeat;
  auto* hb = app.add_subcommand("heartbeat", "an agent reports it is alive (run from inside the agent)");
  hb->add_option("--activity", heartbeat.activity, "what the agent is doing, shown in co agent show");
  hb->add_option("--id", heartbeat.id, "the agent (default: the agent this command runs in)");
  hb->callback(run([&](Context& c) { return cmd_heartbeat(c, heartbeat); }));

  int attach_lines = 50;
  auto* attach = app.add_subcommand("attach", "attach to an agent's tmux session, or follow its output log");
  attach->add_option("ID", agent_id, "agent id (see: co agent list)")->required();
  attach->add_option("-n,--lines", attach_lines, "lines of output to show first when following the log")
      ->check(CLI::Range(0, 1000000));
  attach->callback(run([&](Context& c) { return cmd_attach(c, agent_id, attach_lines); }));

  // --- alerts
  auto* alert = app.add_subcommand("alert", "alerts raised by the daemon (start limits, budgets, loops, ...)");
  alert->require_subcommand(1);
  bool alert_all = false;
  auto* allist = alert->add_subcommand("list", "open alerts (--all: resolved ones too)");
  allist->add_flag("--all", alert_all, "resolved ones too");
  allist->callback(run([&](Context& c) { return cmd_alert_list(c, alert_all); }));
  std::string alert_id;
  auto* aresolve = alert->add_subcommand("resolve", "mark an alert resolved");
  aresolve->add_option("ID", alert_id, "alert id (see: co alert list)")->required();
  aresolve->callback(run([&](Context& c) { return cmd_alert_resolve(c, alert_id); }));

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
  // Durations are checked here, so a typo is a usage error before any call.
  const CLI::Validator duration(
      [](std::string& s) {
        return vermas::parse_duration(s) ? std::string() : "not a duration such as 90s, 30m, 12h or 7d: " + s;
      },
      "DURATION");
  const CLI::Validator since_check(
      [](std::string& s) {
        return vermas::parse_since(s, std::chrono::system_clock::now())
                   ? std::string()
                   : "not a duration (7d) or an RFC 3339 time (2026-11-22T03:47:40Z): " + s;
      },
      "SINCE");
  const std::string wo_id_help = "work order id, e.g. wo-abc123 (see: wo list)";
  const auto wo_status = member(vermas::wo::kStatusNames);
  const auto wo_priority = CLI::Range(vermas::wo::kMinPriority, vermas::wo::kMaxPriority);
  auto* wo = app.add_subcommand("wo", "work-order commands (also available as `wo`)");
  wo->require_subcommand(1);

  WoCreateOptions wo_create;
  auto* wcreate = wo->add_subcommand("create", "create a work order and print its id (id=$(wo create ...))");
  wcreate->add_option("--title", wo_create.title, "one-line title")->required();
  wcreate->add_option("--type", wo_create.type, "kind of work")->check(member(vermas::wo::kTypes));
  wcreate->add_option("--priority", wo_create.priority, "0 (highest) to 4")->check(wo_priority);
  wcreate->add_option("--factory", wo_create.factory, "the factory it belongs to");
  wcreate->add_option("--description", wo_create.description, "longer description");
  wcreate->add_option("--idempotency-key", wo_create.idempotency_key,
                      "repeating a create with this key returns the first work order and creates nothing");
  wcreate->callback(run([&](Context& c) { return cmd_wo_create(c, wo_create); }));

  WoListOptions wo_list;
  auto* wlist_wo = wo->add_subcommand("list", "work orders, optionally filtered");
  wlist_wo->add_option("--status", wo_list.status, "only these statuses (comma-separated: --status=open,failed)")
      ->delimiter(',')
      ->check(wo_status);
  wlist_wo->add_option("--factory", wo_list.factory, "only this factory's work orders");
  wlist_wo->add_option("--assignee", wo_list.assignee, "only those assigned to this agent");
  wlist_wo->add_option("--older-than", wo_list.older_than, "only those not updated for this long, e.g. 30d")
      ->check(duration);
  wlist_wo->add_option("--limit", wo_list.limit, "at most this many")->check(CLI::Range(1, 1000000));
  wlist_wo->callback(run([&](Context& c) { return cmd_wo_list(c, wo_list); }));

  std::string wo_id;
  auto* wshow = wo->add_subcommand("show", "every field of a work order, its checks and its worker slot");
  wshow->add_option("ID", wo_id, wo_id_help)->required();
  wshow->callback(run([&](Context& c) { return cmd_wo_show(c, wo_id); }));

  WoUpdateOptions wo_update;
  auto* wupdate = wo->add_subcommand("update", "change a work order's title, description or priority");
  wupdate->add_option("ID", wo_update.id, wo_id_help)->required();
  wupdate->add_option("--title", wo_update.title, "new title");
  wupdate->add_option("--description", wo_update.description, "new description");
  wupdate->add_option("--priority", wo_update.priority, "0 (highest) to 4")->check(wo_priority);
  wupdate->callback(run([&](Context& c) { return cmd_wo_update(c, wo_update); }));

  WoAssignOptions wo_assign;
  auto* wassign = wo->add_subcommand("assign", "assign a work order to an agent (--clear: unassign it)");
  wassign->add_option("ID", wo_assign.id, wo_id_help)->required();
  auto* assign_agent =
      wassign->add_option("AGENT", wo_assign.agent, "agent id, e.g. myproject/workers/slot0 (see: co agent list)");
  wassign->add_flag("--clear", wo_assign.clear, "unassign instead")->excludes(assign_agent);
  wassign->callback(run([&](Context& c) { return cmd_wo_assign(c, wo_assign); }));

  WoTransitionOptions wo_transition;
  auto* wtrans = wo->add_subcommand("transition", "move a work order to another status");
  wtrans->add_option("ID", wo_transition.id, wo_id_help)->required();
  wtrans->add_option("--to", wo_transition.to, "the new status")->required()->check(wo_status);
  wtrans->add_option("--reason", wo_transition.reason, "why, recorded in the timeline")->required();
  wtrans->add_option("--idempotency-key", wo_transition.idempotency_key,
                     "repeating a transition with this key returns the first result and changes nothing");
  wtrans->add_option("--actor", wo_transition.actor, "who makes it (default: you, or the agent this runs in)");
  wtrans->callback(run([&](Context& c) { return cmd_wo_transition(c, wo_transition); }));

  auto* wtimeline = wo->add_subcommand("timeline", "a work order's events, one per line");
  wtimeline->add_option("ID", wo_id, wo_id_help)->required();
  wtimeline->callback(run([&](Context& c) { return cmd_wo_timeline(c, wo_id); }));

  std::optional<std::string> wo_factory;
  auto* wstats = wo->add_subcommand("stats", "work-order counts by status, type and factory; the oldest open one");
  wstats->add_option("--factory", wo_factory, "only this factory's work orders");
  wstats->callback(run([&](Context& c) { return cmd_wo_stats(c, wo_factory); }));

  WoVerifyOptions wo_verify;
  auto* wverify = wo->add_subcommand("verify", "record a verification check's result; prints the verdict");
  wverify->add_option("ID", wo_verify.id, wo_id_help)->required();
  wverify->add_option("--check", wo_verify.check, "check name, e.g. tests or lint")->required();
  auto* vpass = wverify->add_flag("--pass", wo_verify.pass, "the check passed");
  wverify->add_flag("--fail", wo_verify.fail, "the check failed")->excludes(vpass);
  wverify->add_flag("--subjective", wo_verify.subjective, "a judgement rather than an objective check");
  wverify->add_option("--note", wo_verify.note, "details, e.g. what failed");
  wverify->callback(run([&](Context& c) { return cmd_wo_verify(c, wo_verify); }));

  wo->add_subcommand("rebuild-projections",
                     "rebuild work orders, slots and checks from the event log and compare with the live ones")
      ->callback(run([](Context& c) { return cmd_wo_rebuild_projections(c); }));

  WoSyncOptions wo_sync;
  auto* wsync = wo->add_subcommand("sync", "sync work orders with the factories' sync branches (default: all)");
  auto* sync_factory = wsync->add_option("--factory", wo_sync.factory, "only this factory");
  wsync->add_flag("--all-factories", wo_sync.all_factories, "every factory (the default)")->excludes(sync_factory);
  wsync->callback(run([&](Context& c) { return cmd_wo_sync(c, wo_sync); }));

  std::optional<std::string> eval_since;
  auto* weval = wo->add_subcommand("eval", "evaluation of how work orders went");
  weval->require_subcommand(1);
  auto* ereport = weval->add_subcommand("report", "done, median time to done, review reached without intervention");
  ereport->add_option("--since", eval_since, "a duration (7d) or an RFC 3339 time (default: the daemon's)")
      ->check(since_check);
  ereport->callback(run([&](Context& c) { return cmd_eval_report(c, eval_since); }));
  EventsTailOptions tail;
  std::optional<std::string> since;
  std::string archive_older_than;
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
    auto* a = events->add_subcommand("archive", "move old events out of the database into archive files");
    a->add_option("--older-than", archive_older_than, "archive events older than this, e.g. 7d")
        ->required()
        ->check(duration);
    a->callback(run([&](Context& c) { return cmd_events_archive(c, archive_older_than); }));
  };
  add_events(wo);
  add_events(&app);

  // --- dispatch and the sprint
  DispatchOptions dispatch;
  auto* disp = app.add_subcommand("dispatch", "give a work order to a worker of a factory (spawning one if needed)");
  disp->add_option("WO", dispatch.work_order, wo_id_help)->required();
  disp->add_option("FACTORY", dispatch.factory, "factory name (see: co factory list)")->required();
  disp->add_option("--team", dispatch.team, "work in this team's worktree and branch (see: co team list)");
  disp->callback(run([&](Context& c) { return cmd_dispatch(c, dispatch); }));
  auto* sprint = app.add_subcommand("sprint", "work in progress");
  sprint->require_subcommand(1);
  std::optional<std::string> sprint_factory;
  auto* slist = sprint->add_subcommand("list", "work orders in progress, by factory and assignee");
  slist->add_option("--factory", sprint_factory, "only this factory's work orders");
  slist->callback(run([&](Context& c) { return cmd_sprint_list(c, sprint_factory); }));

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
