// bench_scale: a company of N agents (default 200) as operators and tools see it (issue 15).
//
//   status and agent.list in the daemon (request to answer, one connection), p50  <= 0.5 ms
//   `co status` and `co agent list` as whole processes, median  <= `co --version` + 2 ms
//   daemon RSS with N agents running                            <= 6 MiB
//
// It makes a throw-away company root under /tmp (as bench_supervision: every agent is
// `/bin/sleep 100000` run directly, N/2 factories cloned from a local one-commit repository,
// each bringing a supervisor and a QA agent), then stops the daemon and starts it again, so
// the memory figures are those of a fresh start with N agents. Output: a table per round, a
// summary of medians, what the daemon's resident set consists of, and one line of JSON.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_harness.hpp"

namespace {

using namespace vermas::bench;
using namespace std::chrono_literals;

constexpr double kTargetRpcMs = 0.5;
constexpr double kTargetOverFloorMs = 2.0;
constexpr double kTargetRssKiB = 6 * 1024.0;
constexpr int kRule = 100;

struct Options {
  int agents = 200;
  int rounds = 3;
  int calls = 200;  // per method per round
  int runs = 20;    // per co command per round
  bool enforce = false;
  std::string co = VERMAS_CO_BIN;
  std::string daemon = VERMAS_DAEMON_BIN;
};

[[noreturn]] void usage(int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: bench_scale [--agents N] [--rounds N] [--calls N] [--runs N] [--enforce]\n"
               "                   [--co PATH] [--daemon PATH]\n"
               "  --agents N   agents (N/2 factories of a supervisor and a QA agent; default 200)\n"
               "  --rounds N   rounds; the summary is the median of the per-round figures (default 3)\n"
               "  --calls N    timed calls of each RPC per round on one connection (default 200)\n"
               "  --runs N     processes of each co command per round (default 20)\n"
               "  --enforce    exit 1 when a target is missed\n");
  std::exit(rc);
}

Options parse_args(int argc, char** argv) {
  Options o;
  Args args(argc, argv, usage);
  while (args.next()) {
    const std::string& a = args.flag();
    if (a == "--agents") o.agents = static_cast<int>(args.integer(2, 2000));
    else if (a == "--rounds") o.rounds = static_cast<int>(args.integer(1));
    else if (a == "--calls") o.calls = static_cast<int>(args.integer(1));
    else if (a == "--runs") o.runs = static_cast<int>(args.integer(1));
    else if (a == "--enforce") o.enforce = true;
    else if (a == "--co") o.co = args.value();
    else if (a == "--daemon") o.daemon = args.value();
    else if (a == "-h" || a == "--help") usage(0);
    else args.unknown();
  }
  o.agents -= o.agents % 2;
  return o;
}

// max_agents: room for every agent of the workload.
std::string config_toml(int agents) {
  const std::string agent = "command = [\"/bin/sleep\", \"100000\"]\nrunner = \"direct\"\n";
  return "# bench_scale\n"
         "[company]\nname = \"bench\"\n\n"
         "[operations]\n"
         + max_agents_line(agents) +
         "spawn_rate_per_second = 10000\n\n"
         "[agents.supervisor]\n" + agent + "\n[agents.qa]\n" + agent + "\n[agents.worker]\n" + agent;
}

int running_agents(const std::string& socket) {
  RawConnection c(socket);
  json by = c.call("status")["agents"].value("by_status", json::object());
  return by.value("running", 0);
}

void wait_running(const std::string& socket, int n) {
  const auto deadline = Clock::now() + 120s;
  while (running_agents(socket) < n) {
    check_interrupt();
    if (Clock::now() > deadline) throw std::runtime_error("the agents did not all start");
    std::this_thread::sleep_for(50ms);
  }
}

// co init, the configuration, the factories; then a fresh daemon start with N agents.
void prepare(Company& company, Spawner& sp, int agents) {
  company.init();
  {
    std::ofstream out(company.root() + "/.vermas/config.toml", std::ios::trunc);
    out << config_toml(agents);
    if (!out) throw std::runtime_error("cannot write the configuration");
  }
  const std::string src = company.root() + "/src.git";
  one_commit_repository(sp, src);
  company.start();
  {
    RawConnection c(company.socket());
    for (int f = 0; f < agents / 2; ++f) {
      char name[16];
      std::snprintf(name, sizeof name, "f%03d", f);
      c.call("factory.add", {{"name", name}, {"url", src}});
      check_interrupt();
    }
  }
  wait_running(company.socket(), agents);
  company.stop();
  company.start();
  wait_running(company.socket(), agents);
}

struct RpcStats {
  double p50_ms = NAN, p99_ms = NAN;
  double bytes = NAN;  // of one answer line
};

// `calls` requests of one method on one connection, each timed from the request written to
// the answer's newline read (what a connected client waits); a refused call (a daemon that
// does not know a parameter) gives NaNs.
RpcStats measure_rpc(const std::string& socket, const std::string& method, const json& params, int calls) {
  RawConnection conn(socket);
  json req{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}};
  if (!params.is_null()) req["params"] = params;
  RpcStats out;
  std::vector<double> ms;
  for (int i = -5; i < calls; ++i) {  // 5 untimed first
    req["id"] = conn.next_id();
    const std::string line = req.dump() + "\n";
    const auto t0 = Clock::now();
    conn.send_all(line.data(), line.size());
    std::string_view answer = conn.read_line();
    const double t = ms_since(t0);
    if (answer.find("\"error\"") != std::string_view::npos && answer.find("\"result\"") == std::string_view::npos)
      return out;
    if (i >= 0) ms.push_back(t);
    out.bytes = static_cast<double>(answer.size() + 1);
    if ((i & 63) == 0) check_interrupt();
  }
  std::sort(ms.begin(), ms.end());
  out.p50_ms = percentile(ms, 50);
  out.p99_ms = percentile(ms, 99);
  return out;
}

// Median wall time of `runs` processes (spawn, stdout to /dev/null, wait).
double measure_process(Spawner& sp, const std::vector<std::string>& args, int runs) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    check_interrupt();
    const auto t0 = Clock::now();
    int status = *Spawner::wait(sp.spawn(args));
    ms.push_back(ms_since(t0));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error(Spawner::describe(args) + " failed" + Spawner::how(status));
  }
  return median(ms);
}

// What the resident set consists of: /proc/PID/smaps summed by mapping (a file's basename,
// [heap], [stack], or "anonymous mappings": malloc arenas of other threads, thread stacks,
// large allocations). KiB.
struct Part {
  long rss = 0, pss = 0, anon = 0;
};
std::map<std::string, Part> resident_parts(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::map<std::string, Part> parts;
  std::string line, name = "?";
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const bool header = std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < line.find(' ');
    if (header) {
      std::istringstream ss(line);
      std::string range, perms, offset, dev, inode, path;
      ss >> range >> perms >> offset >> dev >> inode;
      std::getline(ss >> std::ws, path);
      if (path.empty()) name = "anonymous mappings";
      else if (path[0] == '[') name = path;
      else name = path.substr(path.rfind('/') + 1);
      continue;
    }
    auto value = [&](const char* key) { return std::strtol(line.c_str() + std::strlen(key), nullptr, 10); };
    if (line.rfind("Rss:", 0) == 0) parts[name].rss += value("Rss:");
    else if (line.rfind("Pss:", 0) == 0) parts[name].pss += value("Pss:");
    else if (line.rfind("Anonymous:", 0) == 0) parts[name].anon += value("Anonymous:");
  }
  return parts;
}

void print_parts(const std::map<std::string, Part>& parts) {
  std::vector<std::pair<std::string, Part>> v(parts.begin(), parts.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.rss > b.second.rss; });
  Part total;
  std::printf("  %-34s %8s %8s %8s\n", "mapping", "Rss KiB", "Pss KiB", "anon KiB");
  for (const auto& [name, p] : v) {
    total.rss += p.rss;
    total.pss += p.pss;
    total.anon += p.anon;
    if (p.rss == 0) continue;
    std::printf("  %-34s %8ld %8ld %8ld\n", name.c_str(), p.rss, p.pss, p.anon);
  }
  std::printf("  %-34s %8ld %8ld %8ld\n", "total", total.rss, total.pss, total.anon);
}

// The members `co status` and `co agent list` ask for (client/cmd_overview.cpp, cmd_agent.cpp).
const json kStatusFields = {"id", "status", "reason", "stale", "pid", "uptime_seconds", "restart_count",
                            "last_heartbeat"};
const json kListFields = {"id",        "role",          "status",         "reason",
                          "stale",     "pid",           "cpu_percent",    "rss_bytes",
                          "uptime_seconds", "restart_count", "last_heartbeat", "current_work_order",
                          "today_spend", "daily_cap"};

// Figures of agents are reused for a second (usage.hpp): a pause past it makes the next
// call read /proc afresh.
constexpr auto kPastReuse = 1100ms;

// agent.list {usage: true} read afresh each time: `calls` calls, each after kPastReuse.
double measure_fresh_usage(const std::string& socket, int calls) {
  RawConnection conn(socket);
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    std::this_thread::sleep_for(kPastReuse);
    check_interrupt();
    const auto t0 = Clock::now();
    try {
      conn.call("agent.list", {{"usage", true}, {"fields", kListFields}});
    } catch (const std::runtime_error&) {
      return NAN;  // a daemon from before `usage` and `fields`
    }
    ms.push_back(ms_since(t0));
  }
  return median(ms);
}

struct Round {
  RpcStats status, list, list_usage, get, status_fields, list_fields;
  double fresh_usage = NAN;
  double co_version = NAN, co_status = NAN, co_list = NAN, co_list_fresh = NAN;
  Memory mem;
};

}  // namespace

int main(int argc, char** argv) {
  g_program = "bench_scale";
  Options opts = parse_args(argc, argv);
  catch_signals();
  if (!binaries_ok(opts.co, opts.daemon)) return 2;

  Spawner sp(opts.daemon, 300s);
  try {
    Company company(opts.co, opts.daemon, sp, {.command = 60s, .gone = 10s});
    std::fprintf(stderr, "bench_scale: preparing %d agents in %s\n", opts.agents, company.root().c_str());
    prepare(company, sp, opts.agents);
    std::this_thread::sleep_for(1s);  // the start settles: its commits, the first patrol
    const Memory fresh = memory_of(company.pid());
    const auto fresh_parts = resident_parts(company.pid());

    std::printf("bench_scale: %d agents, daemon pid %d, %d calls per RPC and %d runs per command per round\n",
                opts.agents, static_cast<int>(company.pid()), opts.calls, opts.runs);
    rule(kRule);
    std::printf("%-7s| %-13s | %-13s | %-13s | %-13s | %-22s | %s\n", "", "status", "agent.list", "+usage",
                "agent.get", "co --version/status/list", "RSS/PSS");
    std::printf("%-7s| %-13s | %-13s | %-13s | %-13s | %-22s | %s\n", "", "p50/p99 ms", "p50/p99 ms", "p50/p99 ms",
                "p50/p99 ms", "median ms", "KiB");
    rule(kRule);
    std::vector<Round> rounds;
    for (int r = 0; r < opts.rounds; ++r) {
      Round rd;
      rd.status = measure_rpc(company.socket(), "status", nullptr, opts.calls);
      rd.list = measure_rpc(company.socket(), "agent.list", nullptr, opts.calls);
      rd.list_usage = measure_rpc(company.socket(), "agent.list", {{"usage", true}}, opts.calls);
      rd.get = measure_rpc(company.socket(), "agent.get", {{"id", "f000/qa"}}, opts.calls);
      rd.status_fields = measure_rpc(company.socket(), "status", {{"fields", kStatusFields}}, opts.calls);
      rd.list_fields =
          measure_rpc(company.socket(), "agent.list", {{"usage", true}, {"fields", kListFields}}, opts.calls);
      rd.fresh_usage = measure_fresh_usage(company.socket(), 5);
      // Interleaved, so a change of the machine's load touches all three alike.
      std::vector<double> v, s, l;
      for (int i = 0; i < opts.runs; ++i) {
        v.push_back(measure_process(sp, {opts.co, "--version"}, 1));
        s.push_back(measure_process(sp, company.co({"status"}), 1));
        l.push_back(measure_process(sp, company.co({"agent", "list"}), 1));
      }
      std::vector<double> afresh;  // co agent list with its figures read afresh
      for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(kPastReuse);
        afresh.push_back(measure_process(sp, company.co({"agent", "list"}), 1));
      }
      rd.co_list_fresh = median(afresh);
      rd.co_version = median(v);
      rd.co_status = median(s);
      rd.co_list = median(l);
      rd.mem = memory_of(company.pid());
      rounds.push_back(rd);
      auto two = [](const RpcStats& x) {
        char b[32];
        std::snprintf(b, sizeof b, "%.3f/%.3f", x.p50_ms, x.p99_ms);
        return std::string(b);
      };
      char co[48];
      std::snprintf(co, sizeof co, "%.2f/%.2f/%.2f", rd.co_version, rd.co_status, rd.co_list);
      std::printf("round %d| %-13s | %-13s | %-13s | %-13s | %-22s | %ld/%ld\n", r + 1, two(rd.status).c_str(),
                  two(rd.list).c_str(), two(rd.list_usage).c_str(), two(rd.get).c_str(), co, rd.mem.rss_kib,
                  rd.mem.pss_kib);
      std::fflush(stdout);
    }
    rule(kRule);

    auto med = [&](auto field) { return median_of(rounds, field); };
    nlohmann::ordered_json j;
    j["agents"] = opts.agents;
    const double status_p50 = med([](const Round& r) { return r.status.p50_ms; });
    const double list_p50 = med([](const Round& r) { return r.list.p50_ms; });
    const double version = med([](const Round& r) { return r.co_version; });
    const double co_status = med([](const Round& r) { return r.co_status; });
    const double co_list = med([](const Round& r) { return r.co_list; });
    const bool status_ok = status_p50 <= kTargetRpcMs, list_ok = list_p50 <= kTargetRpcMs;
    const bool co_status_ok = co_status <= version + kTargetOverFloorMs;
    const bool co_list_ok = co_list <= version + kTargetOverFloorMs;
    const bool rss_ok = fresh.rss_kib >= 0 && fresh.rss_kib <= kTargetRssKiB;
    put(j, "status_p50_ms", status_p50, 3);
    j["status_p50_ms_ok"] = status_ok;
    put(j, "status_p99_ms", med([](const Round& r) { return r.status.p99_ms; }), 3);
    put(j, "status_bytes", med([](const Round& r) { return r.status.bytes; }), 0);
    put(j, "agent_list_p50_ms", list_p50, 3);
    j["agent_list_p50_ms_ok"] = list_ok;
    put(j, "agent_list_p99_ms", med([](const Round& r) { return r.list.p99_ms; }), 3);
    put(j, "agent_list_bytes", med([](const Round& r) { return r.list.bytes; }), 0);
    put(j, "agent_list_usage_p50_ms", med([](const Round& r) { return r.list_usage.p50_ms; }), 3);
    put(j, "agent_list_usage_p99_ms", med([](const Round& r) { return r.list_usage.p99_ms; }), 3);
    put(j, "agent_list_usage_bytes", med([](const Round& r) { return r.list_usage.bytes; }), 0);
    put(j, "agent_get_p50_ms", med([](const Round& r) { return r.get.p50_ms; }), 3);
    put(j, "status_fields_p50_ms", med([](const Round& r) { return r.status_fields.p50_ms; }), 3);
    put(j, "status_fields_bytes", med([](const Round& r) { return r.status_fields.bytes; }), 0);
    put(j, "agent_list_co_p50_ms", med([](const Round& r) { return r.list_fields.p50_ms; }), 3);
    put(j, "agent_list_co_bytes", med([](const Round& r) { return r.list_fields.bytes; }), 0);
    put(j, "agent_list_usage_fresh_ms", med([](const Round& r) { return r.fresh_usage; }), 3);
    put(j, "co_agent_list_fresh_ms", med([](const Round& r) { return r.co_list_fresh; }), 3);
    put(j, "co_version_ms", version, 3);
    put(j, "co_status_ms", co_status, 3);
    j["co_status_ms_ok"] = co_status_ok;
    put(j, "co_agent_list_ms", co_list, 3);
    j["co_agent_list_ms_ok"] = co_list_ok;
    j["rss_kib"] = fresh.rss_kib;
    j["rss_kib_ok"] = rss_ok;
    j["pss_kib"] = fresh.pss_kib;
    j["pss_anon_kib"] = fresh.pss_anon_kib;
    j["rss_after_kib"] = rounds.back().mem.rss_kib;
    j["pss_after_kib"] = rounds.back().mem.pss_kib;
    j["all_targets_met"] = status_ok && list_ok && co_status_ok && co_list_ok && rss_ok;

    const Summary summary{40, 12};
    summary.header(opts.rounds);
    summary.row("status p50 (in the daemon)", status_p50, "ms", "<= 0.5 ms", verdict(status_ok));
    summary.row("status p99", j["status_p99_ms"], "ms");
    summary.row("status answer", j["status_bytes"].get<double>() / 1024, "KiB");
    summary.row("agent.list p50", list_p50, "ms", "<= 0.5 ms", verdict(list_ok));
    summary.row("agent.list p99", j["agent_list_p99_ms"], "ms");
    summary.row("agent.list answer", j["agent_list_bytes"].get<double>() / 1024, "KiB");
    summary.row("agent.list {usage: true} p50", j["agent_list_usage_p50_ms"], "ms");
    summary.row("agent.list {usage: true} p99", j["agent_list_usage_p99_ms"], "ms");
    summary.row("agent.get p50", j["agent_get_p50_ms"], "ms");
    summary.row("status {fields of co status} p50", j["status_fields_p50_ms"], "ms");
    summary.row("status {fields of co status} answer", j["status_fields_bytes"].get<double>() / 1024, "KiB");
    summary.row("agent.list {usage, fields of co} p50", j["agent_list_co_p50_ms"], "ms");
    summary.row("agent.list {usage, fields of co} answer", j["agent_list_co_bytes"].get<double>() / 1024, "KiB");
    summary.row("agent.list {usage} read afresh", j["agent_list_usage_fresh_ms"], "ms");
    summary.row("co --version (the process floor)", version, "ms");
    summary.row("co status", co_status, "ms", "<= floor+2 ms", verdict(co_status_ok));
    summary.row("co agent list", co_list, "ms", "<= floor+2 ms", verdict(co_list_ok));
    summary.row("co agent list, figures read afresh", j["co_agent_list_fresh_ms"], "ms");
    summary.row("daemon RSS after start", fresh.rss_kib / 1024.0, "MiB", "<= 6 MiB", verdict(rss_ok));
    summary.kib("daemon PSS after start", fresh.pss_kib);
    summary.kib("daemon Pss_Anon after start", fresh.pss_anon_kib);
    summary.kib("daemon RSS after the rounds", rounds.back().mem.rss_kib);
    summary.kib("daemon PSS after the rounds", rounds.back().mem.pss_kib);
    rule(kRule);
    std::printf("the daemon's resident set after start, by mapping (/proc/PID/smaps):\n");
    print_parts(fresh_parts);
    std::printf("after the rounds:\n");
    print_parts(resident_parts(company.pid()));
    rule(kRule);
    return finish(company, j, opts.enforce);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scale: %s\n", e.what());
    return 2;
  }
}
