// bench_foundation: the foundation's latency and footprint against its targets.
//
//   ping p50 (raw JSON-RPC round trip on one connection)  <= 30 us
//   `co status` as a whole process, median                <= 3 ms
//   daemon RSS right after start                          <= 4 MiB
//
// It makes a throw-away company root under /tmp, starts the daemon with `co operations
// start`, measures, stops it with `co operations stop` and removes the root, also when a
// step fails (the daemon is then killed by pid, after checking that the pid is still our
// vermas-operations). Output: a table, then one line of JSON with every figure.
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
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#ifndef VERMAS_CO_BIN
#error "VERMAS_CO_BIN must name the co binary"
#endif
#ifndef VERMAS_DAEMON_BIN
#error "VERMAS_DAEMON_BIN must name the vermas-operations binary"
#endif

extern char** environ;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kTargetPingP50Us = 30.0;
constexpr double kTargetCoStatusMs = 3.0;
constexpr double kTargetRssKiB = 4096.0;  // 4 MiB

volatile sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

void check_interrupt() {
  if (g_interrupted) throw std::runtime_error("interrupted");
}

struct Options {
  long calls = 100000;
  long warmup = 2000;
  int runs = 50;
  int rounds = 3;
  bool enforce = false;
  std::string co = VERMAS_CO_BIN;
  std::string daemon = VERMAS_DAEMON_BIN;
};

[[noreturn]] void usage(int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: bench_foundation [--calls N] [--warmup N] [--runs N] [--rounds N] [--enforce]\n"
               "                        [--co PATH] [--daemon PATH]\n"
               "  --calls N    timed ping calls per round on one connection (default 100000)\n"
               "  --warmup N   untimed ping calls before them (default 2000)\n"
               "  --runs N     `co status` and `co ping` processes per round (default 50)\n"
               "  --rounds N   rounds; the summary is the median of the per-round figures (default 3)\n"
               "  --enforce    exit 1 when a target is missed\n");
  std::exit(rc);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    auto number = [&](long min) {
      std::string v = value();
      char* end = nullptr;
      errno = 0;
      long n = std::strtol(v.c_str(), &end, 10);
      if (errno || end == v.c_str() || *end || n < min) {
        std::fprintf(stderr, "bench_foundation: %s: bad value '%s' (integer >= %ld)\n", a.c_str(), v.c_str(), min);
        std::exit(2);
      }
      return n;
    };
    if (a == "--calls") o.calls = number(1);
    else if (a == "--warmup") o.warmup = number(0);
    else if (a == "--runs") o.runs = static_cast<int>(number(1));
    else if (a == "--rounds") o.rounds = static_cast<int>(number(1));
    else if (a == "--enforce") o.enforce = true;
    else if (a == "--co") o.co = value();
    else if (a == "--daemon") o.daemon = value();
    else if (a == "-h" || a == "--help") usage(0);
    else {
      std::fprintf(stderr, "bench_foundation: unknown argument '%s'\n", a.c_str());
      usage(2);
    }
  }
  return o;
}

// ---------------------------------------------------------------- statistics

// Nearest-rank percentile of an already sorted sample.
template <class T>
double percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty()) return NAN;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]);
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// ---------------------------------------------------------------- processes

// The daemon binary is named explicitly, so `co` cannot pick up some other one.
std::vector<std::string> child_environment(const Options& o) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "VERMAS_OPERATIONS_BIN=", 22) == 0) continue;
    env.emplace_back(*e);
  }
  env.push_back("VERMAS_OPERATIONS_BIN=" + o.daemon);
  return env;
}

struct Spawner {
  std::vector<std::string> env_storage;
  std::vector<char*> envp;

  explicit Spawner(const Options& o) : env_storage(child_environment(o)) {
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
  }

  // Starts argv[0] with stdout to `stdout_path` (nullptr: /dev/null); stderr is inherited.
  pid_t spawn(const std::vector<std::string>& args, const char* stdout_path = nullptr) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, stdout_path ? stdout_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    int err = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) throw std::runtime_error("cannot run " + args[0] + ": " + std::strerror(err));
    return pid;
  }

  // Waits for `pid`; nullopt when it did not exit within `timeout` (it is then left running).
  static std::optional<int> wait(pid_t pid, std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
    auto deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid, &status, timeout ? WNOHANG : 0);
      if (r == pid) return status;
      // EINTR (a signal to us): keep waiting, so the child is always reaped.
      if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
      if (timeout) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }

  // Runs to completion; throws unless it exits 0.
  void run(const std::vector<std::string>& args, const char* stdout_path = nullptr) {
    int status = *wait(spawn(args, stdout_path));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(describe(args) + " failed" + how(status));
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
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A "Key:   1234 kB" line of a /proc file, in KiB; -1 when absent.
long proc_kib(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return -1;
}

struct Memory {
  long rss_kib = -1;
  long pss_kib = -1;
};

Memory daemon_memory(pid_t pid) {
  std::string base = "/proc/" + std::to_string(pid);
  return Memory{proc_kib(base + "/status", "VmRSS"), proc_kib(base + "/smaps_rollup", "Pss")};
}

bool is_our_daemon(pid_t pid, const std::string& daemon_bin) {
  if (pid <= 1) return false;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  if (ec) return false;
  fs::path want = fs::weakly_canonical(daemon_bin, ec);
  return exe == want || exe.filename() == "vermas-operations";
}

// ---------------------------------------------------------------- raw socket client

class RawConnection {
 public:
  explicit RawConnection(int fd) : fd_(fd) { buf_.resize(1 << 16); }
  explicit RawConnection(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int err = errno;
      ::close(fd_);
      throw std::runtime_error("connect " + path + ": " + std::strerror(err));
    }
    buf_.resize(1 << 16);
  }
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

  json call(const std::string& method, std::int64_t id) {
    std::string req = json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}}.dump() + "\n";
    send_all(req.data(), req.size());
    json resp = json::parse(read_line());
    if (resp.contains("error")) throw std::runtime_error(method + ": " + resp["error"].dump());
    if (resp.value("id", json()) != json(id)) throw std::runtime_error(method + ": answer with a wrong id: " + resp.dump());
    return resp.at("result");
  }

 private:
  int fd_ = -1;
  std::vector<char> buf_;
  std::size_t start_ = 0, end_ = 0;
};

// ---------------------------------------------------------------- the fixture

class Company {
 public:
  Company(const Options& o, Spawner& sp) : opts_(o), sp_(sp) {
    char tmpl[] = "/tmp/vb-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    root_ = tmpl;
  }
  ~Company() { cleanup(); }
  Company(const Company&) = delete;
  Company& operator=(const Company&) = delete;

  const std::string& root() const { return root_; }
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return pid_; }

  std::vector<std::string> co(std::initializer_list<std::string> rest) const {
    std::vector<std::string> a{opts_.co, "--company-root", root_};
    a.insert(a.end(), rest);
    return a;
  }

  void start() {
    sp_.run({opts_.co, "init", "--company-root", root_});
    std::string out = root_ + "/start.json";
    started_ = true;  // from here on, cleanup stops the daemon
    sp_.run(co({"--json", "operations", "start"}), out.c_str());
    json r = json::parse(read_file(out), nullptr, false);
    socket_ = r.is_object() && r.contains("socket") ? r["socket"].get<std::string>() : root_ + "/.work/operations.sock";
    RawConnection conn(socket_);
    json h = conn.call("health", 1);
    pid_ = h.at("pid").get<pid_t>();
  }

  // Idempotent: stop via `co operations stop`, else kill our daemon by pid; remove the root.
  void cleanup() noexcept {
    if (root_.empty()) return;
    try {
      if (started_) stop();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_foundation: cleanup: %s\n", e.what());
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
    if (ec) std::fprintf(stderr, "bench_foundation: cannot remove %s: %s\n", root_.c_str(), ec.message().c_str());
    root_.clear();
  }

 private:
  void stop() {
    started_ = false;
    if (pid_ <= 0) {  // start failed half-way: the pid file may still name it
      std::string s = read_file(root_ + "/.work/operations.pid");
      pid_ = static_cast<pid_t>(std::strtol(s.c_str(), nullptr, 10));
    }
    bool stopped = false;
    try {
      pid_t p = sp_.spawn(co({"operations", "stop"}));
      auto status = Spawner::wait(p, std::chrono::seconds(40));
      if (!status) {
        ::kill(p, SIGKILL);
        Spawner::wait(p);
        std::fprintf(stderr, "bench_foundation: `co operations stop` hung\n");
      } else if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
        stopped = true;
      } else {
        std::fprintf(stderr, "bench_foundation: `co operations stop` failed%s\n", Spawner::how(*status).c_str());
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_foundation: %s\n", e.what());
    }
    if (pid_ <= 0) return;
    auto gone = [&](std::chrono::milliseconds within) {
      auto deadline = Clock::now() + within;
      while (Clock::now() < deadline) {
        if (!is_our_daemon(pid_, opts_.daemon)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return !is_our_daemon(pid_, opts_.daemon);
    };
    if (stopped && gone(std::chrono::seconds(2))) return;
    if (!is_our_daemon(pid_, opts_.daemon)) return;
    std::fprintf(stderr, "bench_foundation: killing daemon pid %d\n", static_cast<int>(pid_));
    ::kill(pid_, SIGTERM);
    if (gone(std::chrono::seconds(3))) return;
    if (is_our_daemon(pid_, opts_.daemon)) ::kill(pid_, SIGKILL);
    gone(std::chrono::seconds(2));
  }

  const Options& opts_;
  Spawner& sp_;
  std::string root_;
  std::string socket_;
  pid_t pid_ = -1;
  bool started_ = false;
};

// ---------------------------------------------------------------- measurements

struct PingStats {
  double p50_us, p90_us, p99_us, max_us, calls_per_s;
};

PingStats measure_ping(const std::string& socket, long warmup, long calls) {
  RawConnection conn(socket);
  std::int64_t id = 1;
  for (long i = 0; i < warmup; ++i) {
    json r = conn.call("ping", id++);
    if (!r.value("pong", false)) throw std::runtime_error("ping: unexpected result " + r.dump());
    if (i % 256 == 0) check_interrupt();
  }
  std::vector<std::int64_t> ns(static_cast<std::size_t>(calls));
  char req[96];
  auto t_all = Clock::now();
  for (long i = 0; i < calls; ++i) {
    int len = std::snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"ping\"}\n",
                            static_cast<long long>(id++));
    auto t0 = Clock::now();
    conn.send_all(req, static_cast<std::size_t>(len));
    std::string_view line = conn.read_line();
    auto t1 = Clock::now();
    ns[static_cast<std::size_t>(i)] = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    // A cheap check in the loop; the warm-up parsed every answer in full.
    if (line.find("\"pong\":true") == std::string_view::npos)
      throw std::runtime_error("ping: unexpected answer " + std::string(line));
    if ((i & 1023) == 0) check_interrupt();
  }
  double total_s = std::chrono::duration<double>(Clock::now() - t_all).count();
  std::sort(ns.begin(), ns.end());
  return PingStats{percentile(ns, 50) / 1e3, percentile(ns, 90) / 1e3, percentile(ns, 99) / 1e3,
                   static_cast<double>(ns.back()) / 1e3, static_cast<double>(calls) / total_s};
}

// The same loop against a forked child that answers each line with a canned line over a
// socketpair: what a round trip costs on this machine before any daemon work. The
// difference to the ping figures is the daemon's own cost.
PingStats measure_socket_floor(long warmup, long calls) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    ::close(sv[0]);
    static const char answer[] = "{\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{\"pong\":true,\"version\":\"0.0.0\"}}\n";
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(sv[1], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(0);
      for (ssize_t i = 0; i < n; ++i)
        if (buf[i] == '\n' && ::write(sv[1], answer, sizeof answer - 1) < 0) ::_exit(1);
    }
  }
  ::close(sv[1]);
  PingStats out{};
  {
    RawConnection conn(sv[0]);  // closes sv[0], so the child sees EOF and exits
    const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    std::vector<std::int64_t> ns(static_cast<std::size_t>(calls));
    Clock::time_point t_all{};
    try {
      for (long i = -warmup; i < calls; ++i) {
        if (i == 0) t_all = Clock::now();
        auto t0 = Clock::now();
        conn.send_all(req, sizeof req - 1);
        conn.read_line();
        auto t1 = Clock::now();
        if (i >= 0) ns[static_cast<std::size_t>(i)] = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
        if ((i & 1023) == 0) check_interrupt();
      }
    } catch (...) {
      ::kill(child, SIGKILL);
      Spawner::wait(child);
      throw;
    }
    double total_s = std::chrono::duration<double>(Clock::now() - t_all).count();
    std::sort(ns.begin(), ns.end());
    out = PingStats{percentile(ns, 50) / 1e3, percentile(ns, 90) / 1e3, percentile(ns, 99) / 1e3,
                    static_cast<double>(ns.back()) / 1e3, static_cast<double>(calls) / total_s};
  }
  Spawner::wait(child);
  return out;
}

struct ProcStats {
  double median_ms, p90_ms, min_ms;
};

ProcStats measure_process(Spawner& sp, const std::vector<std::string>& args, int runs) {
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    check_interrupt();
    auto t0 = Clock::now();
    pid_t pid = sp.spawn(args);
    int status = *Spawner::wait(pid);
    auto t1 = Clock::now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error(Spawner::describe(args) + " failed" + Spawner::how(status));
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ProcStats{median(ms), percentile(ms, 90), ms.front()};
}

struct Round {
  PingStats ping, socket_floor;
  ProcStats co_status, co_ping, floor;  // floor: /bin/true, the machine's spawn+wait cost now
};

// ---------------------------------------------------------------- output

const char* verdict(bool ok) { return ok ? "ok" : "MISSED"; }

void rule() { std::printf("%s\n", std::string(96, '-').c_str()); }

}  // namespace

int main(int argc, char** argv) {
  Options opts = parse_args(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and the loops notice
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  for (const auto& bin : {opts.co, opts.daemon}) {
    if (::access(bin.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "bench_foundation: %s: not executable (build the co and vermas-operations targets)\n",
                   bin.c_str());
      return 2;
    }
  }

  Spawner sp(opts);
  try {
    Company company(opts, sp);
    company.start();
    Memory at_start = daemon_memory(company.pid());

    std::printf("bench_foundation: co %s\n                  daemon %s (pid %d)\n                  root %s\n",
                opts.co.c_str(), opts.daemon.c_str(), static_cast<int>(company.pid()), company.root().c_str());
    std::printf("%ld timed ping calls (+%ld warm-up) and %d runs of each co command per round, %d round(s)\n",
                opts.calls, opts.warmup, opts.runs, opts.rounds);
    rule();
    std::printf("%-6s | %8s %7s %7s %8s %7s | %-21s | %-21s | %s\n", "", "ping p50", "p90", "p99", "max", "calls/s",
                "co status med/p90/min", "co ping med/p90/min", "floor");
    std::printf("%-6s | %8s %7s %7s %8s %7s | %-21s | %-21s | %s\n", "", "us", "us", "us", "us", "", "ms", "ms", "us / ms");
    rule();
    std::fflush(stdout);

    std::vector<Round> rounds;
    for (int r = 0; r < opts.rounds; ++r) {
      Round rd;
      rd.ping = measure_ping(company.socket(), opts.warmup, opts.calls);
      rd.socket_floor = measure_socket_floor(opts.warmup, opts.calls);
      rd.co_status = measure_process(sp, company.co({"status"}), opts.runs);
      rd.co_ping = measure_process(sp, company.co({"ping"}), opts.runs);
      rd.floor = measure_process(sp, {"/bin/true"}, opts.runs);
      rounds.push_back(rd);
      char a[32], b[32];
      std::snprintf(a, sizeof a, "%.2f / %.2f / %.2f", rd.co_status.median_ms, rd.co_status.p90_ms, rd.co_status.min_ms);
      std::snprintf(b, sizeof b, "%.2f / %.2f / %.2f", rd.co_ping.median_ms, rd.co_ping.p90_ms, rd.co_ping.min_ms);
      std::printf("round %d| %8.1f %7.1f %7.1f %8.0f %7.0f | %-21s | %-21s | %.1f / %.2f\n", r + 1, rd.ping.p50_us,
                  rd.ping.p90_us, rd.ping.p99_us, rd.ping.max_us, rd.ping.calls_per_s, a, b, rd.socket_floor.p50_us,
                  rd.floor.median_ms);
      std::fflush(stdout);
    }
    rule();

    Memory after = daemon_memory(company.pid());
    auto med = [&](auto field) {
      std::vector<double> v;
      for (const auto& rd : rounds) v.push_back(field(rd));
      return median(v);
    };
    // Insertion order is kept, so each target and verdict follows its figure.
    nlohmann::ordered_json j;
    auto put = [&](const char* key, double v, int decimals) {
      double scale = std::pow(10.0, decimals);
      j[key] = std::round(v * scale) / scale;
    };
    double ping_p50 = med([](const Round& r) { return r.ping.p50_us; });
    double status_med = med([](const Round& r) { return r.co_status.median_ms; });
    bool ping_ok = ping_p50 <= kTargetPingP50Us;
    bool status_ok = status_med <= kTargetCoStatusMs;
    bool rss_ok = at_start.rss_kib >= 0 && at_start.rss_kib <= kTargetRssKiB;
    put("ping_p50_us", ping_p50, 2);
    j["ping_p50_us_target"] = kTargetPingP50Us;
    j["ping_p50_us_ok"] = ping_ok;
    put("ping_p90_us", med([](const Round& r) { return r.ping.p90_us; }), 2);
    put("ping_p99_us", med([](const Round& r) { return r.ping.p99_us; }), 2);
    put("ping_max_us", med([](const Round& r) { return r.ping.max_us; }), 2);
    put("ping_calls_per_s", med([](const Round& r) { return r.ping.calls_per_s; }), 0);
    put("socket_floor_p50_us", med([](const Round& r) { return r.socket_floor.p50_us; }), 2);
    put("socket_floor_p99_us", med([](const Round& r) { return r.socket_floor.p99_us; }), 2);
    put("co_status_median_ms", status_med, 3);
    j["co_status_median_ms_target"] = kTargetCoStatusMs;
    j["co_status_median_ms_ok"] = status_ok;
    put("co_status_p90_ms", med([](const Round& r) { return r.co_status.p90_ms; }), 3);
    put("co_status_min_ms", med([](const Round& r) { return r.co_status.min_ms; }), 3);
    put("co_ping_median_ms", med([](const Round& r) { return r.co_ping.median_ms; }), 3);
    put("co_ping_p90_ms", med([](const Round& r) { return r.co_ping.p90_ms; }), 3);
    put("co_ping_min_ms", med([](const Round& r) { return r.co_ping.min_ms; }), 3);
    put("spawn_floor_median_ms", med([](const Round& r) { return r.floor.median_ms; }), 3);
    j["rss_start_kib"] = at_start.rss_kib;
    j["rss_start_kib_target"] = static_cast<long>(kTargetRssKiB);
    j["rss_start_kib_ok"] = rss_ok;
    j["pss_start_kib"] = at_start.pss_kib;
    j["rss_after_kib"] = after.rss_kib;
    j["pss_after_kib"] = after.pss_kib;
    j["rss_growth_kib"] = after.rss_kib - at_start.rss_kib;
    j["all_targets_met"] = ping_ok && status_ok && rss_ok;
    j["rounds"] = opts.rounds;
    j["calls"] = opts.calls;
    j["warmup"] = opts.warmup;
    j["runs"] = opts.runs;

    std::printf("summary: medians of the %d per-round figures\n", opts.rounds);
    std::printf("  %-30s %12s   %-12s %s\n", "figure", "value", "target", "");
    auto row = [](const char* name, double v, const char* unit, const char* target, const char* v_ok) {
      char val[32];
      std::snprintf(val, sizeof val, "%.2f %s", v, unit);
      std::printf("  %-30s %12s   %-12s %s\n", name, val, target, v_ok);
    };
    row("ping p50", ping_p50, "us", "<= 30 us", verdict(ping_ok));
    row("ping p90", j["ping_p90_us"], "us", "", "");
    row("ping p99", j["ping_p99_us"], "us", "", "");
    row("ping max", j["ping_max_us"], "us", "", "");
    row("ping throughput", j["ping_calls_per_s"], "/s", "", "");
    row("socket floor p50 (echo child)", j["socket_floor_p50_us"], "us", "", "");
    row("socket floor p99 (echo child)", j["socket_floor_p99_us"], "us", "", "");
    row("co status median", status_med, "ms", "<= 3 ms", verdict(status_ok));
    row("co status p90", j["co_status_p90_ms"], "ms", "", "");
    row("co status min", j["co_status_min_ms"], "ms", "", "");
    row("co ping median", j["co_ping_median_ms"], "ms", "", "");
    row("co ping p90", j["co_ping_p90_ms"], "ms", "", "");
    row("co ping min", j["co_ping_min_ms"], "ms", "", "");
    row("spawn floor (/bin/true) med", j["spawn_floor_median_ms"], "ms", "", "");
    std::printf("  %-30s %8.2f MiB   %-12s %s\n", "daemon RSS after start", at_start.rss_kib / 1024.0, "<= 4 MiB",
                verdict(rss_ok));
    std::printf("  %-30s %8ld KiB\n", "daemon RSS after start", at_start.rss_kib);
    std::printf("  %-30s %8ld KiB\n", "daemon PSS after start", at_start.pss_kib);
    std::printf("  %-30s %8ld KiB\n", "daemon RSS after load", after.rss_kib);
    std::printf("  %-30s %8ld KiB\n", "daemon PSS after load", after.pss_kib);
    std::printf("  %-30s %+8ld KiB\n", "RSS growth under load", after.rss_kib - at_start.rss_kib);
    rule();

    company.cleanup();  // before the JSON line, so a cleanup complaint cannot follow it
    std::printf("%s\n", j.dump().c_str());
    return opts.enforce && !j["all_targets_met"].get<bool>() ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_foundation: %s\n", e.what());
    return 2;
  }
}
