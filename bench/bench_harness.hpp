#pragma once
// What the benchmarks share, so that each of them keeps only what it measures: Ctrl-C,
// the command line, processes, a raw JSON-RPC client, a throw-away company with its
// daemon, /proc figures, statistics, and the summary table with the final JSON line.
//
// Header-only and `inline` throughout: a benchmark that leaves a part unused gets no
// unused-function warning for it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// Every benchmark defaults to the co and daemon of its own build (bench/CMakeLists.txt).
#ifndef VERMAS_CO_BIN
#error "VERMAS_CO_BIN must name the co binary"
#endif
#ifndef VERMAS_DAEMON_BIN
#error "VERMAS_DAEMON_BIN must name the vermas-operations binary"
#endif

extern char** environ;

namespace vermas::bench {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// The prefix of the harness's messages; main() sets it before anything else.
inline const char* g_program = "bench";

// ---------------------------------------------------------------- Ctrl-C

inline volatile sig_atomic_t g_interrupted = 0;
inline void on_signal(int) { g_interrupted = 1; }

inline void check_interrupt() {
  if (g_interrupted) throw std::runtime_error("interrupted");
}

// SIGINT, SIGTERM and SIGHUP only set a flag, so a run that is cut short still cleans up.
inline void catch_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and the loops notice
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

// False, after saying so, when `co` or the daemon cannot be run.
inline bool binaries_ok(const std::string& co, const std::string& daemon) {
  for (const auto& bin : {co, daemon}) {
    if (::access(bin.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "%s: %s: not executable (build the co and vermas-operations targets)\n", g_program,
                   bin.c_str());
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- command line

// The arguments one flag at a time. A missing value or an unknown flag ends in usage(2),
// a bad number in a message and exit 2.
class Args {
 public:
  Args(int argc, char** argv, void (*usage)(int)) : argc_(argc), argv_(argv), usage_(usage) {}

  // Moves to the next flag; false after the last one.
  bool next() {
    if (i_ + 1 >= argc_) return false;
    flag_ = argv_[++i_];
    return true;
  }
  const std::string& flag() const { return flag_; }

  std::string value() {
    if (i_ + 1 >= argc_) bad_usage();
    return argv_[++i_];
  }

  long integer(long min, long max = LONG_MAX) {
    std::string v = value();
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(v.c_str(), &end, 10);
    if (errno || end == v.c_str() || *end || n < min || n > max) {
      std::fprintf(stderr, "%s: %s: bad value '%s' (integer >= %ld)\n", g_program, flag_.c_str(), v.c_str(), min);
      std::exit(2);
    }
    return n;
  }

  double number(double min) {
    std::string v = value();
    char* end = nullptr;
    errno = 0;
    double n = std::strtod(v.c_str(), &end);
    if (errno || end == v.c_str() || *end || !(n >= min)) {
      std::fprintf(stderr, "%s: %s: bad value '%s' (a number >= %g)\n", g_program, flag_.c_str(), v.c_str(), min);
      std::exit(2);
    }
    return n;
  }

  [[noreturn]] void unknown() const {
    std::fprintf(stderr, "%s: unknown argument '%s'\n", g_program, flag_.c_str());
    bad_usage();
  }

 private:
  [[noreturn]] void bad_usage() const {
    usage_(2);
    std::exit(2);  // usage() exits already; a plain function pointer cannot say so
  }

  int argc_;
  char** argv_;
  void (*usage_)(int);
  int i_ = 0;
  std::string flag_;
};

// ---------------------------------------------------------------- processes

// Starts programs with stdin from /dev/null. `co` is told which daemon binary to start, so
// it cannot pick up some other one.
class Spawner {
 public:
  // run() kills a program that is still running after `run_limit` (none: waits for ever).
  explicit Spawner(const std::string& daemon_bin, std::optional<Clock::duration> run_limit = std::nullopt)
      : run_limit_(run_limit) {
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "VERMAS_OPERATIONS_BIN=", 22) != 0) env_.emplace_back(*e);
    env_.push_back("VERMAS_OPERATIONS_BIN=" + daemon_bin);
    for (auto& s : env_) envp_.push_back(s.data());
    envp_.push_back(nullptr);
  }
  Spawner(const Spawner&) = delete;  // envp_ points into env_
  Spawner& operator=(const Spawner&) = delete;

  // stdout to `out`; stderr inherited, or (detach) to `out` too, in a session of its own.
  pid_t spawn(const std::vector<std::string>& args, const std::string& out = "/dev/null", bool detach = false) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (detach) posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    if (detach) posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    pid_t pid = -1;
    int err = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp_.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err != 0) throw std::runtime_error("cannot run " + args[0] + ": " + std::strerror(err));
    return pid;
  }

  // The exit status; nullopt when it did not exit within `limit` (it is then left running).
  static std::optional<int> wait(pid_t pid, std::optional<Clock::duration> limit = std::nullopt) {
    auto deadline = limit ? Clock::now() + *limit : Clock::time_point::max();
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid, &status, limit ? WNOHANG : 0);
      if (r == pid) return status;
      // EINTR (a signal to us): keep waiting, so the child is always reaped.
      if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
      if (limit) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }

  // Runs to completion; throws unless it exits 0 (within the run limit).
  void run(const std::vector<std::string>& args, const std::string& out = "/dev/null") {
    pid_t pid = spawn(args, out);
    auto status = wait(pid, run_limit_);
    if (!status) {
      ::kill(pid, SIGKILL);
      wait(pid);
      throw std::runtime_error(describe(args) + " hung");
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
      throw std::runtime_error(describe(args) + " failed" + how(*status));
  }

  static std::string describe(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
    return "`" + s + "`";
  }
  static std::string how(int status) {
    if (WIFEXITED(status)) return " (exit " + std::to_string(WEXITSTATUS(status)) + ")";
    if (WIFSIGNALED(status)) return " (signal " + std::to_string(WTERMSIG(status)) + ")";
    return "";
  }

 private:
  std::optional<Clock::duration> run_limit_;
  std::vector<std::string> env_;
  std::vector<char*> envp_;
};

// A local repository of one empty commit at `path`, for factory.add to clone: the benches'
// factories all come from one.
inline void one_commit_repository(Spawner& sp, const std::string& path, const std::string& git = "/usr/bin/git") {
  sp.run({git, "init", "-q", path});
  sp.run({git, "-C", path, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q",
          "--allow-empty", "-m", "bench"});
}

// ---------------------------------------------------------------- files and /proc

// The company's max_agents for a workload of `agents`: room for all of them (the limit is
// the daemon's own, not what the bench measures), and never below the default's scale.
inline std::string max_agents_line(int agents) { return "max_agents = " + std::to_string(std::max(1000, agents)) + "\n"; }

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A /proc file read with one read(2): cheap enough for polling. Empty when unreadable.
inline std::string read_proc(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// -1 when the file is missing or empty.
inline pid_t read_pid_file(const std::string& path) {
  std::string s = read_proc(path);
  return s.empty() ? -1 : static_cast<pid_t>(std::strtol(s.c_str(), nullptr, 10));
}

// The number of a "Key:   1234 kB" line of a /proc file (KiB where it says kB); -1 when absent.
inline long proc_number(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  return -1;
}

// A figure of /proc/PID/status in KiB (VmRSS, VmHWM: the peak); -1 when absent.
inline long status_kib(pid_t pid, const std::string& key) {
  return proc_number("/proc/" + std::to_string(pid) + "/status", key);
}

struct Memory {
  long rss_kib = -1;
  long pss_kib = -1;
  long pss_anon_kib = -1;  // the part of PSS that is the process's own data, whoever else runs
};

inline Memory memory_of(pid_t pid) {
  std::string base = "/proc/" + std::to_string(pid);
  return Memory{proc_number(base + "/status", "VmRSS"), proc_number(base + "/smaps_rollup", "Pss"),
                proc_number(base + "/smaps_rollup", "Pss_Anon")};
}

// Whether `pid` still runs the daemon: a pid read earlier may have been reused since, and
// must then not be killed.
inline bool is_our_daemon(pid_t pid, const std::string& daemon_bin) {
  if (pid <= 1) return false;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  if (ec) return false;
  fs::path want = fs::weakly_canonical(daemon_bin, ec);
  return exe == want || exe.filename() == "vermas-operations";
}

// A new directory DIR/PREFIX-XXXXXX.
inline std::string make_temp_dir(const std::string& dir, const std::string& prefix) {
  std::string tmpl = dir + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  return tmpl;
}

// ---------------------------------------------------------------- raw socket client

// A connected Unix stream socket, close-on-exec.
inline int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error("connect " + path + ": " + std::strerror(err));
  }
  return fd;
}

// Newline-delimited JSON-RPC on one connection with as little client work as possible: one
// reused buffer, and lines handed out in place, so the timed loops measure the daemon.
class RawConnection {
 public:
  explicit RawConnection(int fd) : fd_(fd) { buf_.resize(1 << 16); }
  explicit RawConnection(const std::string& path) : RawConnection(connect_unix(path)) {}
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void send_all(const char* data, std::size_t size) {
    while (size > 0) {
      ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          check_interrupt();
          continue;
        }
        throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  // The next line (without '\n'); valid until the next call.
  std::string_view read_line() {
    if (start_ > 0 && start_ == end_) start_ = end_ = 0;
    for (;;) {
      if (const void* nl = std::memchr(buf_.data() + start_, '\n', end_ - start_)) {
        std::size_t pos = static_cast<const char*>(nl) - buf_.data();
        std::string_view line(buf_.data() + start_, pos - start_);
        start_ = pos + 1;
        return line;
      }
      if (start_ > 0) {  // compact
        std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
        end_ -= start_;
        start_ = 0;
      }
      if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
      ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
      if (n < 0 && errno == EINTR) {
        check_interrupt();
        continue;
      }
      if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
      if (n == 0) throw std::runtime_error("the daemon closed the connection");
      end_ += static_cast<std::size_t>(n);
    }
  }

  // An id not used on this connection yet, for a request written by hand.
  std::int64_t next_id() { return next_id_++; }

  // A null `params` leaves the member out of the request.
  json call(const std::string& method, const json& params = nullptr) {
    const std::int64_t id = next_id();
    json req{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null()) req["params"] = params;
    std::string line = req.dump() + "\n";
    send_all(line.data(), line.size());
    json resp = json::parse(read_line());
    if (resp.contains("error")) throw std::runtime_error(method + ": " + resp["error"].dump());
    if (resp.value("id", json()) != json(id)) throw std::runtime_error(method + ": answer with a wrong id: " + resp.dump());
    return resp.at("result");
  }

 private:
  int fd_ = -1;
  std::vector<char> buf_;
  std::size_t start_ = 0, end_ = 0;
  std::int64_t next_id_ = 1;
};

// ---------------------------------------------------------------- the company

// `co --company-root ROOT REST...`
inline std::vector<std::string> co_args(const std::string& co, const std::string& root,
                                        std::initializer_list<std::string> rest) {
  std::vector<std::string> a{co, "--company-root", root};
  a.insert(a.end(), rest);
  return a;
}

// Where benchmarks make their company roots: $VERMAS_BENCH_DIR (e.g. /dev/shm, to see the
// daemon's own ceiling without the disk's fsync under it), else /tmp.
inline std::string bench_dir() {
  const char* dir = std::getenv("VERMAS_BENCH_DIR");
  return dir && *dir ? dir : "/tmp";
}

// A throw-away company root $VERMAS_BENCH_DIR/vb-XXXXXX (short: socket paths are limited to 107 bytes)
// and its daemon, started and stopped with `co`. cleanup(), which the destructor runs after
// a failed step too, stops the daemon and removes the root; the daemon is killed by pid
// only while that pid is still a vermas-operations.
class Company {
 public:
  // How long `co operations stop` may take, and then the daemon to be gone.
  struct StopLimits {
    Clock::duration command;
    Clock::duration gone;
  };

  Company(std::string co_bin, std::string daemon_bin, Spawner& sp, StopLimits limits)
      : co_(std::move(co_bin)), daemon_(std::move(daemon_bin)), sp_(sp), limits_(limits),
        root_(make_temp_dir(bench_dir(), "vb")) {}
  ~Company() { cleanup(); }
  Company(const Company&) = delete;
  Company& operator=(const Company&) = delete;

  const std::string& root() const { return root_; }
  const std::string& socket() const { return socket_; }
  fs::path db_file() const { return fs::path(root_) / ".work" / "operations.db"; }
  pid_t pid() const { return pid_; }

  std::vector<std::string> co(std::initializer_list<std::string> rest) const { return co_args(co_, root_, rest); }

  void init() { sp_.run({co_, "init", "--company-root", root_}); }

  // `co operations start`; the socket from its answer, the pid from the health RPC.
  void start() {
    std::string out = root_ + "/start.json";
    started_ = true;  // from here on, cleanup stops the daemon
    pid_ = -1;
    sp_.run(co({"--json", "operations", "start"}), out);
    json r = json::parse(read_file(out), nullptr, false);
    socket_ = r.is_object() && r.contains("socket") ? r["socket"].get<std::string>() : root_ + "/.work/operations.sock";
    RawConnection conn(socket_);
    pid_ = conn.call("health").at("pid").get<pid_t>();
  }

  // `co operations stop`, else kill our daemon by pid; returns once it is gone. Throws when
  // the daemon did not go by itself (it was then killed).
  void stop() {
    if (!started_) return;
    if (!stop_daemon()) throw std::runtime_error("the daemon did not stop by itself (killed)");
  }

  // Idempotent: stops the daemon, removes the root.
  void cleanup() noexcept {
    if (root_.empty()) return;
    try {
      if (started_) stop_daemon();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: cleanup: %s\n", g_program, e.what());
    }
    if (keep_) {
      std::fprintf(stderr, "%s: kept %s (daemon stopped)\n", g_program, root_.c_str());
      root_.clear();
      return;
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
    if (ec) std::fprintf(stderr, "%s: cannot remove %s: %s\n", g_program, root_.c_str(), ec.message().c_str());
    root_.clear();
  }
  // The root stays after the run, for another look (a profile of one step, say).
  void keep() { keep_ = true; }

 private:
  // True when `co operations stop` worked and the daemon went.
  bool stop_daemon() {
    started_ = false;
    if (pid_ <= 0) pid_ = read_pid_file(root_ + "/.work/operations.pid");  // start failed half-way
    bool stopped = false;
    try {
      pid_t p = sp_.spawn(co({"operations", "stop"}));
      auto status = Spawner::wait(p, limits_.command);
      if (!status) {
        ::kill(p, SIGKILL);
        Spawner::wait(p);
        std::fprintf(stderr, "%s: `co operations stop` hung\n", g_program);
      } else if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
        stopped = true;
      } else {
        std::fprintf(stderr, "%s: `co operations stop` failed%s\n", g_program, Spawner::how(*status).c_str());
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", g_program, e.what());
    }
    if (pid_ <= 0) return stopped;
    auto gone = [&](Clock::duration within) {
      auto deadline = Clock::now() + within;
      while (Clock::now() < deadline) {
        if (!is_our_daemon(pid_, daemon_)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return !is_our_daemon(pid_, daemon_);
    };
    if (stopped && gone(limits_.gone)) {
      pid_ = -1;
      return true;
    }
    if (is_our_daemon(pid_, daemon_)) {
      std::fprintf(stderr, "%s: killing daemon pid %d\n", g_program, static_cast<int>(pid_));
      ::kill(pid_, SIGTERM);
      if (!gone(std::chrono::seconds(3)) && is_our_daemon(pid_, daemon_)) ::kill(pid_, SIGKILL);
      gone(std::chrono::seconds(2));
    }
    pid_ = -1;
    return false;
  }

  std::string co_;
  std::string daemon_;
  Spawner& sp_;
  StopLimits limits_;
  std::string root_;
  std::string socket_;
  pid_t pid_ = -1;
  bool started_ = false;
  bool keep_ = false;
};

// ---------------------------------------------------------------- statistics

// Nearest-rank percentile of an already sorted sample.
template <class T>
double percentile(const std::vector<T>& sample, double p) {
  if (sample.empty()) return NAN;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sample.size())));
  rank = std::clamp<std::size_t>(rank, 1, sample.size());
  return static_cast<double>(sample[rank - 1]);
}

inline std::vector<double> sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// The median over the rounds of one per-round figure.
template <class R, class F>
double median_of(const std::vector<R>& rounds, F field) {
  std::vector<double> v;
  for (const auto& r : rounds) v.push_back(field(r));
  return median(v);
}

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- output

inline const char* verdict(bool ok) { return ok ? "ok" : "MISSED"; }

inline void rule(int width) { std::printf("%s\n", std::string(static_cast<std::size_t>(width), '-').c_str()); }

inline double round_to(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// j[key] = v, rounded. A NaN stays one, and dump() writes it as null.
inline void put(nlohmann::ordered_json& j, const char* key, double v, int decimals) { j[key] = round_to(v, decimals); }

// The end of a run: the company is cleaned up first, so that no cleanup complaint can
// follow the JSON line, which is the last. 1 when `enforce` and a target was missed.
inline int finish(Company& company, const nlohmann::ordered_json& j, bool enforce) {
  company.cleanup();
  std::printf("%s\n", j.dump().c_str());
  return enforce && !j.at("all_targets_met").get<bool>() ? 1 : 0;
}

// The summary after the rounds: a line a figure with its value, target and verdict. The
// column widths are each benchmark's.
struct Summary {
  int name_width;
  int value_width;

  void header(int rounds) const {
    std::printf("summary: medians of the %d per-round figures\n", rounds);
    line("figure", "value", "target", "");
  }

  // `v` with two decimals and its unit.
  void row(const char* name, double v, const char* unit, const char* target = "", const char* ok = "") const {
    char val[48];
    std::snprintf(val, sizeof val, "%.2f %s", v, unit);
    line(name, val, target, ok);
  }

  void line(const char* name, const char* value, const char* target, const char* ok) const {
    std::printf("  %-*s %*s   %-12s %s\n", name_width, name, value_width, value, target, ok);
  }

  // A figure in KiB without the target columns; `sign` shows it always (a growth).
  void kib(const char* name, long v, bool sign = false) const {
    if (sign) std::printf("  %-*s %+*ld KiB\n", name_width, name, value_width - 4, v);
    else std::printf("  %-*s %*ld KiB\n", name_width, name, value_width - 4, v);
  }
};

}  // namespace vermas::bench
