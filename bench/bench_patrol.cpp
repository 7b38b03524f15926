// bench_patrol: what the patrol's traffic costs the daemon.
//
//   agent.heartbeat over 8 connections, closed loop      >= 100k/s, p50 <= 50 us
//   ping the same way: the floor (socket, framing, JSON) a heartbeat sits on
//   cost.report (each committed before it answers), 1 connection: per second, p50
//   a report past a cap -> the agent's process stopped (state T)  p99 <= 10 ms
//   mail.send (each committed before it answers), 1 and 8 connections: per second, p50
//
// A throw-away company under /tmp with one factory (two agents, `/bin/sleep`), its daemon
// started and stopped with `co`; each connection is a thread with one request in flight
// (the operator heartbeats for the agents by id, as an agent does for itself). Medians of
// --rounds rounds. Output: a table, then one line of JSON with every figure.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_harness.hpp"

namespace {

using namespace vermas::bench;
using namespace std::chrono_literals;

constexpr double kTargetHeartbeatsPerS = 100000;
constexpr double kTargetHeartbeatP50Us = 50;

struct Options {
  std::string co = VERMAS_CO_BIN;
  std::string daemon = VERMAS_DAEMON_BIN;
  int rounds = 3;
  double seconds = 2;
  int connections = 8;
  bool enforce = false;
};

void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: bench_patrol [--rounds N] [--seconds S] [--connections N] [--enforce]\n"
               "  --enforce  exit 1 when a target is missed\n");
  std::exit(code);
}

struct Load {
  double per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// `connections` threads, each calling `method` with params(i) in a closed loop for `seconds`.
template <class Params>
Load closed_loop(const std::string& socket, int connections, double seconds, const std::string& method,
                 Params params) {
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(connections));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const auto length = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Clock::time_point t0;
  for (int c = 0; c < connections; ++c)
    threads.emplace_back([&, c] {
      RawConnection conn(socket);
      auto& mine = lat[static_cast<std::size_t>(c)];
      mine.reserve(1 << 20);
      while (!go) std::this_thread::yield();
      const auto end = t0 + length;
      for (std::int64_t i = 0; Clock::now() < end; ++i) {
        const auto s = Clock::now();
        conn.call(method, params(c, i));
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
      }
    });
  t0 = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  return {static_cast<double>(all.size()) / took, percentile(all, 50), percentile(all, 99)};
}

char proc_state(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::ifstream in(path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

struct Freeze {
  std::vector<double> stopped_us;   // the request written -> the process in state T
  std::vector<double> answered_us;  // the request written -> its answer read
};

// Each round trip: a cap just above today's spend, a report that crosses it, the time until
// the agent's process is stopped (polled in /proc) and until the answer; then the cap raised
// and the approval approved, which thaws it for the next one.
Freeze report_to_sigstop(const std::string& socket, const std::string& agent, pid_t pid, int times) {
  RawConnection c(socket);
  Freeze f;
  for (int i = 0; i < times; ++i) {
    check_interrupt();
    const double spent = c.call("agent.get", {{"id", agent}}).at("today_spend").get<double>();
    c.call("budget.set", {{"scope", "agent"}, {"id", agent}, {"daily_cap", spent + 1}});
    const std::string line =
        json{{"jsonrpc", "2.0"}, {"id", c.next_id()}, {"method", "cost.report"}, {"params", {{"agent", agent}, {"amount", 2}}}}
            .dump() + "\n";
    const auto t0 = Clock::now();
    c.send_all(line.data(), line.size());
    while (proc_state(pid) != 'T') {
      if (Clock::now() - t0 > 5s) throw std::runtime_error(agent + " was not stopped within 5 s of crossing its cap");
    }
    f.stopped_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    const json answer = json::parse(c.read_line());
    f.answered_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    const json& approvals = answer.at("result").at("approvals");
    if (approvals.empty()) throw std::runtime_error("the crossing report opened no approval");
    c.call("budget.set", {{"scope", "agent"}, {"id", agent}, {"daily_cap", spent + 1000}});
    c.call("approval.approve", {{"id", approvals[0]}, {"decision", "bench"}});
  }
  std::sort(f.stopped_us.begin(), f.stopped_us.end());
  std::sort(f.answered_us.begin(), f.answered_us.end());
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  g_program = "bench_patrol";
  catch_signals();
  Options o;
  Args args(argc, argv, usage);
  while (args.next()) {
    if (args.flag() == "--rounds") o.rounds = static_cast<int>(args.integer(1, 100));
    else if (args.flag() == "--seconds") o.seconds = args.number(0.1);
    else if (args.flag() == "--connections") o.connections = static_cast<int>(args.integer(1, 64));
    else if (args.flag() == "--enforce") o.enforce = true;
    else if (args.flag() == "--help" || args.flag() == "-h") usage(0);
    else usage(2);
  }
  if (!binaries_ok(o.co, o.daemon)) return 2;
  Spawner sp(o.daemon, 120s);
  Company company(o.co, o.daemon, sp, {30s, 10s});
  try {
    company.init();
    {
      std::ofstream out(company.root() + "/.vermas/config.toml", std::ios::trunc);
      const std::string agent = "command = [\"/bin/sleep\", \"100000\"]\nrunner = \"direct\"\n";
      out << "[company]\nname = \"bench-patrol\"\n\n[operations]\npatrol_interval_seconds = 60\n\n"
          << "[agents.supervisor]\n" << agent << "\n[agents.qa]\n" << agent << "\n[agents.worker]\n" << agent;
    }
    const std::string src = company.root() + "/src.git";
    one_commit_repository(sp, src);
    company.start();
    {
      RawConnection c(company.socket());
      c.call("factory.add", {{"name", "bp"}, {"url", src}});
    }
    const std::string agents[2] = {"bp/supervisor", "bp/qa"};
    std::vector<Load> beats, pings, mail1, mail8, costs;
    std::vector<Freeze> freezes;
    const pid_t qa_pid = RawConnection(company.socket()).call("agent.get", {{"id", agents[1]}}).at("pid").get<pid_t>();
    std::printf("%-7s %16s %10s %10s %16s %10s %16s %10s\n", "round", "heartbeats/s", "p50 us", "p99 us",
                "mail/s (1 conn)", "p50 us", "mail/s (8 conn)", "p50 us");
    rule(104);
    for (int r = 0; r < o.rounds; ++r) {
      check_interrupt();
      pings.push_back(closed_loop(company.socket(), o.connections, o.seconds, "ping",
                                  [](int, std::int64_t) { return json::object(); }));
      beats.push_back(closed_loop(company.socket(), o.connections, o.seconds, "agent.heartbeat",
                                  [&](int c, std::int64_t i) {
                                    return json{{"id", agents[(c + i) % 2]}, {"activity", "bench"}};
                                  }));
      auto mail = [&](int c, std::int64_t i) {
        return json{{"to", agents[c % 2]}, {"subject", "bench"}, {"body", "message " + std::to_string(i)}};
      };
      mail1.push_back(closed_loop(company.socket(), 1, o.seconds, "mail.send", mail));
      mail8.push_back(closed_loop(company.socket(), o.connections, o.seconds, "mail.send", mail));
      costs.push_back(closed_loop(company.socket(), 1, o.seconds, "cost.report", [&](int, std::int64_t) {
        return json{{"agent", agents[0]}, {"amount", 0.0001}, {"tokens_in", 10}, {"run_id", "bench"}};
      }));
      freezes.push_back(report_to_sigstop(company.socket(), agents[1], qa_pid, 50));
      std::printf("%-7d %16.0f %10.1f %10.1f %16.0f %10.1f %16.0f %10.1f\n", r + 1, beats.back().per_second,
                  beats.back().p50_us, beats.back().p99_us, mail1.back().per_second, mail1.back().p50_us,
                  mail8.back().per_second, mail8.back().p50_us);
    }
    rule(104);
    auto med = [](const std::vector<Load>& v, double Load::*f) {
      std::vector<double> x;
      for (const auto& l : v) x.push_back(l.*f);
      return median(x);
    };
    const double hb = med(beats, &Load::per_second), hb50 = med(beats, &Load::p50_us);
    const bool ok = hb >= kTargetHeartbeatsPerS && hb50 <= kTargetHeartbeatP50Us;
    Summary s{36, 16};
    s.header(o.rounds);
    s.row("heartbeats per second (8 conn)", hb, "/s", ">= 100000", verdict(hb >= kTargetHeartbeatsPerS));
    s.row("heartbeat p50", hb50, "us", "<= 50", verdict(hb50 <= kTargetHeartbeatP50Us));
    s.row("heartbeat p99", med(beats, &Load::p99_us), "us");
    s.row("  floor: ping per second (8 conn)", med(pings, &Load::per_second), "/s");
    s.row("  floor: ping p50", med(pings, &Load::p50_us), "us");
    s.row("mail.send per second (1 conn)", med(mail1, &Load::per_second), "/s");
    s.row("mail.send p50 (1 conn)", med(mail1, &Load::p50_us), "us");
    s.row("mail.send per second (8 conn)", med(mail8, &Load::per_second), "/s");
    s.row("mail.send p50 (8 conn)", med(mail8, &Load::p50_us), "us");
    s.row("cost.report per second (1 conn)", med(costs, &Load::per_second), "/s");
    s.row("cost.report p50 (1 conn)", med(costs, &Load::p50_us), "us");
    auto freeze_med = [&](std::vector<double> Freeze::*v, double p) {
      std::vector<double> x;
      for (const auto& f : freezes) x.push_back(percentile(f.*v, p));
      return median(x);
    };
    const double stop99 = freeze_med(&Freeze::stopped_us, 99) / 1000.0;
    s.row("report past a cap -> SIGSTOP p50", freeze_med(&Freeze::stopped_us, 50) / 1000.0, "ms");
    s.row("report past a cap -> SIGSTOP p99", stop99, "ms", "<= 10", verdict(stop99 <= 10));
    s.row("  -> its answer p50", freeze_med(&Freeze::answered_us, 50) / 1000.0, "ms");
    nlohmann::ordered_json j;
    put(j, "heartbeats_per_s", hb, 0);
    put(j, "heartbeat_p50_us", hb50, 1);
    put(j, "heartbeat_p99_us", med(beats, &Load::p99_us), 1);
    put(j, "ping_per_s", med(pings, &Load::per_second), 0);
    put(j, "ping_p50_us", med(pings, &Load::p50_us), 1);
    put(j, "mail_send_per_s_1conn", med(mail1, &Load::per_second), 0);
    put(j, "mail_send_p50_us_1conn", med(mail1, &Load::p50_us), 1);
    put(j, "mail_send_per_s_8conn", med(mail8, &Load::per_second), 0);
    put(j, "mail_send_p50_us_8conn", med(mail8, &Load::p50_us), 1);
    put(j, "cost_report_per_s_1conn", med(costs, &Load::per_second), 0);
    put(j, "cost_report_p50_us_1conn", med(costs, &Load::p50_us), 1);
    put(j, "report_to_sigstop_p50_ms", freeze_med(&Freeze::stopped_us, 50) / 1000.0, 2);
    put(j, "report_to_sigstop_p99_ms", stop99, 2);
    put(j, "report_to_answer_p50_ms", freeze_med(&Freeze::answered_us, 50) / 1000.0, 2);
    j["all_targets_met"] = ok && stop99 <= 10;
    return finish(company, j, o.enforce);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_patrol: %s\n", e.what());
    return 1;
  }
}
