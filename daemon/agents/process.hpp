#pragma once
// Spawning and watching agent processes. The one place that uses Boost.Process v2 (in
// process.cpp only: it is slow to compile); this header stays light.
//
// Model
// - A child is started with an argv array (never a shell), in its own session and process
//   group (pgid == sid == pid), stdin from /dev/null, stdout+stderr appended to a log file,
//   every fd >= 3 closed, signal mask and dispositions reset to the defaults.
// - Exits are events: each watched process has a pidfd registered with the io_context's
//   reactor; nothing polls and nothing blocks. Callbacks run on the io_context thread.
// - A process is identified by pid + /proc start time, never by a name. A pid is only
//   signalled while it is provably the same process: our own child until it is reaped (a
//   zombie holds its pid), any other process only while its start time still matches.
// - Stopping takes the whole process group: SIGTERM (+ SIGCONT, so a paused group can act on
//   it), then SIGKILL after the grace period. When the leader's exit is noticed, the rest
//   of its group is swept with SIGKILL *before* the leader is reaped, while its pid and so
//   its process group id cannot have been reused.
//
// Requirements on the daemon
// - SIGCHLD must be SIG_DFL (daemon.cpp resets it at start-up). SIG_IGN makes the kernel
//   reap children itself and their exit status is lost.
// - Nobody may call waitpid(-1) / wait(): it would steal our children's statuses (they are
//   then reported with status_known == false).
// - Everything here is called on the io_context's thread, and no handle may outlive the
//   io_context it was created with (destroying the io_context with watches pending is
//   fine: nothing is killed, no callback runs).
// - spawn() returns once the child has exec'd (or failed to): it blocks the calling thread
//   for the fork+exec, ~1.5 ms on the 2-core test machine. That is what makes a missing
//   binary a synchronous error instead of a mysterious exit 127.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace vermas::proc {

// The daemon keeps its own files private with a narrow umask; children (agents, git) get
// this one instead, the umask the daemon was started with. Set once, before any spawn.
void set_child_umask(mode_t mask);

struct SpawnSpec {
  // argv[0] is the program. Without a '/', it is looked up in the PATH of the environment
  // the child gets (default /usr/local/bin:/usr/bin:/bin); with one, a relative path is
  // relative to `cwd`. The child sees argv[0] exactly as given.
  std::vector<std::string> argv;
  std::filesystem::path cwd;  // empty: the daemon's cwd
  std::map<std::string, std::string> env_add;  // set (overriding) in the child's environment
  bool inherit_env = true;                      // start from the daemon's environment
  // stdout + stderr appended here (O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, 0644); the parent
  // directory must exist. Empty: /dev/null.
  std::filesystem::path output_log;
  // When >= 0, stdout + stderr go to this descriptor instead (it is duplicated, not taken).
  int output_fd = -1;
  // When >= 0, stdin reads this descriptor (duplicated, not taken); otherwise /dev/null.
  int input_fd = -1;
  // When the leader's exit is noticed, SIGKILL what is left of its process group (orphaned
  // grandchildren). Stopping always does this.
  bool kill_group_on_exit = true;
};

struct ExitInfo {
  bool signaled = false;      // `code` is a signal number
  int code = 0;               // exit code, or the signal number if `signaled`
  bool core_dumped = false;
  bool status_known = true;   // false: not our child (or reaped elsewhere); only the exit is known
  bool lost = false;          // the process was already gone, or its pid reused, when watched
  std::string detail;         // why the status is unknown / lost

  bool success() const { return status_known && !lost && !signaled && code == 0; }
  // "exit 3", "signal 9 (SIGKILL)", "signal 11 (SIGSEGV, core dumped)",
  // "exited (not our child, status unknown)", "lost (pid 123 was reused)".
  std::string describe() const;
  static ExitInfo from_wait_status(int status);  // a raw waitpid() status
};

struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat: clock ticks since boot
  bool operator==(const ProcessIdentity&) const = default;
};

// Start time of `pid` (also for a zombie), or nullopt if there is no such process.
std::optional<std::uint64_t> proc_start_time(pid_t pid);
// The identity of a live process now, or nullopt.
std::optional<ProcessIdentity> identify(pid_t pid);
// The pid is alive, not a zombie, and has the same start time.
bool identity_matches(const ProcessIdentity& id);
// Who a process hangs off: for finding the agent a socket peer belongs to.
struct ProcessRelations {
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
};
std::optional<ProcessRelations> relations(pid_t pid);
// /proc/sys/kernel/random/boot_id: start times only compare within one boot, so a recorded
// identity from another boot never matches, whatever the numbers say.
std::string boot_id();

// The process is stopped by a signal (state T in /proc/<pid>/stat): a paused agent's leader.
bool group_stopped(pid_t pid);

// kill(-pgid, sig). Refuses pgid <= 1 and the daemon's own process group. Returns false
// (errno set) if nothing was signalled. The caller must know the group is still ours.
bool signal_group(pid_t pgid, int sig);

namespace detail {
class Watch;
}

using ExitCallback = std::function<void(const ExitInfo&)>;

// Shared by ChildProcess and PidWatcher: a handle on one watched process. Copies share the
// same state. Destroying every handle does not kill or stop watching the process: it is
// still reaped (and its group swept) when it exits.
class WatchedProcess {
 public:
  WatchedProcess() = default;

  bool valid() const { return static_cast<bool>(w_); }
  pid_t pid() const;
  const ProcessIdentity& identity() const;
  bool exited() const;                          // the exit (or loss) has been noticed
  std::optional<ExitInfo> exit_info() const;

  // Runs `cb` once on the io_context when the exit is noticed; if it already was, `cb` is
  // posted. Do not capture a handle to this process in `cb` (a reference cycle until exit).
  void on_exit(ExitCallback cb);
  // The same as an awaitable (for coroutines).
  boost::asio::awaitable<ExitInfo> wait();

  // Signal the leader / its process group; false if it has exited or is no longer ours.
  bool signal(int sig);
  bool signal_group(int sig);
  // SIGTERM + SIGCONT to the group; SIGKILL to the group after `grace` if the leader still
  // runs; `done` runs when the leader's exit is noticed (at once, posted, if it already
  // was). Calling it again only shortens the deadline. grace == 0 means SIGKILL at once.
  void stop(std::chrono::milliseconds grace, ExitCallback done = {});
  // Stop watching, without signalling (for daemon shutdown with agents kept running). No
  // callback runs afterwards. An unreaped child of ours stays a zombie until we exit.
  void release();

 protected:
  explicit WatchedProcess(std::shared_ptr<detail::Watch> w) : w_(std::move(w)) {}
  std::shared_ptr<detail::Watch> w_;
};

struct SpawnResult;

// execvp's lookup of a program name without '/' in PATH's directories: its absolute path, or
// empty with err ENOENT (nowhere) or EACCES (found, not executable). The tmux runner asks
// before tmux would start a pane that only exits, so the agent's reason says "not found".
std::string find_in_path(const std::string& name, const std::string& path_var, int& err);

// A child of the daemon. Its exit status is known.
class ChildProcess : public WatchedProcess {
 public:
  ChildProcess() = default;
  // Never throws for a failed start (missing binary, bad cwd, unwritable log): that is a
  // SpawnResult with an error. Flushes stdio first. The child never runs atexit handlers
  // or static destructors, even if its exec fails.
  static SpawnResult spawn(const boost::asio::any_io_executor& ex, const SpawnSpec& spec);

 private:
  using WatchedProcess::WatchedProcess;
};

struct SpawnResult {
  std::optional<ChildProcess> child;  // set on success
  std::error_code error;              // errno value in system_category, e.g. ENOENT
  std::string message;                // e.g. "execve /opt/x/agent: No such file or directory"
  explicit operator bool() const { return child.has_value(); }
};

// A process that is not our child: re-adopted after a daemon restart, or a tmux pane's
// process. Its exit is noticed through a pidfd; its status cannot be known.
class PidWatcher : public WatchedProcess {
 public:
  PidWatcher() = default;
  // Verifies the identity first; if the process is gone or its pid was reused, the watch
  // reports `lost` at once (posted). Signals to the group are only sent while the leader
  // runs and leads its own group. kill_group_on_exit (and a stop) sweep the group right
  // after the exit is noticed; unlike with our own child the leader may already have been
  // reaped by then, so this is safe only while some member of the group still lives.
  static PidWatcher watch(const boost::asio::any_io_executor& ex, const ProcessIdentity& id,
                          bool kill_group_on_exit = false);

 private:
  using WatchedProcess::WatchedProcess;
};

// A short helper command (git, tmux) run to completion without blocking the io thread.
struct CommandResult {
  ExitInfo exit;
  std::string output;  // stdout + stderr, at most `max_output` bytes (the start is kept)
  std::string error;   // the command could not be started (e.g. not installed)
  bool timed_out = false;  // stopped at its timeout
  bool ok() const { return error.empty() && exit.success(); }
  // For messages: the error, or the exit and the last lines of output.
  std::string describe(std::size_t max_chars = 600) const;
};

// Runs `spec` (output_log/output_fd/input_fd are ignored: output is captured, stdin is
// `input`, from an anonymous file, so nobody has to feed a pipe); past `timeout` the
// command's process group is stopped (SIGTERM, then SIGKILL after `kill_grace`; 0: SIGKILL).
boost::asio::awaitable<CommandResult> run_command(SpawnSpec spec, std::chrono::milliseconds timeout,
                                                  std::size_t max_output = 1 << 20, std::string input = {},
                                                  std::chrono::milliseconds kill_grace = std::chrono::seconds(1));

}  // namespace vermas::proc
