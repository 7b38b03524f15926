// co agent list|show|start|stop|restart|kill|logs, co worker list|status|spawn|kill,
// co heartbeat, co attach: their bodies and their entries in the command table.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iostream>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/follow.hpp"
#include "common/paths.hpp"

namespace vermas::client {

namespace {

// Starting waits for the process; stopping gives it [operations] stop_timeout_seconds
// (10 by default) before SIGKILL; a worker kill first saves its worktree to a git ref.
constexpr double kActionSeconds = 120;

constexpr const char* kAgentHint = "co agent list";

// The values --role, --status and --sort accept.
constexpr const char* kAgentRoles[] = {"supervisor", "qa", "worker", "ceo"};
constexpr const char* kAgentStatuses[] = {"starting", "running", "idle", "stuck", "backoff", "paused",
                                          "quarantined", "stopping", "stopped", "failed", "lost"};
constexpr const char* kAgentSortKeys[] = {"id", "status", "started_at", "restarts", "last_heartbeat", "today_spend"};

// "3", "slot3" or "workers/slot3" -> 3
std::optional<int> parse_slot(std::string text) {
  if (text.rfind("workers/", 0) == 0) text.erase(0, 8);
  if (text.rfind("slot", 0) == 0) text.erase(0, 4);
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoi(text);
}

// A live process whose tmux session can be attached.
bool has_process(const json& a) {
  static const char* const live[] = {"starting", "running", "idle", "stuck", "paused", "stopping"};
  std::string status = field(a, "status", "");
  for (const char* s : live)
    if (status == s) return a.value("pid", json()).is_number() || a.value("runner", "") == "tmux";
  return false;
}

// Prints the last `lines` lines of the agent's output log, then follows it (never returns
// unless the log cannot be found).
int follow_agent_log(Context& ctx, const json& agent, int lines) {
  std::string id = field(agent, "id", "?");
  std::string file = field(agent, "log", "");
  if (file.empty()) return fail(ctx, kDaemonError, "the daemon did not say where " + id + "'s output log is");
  auto emit = [&](const std::string& line) {
    if (ctx.json_output())
      std::cout << json(line).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    else
      std::cout << line << "\n";
    std::cout << std::flush;
  };
  std::uint64_t offset = 0;
  if (auto tail = last_lines(file, lines)) {
    for (const auto& l : tail->lines) emit(l);
    offset = tail->end;
  } else {
    std::cerr << program_name() << ": " << id << " has no output yet (" << file << "); waiting for it\n";
  }
  std::cout << std::flush;
  follow_file(file, offset, emit);
}

void print_event_line(std::ostream& out, const json& e) {
  out << "  " << field(e, "ts", "") << "  " << field(e, "event_type", "?") << "  " << field(e, "actor", "");
  if (e.contains("subject") && e["subject"].is_string()) out << "  " << e["subject"].get<std::string>();
  if (e.contains("data") && e["data"].is_object() && !e["data"].empty())
    out << "  " << e["data"].dump(-1, ' ', false, json::error_handler_t::replace);
  out << "\n";
}

// The ID argument of the commands that act on one agent.
void declare_agent_id(Args& a, std::string& id) { a.positional("ID", id, "agent id (see: co agent list)").required(); }

struct AgentListOptions {
  std::optional<std::string> factory, role, status, sort;
};

int cmd_agent_list(Context& ctx, const AgentListOptions& opts) {
  json params = {{"usage", true}};  // the CPU and memory columns
  if (opts.factory) {
    if (int rc = check_factory_name(ctx, *opts.factory); rc != kOk) return rc;
    params["factory"] = *opts.factory;
  }
  if (opts.role) params["role"] = *opts.role;
  if (opts.status) params["status"] = *opts.status;
  if (opts.sort) params["sort"] = *opts.sort;
  ctx.set_not_found_hint("co factory list");
  auto r = ctx.call_for_table("agent.list", params,
                              {"id", "role", "status", "reason", "stale", "pid", "cpu_percent", "rss_bytes",
                               "uptime_seconds", "restart_count", "last_heartbeat", "current_work_order",
                               "today_spend", "daily_cap"});
  return ctx.print(r, [&](const json& j) {
    bool filtered = opts.factory || opts.role || opts.status;
    print_agents(std::cout, member(j, "agents"),
                 {Col::id, Col::role, Col::status, Col::pid, Col::cpu, Col::rss, Col::uptime, Col::restarts,
                  Col::heartbeat, Col::work_order, Col::spend},
                 "", filtered ? "no agents match" : "no agents (add a factory with: co factory add NAME URL)");
  });
}

int cmd_agent_show(Context& ctx, const std::string& id) {
  ctx.set_not_found_hint(kAgentHint);
  auto r = ctx.call("agent.get", {{"id", id}});
  return ctx.print(r, [](const json& a) { print_agent_detail(std::cout, a); });
}

struct AgentActionOptions {
  std::optional<std::string> id, factory, role;
  bool all = false;
};

// ID, or a group: --all, --factory F, --role R (together: the agents matching both).
void declare_agent_or_group(Args& a, AgentActionOptions& o) {
  a.positional("ID", o.id, "agent id (see: co agent list); or select a group with --all, --factory, --role");
  a.flag("--all", o.all, "every agent (a start: every stopped supervisor, QA and slot-holding worker)");
  a.option("--factory", o.factory, "every agent of this factory");
  a.option("--role", o.role, "every agent of this role").one_of(kAgentRoles);
}

const char* past_tense(const std::string& action) {
  static const std::pair<const char*, const char*> done[] = {
      {"start", "started"}, {"stop", "stopped"}, {"restart", "restarted"}, {"kill", "killed"}};
  for (const auto& [a_, v] : done)
    if (action == a_) return v;
  return "done:";
}

// A group's answer: one line per agent acted on, each failure on stderr (exit 1 if any).
int print_group(Context& ctx, const std::string& action, const json& r) {
  const json errors = r.value("errors", json::array());
  if (ctx.json_output()) {
    ctx.print_json(r);
  } else {
    for (const auto& a : r.value("agents", json::array())) std::cout << past_tense(action) << " " << agent_summary(a) << "\n";
    std::cout << past_tense(action) << " " << r.value("count", 0) << " agent(s)"
              << (errors.empty() ? "" : ", " + std::to_string(errors.size()) + " failed") << "\n";
    for (const auto& e : errors)
      std::cerr << program_name() << ": " << field(e, "id", "?") << ": " << field(e, "message", "") << "\n";
  }
  return errors.empty() ? kOk : kDaemonError;
}

// action: start | stop | restart | kill (the method agent.<action>)
int agent_action(Context& ctx, const std::string& action, const AgentActionOptions& o) {
  const bool group = o.all || o.factory || o.role;
  if (o.id && group)
    return fail(ctx, kUsage, "give an agent ID or a group (--all, --factory, --role), not both");
  if (!o.id && !group)
    return fail(ctx, kUsage, "co agent " + action + " needs an agent ID, or --all, --factory F or --role R");
  if (group) {
    json params = json::object();
    if (o.all) params["all"] = true;
    if (o.factory) params["factory"] = *o.factory;
    if (o.role) params["role"] = *o.role;
    ctx.set_not_found_hint("co factory list");
    return print_group(ctx, action, ctx.call_waiting("agent." + action, params, kActionSeconds));
  }
  const std::string id = *o.id;
  ctx.set_not_found_hint(kAgentHint);
  auto r = ctx.call_waiting("agent." + action, {{"id", id}}, kActionSeconds);
  return ctx.print(r, [&](const json& a) {
    std::cout << past_tense(action) << " " << agent_summary(a) << "\n";
    if (field(a, "desired", "") == "stopped")
      std::cout << "  it stays stopped, across daemon restarts too, until: co agent start " << field(a, "id", id)
                << "\n";
  });
}

int cmd_agent_start(Context& ctx, const AgentActionOptions& o) { return agent_action(ctx, "start", o); }
int cmd_agent_stop(Context& ctx, const AgentActionOptions& o) { return agent_action(ctx, "stop", o); }
int cmd_agent_restart(Context& ctx, const AgentActionOptions& o) { return agent_action(ctx, "restart", o); }
int cmd_agent_kill(Context& ctx, const AgentActionOptions& o) { return agent_action(ctx, "kill", o); }

struct PauseOptions {
  std::string id;
  std::string reason;
};

// The operator's controls on one agent: agent.<method> {id, reason?}, then one line saying
// what was done (`done` + the agent) and, when there is one, what follows (`next`).
int agent_control(Context& ctx, const std::string& method, const PauseOptions& o, const char* done,
                  const std::function<std::string(const json&)>& next = nullptr) {
  ctx.set_not_found_hint(kAgentHint);
  json params = {{"id", o.id}};
  if (!o.reason.empty()) params["reason"] = o.reason;
  auto r = ctx.call_waiting("agent." + method, params, kActionSeconds);
  return ctx.print(r, [&](const json& a) {
    std::cout << done << " " << agent_summary(a) << "\n";
    if (next) std::cout << "  " << next(a) << "\n";
  });
}

int cmd_agent_pause(Context& ctx, const PauseOptions& o) {
  return agent_control(ctx, "pause", o, "paused",
                       [&](const json& a) { return "frozen (SIGSTOP) until: co agent resume " + field(a, "id", o.id); });
}

int cmd_agent_quarantine(Context& ctx, const PauseOptions& o) {
  return agent_control(ctx, "quarantine", o, "quarantined", [&](const json& a) {
    return "stopped and held out of work until: co agent release " + field(a, "id", o.id);
  });
}

int cmd_agent_release(Context& ctx, const std::string& id) { return agent_control(ctx, "release", {id, ""}, "released"); }

int cmd_agent_reset(Context& ctx, const std::string& id) {
  return agent_control(ctx, "reset", {id, ""}, "reset", [](const json& a) {
    return std::string("counters, start limit and today's spend count cleared") +
           (a.value("freed", json()).is_object() ? "; its work order returned" : "");
  });
}

int cmd_agent_resume(Context& ctx, const std::string& id) { return agent_control(ctx, "resume", {id, ""}, "resumed"); }

// ID and --reason: pause and quarantine.
void declare_agent_with_reason(Args& a, PauseOptions& o) {
  a.positional("ID", o.id, "agent id (see: co agent list)").required();
  a.option("--reason", o.reason, "why (recorded in the event)");
}

struct AgentLogsOptions {
  std::string id;
  int lines = 50;
  bool follow = false;
};

int cmd_agent_logs(Context& ctx, const AgentLogsOptions& opts) {
  ctx.set_not_found_hint(kAgentHint);
  if (opts.follow) return follow_agent_log(ctx, ctx.call("agent.get", {{"id", opts.id}}), opts.lines);
  auto r = ctx.call("agent.logs", {{"id", opts.id}, {"lines", opts.lines}});
  return ctx.print(r, [](const json& j) {
    for (const auto& l : j.value("lines", json::array()))
      std::cout << (l.is_string() ? l.get<std::string>() : l.dump()) << "\n";
  });
}

struct WorkerListOptions {
  std::optional<std::string> factory;
  bool all = false;
  std::optional<std::string> status;
};

int cmd_worker_list(Context& ctx, const WorkerListOptions& opts) {
  json params = json::object();
  if (opts.factory) {
    if (int rc = check_factory_name(ctx, *opts.factory); rc != kOk) return rc;
    params["factory"] = *opts.factory;
  }
  if (opts.all) params["all"] = true;
  if (opts.status) params["status"] = *opts.status;
  ctx.set_not_found_hint("co factory list");
  auto r = ctx.call("worker.list", params);
  return ctx.print(r, [&](const json& j) {
    std::string none = "no workers";
    if (opts.status) none = "no " + *opts.status + " workers";
    if (!opts.all) none += " holding a slot (stopped and failed ones too: --all)";
    print_agents(
        std::cout, j.value("workers", json::array()),
        {Col::id, Col::status, Col::pid, Col::uptime, Col::restarts, Col::heartbeat, Col::work_order, Col::activity},
        "", none);
  });
}

// The worker in one slot: FACTORY SLOT.
struct WorkerSlotOptions {
  std::string factory, slot;
};

void declare_worker_slot(Args& a, WorkerSlotOptions& o) {
  a.positional("FACTORY", o.factory, "factory name").required();
  a.positional("SLOT", o.slot, "slot number, e.g. 0").required();
}

int cmd_worker_status(Context& ctx, const WorkerSlotOptions& opts) {
  if (int rc = check_factory_name(ctx, opts.factory); rc != kOk) return rc;
  auto slot = parse_slot(opts.slot);
  if (!slot) return fail(ctx, kUsage, "SLOT must be a slot number such as 0 or slot0, not '" + opts.slot + "'");
  ctx.set_not_found_hint("co worker list " + opts.factory + " --all");
  auto r = ctx.call("worker.status", {{"factory", opts.factory}, {"slot", *slot}});
  return ctx.print(r, [](const json& a) { print_agent_detail(std::cout, a); });
}

struct WorkerSpawnOptions {
  std::string factory;
  bool verbose = false;
};

int cmd_worker_spawn(Context& ctx, const WorkerSpawnOptions& opts) {
  const std::string& factory = opts.factory;
  const bool verbose = opts.verbose;
  if (int rc = check_factory_name(ctx, factory); rc != kOk) return rc;
  ctx.set_not_found_hint("co factory list");
  // --verbose: the events the spawn causes (worktree, start, failures) go to stderr. They
  // arrive on this connection before or just after the answer.
  std::int64_t last_id = 0;
  if (verbose) last_id = ctx.call("events.subscribe", json::object()).value("last_id", std::int64_t{0});
  auto drain_events = [&] {
    if (!verbose) return;
    bool header = false;
    try {
      while (auto n = ctx.rpc().next_notification(std::chrono::milliseconds(200))) {
        if (n->value("method", "") != "event" || !n->contains("params")) continue;
        const json& e = (*n)["params"];
        if (e.value("id", std::int64_t{0}) <= last_id) continue;
        std::string f = field(e, "factory", ""), subject = field(e, "subject", "");
        if (f != factory && subject.rfind(factory + "/", 0) != 0) continue;
        if (!header) std::cerr << "events of the spawn:\n";
        header = true;
        print_event_line(std::cerr, e);
      }
    } catch (const Unreachable&) {
      // the daemon went away: the answer (or its error) is what matters
    }
  };
  json r;
  try {
    r = ctx.call_waiting("worker.spawn", {{"factory", factory}}, kActionSeconds);
  } catch (const RpcFailure&) {
    drain_events();
    throw;
  }
  drain_events();
  return ctx.print(r, [&](const json& a) {
    std::cout << "spawned " << agent_summary(a) << "\n";
    if (verbose)
      print_agent_detail(std::cout, a);
    else
      std::cout << "  watch it: co attach " << field(a, "id", "?") << "\n";
  });
}

int cmd_worker_kill(Context& ctx, const WorkerSlotOptions& opts) {
  if (int rc = check_factory_name(ctx, opts.factory); rc != kOk) return rc;
  auto slot = parse_slot(opts.slot);
  if (!slot) return fail(ctx, kUsage, "SLOT must be a slot number such as 0 or slot0, not '" + opts.slot + "'");
  ctx.set_not_found_hint("co worker list " + opts.factory + " --all");
  auto r = ctx.call_waiting("worker.kill", {{"factory", opts.factory}, {"slot", *slot}}, kActionSeconds);
  return ctx.print(r, [&](const json& a) {
    std::cout << "killed " << agent_summary(a) << "\n";
    // The refs this kill made (before the kill, and after it if the worker wrote more).
    const json freed = a.value("freed", json::object());
    const json refs = freed.is_object() ? freed.value("refs", json::array()) : json::array();
    if (refs.is_array() && !refs.empty() && refs.back().is_string()) {
      for (const auto& ref : refs)
        if (ref.is_string()) std::cout << "  its work is saved: " << ref.get<std::string>() << "\n";
      std::cout << "  see it: git -C " << field(a, "repo", "FACTORY-REPO") << " show --stat "
                << refs.back().get<std::string>() << "\n";
    } else {
      std::cout << "  nothing to save: no uncommitted or unpushed work\n";
    }
  });
}

struct HeartbeatOptions {
  std::optional<std::string> activity, id;
};

int cmd_heartbeat(Context& ctx, const HeartbeatOptions& opts) {
  json params = json::object();
  if (opts.id) params["id"] = *opts.id;
  if (opts.activity) params["activity"] = *opts.activity;
  ctx.set_not_found_hint(kAgentHint);
  auto r = ctx.call("agent.heartbeat", params);
  return ctx.print(r, [](const json& j) {
    std::cout << "heartbeat recorded for " << field(j, "id", "?") << " at " << field(j, "last_heartbeat") << "\n";
  });
}

struct AttachOptions {
  std::string id;
  int lines = 50;
};

// Attaches to the agent's tmux session (execs tmux: returns only on failure), or follows its
// output log when it has none.
int attach_to(Context& ctx, const json& a, int lines) {
  const std::string id = field(a, "id", "?");
  std::string session = field(a, "session", "");
  if (field(a, "runner", "") == "tmux" && !session.empty() && has_process(a)) {
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
      return fail(ctx, kUsage,
                  "co attach needs a terminal to attach to tmux session " + session +
                      "; to read its output instead: co agent logs " + id + " -f");
    // Inside tmux, switch this client over; outside, attach. "=" asks for that exact name.
    const char* env_tmux = std::getenv("TMUX");
    std::string target = "=" + session;
    std::vector<std::string> args{"tmux", env_tmux && *env_tmux ? "switch-client" : "attach-session", "-t", target};
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::cout << std::flush;
    ::execvp("tmux", argv.data());
    return fail(ctx, kDaemonError,
                std::string("cannot run tmux: ") + std::strerror(errno) +
                    " (is tmux installed and in PATH?); to read its output instead: co agent logs " + id + " -f");
  }
  if (field(a, "runner", "") == "tmux")
    std::cerr << program_name() << ": " << id << " is " << agent_status(a)
              << ", so there is no tmux session to attach; following its output log (Ctrl-C to stop)\n";
  else
    std::cerr << program_name() << ": " << id
              << " runs without tmux (runner direct); following its output log (Ctrl-C to stop)\n";
  return follow_agent_log(ctx, a, lines);
}

int cmd_attach(Context& ctx, const AttachOptions& opts) {
  ctx.set_not_found_hint(kAgentHint);
  return attach_to(ctx, ctx.call("agent.get", {{"id", opts.id}}), opts.lines);
}

struct CeoOptions {
  bool no_attach = false;
};

// The runbook's `co ceo`: the company's CEO agent started on demand (agent.start of `ceo`;
// the daemon tracks it but never restarts it), then attached, as `tmux new -As ceo` would.
// Run again while it runs, it only attaches.
int cmd_ceo(Context& ctx, const CeoOptions& o) {
  auto a = ctx.call_waiting("agent.start", {{"id", "ceo"}}, kActionSeconds);
  static const char* const up[] = {"starting", "running", "idle", "stuck"};
  const std::string status = field(a, "status", "");
  if (std::find(std::begin(up), std::end(up), status) == std::end(up))
    return fail(ctx, kDaemonError,
                "the CEO did not start: " + agent_status(a) +
                    (a.value("last_exit", json()).is_string() ? " (" + a["last_exit"].get<std::string>() + ")" : "") +
                    "; its output: co agent logs ceo",
                {{"code", -32002}, {"data", a}});
  const bool terminal = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  if (ctx.json_output() || o.no_attach || !terminal) {
    return ctx.print(a, [&](const json& j) {
      std::cout << "CEO " << agent_summary(j) << "\n  attach: co ceo (or co attach ceo)\n";
    });
  }
  return attach_to(ctx, a, 50);
}

}  // namespace

std::vector<Command> agent_commands() {
  return {
      {"agent", "inspect and control agents: supervisors, QA, workers, the CEO"},
      {"agent list", "every agent with its status, pid, CPU, memory, uptime, restarts and heartbeat",
       [](Args& a, AgentListOptions& o) {
         a.option("--factory", o.factory, "only this factory's agents");
         a.option("--role", o.role, "only this role").one_of(kAgentRoles);
         a.option("--status", o.status, "only agents in this status").one_of(kAgentStatuses);
         a.option("--sort", o.sort, "order by this key").one_of(kAgentSortKeys);
       },
       cmd_agent_list},
      {"agent show", "every detail of one agent",
       [](Args& a, std::string& id) {
         a.positional("ID", id, "agent id, e.g. ceo, myproject/supervisor, myproject/workers/slot0").required();
       },
       cmd_agent_show},
      {"agent start", "start a stopped or failed agent (clears an operator stop) and wait until it runs; or a group",
       declare_agent_or_group, cmd_agent_start},
      {"agent stop", "stop an agent (SIGTERM, then SIGKILL after the stop timeout); it stays stopped until started; or a group at once",
       declare_agent_or_group, cmd_agent_stop},
      {"agent restart", "stop an agent and start it again; or a group", declare_agent_or_group, cmd_agent_restart},
      {"agent pause", "freeze an agent's processes (SIGSTOP) until resumed",
       [](Args& a, PauseOptions& o) { declare_agent_with_reason(a, o); }, cmd_agent_pause},
      {"agent resume", "thaw a paused agent (SIGCONT)", declare_agent_id, cmd_agent_resume},
      {"agent quarantine", "stop an agent (worktree saved, work returned) and hold it out of work",
       [](Args& a, PauseOptions& o) { declare_agent_with_reason(a, o); }, cmd_agent_quarantine},
      {"agent release", "end a quarantine: stopped, startable again", declare_agent_id, cmd_agent_release},
      {"agent reset", "clear an agent's error streak, restarts, start limit and today's spend count", declare_agent_id,
       cmd_agent_reset},
      {"agent kill", "SIGKILL an agent's process group at once, without the stop timeout; or a group",
       declare_agent_or_group, cmd_agent_kill},
      {"agent logs", "an agent's captured output; -f keeps following it",
       [](Args& a, AgentLogsOptions& o) {
         declare_agent_id(a, o.id);
         a.option("-n,--lines", o.lines, "lines to show").range(0, 1000000);
         a.flag("-f,--follow", o.follow,
                "keep printing new output, like tail -F (Ctrl-C to stop); with --json, one JSON string per line");
       },
       cmd_agent_logs},
      {"worker", "worker slots: list, inspect, spawn and kill workers"},
      {"worker list", "workers holding a slot, of every factory or of one",
       [](Args& a, WorkerListOptions& o) {
         a.positional("FACTORY", o.factory, "only this factory's workers");
         a.flag("--all", o.all, "include stopped and failed workers");
         a.option("--status", o.status, "only workers in this status, e.g. idle").one_of(kAgentStatuses);
       },
       cmd_worker_list},
      {"worker status", "every detail of the worker in one slot", declare_worker_slot, cmd_worker_status},
      {"worker spawn", "start a worker in the factory's next free slot",
       [](Args& a, WorkerSpawnOptions& o) {
         a.positional("FACTORY", o.factory, "factory name").required();
         a.flag("--verbose", o.verbose, "also print the events of the spawn (on stderr) and every detail");
       },
       cmd_worker_spawn},
      {"worker kill", "save a worker's work to a git ref, stop it and free its slot", declare_worker_slot,
       cmd_worker_kill},
      {"heartbeat", "an agent reports it is alive (run from inside the agent)",
       [](Args& a, HeartbeatOptions& o) {
         a.option("--activity", o.activity, "what the agent is doing, shown in co agent show");
         a.option("--id", o.id, "the agent (default: the agent this command runs in)");
       },
       cmd_heartbeat},
      {"ceo", "start the company's CEO agent ([agents.ceo] command, in the company root) if it is not running, and attach to it",
       [](Args& a, CeoOptions& o) {
         a.flag("--no-attach", o.no_attach, "start it (or find it running) and return; attach later with co ceo");
       },
       cmd_ceo},
      {"attach", "attach to an agent's tmux session, or follow its output log",
       [](Args& a, AttachOptions& o) {
         declare_agent_id(a, o.id);
         a.option("-n,--lines", o.lines, "lines of output to show first when following the log").range(0, 1000000);
       },
       cmd_attach},
  };
}

}  // namespace vermas::client
