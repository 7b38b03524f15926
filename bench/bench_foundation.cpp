// bench_foundation: the foundation's latency and footprint against its targets.
//
//   ping p50 (raw JSON-RPC round trip on one connection)  <= 30 us
//   `co status` as a whole process, median                <= 3 ms
//   `co doctor --quick` as a whole process, median        <= 200 ms
//   daemon RSS right after start                          <= 4 MiB
//
// It makes a throw-away company root under /tmp, starts the daemon with `co operations
// start`, measures, stops it with `co operations stop` and removes the root, also when a
// step fails (the daemon is then killed by pid, after checking that the pid is still our
// vermas-operations). Output: a table, then one line of JSON with every figure.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_harness.hpp"

namespace {

using namespace vermas::bench;

constexpr double kTargetPingP50Us = 30.0;
constexpr double kTargetCoStatusMs = 3.0;
constexpr double kTargetDoctorMs = 200.0;   // co doctor without git fsck (issue 13)
constexpr double kTargetRssKiB = 4096.0;  // 4 MiB
constexpr int kRule = 96;                  // the width of the tables

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
  Args args(argc, argv, usage);
  while (args.next()) {
    const std::string& a = args.flag();
    if (a == "--calls") o.calls = args.integer(1);
    else if (a == "--warmup") o.warmup = args.integer(0);
    else if (a == "--runs") o.runs = static_cast<int>(args.integer(1));
    else if (a == "--rounds") o.rounds = static_cast<int>(args.integer(1));
    else if (a == "--enforce") o.enforce = true;
    else if (a == "--co") o.co = args.value();
    else if (a == "--daemon") o.daemon = args.value();
    else if (a == "-h" || a == "--help") usage(0);
    else args.unknown();
  }
  return o;
}

// ---------------------------------------------------------------- measurements

struct PingStats {
  double p50_us, p90_us, p99_us, max_us, calls_per_s;
};

PingStats measure_ping(const std::string& socket, long warmup, long calls) {
  RawConnection conn(socket);
  for (long i = 0; i < warmup; ++i) {
    json r = conn.call("ping");
    if (!r.value("pong", false)) throw std::runtime_error("ping: unexpected result " + r.dump());
    if (i % 256 == 0) check_interrupt();
  }
  std::vector<std::int64_t> ns(static_cast<std::size_t>(calls));
  char req[96];
  auto t_all = Clock::now();
  for (long i = 0; i < calls; ++i) {
    int len = std::snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"ping\"}\n",
                            static_cast<long long>(conn.next_id()));
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

// `any_exit`: co doctor exits 1 when it finds a problem (here: `claude` of the example config
// is not installed); its time is what is measured.
ProcStats measure_process(Spawner& sp, const std::vector<std::string>& args, int runs, bool any_exit = false) {
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    check_interrupt();
    auto t0 = Clock::now();
    pid_t pid = sp.spawn(args);
    int status = *Spawner::wait(pid);
    auto t1 = Clock::now();
    if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && !any_exit))
      throw std::runtime_error(Spawner::describe(args) + " failed" + Spawner::how(status));
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ProcStats{median(ms), percentile(ms, 90), ms.front()};
}

struct Round {
  PingStats ping, socket_floor;
  ProcStats co_status, co_ping, floor;  // floor: /bin/true, the machine's spawn+wait cost now
  ProcStats co_doctor;                  // co doctor --quick: every check but git fsck
};

}  // namespace

int main(int argc, char** argv) {
  g_program = "bench_foundation";
  Options opts = parse_args(argc, argv);
  catch_signals();
  if (!binaries_ok(opts.co, opts.daemon)) return 2;

  Spawner sp(opts.daemon);
  try {
    Company company(opts.co, opts.daemon, sp, {.command = std::chrono::seconds(40), .gone = std::chrono::seconds(2)});
    company.init();
    company.start();
    Memory at_start = memory_of(company.pid());

    std::printf("bench_foundation: co %s\n                  daemon %s (pid %d)\n                  root %s\n",
                opts.co.c_str(), opts.daemon.c_str(), static_cast<int>(company.pid()), company.root().c_str());
    std::printf("%ld timed ping calls (+%ld warm-up) and %d runs of each co command per round, %d round(s)\n",
                opts.calls, opts.warmup, opts.runs, opts.rounds);
    rule(kRule);
    std::printf("%-6s | %8s %7s %7s %8s %7s | %-21s | %-21s | %s\n", "", "ping p50", "p90", "p99", "max", "calls/s",
                "co status med/p90/min", "co ping med/p90/min", "floor");
    std::printf("%-6s | %8s %7s %7s %8s %7s | %-21s | %-21s | %s\n", "", "us", "us", "us", "us", "", "ms", "ms", "us / ms");
    rule(kRule);
    std::fflush(stdout);

    std::vector<Round> rounds;
    for (int r = 0; r < opts.rounds; ++r) {
      Round rd;
      rd.ping = measure_ping(company.socket(), opts.warmup, opts.calls);
      rd.socket_floor = measure_socket_floor(opts.warmup, opts.calls);
      rd.co_status = measure_process(sp, company.co({"status"}), opts.runs);
      rd.co_ping = measure_process(sp, company.co({"ping"}), opts.runs);
      rd.floor = measure_process(sp, {"/bin/true"}, opts.runs);
      rd.co_doctor = measure_process(sp, company.co({"doctor", "--quick"}), std::max(3, opts.runs / 5), true);
      rounds.push_back(rd);
      char a[32], b[32];
      std::snprintf(a, sizeof a, "%.2f / %.2f / %.2f", rd.co_status.median_ms, rd.co_status.p90_ms, rd.co_status.min_ms);
      std::snprintf(b, sizeof b, "%.2f / %.2f / %.2f", rd.co_ping.median_ms, rd.co_ping.p90_ms, rd.co_ping.min_ms);
      std::printf("round %d| %8.1f %7.1f %7.1f %8.0f %7.0f | %-21s | %-21s | %.1f / %.2f\n", r + 1, rd.ping.p50_us,
                  rd.ping.p90_us, rd.ping.p99_us, rd.ping.max_us, rd.ping.calls_per_s, a, b, rd.socket_floor.p50_us,
                  rd.floor.median_ms);
      std::fflush(stdout);
    }
    rule(kRule);

    Memory after = memory_of(company.pid());
    auto med = [&](auto field) { return median_of(rounds, field); };
    // Insertion order is kept, so each target and verdict follows its figure.
    nlohmann::ordered_json j;
    double ping_p50 = med([](const Round& r) { return r.ping.p50_us; });
    double status_med = med([](const Round& r) { return r.co_status.median_ms; });
    bool ping_ok = ping_p50 <= kTargetPingP50Us;
    bool status_ok = status_med <= kTargetCoStatusMs;
    bool rss_ok = at_start.rss_kib >= 0 && at_start.rss_kib <= kTargetRssKiB;
    put(j, "ping_p50_us", ping_p50, 2);
    j["ping_p50_us_target"] = kTargetPingP50Us;
    j["ping_p50_us_ok"] = ping_ok;
    put(j, "ping_p90_us", med([](const Round& r) { return r.ping.p90_us; }), 2);
    put(j, "ping_p99_us", med([](const Round& r) { return r.ping.p99_us; }), 2);
    put(j, "ping_max_us", med([](const Round& r) { return r.ping.max_us; }), 2);
    put(j, "ping_calls_per_s", med([](const Round& r) { return r.ping.calls_per_s; }), 0);
    put(j, "socket_floor_p50_us", med([](const Round& r) { return r.socket_floor.p50_us; }), 2);
    put(j, "socket_floor_p99_us", med([](const Round& r) { return r.socket_floor.p99_us; }), 2);
    put(j, "co_status_median_ms", status_med, 3);
    j["co_status_median_ms_target"] = kTargetCoStatusMs;
    j["co_status_median_ms_ok"] = status_ok;
    put(j, "co_status_p90_ms", med([](const Round& r) { return r.co_status.p90_ms; }), 3);
    put(j, "co_status_min_ms", med([](const Round& r) { return r.co_status.min_ms; }), 3);
    put(j, "co_ping_median_ms", med([](const Round& r) { return r.co_ping.median_ms; }), 3);
    put(j, "co_ping_p90_ms", med([](const Round& r) { return r.co_ping.p90_ms; }), 3);
    put(j, "co_ping_min_ms", med([](const Round& r) { return r.co_ping.min_ms; }), 3);
    put(j, "spawn_floor_median_ms", med([](const Round& r) { return r.floor.median_ms; }), 3);
    const double doctor_med = med([](const Round& r) { return r.co_doctor.median_ms; });
    const bool doctor_ok = doctor_med <= kTargetDoctorMs;
    put(j, "co_doctor_quick_median_ms", doctor_med, 3);
    j["co_doctor_quick_median_ms_target"] = kTargetDoctorMs;
    j["co_doctor_quick_median_ms_ok"] = doctor_ok;
    put(j, "co_doctor_quick_p90_ms", med([](const Round& r) { return r.co_doctor.p90_ms; }), 3);
    j["rss_start_kib"] = at_start.rss_kib;
    j["rss_start_kib_target"] = static_cast<long>(kTargetRssKiB);
    j["rss_start_kib_ok"] = rss_ok;
    j["pss_start_kib"] = at_start.pss_kib;
    j["rss_after_kib"] = after.rss_kib;
    j["pss_after_kib"] = after.pss_kib;
    j["rss_growth_kib"] = after.rss_kib - at_start.rss_kib;
    j["all_targets_met"] = ping_ok && status_ok && rss_ok && doctor_ok;
    j["rounds"] = opts.rounds;
    j["calls"] = opts.calls;
    j["warmup"] = opts.warmup;
    j["runs"] = opts.runs;

    const Summary summary{30, 12};
    summary.header(opts.rounds);
    summary.row("ping p50", ping_p50, "us", "<= 30 us", verdict(ping_ok));
    summary.row("ping p90", j["ping_p90_us"], "us");
    summary.row("ping p99", j["ping_p99_us"], "us");
    summary.row("ping max", j["ping_max_us"], "us");
    summary.row("ping throughput", j["ping_calls_per_s"], "/s");
    summary.row("socket floor p50 (echo child)", j["socket_floor_p50_us"], "us");
    summary.row("socket floor p99 (echo child)", j["socket_floor_p99_us"], "us");
    summary.row("co status median", status_med, "ms", "<= 3 ms", verdict(status_ok));
    summary.row("co status p90", j["co_status_p90_ms"], "ms");
    summary.row("co status min", j["co_status_min_ms"], "ms");
    summary.row("co ping median", j["co_ping_median_ms"], "ms");
    summary.row("co ping p90", j["co_ping_p90_ms"], "ms");
    summary.row("co ping min", j["co_ping_min_ms"], "ms");
    summary.row("spawn floor (/bin/true) med", j["spawn_floor_median_ms"], "ms");
    summary.row("co doctor --quick median", doctor_med, "ms", "<= 200 ms", verdict(doctor_ok));
    summary.row("co doctor --quick p90", j["co_doctor_quick_p90_ms"], "ms");
    summary.row("daemon RSS after start", at_start.rss_kib / 1024.0, "MiB", "<= 4 MiB", verdict(rss_ok));
    summary.kib("daemon RSS after start", at_start.rss_kib);
    summary.kib("daemon PSS after start", at_start.pss_kib);
    summary.kib("daemon RSS after load", after.rss_kib);
    summary.kib("daemon PSS after load", after.pss_kib);
    summary.kib("RSS growth under load", after.rss_kib - at_start.rss_kib, true);
    rule(kRule);

    return finish(company, j, opts.enforce);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_foundation: %s\n", e.what());
    return 2;
  }
}
