// co doctor: one line per check with its fix (the guide's "Troubleshooting", the runbook's
// first look). This file gathers the facts — files and modes, the pid file's lock, the
// daemon's answers, programs' versions, git's view of each factory — and doctor_rules.*
// judges and renders them. Works with the daemon stopped too: what needs it says so.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "client/commands.hpp"
#include "client/daemon_tool.hpp"
#include "client/doctor_rules.hpp"
#include "common/config.hpp"

namespace vermas::client {

namespace {

namespace fs = std::filesystem;
using doctor::Check;
using doctor::Status;

struct DoctorOptions {
  bool quick = false;  // no `git fsck` (the slow part)
};

// What the daemon says, if it answers.
struct DaemonFacts {
  bool answers = false;
  json health, factories, workers;
};

Check ok(std::string name, std::string detail) { return {std::move(name), Status::ok, std::move(detail), ""}; }
Check warn(std::string name, std::string detail, std::string fix) {
  return {std::move(name), Status::warn, std::move(detail), std::move(fix)};
}
Check failed(std::string name, std::string detail, std::string fix) {
  return {std::move(name), Status::fail, std::move(detail), std::move(fix)};
}
Check skipped(std::string name, std::string why) { return {std::move(name), Status::skip, std::move(why), ""}; }

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

Check config_check(const Paths& p, Loaded<Config>& loaded) {
  std::error_code ec;
  if (!fs::exists(p.config_file(), ec))
    return failed("configuration", p.config_file().string() + " is missing", "co init --company-root " + p.root.string());
  loaded = load_config(p.config_file());
  if (!loaded.ok())
    return failed("configuration",
                  loaded.errors.front().to_string() +
                      (loaded.errors.size() > 1 ? " (and " + std::to_string(loaded.errors.size() - 1) + " more)" : ""),
                  "edit " + p.config_file().string() + "; co config check lists every error");
  if (!loaded.warnings.empty())
    return warn("configuration",
                loaded.warnings.front().to_string() +
                    (loaded.warnings.size() > 1 ? " (and " + std::to_string(loaded.warnings.size() - 1) + " more)" : ""),
                "remove or comment out the key; co config check lists every warning");
  return ok("configuration", p.config_file().string() + " parses");
}

Check layout_check(const Paths& p) {
  std::vector<std::string> missing;
  for (const fs::path& dir : {p.vermas_dir(), p.work_dir(), p.logs_dir()}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) missing.push_back(dir.filename().string() + "/");
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return failed("root layout", p.root.string() + " lacks " + list, "co init --company-root " + p.root.string());
  }
  struct stat st {};
  if (::stat(p.work_dir().c_str(), &st) == 0)
    if (std::string why = doctor::work_dir_mode_problem(st.st_mode); !why.empty())
      return failed("root layout", p.work_dir().string() + " is " + why, "chmod o-w " + p.work_dir().string());
  return ok("root layout", ".vermas/, .work/ and logs/ in place; .work/ not world-writable");
}

// The pid file's flock is the daemon's own proof of life (daemon/pidfile.*): a file nobody
// holds locked is stale whatever pid it names.
Check daemon_check(const Context& ctx, const DaemonFacts& d) {
  const Paths& p = ctx.paths();
  std::error_code ec;
  const bool pid_file = fs::exists(p.pid_file(), ec);
  bool locked = false;
  std::string pid;
  if (pid_file) {
    std::ifstream in(p.pid_file());
    std::getline(in, pid);
    const int fd = ::open(p.pid_file().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
      ::close(fd);
    }
  }
  if (d.answers)
    return ok("daemon", "running (pid " + d.health.value("pid", json(0)).dump() + ", " +
                            d.health.value("status", std::string("?")) + ") and answering on " + ctx.socket_path());
  if (pid_file && !locked)
    return warn("daemon", "not running; stale pid file " + p.pid_file().string() + " (pid " + pid + ", not locked)",
                "remove it, or just start the daemon (it takes the stale file over): " +
                    ctx.command("operations start"));
  if (locked)
    return failed("daemon", "pid " + pid + " holds " + p.pid_file().string() + " but does not answer on " +
                                ctx.socket_path(),
                  "see " + ctx.command("operations logs") + "; if it is hung: kill " + pid + ", then " +
                      ctx.command("operations start"));
  return warn("daemon", "not running", ctx.command("operations start"));
}

Check socket_check(const Context& ctx) {
  const std::string path = ctx.socket_path();
  if (path.size() > doctor::kMaxSocketPath)
    return failed("socket", path + " is " + std::to_string(path.size()) + " bytes, over the " +
                                std::to_string(doctor::kMaxSocketPath) + " a Unix socket path may have",
                  "set [operations] socket to a shorter path, or use a shorter company root");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return skipped("socket", path + " (absent while the daemon is stopped)");
  if (!S_ISSOCK(st.st_mode))
    return failed("socket", path + " is not a socket", "remove it; the daemon makes its socket at start");
  if (std::string why = doctor::socket_mode_problem(st.st_mode); !why.empty())
    return failed("socket", path + ": " + why, "chmod 600 " + path + " (the daemon sets 0600 at start: restart it)");
  return ok("socket", path + " (0600, " + std::to_string(path.size()) + " bytes)");
}

Check database_check(Context& ctx, const DaemonFacts& d) {
  std::error_code ec;
  if (!fs::exists(ctx.paths().db_file(), ec))
    return warn("database", "no " + ctx.paths().db_file().string() + " yet", "it is made by the first " +
                                                                                  ctx.command("operations start"));
  json report;
  if (d.answers) {
    try {
      report = ctx.call_waiting("db.verify", json::object(), 120);
    } catch (const RpcFailure& e) {
      return failed("database", std::string("db.verify: ") + e.what(), ctx.command("verify-db"));
    }
  } else {
    ToolRun run = run_daemon_tool({"--company-root", ctx.paths().root.string(), "--verify-db"});
    report = json::parse(run.out, nullptr, false);
    if (!report.is_object())
      return failed("database", run.error.empty() ? "vermas-operations --verify-db gave no answer" : run.error,
                    "check that co and vermas-operations are the same version (co --version)");
  }
  const json checked = report.value("checked", json::object());
  if (report.value("ok", false))
    return ok("database", "integrity ok, " + checked.value("events", json(0)).dump() + " events in order, " +
                              checked.value("work_orders", json(0)).dump() + " work-order histories legal, " +
                              std::to_string(checked.value("projections", json::array()).size()) +
                              " projections equal a replay");
  const json findings = report.value("findings", json::array());
  std::string first = findings.empty() ? std::string("not ok") : findings[0].value("detail", std::string("?"));
  return failed("database", std::to_string(findings.size()) + " finding(s), first: " + first,
                ctx.command("verify-db") + " lists them; the runbook's Database Corruption: stop, " +
                    ctx.command("restore FILE") + ", verify, start");
}

std::string banner_of(std::vector<std::string> argv) {
  ToolRun r = run_program(std::move(argv), true);
  return r.exit_code == 0 ? first_line(r.out) : std::string();
}

// Every [agents.<role>] of the company and of each factory that overrides it.
std::map<std::string, AgentConfig> agent_configs(const Config& c, const std::vector<std::pair<std::string, fs::path>>& factories) {
  std::map<std::string, AgentConfig> out;
  for (const auto& [role, a] : c.agents) out["agents." + role] = a;
  for (const auto& [name, path] : factories) {
    auto fc = load_factory_config(path / ".work" / "config.toml");
    for (const auto& [role, a] : fc.value.agents) out[name + ": agents." + role] = a;
  }
  return out;
}

// One check per program, naming the [agents.*] sections that run it.
Check command_check(const std::string& prog, const std::vector<std::string>& keys) {
  std::string users;
  for (const auto& k : keys) users += (users.empty() ? "" : ", ") + k;
  const std::string name = "agent command " + prog;
  const std::string key = keys.front();
  if (prog.find('/') != std::string::npos) {
    if (::access(prog.c_str(), X_OK) == 0) return ok(name, "for " + users);
    return failed(name, std::string(std::strerror(errno)) + " (for " + users + ")",
                  "install it, or set [" + key + "] command");
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "";
  for (std::size_t start = 0; start <= path.size();) {
    const std::size_t colon = std::min(path.find(':', start), path.size());
    const std::string dir = colon > start ? path.substr(start, colon - start) : ".";
    const fs::path candidate = fs::path(dir) / prog;
    if (::access(candidate.c_str(), X_OK) == 0) return ok(name, candidate.string() + " (for " + users + ")");
    start = colon + 1;
  }
  // The CEO only runs on demand (co ceo): without it nothing supervised breaks.
  bool supervised = false;
  for (const auto& k : keys) supervised = supervised || k.size() < 10 || k.compare(k.size() - 10, 10, "agents.ceo") != 0;
  Check c = failed(name, "not found in PATH (for " + users + ")",
                   "install " + prog + ", or set [" + key + "] command (and the others) to a program that is");
  if (!supervised) c.status = Status::warn;
  return c;
}

// Factories: the daemon's list when it answers, else the root's subdirectories that are one.
std::vector<std::pair<std::string, fs::path>> factories_of(const Paths& p, const DaemonFacts& d) {
  std::vector<std::pair<std::string, fs::path>> out;
  if (d.answers) {
    for (const auto& f : d.factories) out.emplace_back(f.value("name", ""), f.value("path", ""));
    return out;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(p.root, ec))
    if (entry.is_directory(ec) && fs::exists(entry.path() / ".work" / "config.toml", ec) &&
        fs::exists(entry.path() / ".git", ec))
      out.emplace_back(entry.path().filename().string(), entry.path());
  return out;
}

// The slots workers hold now: "factory/slot" -> work order.
std::map<std::string, std::string> held_slots(const DaemonFacts& d) {
  std::map<std::string, std::string> out;
  for (const auto& w : d.workers)
    if (w.value("slot", json()).is_number_integer() && w.value("current_work_order", json()).is_string())
      out[w.value("factory", "") + "/" + std::to_string(w["slot"].get<int>())] = w["current_work_order"];
  return out;
}

Check factory_check(const std::string& name, const fs::path& path, const DaemonFacts& d, bool quick) {
  const std::string check = "factory " + name;
  std::error_code ec;
  if (!fs::exists(path / ".git", ec)) return failed(check, path.string() + " is not a git clone", "co factory remove " + name + ", then add it again");
  std::vector<std::string> notes, problems;
  if (!quick) {
    ToolRun fsck = run_program({"git", "-C", path.string(), "fsck", "--connectivity-only", "--no-progress"}, true);
    if (fsck.exit_code != 0)
      problems.push_back("git fsck: " + first_line(fsck.out.empty() ? fsck.error : fsck.out));
    else
      notes.push_back("fsck ok");
  }
  ToolRun list = run_program({"git", "-C", path.string(), "worktree", "list", "--porcelain"}, true);
  int prunable = 0;
  for (std::size_t at = 0; (at = list.out.find("\nprunable", at)) != std::string::npos; ++at) ++prunable;
  // Slot worktrees no worker holds: left by a crash (the next start saves and removes them).
  std::vector<std::string> stray;
  const auto held = held_slots(d);
  for (const auto& entry : fs::directory_iterator(path / ".worktrees", ec)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind("slot", 0) != 0 || n.size() == 4 || n.find_first_not_of("0123456789", 4) != std::string::npos) continue;
    if (!d.answers) continue;
    bool live = held.count(name + "/" + n.substr(4)) > 0;
    for (const auto& w : d.workers)
      if (w.value("factory", "") == name && w.value("slot", json()) == std::stoi(n.substr(4)) && w.value("pid", json()).is_number())
        live = true;
    if (!live) stray.push_back(entry.path().string());
  }
  if (!problems.empty())
    return failed(check, problems.front(), "git -C " + path.string() + " fsck; if it is damaged, co factory remove " + name +
                                               " and add it again (its work orders stay)");
  if (prunable > 0)
    return warn(check, std::to_string(prunable) + " prunable worktree(s)", "git -C " + path.string() + " worktree prune");
  if (!stray.empty())
    return warn(check, "worktree without a worker: " + stray.front() + (stray.size() > 1 ? " (and more)" : ""),
                "restart the daemon: it saves such worktrees to a wip ref and removes them (" +
                    std::string("co operations stop --keep-agents && co operations start)"));
  notes.push_back(d.answers ? "worktrees held" : "worktrees not checked against workers (daemon stopped)");
  std::string detail;
  for (const auto& n : notes) detail += (detail.empty() ? "" : ", ") + n;
  return ok(check, path.string() + ": " + detail);
}

Check assignments_check(const Context& ctx, const DaemonFacts& d) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ctx.paths().work_dir(), ec)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind(".assignment-", 0) == 0 && n.find(".tmp") == std::string::npos) files.push_back(entry.path().string());
  }
  if (!d.answers)
    return skipped("assignment files", std::to_string(files.size()) + " found; checked against the slots when the "
                                                                      "daemon runs (its start reconciles them)");
  std::set<std::string> held;
  for (const auto& w : d.workers)
    if (w.value("current_work_order", json()).is_string()) held.insert(w.value("id", "") + " " + w["current_work_order"].get<std::string>());
  std::vector<std::string> orphans;
  for (const auto& f : files) {
    std::ifstream in(f);
    json a = json::parse(in, nullptr, false);
    const std::string key = a.is_object() ? a.value("agent", "") + " " + a.value("work_order", "") : "";
    if (!held.count(key)) orphans.push_back(f);
  }
  if (!orphans.empty())
    return failed("assignment files", "orphan: " + orphans.front() + (orphans.size() > 1 ? " (and " + std::to_string(orphans.size() - 1) + " more)" : "") +
                                          " (no worker holds that work order)",
                  "rm " + orphans.front() + " (or restart the daemon: its start reconciles them)");
  return ok("assignment files", std::to_string(files.size()) + ", each held by its worker");
}

Check disk(const Paths& p) {
  struct statvfs vfs {};
  if (::statvfs(p.root.c_str(), &vfs) != 0) return skipped("disk space", std::string("statvfs: ") + std::strerror(errno));
  return doctor::disk_check(static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize, p.root.string());
}

int cmd_doctor(Context& ctx, const DoctorOptions& opts) {
  const Paths& p = ctx.paths();
  std::vector<Check> checks;
  Loaded<Config> config;
  checks.push_back(config_check(p, config));
  checks.push_back(layout_check(p));
  DaemonFacts d;
  try {
    d.health = ctx.call("health");
    d.answers = true;
    d.factories = ctx.call("factory.list").value("factories", json::array());
    d.workers = ctx.call("worker.list", {{"all", true}}).value("workers", json::array());
  } catch (const Unreachable&) {
    // not running (or it went away): the checks that need it say so
  } catch (const RpcFailure&) {
  }
  checks.push_back(daemon_check(ctx, d));
  checks.push_back(socket_check(ctx));
  checks.push_back(database_check(ctx, d));
  checks.push_back(doctor::version_check("git", banner_of({"git", "--version"}), {2, 20, 0},
                                         "install git 2.20 or newer (apt-get install git)"));
  const auto factories = factories_of(p, d);
  const auto agents = agent_configs(config.value, factories);
  bool tmux = false;
  for (const auto& [key, a] : agents) tmux = tmux || a.runner == "tmux";
  if (tmux)
    checks.push_back(doctor::version_check("tmux", banner_of({"tmux", "-V"}), {3, 0, 0},
                                           "install tmux 3.0 or newer (apt-get install tmux), or use runner = \"direct\""));
  else
    checks.push_back(skipped("tmux", "no agent runs under tmux"));
  std::map<std::string, std::vector<std::string>> programs;  // argv[0] -> the sections running it
  for (const auto& [key, a] : agents)
    if (!a.command.empty()) programs[a.command[0]].push_back(key);
  for (const auto& [prog, keys] : programs) checks.push_back(command_check(prog, keys));
  for (const auto& [name, path] : factories) checks.push_back(factory_check(name, path, d, opts.quick));
  checks.push_back(assignments_check(ctx, d));
  checks.push_back(disk(p));
  if (ctx.json_output()) ctx.print_json(doctor::to_json(checks));
  else std::cout << doctor::render(checks);
  return doctor::exit_code(checks);
}

}  // namespace

std::vector<Command> doctor_commands() {
  return {
      {"doctor", "check the installation, the company root, the daemon, the database and the factories (exit 1 on a problem)",
       [](Args& a, DoctorOptions& o) { a.flag("--quick", o.quick, "skip git fsck of the factories (the slow part)"); },
       cmd_doctor},
  };
}

}  // namespace vermas::client
