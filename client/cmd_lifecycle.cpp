// co init, co operations start|stop|status|logs: their bodies and their entries in the command table.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <thread>

#include "client/commands.hpp"
#include "client/daemon_tool.hpp"
#include "client/follow.hpp"
#include "common/time.hpp"
#include "example_config.hpp"

extern char** environ;

namespace vermas::client {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// `why`, when given, gets the reason the daemon could not be asked (Context::call has
// dropped the connection, so the next call reaches a daemon started since).
std::optional<json> try_health(Context& ctx, std::string* why = nullptr) {
  try {
    return ctx.call("health");
  } catch (const Unreachable& e) {
    if (why) *why = e.what();
    return std::nullopt;
  }
}

// A detached daemon's parent is init, which may reap it late: a zombie counts as gone.
bool pid_alive(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close_paren = content.rfind(')');
  return close_paren == std::string::npos || content.size() < close_paren + 3 || content[close_paren + 2] != 'Z';
}

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.1fs" : "%.0fs", s);
  return buf;
}

// Counts the agents the daemon stops during `co operations stop`: how many have a process
// (from `status`), and which of them report agent.stopped / agent.exited on a subscription.
// Best effort: any failure just means no progress line.
class AgentStopProgress {
 public:
  void watch(Context& ctx) {
    try {
      auto s = ctx.call("status");
      const json& by_status = s.value("agents", json::object()).value("by_status", json::object());
      for (const char* live : {"starting", "running", "idle", "stuck", "paused", "stopping"})
        if (by_status.contains(live) && by_status[live].is_number()) expected_ += by_status[live].get<std::size_t>();
      if (expected_ == 0) return;
      auto ms = std::chrono::milliseconds(static_cast<long>(ctx.globals().timeout_seconds * 1000));
      sub_ = std::make_unique<RpcClient>(ctx.socket_path(), ms);
      sub_->connect();
      sub_->call("events.subscribe", {{"types", json::array({"agent.*", "operations.*"})}});
    } catch (const std::exception&) {
      sub_.reset();
    }
  }
  bool active() const { return sub_ != nullptr; }
  // Reads events for up to `wait`; true when another agent stopped.
  bool poll(std::chrono::milliseconds wait) {
    if (!sub_) return false;
    bool more = false;
    try {
      while (auto n = sub_->next_notification(wait)) {
        wait = std::chrono::milliseconds(0);
        if (n->value("method", "") != "event" || !n->contains("params")) continue;
        const json& e = (*n)["params"];
        std::string type = e.value("event_type", "");
        if (type != "agent.stopped" && type != "agent.exited") continue;
        // The agent is the subject (or the actor); count each one once.
        std::string who =
            e.contains("subject") && e["subject"].is_string() ? e["subject"].get<std::string>() : e.value("actor", "");
        if (stopped_ids_.insert(who).second) more = true;
      }
    } catch (const std::exception&) {
      sub_.reset();  // the daemon closed its connections: it is about to exit
    }
    return more;
  }
  std::size_t expected() const { return expected_; }
  std::size_t stopped() const { return stopped_ids_.size(); }

 private:
  std::unique_ptr<RpcClient> sub_;
  std::size_t expected_ = 0;
  std::set<std::string> stopped_ids_;
};

struct InitOptions {
  std::optional<std::string> name;
};

int cmd_init(Context& ctx, const InitOptions& opts) {
  // "Create a company root here": without --company-root or $COMPANY_ROOT that is the current
  // directory (elsewhere the fallback is ~/company, which init would create unasked).
  Paths p = ctx.paths();
  if (ctx.root_source() == RootSource::home_default) p.root = fs::current_path();
  std::error_code ec;
  if (fs::exists(p.config_file(), ec))
    return fail(ctx, kDaemonError, p.config_file().string() + " already exists; not overwriting it (edit it, or remove it first)");
  std::string text = kExampleConfig;
  if (opts.name) {
    if (opts.name->empty() || opts.name->find_first_of("\"\\\n") != std::string::npos)
      return fail(ctx, kUsage, "--name: must be non-empty without quotes, backslashes or newlines");
    auto pos = text.find("name = \"my-company\"");
    if (pos != std::string::npos) text.replace(pos, 19, "name = \"" + *opts.name + "\"");
  }
  for (const auto& dir : {p.vermas_dir(), p.work_dir(), p.logs_dir()}) {
    fs::create_directories(dir, ec);
    if (ec) return fail(ctx, kDaemonError, "cannot create " + dir.string() + ": " + ec.message());
  }
  // O_EXCL: never overwrite, even if the file appeared since the check above.
  int fd = ::open(p.config_file().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return fail(ctx, kDaemonError, "cannot create " + p.config_file().string() + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) return fail(ctx, kDaemonError, "cannot write " + p.config_file().string());
  json result{{"root", p.root.string()}, {"config", p.config_file().string()},
              {"work", p.work_dir().string()}, {"logs", p.logs_dir().string()}};
  return ctx.print(result, [&](const json&) {
    std::cout << "initialized company root " << p.root.string() << "\n"
              << "  config: " << p.config_file().string() << "\n"
              << "next: " << ctx.command("operations start") << "\n";
  });
}

struct OperationsStartOptions {
  bool foreground = false;
};

int cmd_operations_start(Context& ctx, const OperationsStartOptions& opts) {
  if (auto h = try_health(ctx)) {
    json result{{"running", true}, {"already_running", true}, {"pid", (*h)["pid"]}, {"socket", ctx.socket_path()}};
    return ctx.print(result, [&](const json&) {
      std::cout << "vermas-operations is already running (pid " << (*h)["pid"].get<long>() << ")\n";
    });
  }
  std::string bin = daemon_binary();
  std::vector<std::string> args{bin, "--company-root", ctx.paths().root.string()};
  if (opts.foreground) args.push_back("--foreground");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  // posix_spawnp searches $PATH; the daemon detaches itself and its launcher exits once
  // the socket answers, so waiting for the launcher is waiting for readiness.
  if (int err = ::posix_spawnp(&pid, bin.c_str(), nullptr, nullptr, argv.data(), environ); err != 0)
    return fail(ctx, kDaemonError, "cannot run " + bin + ": " + std::strerror(err) +
                                       " (is vermas-operations installed, or set VERMAS_OPERATIONS_BIN)");
  if (opts.foreground) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail(ctx, kDaemonError, "vermas-operations did not start (see above, and " +
                                       ctx.paths().log_file().string() + ")");
  std::string why;
  auto h = try_health(ctx, &why);
  if (!h)
    return fail(ctx, kUnreachable, "vermas-operations started but does not answer on " + ctx.socket_path() + ": " + why);
  json result{{"running", true}, {"already_running", false}, {"pid", (*h)["pid"]}, {"socket", ctx.socket_path()}};
  return ctx.print(result, [&](const json&) {
    std::cout << "vermas-operations started (pid " << (*h)["pid"].get<long>() << ") on " << ctx.socket_path() << "\n";
  });
}

struct OperationsStopOptions {
  bool keep_agents = false;
};

int cmd_operations_stop(Context& ctx, const OperationsStopOptions& opts) {
  auto h = try_health(ctx);
  if (!h) {
    json result{{"running", false}, {"stopped", false}};
    return ctx.print(result, [](const json&) { std::cout << "vermas-operations is not running\n"; });
  }
  pid_t pid = (*h)["pid"].get<pid_t>();
  const bool human = !ctx.json_output();
  const bool tty = isatty(STDERR_FILENO);
  // Progress while the daemon stops its agents: count their stop events on a second
  // connection, subscribed before the shutdown so none is missed.
  AgentStopProgress progress;
  if (!opts.keep_agents) progress.watch(ctx);
  ctx.call("shutdown", {{"stop_agents", !opts.keep_agents}});
  auto start = Clock::now();
  auto last_progress = start;
  bool progress_shown = false;
  std::size_t shown_stopped = static_cast<std::size_t>(-1);
  std::string shown_line;
  bool waiting_said = false;
  // Agents get their stop timeout; allow for it plus the daemon's own wind-down, counted
  // from the last agent that stopped.
  auto limit = std::chrono::duration<double>(std::max(30.0, ctx.globals().timeout_seconds * 3));
  while (pid_alive(pid)) {
    // The daemon is not our child, so there is no exit event to wait on; 10 ms polls (on
    // the event subscription while it lasts).
    if (progress.poll(std::chrono::milliseconds(10)))
      last_progress = Clock::now();
    else if (!progress.active())
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (std::chrono::duration<double>(Clock::now() - last_progress).count() > limit.count())
      return fail(ctx, kDaemonError, "vermas-operations (pid " + std::to_string(pid) + ") still running after " +
                                         fmt_seconds(waited) + "; see " + ctx.command("operations logs"));
    if (waited <= 1.0 || !human) continue;
    if (progress.expected() > 0 && progress.stopped() < progress.expected()) {
      if (progress.stopped() == shown_stopped) continue;
      shown_stopped = progress.stopped();
      std::string line = "stopping agents: " + std::to_string(progress.stopped()) + " of " +
                         std::to_string(progress.expected()) + " stopped";
      if (tty)
        std::cerr << "\r" << line << "\x1b[K" << std::flush;
      else
        std::cerr << line << "\n";
      progress_shown = true;
    } else if (tty) {
      std::string line =
          "waiting for vermas-operations (pid " + std::to_string(pid) + ") to stop... " + fmt_seconds(waited);
      if (line != shown_line) std::cerr << "\r" << line << "\x1b[K" << std::flush;
      shown_line = line;
      progress_shown = true;
    } else if (!waiting_said) {
      std::cerr << "waiting for vermas-operations (pid " << pid << ") to stop...\n";
      waiting_said = progress_shown = true;
    }
  }
  if (progress_shown && tty && human) std::cerr << "\n";
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  json result{
      {"running", false}, {"stopped", true}, {"pid", pid}, {"seconds", took}, {"kept_agents", opts.keep_agents}};
  if (!opts.keep_agents) result["agents_stopped"] = progress.stopped();
  return ctx.print(result, [&](const json&) {
    std::cout << "vermas-operations (pid " << pid << ") stopped in " << fmt_seconds(took);
    if (opts.keep_agents)
      std::cout << "; agents left running";
    else if (progress.stopped() > 0)
      std::cout << "; " << progress.stopped() << " agent(s) stopped";
    std::cout << "\n";
  });
}

int cmd_operations_status(Context& ctx) {
  auto h = try_health(ctx);
  if (!h) {
    if (ctx.json_output()) ctx.print_json({{"running", false}, {"socket", ctx.socket_path()}});
    std::cerr << program_name() << ": vermas-operations is not running (no answer on " << ctx.socket_path()
              << "); start it with: " << ctx.command("operations start") << "\n";
    return kUnreachable;
  }
  json result = *h;
  result["running"] = true;
  result["socket"] = ctx.socket_path();
  result["root"] = ctx.paths().root.string();
  return ctx.print(result, [&](const json& r) {
    std::cout << "vermas-operations: running\n"
              << "  pid:     " << r["pid"].get<long>() << "\n"
              << "  version: " << r["version"].get<std::string>() << "\n"
              << "  uptime:  " << format_age(std::chrono::duration<double>(r["uptime_seconds"].get<double>())) << "\n"
              << "  health:  " << r["status"].get<std::string>() << "\n"
              << "  root:    " << r["root"].get<std::string>() << "\n"
              << "  socket:  " << r["socket"].get<std::string>() << "\n"
              << "  log:     " << ctx.paths().log_file().string() << "\n";
  });
}

struct OperationsLogsOptions {
  bool follow = false;
  int lines = 50;
};

int cmd_operations_logs(Context& ctx, const OperationsLogsOptions& opts) {
  fs::path file = ctx.paths().log_file();
  auto tail = last_lines(file, opts.lines);
  if (!tail) return fail(ctx, kDaemonError, "no log at " + file.string() + " (has the daemon run on this root?)");
  if (ctx.json_output() && !opts.follow) {
    ctx.print_json({{"file", file.string()}, {"lines", tail->lines}});
    return kOk;
  }
  for (const auto& l : tail->lines) std::cout << l << "\n";
  std::cout << std::flush;
  if (!opts.follow) return kOk;
  // Like `tail -F`: survives rotation and truncation.
  follow_file(file, tail->end, [](const std::string& line) { std::cout << line << "\n" << std::flush; });
}

}  // namespace

std::vector<Command> lifecycle_commands() {
  return {
      {"init", "create a company root here: .vermas/config.toml, .work/, logs/",
       [](Args& a, InitOptions& o) { a.option("--name", o.name, "company name written to the config"); }, cmd_init},
      {"operations", "start, stop and inspect the operations daemon"},
      {"operations start", "start the daemon (detached) and wait until it answers",
       [](Args& a, OperationsStartOptions& o) { a.flag("--foreground", o.foreground, "run in this terminal instead"); },
       cmd_operations_start},
      {"operations stop", "stop the daemon and wait for it to exit",
       [](Args& a, OperationsStopOptions& o) {
         a.flag("--keep-agents", o.keep_agents, "leave agents running (for an upgrade)");
       },
       cmd_operations_stop},
      {"operations status", "is the daemon running? pid, uptime, socket", cmd_operations_status},
      {"operations logs", "show the daemon's log",
       [](Args& a, OperationsLogsOptions& o) {
         a.flag("-f,--follow", o.follow, "keep printing new lines");
         a.option("-n,--lines", o.lines, "lines to show").range(0, 1000000);
       },
       cmd_operations_logs},
  };
}

}  // namespace vermas::client
