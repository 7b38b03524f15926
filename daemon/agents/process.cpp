// The only translation unit that includes Boost.Process v2. See process.hpp for the model.
//
// How the 1.81 pitfalls (shared/notes/dependencies.md) are handled:
// - fd leak (close_all is broken): the child marks every fd >= 3 close-on-exec with
//   close_range(CLOSE_RANGE_CLOEXEC) itself.
// - ::exit() after a failed exec, and on_exec_setup errors that end in ::exit(): our last
//   initializer never returns. It does the whole child set-up, calls execve itself and on
//   any failure writes the errno (tagged with the step) into the parent's memory (the
//   launch uses vfork) and calls _exit(127). No atexit handler or static destructor ever runs in the child.
// - The (io_context&, error_code&) overload ignores ec: we use (executor, error_code&).
// - ~basic_process SIGKILLs and blocks in waitpid: the basic_process is detached as soon as
//   the launcher returns. We watch the child with our own pidfd, which lets us sweep the
//   process group *before* reaping the leader (its pid, and so the group id, cannot be
//   reused until it is reaped), and gives us the raw waitpid() status (no
//   evaluate_exit_code confusion between exit(9) and SIGKILL).
// - notify_fork: the launcher calls notify_fork() on the executor's context around fork().
//   On the daemon's io_context that would make the child re-create the epoll reactor and
//   re-register every descriptor (O(n) syscalls, and an exception, in the child, on
//   EMFILE). So the launch runs on a fresh local io_context that has no reactor; the
//   daemon's executor is only used for the pidfd watch.
// - No PATH search: argv[0] is resolved here, against the child's PATH.
#include "daemon/agents/process.hpp"
#include "daemon/agents/proc_stat.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string_view>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/process/v2/posix/vfork_launcher.hpp>
#include <boost/process/v2/process.hpp>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char** environ;

namespace vermas::proc {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

// ---------------------------------------------------------------------------------------
// /proc

namespace {

// /proc/<pid>/stat, parsed by proc_stat.cpp (pure; test_proc_stat.cpp).
std::optional<StatLine> read_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n;
  do n = ::read(fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return parse_stat_line(std::string_view(buf, static_cast<std::size_t>(n)));
}

bool is_dead_state(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace

std::optional<std::uint64_t> proc_start_time(pid_t pid) {
  auto f = read_stat(pid);
  if (!f) return std::nullopt;
  return f->start_time;
}

std::optional<ProcessRelations> relations(pid_t pid) {
  auto f = read_stat(pid);
  if (!f) return std::nullopt;
  return ProcessRelations{f->ppid, f->pgrp, f->session};
}

std::optional<ProcessIdentity> identify(pid_t pid) {
  auto f = read_stat(pid);
  if (!f || is_dead_state(f->state)) return std::nullopt;
  return ProcessIdentity{pid, f->start_time};
}

bool identity_matches(const ProcessIdentity& id) {
  auto f = read_stat(id.pid);
  return f && !is_dead_state(f->state) && f->start_time == id.start_time;
}

std::string boot_id() {
  int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return {};
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool group_stopped(pid_t pid) {
  auto f = read_stat(pid);
  return f && (f->state == 'T' || f->state == 't');
}

bool signal_group(pid_t pgid, int sig) {
  if (pgid <= 1 || pgid == ::getpgrp()) {
    errno = EPERM;
    return false;
  }
  return ::kill(-pgid, sig) == 0;
}

// ---------------------------------------------------------------------------------------
// ExitInfo

ExitInfo ExitInfo::from_wait_status(int status) {
  ExitInfo info;
  if (WIFSIGNALED(status)) {
    info.signaled = true;
    info.code = WTERMSIG(status);
    info.core_dumped = WCOREDUMP(status);
  } else if (WIFEXITED(status)) {
    info.code = WEXITSTATUS(status);
  } else {
    info.status_known = false;
    info.detail = "unexpected wait status " + std::to_string(status);
  }
  return info;
}

std::string ExitInfo::describe() const {
  if (lost) return detail.empty() ? "lost" : "lost (" + detail + ")";
  if (!status_known) return detail.empty() ? "exited (status unknown)" : "exited (" + detail + ")";
  if (!signaled) return "exit " + std::to_string(code);
  std::string s = "signal " + std::to_string(code);
  const char* abbrev = ::sigabbrev_np(code);
  if (abbrev || core_dumped) {
    s += " (";
    if (abbrev) s += std::string("SIG") + abbrev;
    if (core_dumped) s += abbrev ? ", core dumped" : "core dumped";
    s += ")";
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Watch: one process, its pidfd, its stop timer and the callbacks waiting for its exit.

namespace detail {

class Watch : public std::enable_shared_from_this<Watch> {
 public:
  Watch(asio::any_io_executor ex, ProcessIdentity id, bool our_child, bool kill_group_on_exit)
      : ex_(std::move(ex)), id_(id), our_child_(our_child),
        kill_group_on_exit_(kill_group_on_exit), pidfd_(ex_) {}

  ~Watch() {
    boost::system::error_code ec;
    pidfd_.close(ec);
  }

  const ProcessIdentity& identity() const { return id_; }
  bool exited() const { return info_.has_value(); }
  const std::optional<ExitInfo>& exit_info() const { return info_; }

  void start(int pidfd) {
    pidfd_.assign(pidfd);
    arm();
  }

  // Reported once callbacks are registered (on_exit posts when already exited).
  void mark_lost(std::string why) {
    ExitInfo info;
    info.lost = true;
    info.status_known = false;
    info.detail = std::move(why);
    info_ = std::move(info);
  }

  void add_callback(ExitCallback cb) {
    if (!cb) return;
    if (released_) return;
    if (info_) {
      asio::post(ex_, [cb = std::move(cb), info = *info_]() { cb(info); });
      return;
    }
    callbacks_.push_back(std::move(cb));
  }

  bool signal_leader(int sig) {
    if (info_ || released_) return false;
    if (our_child_) return ::kill(id_.pid, sig) == 0;  // unreaped: the pid is still ours
    return pidfd_send_signal(pidfd_.native_handle(), sig) == 0;  // race-free by pidfd
  }

  bool signal_group(int sig) {
    if (info_ || released_) return false;
    if (!our_child_) {
      // The leader must still run (so its pid, and the group id, are not free for reuse)
      // and still lead its own group.
      if (!leader_running() || ::getpgid(id_.pid) != id_.pid) {
        errno = ESRCH;
        return false;
      }
    }
    return proc::signal_group(id_.pid, sig);
  }

  void stop(std::chrono::milliseconds grace, ExitCallback done) {
    if (info_ || released_) {
      add_callback(std::move(done));
      return;
    }
    add_callback(std::move(done));
    auto deadline = std::chrono::steady_clock::now() + grace;
    if (stopping_ && deadline >= deadline_) return;
    bool first = !stopping_;
    stopping_ = true;
    deadline_ = deadline;
    if (grace.count() <= 0) {
      kill_now();
      return;
    }
    if (first) {
      if (!signal_group(SIGTERM)) signal_leader(SIGTERM);
      // A paused (SIGSTOPped) group acts on SIGTERM only once continued.
      if (!signal_group(SIGCONT)) signal_leader(SIGCONT);
    }
    if (!timer_) timer_ = std::make_unique<asio::steady_timer>(ex_);
    timer_->expires_at(deadline_);
    std::weak_ptr<Watch> weak = shared_from_this();
    timer_->async_wait([weak](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->kill_now();
    });
  }

  void release() {
    released_ = true;
    callbacks_.clear();
    if (timer_) timer_->cancel();
    boost::system::error_code ec;
    pidfd_.close(ec);  // the pending wait completes with operation_aborted
  }

  // The wait handler was destroyed without running (io_context shut down): break any
  // reference cycle through the callbacks, touch nothing else.
  void abandon() {
    released_ = true;
    auto cbs = std::move(callbacks_);
  }

 private:
  struct ReadableHandler {
    std::shared_ptr<Watch> w;
    explicit ReadableHandler(std::shared_ptr<Watch> p) : w(std::move(p)) {}
    ReadableHandler(ReadableHandler&&) noexcept = default;
    ReadableHandler& operator=(ReadableHandler&&) = delete;
    ~ReadableHandler() {
      if (w) w->abandon();
    }
    void operator()(const boost::system::error_code& ec) {
      auto self = std::move(w);
      self->on_readable(ec);
    }
  };

  void arm() {
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                      ReadableHandler(shared_from_this()));
  }

  bool leader_running() {
    if (!pidfd_.is_open()) return false;
    pollfd p{pidfd_.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  void kill_now() {
    if (info_ || released_) return;
    if (!signal_group(SIGKILL)) signal_leader(SIGKILL);
  }

  void on_readable(const boost::system::error_code& ec) {
    if (released_ || info_) return;
    if (ec == asio::error::operation_aborted) return;
    bool sweep = kill_group_on_exit_ || stopping_;
    ExitInfo info;
    if (our_child_) {
      // Peek first (WNOWAIT): while the leader is an unreaped zombie its pid and group id
      // stay ours, so the rest of its group can be swept without any risk of hitting a
      // reused id. Then reap.
      siginfo_t si{};
      int peek;
      do peek = ::waitid(P_PID, static_cast<id_t>(id_.pid), &si, WEXITED | WNOHANG | WNOWAIT);
      while (peek < 0 && errno == EINTR);
      if (peek == 0 && si.si_pid == 0 && !ec) {  // not yet waitable: wait for more
        arm();
        return;
      }
      if (sweep && peek == 0) proc::signal_group(id_.pid, SIGKILL);
      int status = 0;
      pid_t r;
      do r = ::waitpid(id_.pid, &status, WNOHANG);
      while (r < 0 && errno == EINTR);
      if (r == id_.pid) {
        info = ExitInfo::from_wait_status(status);
      } else {
        info.status_known = false;
        info.detail = std::string("exit status lost: ") +
                      (r < 0 ? std::strerror(errno) : ec.message().c_str());
      }
    } else {
      // Not ours to reap; its parent may already have done so. The group is swept only
      // if asked, right away (the group id is reserved while any member lives).
      if (sweep) proc::signal_group(id_.pid, SIGKILL);
      info.status_known = false;
      info.detail = "not our child, status unknown";
    }
    finish(std::move(info));
  }

  void finish(ExitInfo info) {
    info_ = std::move(info);
    if (timer_) timer_->cancel();
    boost::system::error_code ignored;
    pidfd_.close(ignored);
    auto cbs = std::move(callbacks_);
    callbacks_.clear();
    for (auto& cb : cbs) cb(*info_);
  }

  asio::any_io_executor ex_;
  ProcessIdentity id_;
  bool our_child_;
  bool kill_group_on_exit_;
  asio::posix::stream_descriptor pidfd_;
  // The stop's deadline, made by the first stop: most watched processes are never stopped,
  // and 2,000 agents' timers were 240 KB.
  std::unique_ptr<asio::steady_timer> timer_;
  std::optional<ExitInfo> info_;
  std::vector<ExitCallback> callbacks_;
  bool stopping_ = false;
  bool released_ = false;
  std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace detail

// ---------------------------------------------------------------------------------------
// WatchedProcess

namespace {
const ProcessIdentity kNoIdentity{};
}

pid_t WatchedProcess::pid() const { return w_ ? w_->identity().pid : 0; }
const ProcessIdentity& WatchedProcess::identity() const { return w_ ? w_->identity() : kNoIdentity; }
bool WatchedProcess::exited() const { return w_ && w_->exited(); }
std::optional<ExitInfo> WatchedProcess::exit_info() const {
  return w_ ? w_->exit_info() : std::nullopt;
}
void WatchedProcess::on_exit(ExitCallback cb) {
  if (w_) w_->add_callback(std::move(cb));
}
bool WatchedProcess::signal(int sig) { return w_ && w_->signal_leader(sig); }
bool WatchedProcess::signal_group(int sig) { return w_ && w_->signal_group(sig); }
void WatchedProcess::stop(std::chrono::milliseconds grace, ExitCallback done) {
  if (w_) w_->stop(grace, std::move(done));
}
void WatchedProcess::release() {
  if (w_) w_->release();
}

// Not a coroutine itself: GCC 12 destroys a lambda temporary inside a co_await
// expression twice (a use-after-free that ASan caught here), so no temporaries there.
asio::awaitable<ExitInfo> WatchedProcess::wait() {
  auto initiation = [w = w_](auto handler) {
    using Handler = decltype(handler);
    auto h = std::make_shared<Handler>(std::move(handler));
    auto resume = [h](const ExitInfo& info) {
      auto hex = asio::get_associated_executor(*h);
      asio::post(hex, [h, info]() mutable { std::move (*h)(info); });
    };
    if (w) {
      w->add_callback(std::move(resume));
    } else {
      ExitInfo info;
      info.lost = true;
      info.status_known = false;
      info.detail = "no process";
      resume(info);
    }
  };
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(ExitInfo)>(
      std::move(initiation), asio::use_awaitable);
}

// ---------------------------------------------------------------------------------------
// Spawning

namespace {

enum Step : int { kStepSetsid = 1, kStepChdir = 2, kStepStdio = 3, kStepExec = 4 };

// Everything the child needs, prepared in the parent: between fork() and execve() the
// child calls only async-signal-safe functions and allocates nothing.
// Read in the vfork child: a plain global set once at start-up, before any spawn.
mode_t g_child_umask = 022;

struct ChildSetup {
  const char* exe;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: keep
  int in_fd;
  int out_fd;

  // vfork: the child borrows our memory until it execs or exits, so it reports a failure
  // by writing here; the parent reads it once the launcher returns.
  volatile int* report;

  [[noreturn]] void fail(int step) const {
    *report = errno | (step << 16);
    ::_exit(127);
  }

  [[noreturn]] void run() const {
    // The parent blocked every signal around fork(); handlers and ignores inherited from
    // the daemon (SIGPIPE is SIG_IGN there) must not leak into the agent.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) {
      if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
    }
    if (::setsid() < 0) fail(kStepSetsid);
    ::umask(g_child_umask);
    if (cwd && ::chdir(cwd) < 0) fail(kStepChdir);
    int in = in_fd, out = out_fd;
    // Keep the sources clear of 0..2 so the dup2s below cannot clobber one another.
    if (in < 3 && (in = ::fcntl(in, F_DUPFD_CLOEXEC, 3)) < 0) fail(kStepStdio);
    if (out < 3 && (out = ::fcntl(out, F_DUPFD_CLOEXEC, 3)) < 0) fail(kStepStdio);
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) fail(kStepStdio);
    // Every other fd is closed at exec (the launcher's error pipe is CLOEXEC already).
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      long max = ::sysconf(_SC_OPEN_MAX);
      if (max < 0 || max > 1 << 20) max = 1 << 20;
      for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(exe, argv, envp);
    fail(kStepExec);
  }

  // Placed last in the launcher's initializers: never returns.
  template <class Launcher, class Path>
  bp::error_code on_exec_setup(Launcher&, const Path&, const char* const*&) {
    run();
    return {};  // not reached
  }
};

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

SpawnResult fail(int err, std::string message) {
  SpawnResult r;
  r.error = std::error_code(err, std::system_category());
  r.message = std::move(message);
  return r;
}

std::string what(int err) { return std::strerror(err); }

// The child's environment as "K=V" strings.
std::vector<std::string> build_env(const SpawnSpec& spec) {
  std::vector<std::string> env;
  if (spec.inherit_env && ::environ) {
    for (char** e = ::environ; *e; ++e) {
      std::string_view kv(*e);
      auto eq = kv.find('=');
      if (eq == std::string_view::npos || eq == 0) continue;
      if (spec.env_add.count(std::string(kv.substr(0, eq)))) continue;
      env.emplace_back(kv);
    }
  }
  for (const auto& [k, v] : spec.env_add) env.push_back(k + "=" + v);
  return env;
}

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& kv : env) {
    if (kv.size() > key.size() && kv[key.size()] == '=' && kv.compare(0, key.size(), key) == 0)
      return kv.substr(key.size() + 1);
  }
  return {};
}

}  // namespace

// execvp-like lookup; returns an absolute path, or sets err (ENOENT or EACCES).
std::string find_in_path(const std::string& name, const std::string& path_var, int& err) {
  err = ENOENT;
  std::string_view rest = path_var;
  for (;;) {
    auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : std::string(dir)) / name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) {
        std::error_code ec;
        auto abs = std::filesystem::absolute(candidate, ec);
        return ec ? candidate.string() : abs.string();
      }
      err = EACCES;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return {};
}


SpawnResult ChildProcess::spawn(const asio::any_io_executor& ex, const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return fail(EINVAL, "spawn: empty argv");

  std::vector<std::string> env = build_env(spec);
  std::string exe = spec.argv[0];
  if (exe.find('/') == std::string::npos) {
    std::string path_var = env_value(env, "PATH");
    if (path_var.empty()) path_var = "/usr/local/bin:/usr/bin:/bin";
    int err = 0;
    exe = find_in_path(spec.argv[0], path_var, err);
    if (exe.empty()) {
      return fail(err, spec.argv[0] + ": " +
                           (err == ENOENT ? "not found in PATH (" + path_var + ")" : what(err)));
    }
  }

  Fd in(spec.input_fd >= 0 ? ::fcntl(spec.input_fd, F_DUPFD_CLOEXEC, 3) : ::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) {
    int err = errno;
    return fail(err, (spec.input_fd >= 0 ? "duplicating stdin: " : "open /dev/null: ") + what(err));
  }
  Fd out(spec.output_fd >= 0 ? ::fcntl(spec.output_fd, F_DUPFD_CLOEXEC, 3)
         : spec.output_log.empty()
             ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
             : ::open(spec.output_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (out.fd < 0) {
    int err = errno;
    return fail(err, "open log " + spec.output_log.string() + ": " + what(err));
  }

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& kv : env) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);
  std::string cwd = spec.cwd.string();
  volatile int child_report = 0;
  ChildSetup setup{exe.c_str(), argv.data(), envp.data(), cwd.empty() ? nullptr : cwd.c_str(),
                   in.fd, out.fd, &child_report};

  // Buffered stdio would otherwise be written twice if the child ever flushed its copy.
  std::fflush(nullptr);

  // A local context with no reactor: its notify_fork() around fork() does nothing.
  asio::io_context launch_ctx;
  // vfork, not fork: no page tables to copy and no copy-on-write faults afterwards. A
  // fork of the daemon cost 5-7 ms on the 2-core machine, vfork well under one. The child
  // only makes async-signal-safe calls on its own signal table before execve or _exit.
  bp::posix::vfork_launcher launcher;
  bp::error_code ec;
  pid_t pid = -1;
  {
    // No signal handler may run in the child before exec (an Asio handler there would
    // write to the daemon's signal pipe). Pending signals stay pending across exec.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const pid_t parent = ::getpid();
    try {
      auto p = launcher(launch_ctx.get_executor(), ec, boost::filesystem::path(exe),
                        std::vector<std::string>{}, setup);
      pid = p.id();
      p.detach();  // never ~basic_process's SIGKILL + blocking waitpid
    } catch (const std::exception& e) {
      if (::getpid() != parent) ::_exit(127);  // never unwind into the daemon in a child
      ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
      return fail(EIO, std::string("spawn: ") + e.what());
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  if (ec || child_report != 0) {
    int v = child_report != 0 ? static_cast<int>(child_report) : ec.value();
    int err = v & 0xffff;
    int step = child_report != 0 ? v >> 16 : 0;
    std::string msg;
    switch (step) {
      case kStepSetsid: msg = "setsid: "; break;
      case kStepChdir: msg = "chdir " + cwd + ": "; break;
      case kStepStdio: msg = "redirecting stdio: "; break;
      case kStepExec: msg = "execve " + exe + ": "; break;
      default: msg = "fork: "; err = v; break;
    }
    // A failed child has already called _exit(127) (vfork resumed us): reap it.
    if (step != 0 && pid > 0) {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    return fail(err, msg + what(err));
  }

  // Our child and unreaped, so the pid cannot have been reused: /proc has its start time.
  ProcessIdentity id{pid, proc_start_time(pid).value_or(0)};
  int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    int err = errno;
    // Unwatchable (e.g. out of fds): do not leave an unsupervised agent behind.
    proc::signal_group(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return fail(err, "pidfd_open: " + what(err));
  }
  auto w = std::make_shared<detail::Watch>(ex, id, true, spec.kill_group_on_exit);
  w->start(pidfd);
  SpawnResult r;
  r.child = ChildProcess(std::move(w));
  return r;
}

// ---------------------------------------------------------------------------------------
// PidWatcher

PidWatcher PidWatcher::watch(const asio::any_io_executor& ex, const ProcessIdentity& id,
                             bool kill_group_on_exit) {
  auto w = std::make_shared<detail::Watch>(ex, id, false, kill_group_on_exit);
  int pidfd = id.pid > 0 ? pidfd_open(id.pid) : -1;
  if (pidfd < 0) {
    int err = id.pid > 0 ? errno : ESRCH;
    w->mark_lost(err == ESRCH ? "no process with pid " + std::to_string(id.pid)
                              : "pidfd_open: " + what(err));
    return PidWatcher(std::move(w));
  }
  // Checked after the pidfd is open: a match proves the pidfd is the recorded process.
  auto start = proc_start_time(id.pid);
  if (!start || *start != id.start_time) {
    ::close(pidfd);
    w->mark_lost(start ? "pid " + std::to_string(id.pid) + " was reused"
                       : "no process with pid " + std::to_string(id.pid));
    return PidWatcher(std::move(w));
  }
  w->start(pidfd);  // a zombie makes the pidfd readable at once: reported as exited
  return PidWatcher(std::move(w));
}

// ---------------------------------------------------------------------------------------
// Helper commands

std::string CommandResult::describe(std::size_t max_chars) const {
  if (!error.empty()) return error;
  std::string text = timed_out ? "timed out (" + exit.describe() + ")" : exit.describe();
  std::string_view out = output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.remove_suffix(1);
  if (!out.empty()) {
    if (out.size() > max_chars) out = out.substr(out.size() - max_chars);
    text += ": ";
    text += out;
  }
  return text;
}

asio::awaitable<CommandResult> run_command(SpawnSpec spec, std::chrono::milliseconds timeout,
                                           std::size_t max_output, std::string input,
                                           std::chrono::milliseconds kill_grace) {
  CommandResult result;
  // An anonymous file, not a pipe: nothing has to drain it while the command runs.
  Fd capture(::memfd_create("vermas-command", MFD_CLOEXEC));
  if (capture.fd < 0) {
    result.error = "memfd_create: " + what(errno);
    co_return result;
  }
  spec.output_fd = capture.fd;
  spec.output_log.clear();
  // stdin likewise: written whole before the start, so a command that never reads cannot
  // block us on a full pipe. The child's copy shares this offset, rewound to 0.
  Fd feed(input.empty() ? -1 : ::memfd_create("vermas-input", MFD_CLOEXEC));
  spec.input_fd = -1;
  if (!input.empty()) {
    std::size_t written = 0;
    while (feed.fd >= 0 && written < input.size()) {
      const ssize_t n = ::write(feed.fd, input.data() + written, input.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    if (feed.fd < 0 || written < input.size() || ::lseek(feed.fd, 0, SEEK_SET) != 0) {
      result.error = "preparing the command's input: " + what(errno);
      co_return result;
    }
    spec.input_fd = feed.fd;
  }
  auto ex = co_await asio::this_coro::executor;
  SpawnResult started = ChildProcess::spawn(ex, spec);
  if (!started) {
    result.error = started.message;
    co_return result;
  }
  ChildProcess child = *started.child;
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer deadline(ex);
  deadline.expires_after(timeout);
  deadline.async_wait([child, timed_out, kill_grace](boost::system::error_code ec) mutable {
    if (ec) return;
    *timed_out = true;
    child.stop(kill_grace);
  });
  result.exit = co_await child.wait();
  deadline.cancel();
  result.timed_out = *timed_out;
  off_t size = ::lseek(capture.fd, 0, SEEK_END);
  if (size > 0) {
    result.output.resize(std::min<std::size_t>(static_cast<std::size_t>(size), max_output));
    ssize_t n = ::pread(capture.fd, result.output.data(), result.output.size(), 0);
    result.output.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  co_return result;
}

void set_child_umask(mode_t mask) { g_child_umask = mask; }

}  // namespace vermas::proc
