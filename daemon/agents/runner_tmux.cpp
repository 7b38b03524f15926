// The `tmux` runner: each agent runs in a detached tmux session an operator can attach to.
// tmux is only ever driven through its argv (proc::run_command, never a shell), and the
// pane's process is watched through a pidfd like any other agent.
//
// What tmux 3.3a does with what we hand it (checked by hand and in the unit tests):
// - An argument that ends in ';' is a command separator (the ';' is dropped), and one that
//   ends in "\;" becomes ';'. tmux_arg() escapes every argument so it arrives as given.
// - `-s`, `-c` and the pipe-pane command are format-expanded: '#' must be written '##'
//   (or "#(...)" would run a command). Session names are restricted to [A-Za-z0-9_-].
// - new-session runs a one-element command through `sh -c`; with two or more it execs them
//   directly. A one-element argv is therefore run as `/usr/bin/env -- <program>`.
// - A missing -c directory silently falls back to $HOME, so it is checked first.
// - `display-message -t %N` with no such pane succeeds with empty values: #{pane_id} is
//   always asked for and compared.
// - $TMUX names the server socket of an enclosing session and wins over TMUX_TMPDIR; an
//   empty $TMUX is ignored. Every call sets it empty so the daemon's server is used.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string_view>
#include <system_error>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon/agents/runner.hpp"

namespace vermas {

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kTmuxTimeout = 5000ms;
// after_exit: how long tmux may take to notice the exit we already saw through the pidfd.
constexpr auto kExitPollInterval = 50ms;
constexpr int kExitPolls = 20;

using Command = std::vector<std::string>;

// An argument as tmux's argv parser must see it to hand back `s` unchanged.
std::string tmux_arg(std::string s) {
  if (!s.empty() && s.back() == ';') s.insert(s.size() - 1, 1, '\\');
  return s;
}

// Text for an argument tmux format-expands.
std::string format_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '#') out += '#';
  }
  return out;
}

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Wider than the spec's names need, narrow enough that tmux neither renames (':' '.') nor
// format-expands ('#') a name, and no name starts with tmux's exact-match marker '='.
bool valid_session_name(const std::string& s) {
  if (s.empty() || s.size() > 200) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

bool valid_pane_id(const std::string& s) {
  if (s.size() < 2 || s[0] != '%') return false;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

template <class Int>
std::optional<Int> parse_int(std::string_view s) {
  Int v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// One tmux client run: `commands` go to the server as one command list, executed in order
// in one pass of its event loop.
// `path`: tmux 3.3a gives a new pane the PATH of the *client* that asked for it and
// ignores `-e PATH=...`, so the agent's PATH travels in the tmux command's environment.
asio::awaitable<proc::CommandResult> run_tmux(const std::vector<Command>& commands, std::string path = {}) {
  proc::SpawnSpec spec;
  spec.argv.push_back("tmux");
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (i > 0) spec.argv.push_back(";");
    for (const auto& a : commands[i]) spec.argv.push_back(tmux_arg(a));
  }
  spec.inherit_env = true;
  spec.env_add["TMUX"] = "";
  if (!path.empty()) spec.env_add["PATH"] = std::move(path);
  co_return co_await proc::run_command(std::move(spec), kTmuxTimeout, 64 * 1024);
}

// Why a tmux call failed, for an operator.
std::string tmux_failure(const proc::CommandResult& r, const std::string& what) {
  if (!r.error.empty()) {
    if (r.error.find("not found in PATH") != std::string::npos ||
        r.error.find(std::strerror(ENOENT)) != std::string::npos)
      return what + ": tmux is not installed (not found in PATH)";
    return what + ": cannot run tmux: " + r.error;
  }
  // The last one: a client that reached a server in the middle of exiting (kill-server).
  if (r.output.find("no server running") != std::string::npos ||
      r.output.find("error connecting to") != std::string::npos ||
      r.output.find("server exited unexpectedly") != std::string::npos)
    return what + ": no tmux server is running";
  return what + ": tmux " + r.describe();
}

struct PaneState {
  bool exists = false;
  pid_t pid = 0;
  bool dead = false;
  std::optional<int> dead_status;  // set once tmux has reaped the process (exit code)
  std::optional<int> dead_signal;  // ... or killed by this signal
  std::string session;
};

struct PaneQuery {
  std::optional<PaneState> state;  // unset: tmux failed (`error`)
  std::string error;
};

asio::awaitable<PaneQuery> query_pane(const std::string& pane) {
  PaneQuery q;
  // Named, not a temporary in the co_await expression (GCC 12).
  const std::vector<Command> cmds = {{"display-message", "-p", "-t", pane,
                                      "#{pane_id}|#{pane_pid}|#{pane_dead}|#{pane_dead_status}|"
                                      "#{pane_dead_signal}|#{session_name}"}};
  auto r = co_await run_tmux(cmds);
  if (!r.ok()) {
    q.error = tmux_failure(r, "tmux pane " + pane);
    co_return q;
  }
  std::string_view line = r.output;
  line = line.substr(0, line.find('\n'));
  std::vector<std::string_view> f;
  for (int i = 0; i < 5; ++i) {
    auto bar = line.find('|');
    if (bar == std::string_view::npos) break;
    f.push_back(line.substr(0, bar));
    line.remove_prefix(bar + 1);
  }
  f.push_back(line);  // the session name, last: whatever it contains
  PaneState s;
  if (f.size() != 6) {
    q.error = "tmux pane " + pane + ": unexpected answer: " + r.output;
    co_return q;
  }
  if (f[0] != pane) {  // no such pane: tmux answers with empty values
    q.state = s;
    co_return q;
  }
  s.exists = true;
  s.pid = parse_int<pid_t>(f[1]).value_or(0);
  s.dead = f[2] == "1";
  s.dead_status = parse_int<int>(f[3]);
  s.dead_signal = parse_int<int>(f[4]);
  s.session = std::string(f[5]);
  q.state = s;
  co_return q;
}

// Checks that `recorded.pane` is still the pane we started; empty when it is.
std::string verify_pane(const RecordedProcess& recorded, const PaneQuery& q, bool must_be_alive) {
  const std::string& pane = recorded.pane;
  if (!q.state) return q.error;
  const PaneState& s = *q.state;
  if (!s.exists) return "tmux pane " + pane + " no longer exists";
  if (s.session != recorded.session)
    return "tmux pane " + pane + " belongs to session '" + s.session + "', not '" + recorded.session + "'";
  if (s.pid != recorded.identity.pid)
    return "tmux pane " + pane + " runs pid " + std::to_string(s.pid) + ", not the recorded " +
           std::to_string(recorded.identity.pid);
  if (must_be_alive && s.dead) return "tmux pane " + pane + " is dead";
  return {};
}

// The checks tmux cannot make for us before it starts the process.
std::string check_request(const LaunchRequest& req) {
  if (!valid_session_name(req.session))
    return "invalid tmux session name '" + req.session + "' (allowed: letters, digits, '-', '_')";
  if (req.argv.empty() || req.argv[0].empty()) return "empty command";
  for (const auto& [k, v] : req.env)
    if (k.empty() || k.find('=') != std::string::npos) return "invalid environment variable name '" + k + "'";
  std::error_code ec;
  if (!fs::is_directory(req.cwd, ec)) return "working directory " + req.cwd.string() + ": not a directory";
  const std::string& prog = req.argv[0];
  if (req.argv.size() == 1 && prog.find('=') != std::string::npos)
    // env(1) would take it for a variable assignment.
    return "a one-element command containing '=' cannot be started under tmux: " + prog;
  if (prog.find('/') != std::string::npos) {
    fs::path p = fs::path(prog).is_absolute() ? fs::path(prog) : req.cwd / prog;
    if (::access(p.c_str(), X_OK) != 0) return prog + ": " + std::strerror(errno);
  } else {
    // The pane's PATH: the agent's own if set, else the server's, which is ours.
    auto it = req.env.find("PATH");
    const char* ours = std::getenv("PATH");
    std::string path = it != req.env.end() ? it->second : ours && *ours ? ours : "/usr/local/bin:/usr/bin:/bin";
    int err = 0;
    if (proc::find_in_path(prog, path, err).empty())
      return prog + ": " + (err == ENOENT ? "not found in PATH (" + path + ")" : std::string(std::strerror(err)));
  }
  return {};
}

class TmuxRunner final : public Runner {
 public:
  const char* name() const override { return "tmux"; }

  asio::awaitable<LaunchResult> launch(const LaunchRequest& request) override {
    LaunchResult out;
    LaunchRequest req = request;
    std::error_code ec;
    if (req.cwd.empty()) req.cwd = fs::current_path(ec);
    req.cwd = fs::absolute(req.cwd, ec);
    if (std::string why = check_request(req); !why.empty()) {
      out.error = "tmux session " + req.session + ": " + why;
      co_return out;
    }
    fs::path log = fs::absolute(req.output_log, ec);

    Command create = {"new-session", "-d", "-s", req.session, "-c", format_escape(req.cwd.string()),
                      "-x", "200", "-y", "50"};
    for (const auto& [k, v] : req.env) {
      create.push_back("-e");
      create.push_back(k + "=" + v);
    }
    for (const char* a : {"-P", "-F", "#{pane_id} #{pane_pid}", "--"}) create.push_back(a);
    if (req.argv.size() == 1) {
      create.push_back("/usr/bin/env");  // exec, not `sh -c`; the pid stays the pane's
      create.push_back("--");
    }
    create.insert(create.end(), req.argv.begin(), req.argv.end());
    // remain-on-exit in the same command list: the server runs the list to the end before
    // its event loop handles the pane's EOF or SIGCHLD, so even a command that exits at
    // once keeps its dead pane (and status) and has its output piped. Setting it earlier
    // would need a global option (the user's) or a placeholder process (another pid).
    // Residual gap, tmux 3.3a's own: a process that exits while tmux is still setting up
    // the pane (utempter sets SIGCHLD to default) is not reaped, so its pane is dead with
    // no status; after_exit makes tmux reap it (seen ~1 in 20 instant exits under load).
    const std::string target = "=" + req.session + ":";
    Command remain = {"set-option", "-p", "-t", target, "remain-on-exit", "on"};
    Command pipe = {"pipe-pane", "-o", "-t", target, format_escape("cat >> " + shell_quote(log.string()))};

    const std::vector<Command> cmds = {create, remain, pipe};
    auto path_it = req.env.find("PATH");
    std::string path = path_it == req.env.end() ? std::string() : path_it->second;
    auto r = co_await run_tmux(cmds, path);
    const std::string what = "tmux session " + req.session;
    if (!r.error.empty()) {
      out.error = tmux_failure(r, what);
      co_return out;
    }
    std::string pane;
    pid_t pid = 0;
    std::string_view rest = r.output;
    while (!rest.empty()) {
      std::string_view line = rest.substr(0, rest.find('\n'));
      rest.remove_prefix(std::min(rest.size(), line.size() + 1));
      auto sp = line.find(' ');
      if (sp == std::string_view::npos || !valid_pane_id(std::string(line.substr(0, sp)))) continue;
      if (auto p = parse_int<pid_t>(line.substr(sp + 1)); p && *p > 0) {
        pane = std::string(line.substr(0, sp));
        pid = *p;
        break;
      }
    }
    if (!r.ok() || pane.empty()) {
      if (r.output.find("duplicate session") != std::string::npos) {
        out.error = what + " already exists";
        co_return out;
      }
      out.error = tmux_failure(r, what);
      if (!pane.empty()) {
        // Created but not set up (no log, no exit status): not an agent we can run.
        const std::vector<Command> kill = {{"kill-session", "-t", pane}};
        co_await run_tmux(kill);
      }
      co_return out;
    }

    // A process that already exited has no identity left (or only a zombie's): the
    // watcher then reports it at once and after_exit reads its status from the pane.
    auto ex = co_await asio::this_coro::executor;
    auto id = proc::identify(pid);
    if (!id) id = proc::ProcessIdentity{pid, proc::proc_start_time(pid).value_or(0)};
    auto w = proc::PidWatcher::watch(ex, *id, true);
    out.launched = Launched{w, *id, pane};
    co_return out;
  }

  asio::awaitable<LaunchResult> adopt(const RecordedProcess& recorded) override {
    LaunchResult out;
    if (!valid_pane_id(recorded.pane)) {
      out.error = "no tmux pane recorded for session " + recorded.session;
      co_return out;
    }
    auto q = co_await query_pane(recorded.pane);
    if (std::string why = verify_pane(recorded, q, true); !why.empty()) {
      out.error = why;
      co_return out;
    }
    auto ex = co_await asio::this_coro::executor;
    auto w = proc::PidWatcher::watch(ex, recorded.identity, true);
    if (w.exited()) {
      out.error = w.exit_info() ? w.exit_info()->detail : "gone";
      co_return out;
    }
    out.launched = Launched{w, recorded.identity, recorded.pane};
    co_return out;
  }

  asio::awaitable<proc::ExitInfo> after_exit(const RecordedProcess& recorded, proc::ExitInfo exit) override {
    if (!valid_pane_id(recorded.pane)) co_return exit;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    PaneQuery q;
    bool nudged = false;
    // Our pidfd usually sees the exit before tmux has read the pane's EOF and reaped it.
    for (int i = 0; i < kExitPolls; ++i) {
      q = co_await query_pane(recorded.pane);
      if (!verify_pane(recorded, q, false).empty()) co_return exit;  // gone, or not ours
      const PaneState& s = *q.state;
      if (s.dead && (s.dead_status || s.dead_signal)) break;
      if (s.dead && !nudged && i >= 2) {
        // tmux missed the SIGCHLD (see launch): any child of the server exiting makes it
        // reap every zombie, and run-shell's child is one.
        nudged = true;
        const std::vector<Command> nudge = {{"run-shell", "true"}};
        co_await run_tmux(nudge);
        continue;
      }
      timer.expires_after(kExitPollInterval);
      co_await timer.async_wait(asio::use_awaitable);
    }
    const PaneState& s = *q.state;
    proc::ExitInfo refined = exit;
    if (s.dead_signal) {
      refined = proc::ExitInfo{};
      refined.signaled = true;
      refined.code = *s.dead_signal;
    } else if (s.dead_status) {
      refined = proc::ExitInfo{};
      refined.code = *s.dead_status;
    }
    // The pane is provably ours (pane id, session name and pid): its session goes. A pane
    // tmux never saw die is ours all the same; the exit was seen through the pidfd. A
    // failed kill leaves a dead session behind but does not make the status wrong.
    const std::vector<Command> kill = {{"kill-session", "-t", recorded.pane}};
    co_await run_tmux(kill);
    co_return refined;
  }

  asio::awaitable<bool> type_text(const RecordedProcess& recorded, const std::string& text) override {
    if (!valid_pane_id(recorded.pane)) co_return false;
    // A pane id can be reused by a new tmux server: never type into a pane not proven ours.
    auto q = co_await query_pane(recorded.pane);
    if (!verify_pane(recorded, q, true).empty()) co_return false;
    std::vector<Command> cmds;
    if (!text.empty()) cmds.push_back({"send-keys", "-t", recorded.pane, "-l", "--", text});
    cmds.push_back({"send-keys", "-t", recorded.pane, "Enter"});
    auto r = co_await run_tmux(cmds);
    co_return r.ok();
  }
};

}  // namespace

std::unique_ptr<Runner> make_tmux_runner() { return std::make_unique<TmuxRunner>(); }

}  // namespace vermas
