// /proc parsing and the CPU share rule (daemon/agents/proc_stat.*), and the usage sampler
// on this test's own process.
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "daemon/agents/proc_stat.hpp"
#include "daemon/agents/process.hpp"
#include "daemon/agents/usage.hpp"
#include "tests/catch.hpp"

namespace pstat = vermas::proc;

namespace {

// A real line of /proc/<pid>/stat (cat's own), with `comm` put in.
std::string stat_text(const std::string& comm) {
  return "18228 (" + comm +
         ") R 18225 18225 15861 0 -1 4194304 101 0 0 0 7 3 0 0 20 0 1 0 4981749 3133440 375 "
         "18446744073709551615 94109456560128 94109456580009 140733971035088 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
         "94109456596016 94109456597632 94109663563776 140733971036800 140733971036820 140733971036820 "
         "140733971038187 0\n";
}

}  // namespace

TEST_CASE("proc stat: the fields the daemon uses by their numbers in proc(5)", "[proc_stat]") {
  auto s = pstat::parse_stat_line(stat_text("cat"));
  REQUIRE(s);
  CHECK(s->pid == 18228);
  CHECK(s->comm == "cat");
  CHECK(s->state == 'R');
  CHECK(s->ppid == 18225);
  CHECK(s->pgrp == 18225);
  CHECK(s->session == 15861);
  CHECK(s->utime == 7);
  CHECK(s->stime == 3);
  CHECK(s->threads == 1);
  CHECK(s->start_time == 4981749);
  CHECK(s->rss_pages == 375);
}

TEST_CASE("proc stat: a comm with spaces and parentheses ends at the last parenthesis", "[proc_stat]") {
  for (const std::string comm : {"a b", "x) R 1 2 3 (", "(sd-pam)", ") (", "", "tmux: server"}) {
    INFO("comm: " << comm);
    auto s = pstat::parse_stat_line(stat_text(comm));
    REQUIRE(s);
    CHECK(s->comm == comm);
    CHECK(s->state == 'R');
    CHECK(s->ppid == 18225);
    CHECK(s->start_time == 4981749);
    CHECK(s->rss_pages == 375);
  }
}

TEST_CASE("proc stat: a line cut short or malformed is refused", "[proc_stat]") {
  const std::string full = stat_text("cat");
  CHECK_FALSE(pstat::parse_stat_line(""));
  CHECK_FALSE(pstat::parse_stat_line("18228 (cat"));
  CHECK_FALSE(pstat::parse_stat_line("18228 (cat)"));
  CHECK_FALSE(pstat::parse_stat_line("18228 (cat) R 1 2 3"));
  CHECK_FALSE(pstat::parse_stat_line(full.substr(0, full.find(" 4981749") + 8)));  // no field 23, 24
  CHECK_FALSE(pstat::parse_stat_line("x (cat) R" + full.substr(full.find(") R") + 3)));
  CHECK_FALSE(pstat::parse_stat_line("18228 (cat)R" + full.substr(full.find(") R") + 3)));
  std::string bad_number = full;
  bad_number.replace(bad_number.find(" 7 3 "), 5, " 7x 3 ");
  CHECK_FALSE(pstat::parse_stat_line(bad_number));
}

TEST_CASE("proc stat: this process's own line parses", "[proc_stat]") {
  auto id = pstat::identify(::getpid());
  REQUIRE(id);
  CHECK(id->pid == ::getpid());
  CHECK(id->start_time > 0);
  auto rel = pstat::relations(::getpid());
  REQUIRE(rel);
  CHECK(rel->ppid == ::getppid());
  CHECK(rel->pgrp == ::getpgrp());
}

TEST_CASE("proc stat: a children file is a list of pids", "[proc_stat]") {
  CHECK(pstat::parse_pid_list("").empty());
  CHECK(pstat::parse_pid_list("12 345 ") == std::vector<pid_t>{12, 345});
  CHECK(pstat::parse_pid_list("7\n") == std::vector<pid_t>{7});
  CHECK(pstat::parse_pid_list(" 1  x 2") == std::vector<pid_t>{1, 2});
}

TEST_CASE("cpu share: the lifetime average first and then the share since the previous sample", "[proc_stat]") {
  // Started 10 s after boot (hz 100: 1000 ticks), seen at 20 s with 500 ticks: 5 s in 10 s.
  const pstat::CpuSample first{1000, 500, 20.0};
  auto t1 = pstat::next_cpu_track(std::nullopt, first, 100);
  CHECK(t1.percent == Approx(50.0));
  CHECK(t1.base.ticks == 500);
  // 2 s later, 50 more ticks: 0.5 s of CPU in 2 s.
  auto t2 = pstat::next_cpu_track(t1, {1000, 550, 22.0}, 100);
  CHECK(t2.percent == Approx(25.0));
  CHECK(t2.base.at == Approx(22.0));
  // Two threads busy: past 100.
  auto t3 = pstat::next_cpu_track(t2, {1000, 950, 24.0}, 100);
  CHECK(t3.percent == Approx(200.0));
  // Idle.
  CHECK(pstat::next_cpu_track(t3, {1000, 950, 30.0}, 100).percent == Approx(0.0));
}

TEST_CASE("cpu share: a repeat within the minimum window gives the last figure", "[proc_stat]") {
  auto t1 = pstat::next_cpu_track(std::nullopt, {1000, 500, 20.0}, 100);
  auto t2 = pstat::next_cpu_track(t1, {1000, 550, 22.0}, 100);
  auto again = pstat::next_cpu_track(t2, {1000, 551, 22.0 + pstat::kMinCpuWindowSeconds / 2}, 100);
  CHECK(again.percent == Approx(t2.percent));
  CHECK(again.base.at == Approx(22.0));  // the window still starts at the kept sample
}

TEST_CASE("cpu share: a reused pid starts over from the new process's lifetime", "[proc_stat]") {
  auto old = pstat::next_cpu_track(std::nullopt, {1000, 900, 20.0}, 100);
  // Another process (start time 1500 ticks = 15 s) with 100 ticks at 25 s: 1 s in 10 s.
  auto fresh = pstat::next_cpu_track(old, {1500, 100, 25.0}, 100);
  CHECK(fresh.percent == Approx(10.0));
  // Counters never go back for one process; if they seemed to, the share is 0, not negative.
  CHECK(pstat::next_cpu_track(fresh, {1500, 50, 30.0}, 100).percent == Approx(0.0));
  // A process seen at its very start (no elapsed time) uses no CPU yet.
  CHECK(pstat::next_cpu_track(std::nullopt, {2000, 0, 20.0}, 100).percent == Approx(0.0));
}

TEST_CASE("usage sampler: this process's memory and CPU and no process for a wrong identity", "[proc_stat]") {
  auto id = pstat::identify(::getpid());
  REQUIRE(id);
  vermas::UsageSampler sampler;
  auto u = sampler.sample(*id);
  REQUIRE(u);
  CHECK(u->rss_bytes > 0);
  CHECK(u->cpu_percent >= 0);
  CHECK(u->processes >= 1);
  // Burn some CPU past the reuse window, then the second sample measures since the first.
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<int>(vermas::UsageSampler::kReuseSeconds * 1000) + 100);
  volatile unsigned long spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  auto again = sampler.sample(*id);
  REQUIRE(again);
  CHECK(again->cpu_percent > 0);
  CHECK_FALSE(sampler.sample({id->pid, id->start_time + 1}));
  CHECK_FALSE(sampler.sample({0, 0}));
}

TEST_CASE("usage sampler: an agent's figures are reused for a second", "[proc_stat][usage]") {
  const auto self = vermas::proc::identify(::getpid());
  REQUIRE(self);
  vermas::UsageSampler sampler;
  const auto first = sampler.sample(*self);
  REQUIRE(first);
  CHECK(first->processes >= 1);
  CHECK(first->rss_bytes > 0);
  // Busy past the CPU window (0.2 s) and touching fresh memory: a new read would differ.
  auto busy_until = [](std::chrono::steady_clock::time_point until) {
    volatile std::uint64_t n = 0;
    while (std::chrono::steady_clock::now() < until) n = n + 1;
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<char> touched(32 << 20, 1);
  busy_until(t0 + std::chrono::milliseconds(300));
  const auto again = sampler.sample(*self);
  REQUIRE(again);
  if (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(900)) {  // still within the second
    CHECK(again->rss_bytes == first->rss_bytes);
    CHECK(again->cpu_percent == first->cpu_percent);
  }
  CHECK(touched[touched.size() / 2] == 1);
}
