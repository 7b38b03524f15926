// Hostile peers and a crash-happy machine, as project tests: numbers past a double, NUL
// bytes, slow-loris, connect/close churn, another uid, agents acting on other agents, a
// full disk, private files, and kill -9 rounds under load. Each prints its figures.
#include "tests/catch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void figure(const std::string& text) { std::cout << "  [figure] " << text << std::endl; }

int fd_count(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

long rss_kib(pid_t pid) {
  for (const auto& line : lines_of(read_file("/proc/" + std::to_string(pid) + "/status")))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string sql(const TempRoot& root, const std::string& query) {
  auto r = run({"sqlite3", root.db_file(), query});
  INFO(query << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::vector<long long> numbers_of(const std::string& text) {
  std::vector<long long> out;
  for (const auto& l : lines_of(text))
    if (!l.empty()) out.push_back(std::stoll(l));
  return out;
}

// Every event id in the database, and every event id in the feed (its rotated files first),
// in file order. The feed must be the database's ids exactly: every event, once, in order.
std::vector<long long> db_event_ids(const TempRoot& root) { return numbers_of(sql(root, "SELECT id FROM events ORDER BY id")); }
std::vector<long long> feed_event_ids(const TempRoot& root) {
  std::vector<long long> out;
  for (const auto& e : root.feed_events()) out.push_back(id_of(e));
  return out;
}

const std::string kBefore = R"({"jsonrpc":"2.0","id":1,"method":"wo.create","params":{"title":"before"}})";
const std::string kAfter = R"({"jsonrpc":"2.0","id":2,"method":"wo.create","params":{"title":"after"}})";

}  // namespace

// A ----------------------------------------------------------------------------------------
TEST_CASE("numbers beyond a double's range are -32700 and never wedge a connection", "[hostile]") {
  Running d;
  const std::string digits401 = "1" + std::string(400, '0');
  for (const std::string& line : {std::string(R"({"jsonrpc":"2.0","id":1e400,"method":"ping"})"),
                                  std::string(R"({"jsonrpc":"2.0","id":1,"method":"events.query","params":{"limit":1e400}})"),
                                  R"({"jsonrpc":"2.0","id":)" + digits401 + R"(,"method":"ping"})",
                                  "[" + digits401 + "]"}) {
    INFO(line.substr(0, 80));
    RawClient c(d.root.socket_path());
    // The bad line and a good one in one write, as the issue's `printf | socat` did.
    REQUIRE(c.send(line + "\n" + request_line(2, "ping")) > 0);
    auto bad = c.read_json();
    CHECK(error_code(bad) == -32700);
    CHECK(bad["id"].is_null());
    auto good = c.read_json();
    CHECK(good["id"] == 2);
    CHECK(good["result"]["pong"] == true);
  }
  // 300 one-line clients that leave without reading: every slot comes back.
  auto t0 = Clock::now();
  for (int i = 0; i < 300; ++i) {
    RawClient c(d.root.socket_path());
    c.send(R"({"jsonrpc":"2.0","id":1e400,"method":"ping"})" "\n");
  }
  CHECK(wait_until([&] { return d.connections() == 1; }, 5s));
  auto st = d.root.co({"status"});
  CHECK(st.exit_code == 0);
  figure("300 one-line 1e400 clients came and went in " + std::to_string(ms_since(t0)) + " ms; connections after: 1");
  d.root.stop();
}

// B ----------------------------------------------------------------------------------------
TEST_CASE("a NUL byte makes the whole line -32700 and nothing of it runs", "[hostile]") {
  Running d;
  RawClient c(d.root.socket_path());
  REQUIRE(c.send(kBefore + std::string(1, '\0') + kAfter + "\n") > 0);
  auto r = c.read_json();
  CHECK(error_code(r) == -32700);
  CHECK(r["id"].is_null());
  CHECK(c.silent_for(100ms));  // no second answer: "after" was not run either
  // Invalid UTF-8 in a parameter: the same, and nothing created.
  REQUIRE(c.send("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"wo.create\",\"params\":{\"title\":\"\xff\xfe\"}}\n") > 0);
  CHECK(error_code(c.read_json()) == -32700);
  CHECK(c.call("wo.list")["result"]["total"] == 0);
  CHECK(db_event_ids(d.root).size() == 1);  // operations.started only
  d.root.stop();
}

// Slow-loris ---------------------------------------------------------------------------------
TEST_CASE("a begun request line must end within request_timeout_seconds, idle connections stay", "[hostile]") {
  Running d("0.3");
  RawClient idle(d.root.socket_path());       // connected, sends nothing: fine (co events tail -f)
  RawClient stalled(d.root.socket_path());    // half a line, then nothing
  RawClient dripping(d.root.socket_path());   // a byte every 50 ms, never a newline
  RawClient prompt(d.root.socket_path());     // half a line, the rest soon after
  const std::string line = request_line(7, "ping");
  auto t0 = Clock::now();
  REQUIRE(stalled.send(line.substr(0, 12)) == 12);
  REQUIRE(prompt.send(line.substr(0, 12)) == 12);
  REQUIRE(dripping.send("{") == 1);
  std::optional<double> dripping_closed_ms;
  for (int i = 0; i < 60 && !dripping_closed_ms; ++i) {
    std::this_thread::sleep_for(50ms);  // the drip's pace, not a wait for a condition
    if (i == 1) REQUIRE(prompt.send(line.substr(12)) > 0);
    if (peer_closed(dripping) || dripping.send("\"", 100ms) == 0) dripping_closed_ms = ms_since(t0);
  }
  CHECK(prompt.read_json()["id"] == 7);
  auto timeout = stalled.read_json(3s);
  CHECK(error_code(timeout) == -32600);
  CHECK(timeout["error"]["data"]["request_timeout_seconds"] == 0.3);
  CHECK(stalled.wait_eof(3s));
  const double stalled_ms = ms_since(t0);
  REQUIRE(dripping_closed_ms.has_value());  // per line, not per read: dripping does not help
  CHECK(*dripping_closed_ms < 2000);
  CHECK(!peer_closed(idle));
  CHECK(idle.call("ping")["result"]["pong"] == true);
  CHECK(prompt.call("ping")["result"]["pong"] == true);

  // 256 slow-loris peers take every slot only until their lines time out.
  ensure_fd_limit(1024);
  idle.close();
  prompt.close();
  std::vector<RawClient> loris;
  for (int i = 0; i < 256; ++i) {
    RawClient c;
    if (!c.connect(d.root.socket_path())) break;
    c.send("{\"jsonrpc\":");
    loris.push_back(std::move(c));
  }
  auto t1 = Clock::now();
  CHECK(wait_until([&] { return d.root.co({"status"}, 2s).exit_code == 0; }, 5s));
  figure("stalled line closed after " + std::to_string(stalled_ms) + " ms, dripping after " +
         std::to_string(*dripping_closed_ms) + " ms (timeout 300 ms); 256 slow-loris peers: co status again after " +
         std::to_string(ms_since(t1)) + " ms");
  CHECK(contains(read_file(d.root.log_file()), "not completed within"));
  d.root.stop();
}

// Churn ------------------------------------------------------------------------------------
TEST_CASE("connect/close churn leaks no descriptor, connection slot or memory", "[hostile]") {
  Running d;
  CHECK(d.connections() == 1);
  const int fds_before = fd_count(d.pid);
  const long rss_before = rss_kib(d.pid);
  auto t0 = Clock::now();
  const int kCycles = 2000;
  for (int i = 0; i < kCycles; ++i) {
    RawClient c(d.root.socket_path());
    switch (i % 5) {
      case 0: break;                                                     // connect, close
      case 1: c.call("ping"); break;                                     // a full exchange
      case 2: c.send("{\"jsonrpc\":\"2.0\",\"id\":1,"); break;           // half a line
      case 3: c.send(R"({"jsonrpc":"2.0","id":1e400,"method":"ping"})" "\n"); break;  // unread error
      case 4: c.send(request_line(1, "status") + request_line(2, "events.query", {{"limit", 50}})); break;
    }
  }
  const double took = ms_since(t0);
  CHECK(wait_until([&] { return d.connections() == 1 && fd_count(d.pid) <= fds_before; }, 5s));
  const long rss_after = rss_kib(d.pid);
  CHECK(fd_count(d.pid) <= fds_before);  // the baseline may have held a closing connection's fd
#if VERMAS_TEST_ASAN
  // ASan's quarantine keeps freed memory resident (up to 256 MiB), so RSS says nothing here;
  // LeakSanitizer checks the daemon's heap at its exit instead.
  (void)rss_after;
#else
  CHECK(rss_after - rss_before < 4096);  // KiB: no per-connection leak (2000 × 2 KiB would show)
#endif
  figure(std::to_string(kCycles) + " connect/close cycles in " + std::to_string(took) + " ms; daemon fds " +
         std::to_string(fds_before) + " -> " + std::to_string(fd_count(d.pid)) + ", RSS " + std::to_string(rss_before) +
         " -> " + std::to_string(rss_after) + " KiB");
  d.root.stop();
}

// Another uid --------------------------------------------------------------------------------
TEST_CASE("a peer of another uid is refused with -32003 even when the socket file lets it in", "[hostile]") {
  if (::geteuid() != 0) {
    WARN("not root: cannot connect as another uid; skipped");
    return;
  }
  Running d;
  // Open the path up as a careless operator might: the SO_PEERCRED check must still hold.
  REQUIRE(::chmod(d.root.dir().c_str(), 0711) == 0);
  REQUIRE(::chmod(d.root.path(".work").c_str(), 0711) == 0);
  REQUIRE(::chmod(d.root.socket_path().c_str(), 0666) == 0);
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipefd[0]);
    std::string answer = "setuid failed";
    if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, d.root.socket_path().c_str(), sizeof addr.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        answer = std::string("connect: ") + std::strerror(errno);
      } else {
        // The refusal comes unasked, at accept: a write could meet the closed socket (and
        // SIGPIPE), so the request goes with MSG_NOSIGNAL and its failure is fine.
        std::string req = request_line(1, "ping");
        (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        char buf[512];
        answer.clear();
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
      }
    }
    (void)!::write(pipefd[1], answer.data(), answer.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string answer;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  INFO("what uid 65534 got: " << answer);
  auto j = parse_json(lines_of(answer).empty() ? answer : lines_of(answer).front());
  REQUIRE(!j.is_discarded());
  CHECK(error_code(j) == -32003);
  CHECK(contains(answer, "uid 65534"));
  CHECK(!contains(answer, "pong"));
  CHECK(contains(read_file(d.root.log_file()), "refused connection from uid 65534"));
  CHECK(d.call("ping")["result"]["pong"] == true);
  d.root.stop();
}

// D ----------------------------------------------------------------------------------------
TEST_CASE("an agent cannot start, stop, kill or restart another agent, nor kill another worker", "[hostile]") {
  Settings s;
  Company c(s);
  const std::string out = c.root.path("calls");
  // QA tries everything against the supervisor and a worker once told to go; the
  // supervisor spawns a worker in its own factory, which is its job.
  auto attempt = [&](const std::string& name, const std::string& cmd) {
    return cmd + " >\"$out." + name + "\" 2>&1; echo \"rc=$?\" >>\"$out." + name + "\"\n";
  };
  const std::string qa = c.script(
      "qa.sh", "out=\"" + out + "\"\nwhile [ ! -e \"$out.go\" ]; do sleep 0.02; done\n" +
                   attempt("stop", "co agent stop f1/supervisor") + attempt("restart", "co agent restart f1/supervisor") +
                   attempt("kill", "co call agent.kill '{\"id\":\"f1/supervisor\"}'") +
                   attempt("start", "co call agent.start '{\"id\":\"f1/supervisor\"}'") +
                   attempt("self", "co agent stop \"$AGENT_ID\"") + attempt("worker_kill", "co worker kill f1 0") +
                   attempt("worker_spawn", "co worker spawn f1") + "touch \"$out.done\"\nexec sleep 300\n");
  const std::string sup = c.script("sup.sh", "out=\"" + out + "\"\nwhile [ ! -e \"$out.go\" ]; do sleep 0.02; done\n" +
                                                 attempt("sup_spawn", "co worker spawn f1") + "exec sleep 300\n");
  s.qa = {"/bin/sh", qa};
  s.supervisor = {"/bin/sh", sup};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  const pid_t sup_pid = c.running_pid("f1/supervisor");
  const pid_t qa_pid = c.running_pid("f1/qa");
  REQUIRE(c.root.co({"worker", "spawn", "f1"}).exit_code == 0);
  const pid_t worker_pid = c.running_pid("f1/workers/slot0");
  const long long since = c.result("status")["last_event_id"].get<long long>();
  write_file(out + ".go", "");
  REQUIRE(eventually([&] { return file_exists(out + ".done") && contains(read_file(out + ".sup_spawn"), "rc="); }, 20s));

  for (const char* name : {"stop", "restart", "kill", "start", "self", "worker_kill", "worker_spawn"}) {
    const std::string text = read_file(out + "." + name);
    INFO("qa's " << name << ": " << text);
    CHECK(contains(text, "rc=1"));
    CHECK(contains(text, "-32003"));
  }
  INFO("the supervisor's own spawn: " << read_file(out + ".sup_spawn"));
  CHECK(contains(read_file(out + ".sup_spawn"), "rc=0"));
  c.running_pid("f1/workers/slot1");
  // Nothing the QA asked for happened: same processes, no stop or restart of any kind.
  CHECK(c.agent("f1/supervisor")["pid"] == sup_pid);
  CHECK(c.agent("f1/qa")["pid"] == qa_pid);
  CHECK(c.agent("f1/workers/slot0")["pid"] == worker_pid);
  CHECK(c.agent("f1/supervisor")["desired"] == "running");
  for (const char* type : {"agent.stopping", "agent.stopped", "agent.restarting", "agent.start_requested", "slot.freed"}) {
    INFO(type);
    for (const auto& e : c.events_after(since, type)) CHECK(e.value("subject", json()) == "f1/workers/slot1");
  }
  c.root.stop();
}

// Private files ------------------------------------------------------------------------------
TEST_CASE("what the daemon writes under .work/ is private, and agents keep the starting umask", "[hostile]") {
  Settings s;
  Company c(s);
  // A feed left readable by an older version is narrowed at start.
  fs::create_directories(c.root.path(".work"));
  write_file(c.root.feed_file(), "");
  REQUIRE(::chmod(c.root.feed_file().c_str(), 0644) == 0);
  const mode_t saved = ::umask(022);
  c.start();
  ::umask(saved);
  c.add_factory("f1");
  const pid_t sup = c.running_pid("f1/supervisor");
  REQUIRE(c.root.wo({"create", "--title", "private"}).exit_code == 0);
  CHECK(mode_of(c.root.path(".work")) == 0700);
  for (const std::string& f : {c.root.db_file(), c.root.db_file() + "-wal", c.root.db_file() + "-shm", c.root.feed_file(),
                               c.root.pid_file(), c.root.log_file()}) {
    INFO(f);
    CHECK(mode_of(f) == 0600);
  }
  CHECK(mode_of(c.root.socket_path()) == 0600);
  std::string umask_line;
  for (const auto& line : lines_of(read_file("/proc/" + std::to_string(sup) + "/status")))
    if (line.rfind("Umask:", 0) == 0) umask_line = line;
  CHECK(umask_line == "Umask:\t0022");
  // The factory clone is git's, made with the starting umask too: readable as usual.
  CHECK(mode_of(c.root.path("f1/README.md")) == 0644);
  c.root.stop();
}

// Disk full --------------------------------------------------------------------------------
TEST_CASE("disk full: writes are -32005, health says db degraded, and it recovers losing nothing", "[hostile]") {
  TempRoot root;
  const std::string work = root.path(".work");
  fs::create_directories(work);
  if (::geteuid() != 0 || ::mount("tmpfs", work.c_str(), "tmpfs", 0, "size=8m,mode=0700") != 0) {
    WARN("cannot mount a small tmpfs here (" << std::strerror(errno) << "); skipped");
    return;
  }
  struct Unmount {
    std::string dir;
    const TempRoot& root;
    ~Unmount() {
      root.kill_daemon();
      ::umount2(dir.c_str(), MNT_DETACH);
    }
  } unmount{work, root};
  root.start();
  RawClient c(root.socket_path());
  std::vector<std::string> acked;
  for (int i = 0; i < 20; ++i) {
    auto r = c.call("wo.create", {{"title", "before full " + std::to_string(i)}});
    REQUIRE(r.contains("result"));
    acked.push_back(r["result"]["id"]);
  }
  // Fill the file system to the last block.
  const std::string filler = work + "/filler";
  {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    std::string block(64 * 1024, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    while (::write(fd, block.data(), 1) > 0) {
    }
    ::close(fd);
  }
  // Writes fail cleanly (some may still fit in space SQLite already holds).
  int failures = 0, attempts = 0;
  json failure;
  for (; attempts < 500 && failures == 0; ++attempts) {
    auto r = c.call("wo.create", {{"title", "while full " + std::to_string(attempts)}});
    if (r.contains("result")) {
      acked.push_back(r["result"]["id"]);
    } else {
      failure = r;
      ++failures;
    }
  }
  INFO(failure.dump());
  REQUIRE(failures == 1);
  CHECK(error_code(failure) == -32005);
  auto h = c.call("health")["result"];
  INFO(h.dump());
  CHECK(h["status"] == "degraded");
  CHECK(h["services"]["db"] == "degraded");
  CHECK(contains(h.value("db_error", ""), "full"));
  CHECK(root.co({"health"}).exit_code == 1);
  CHECK(c.call("ping")["result"]["pong"] == true);  // the daemon lives and answers
  CHECK(c.call("health")["result"]["status"] == "degraded");  // still: the probe write fails too

  // Space again: health sees it (a probe write), and writes work.
  REQUIRE(::unlink(filler.c_str()) == 0);
  CHECK(c.call("health")["result"]["status"] == "ok");
  auto r = c.call("wo.create", {{"title", "after full"}});
  REQUIRE(r.contains("result"));
  acked.push_back(r["result"]["id"]);

  // Nothing acknowledged is lost, across a restart too, and the feed has every event.
  root.kill_daemon();
  root.start();
  RawClient again(root.socket_path());
  auto list = again.call("wo.list", {{"limit", 1000}})["result"];
  std::set<std::string> present;
  for (const auto& w : list["work_orders"]) present.insert(w["id"].get<std::string>());
  for (const auto& id : acked) CHECK(present.count(id) == 1);
  CHECK(feed_event_ids(root) == db_event_ids(root));
  figure(std::to_string(acked.size()) + " writes acknowledged, " + std::to_string(attempts) +
         " attempted on the full disk before the first -32005; recovered on the first health probe");
  root.stop();
}

// C ----------------------------------------------------------------------------------------
TEST_CASE("a feed cut short by a crash is completed at the next start, in id order", "[hostile]") {
  Running d;
  RawClient c(d.root.socket_path());
  for (int i = 0; i < 30; ++i) REQUIRE(c.call("wo.create", {{"title", "feed " + std::to_string(i)}}).contains("result"));
  c.close();
  d.root.kill_daemon();
  // As if the crash came after the last commits but before their feed lines, one of them
  // half written.
  auto lines = lines_of(read_file(d.root.feed_file()));
  REQUIRE(lines.size() > 12);
  std::string cut;
  for (std::size_t i = 0; i + 10 < lines.size(); ++i) cut += lines[i] + "\n";
  cut += lines[lines.size() - 10].substr(0, 40);
  write_file(d.root.feed_file(), cut);
  REQUIRE(feed_event_ids(d.root).size() + 10 == db_event_ids(d.root).size());

  d.root.start();
  auto ids = feed_event_ids(d.root);
  auto db = db_event_ids(d.root);
  CHECK(ids == db);
  CHECK(std::set<long long>(ids.begin(), ids.end()).size() == ids.size());  // nothing twice
  // The torn line ended at its own newline, so every later line parses alone.
  auto all = lines_of(read_file(d.root.feed_file()));
  CHECK(all[lines.size() - 10] == lines[lines.size() - 10].substr(0, 40));
  CHECK(contains(read_file(d.root.log_file()), "appended 10 event(s) it lacked"));
  d.root.stop();
}

TEST_CASE("kill -9 rounds under write load: nothing acknowledged lost, agents re-adopted once, feed complete",
          "[hostile]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f1");
  const pid_t sup = c.running_pid("f1/supervisor");
  const pid_t qa = c.running_pid("f1/qa");

  std::mutex m;
  std::vector<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  // Four writers at once: their creates share syncs (group commit), so the kills also land
  // between a group's COMMITs and its sync.
  auto write_loop = [&](int writer_id) {
    RawClient w;
    long n = 0;
    while (!stop) {
      if (!w.is_open() && !w.connect(c.root.socket_path())) {
        std::this_thread::sleep_for(5ms);  // the daemon is restarting
        continue;
      }
      const std::string title = "load " + std::to_string(writer_id) + "." + std::to_string(n++);
      if (w.send(request_line(n, "wo.create", {{"title", title}}), 1s) == 0) {
        w.close();
        continue;
      }
      auto line = w.read_line(2s);
      if (!line) {
        w.close();
        continue;
      }
      auto r = parse_json(*line);
      if (!r.is_discarded() && r.contains("result")) {
        std::lock_guard<std::mutex> lock(m);
        acked.push_back(r["result"]["id"]);
      } else {
        ++errors;  // -32005 while the database is busy with a restart is fine; no answer is not
      }
    }
  };
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i) writers.emplace_back(write_loop, i);
  // A failed REQUIRE must not leave the threads joinable (std::terminate hides the failure).
  struct JoinAll {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinAll() {
      stop = true;
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } join_all{stop, writers};
  auto acked_count = [&] {
    std::lock_guard<std::mutex> lock(m);
    return acked.size();
  };
  const int kRounds = 8;
  std::mt19937 rng(42);
  auto t0 = Clock::now();
  for (int round = 0; round < kRounds; ++round) {
    const std::size_t at_start = acked_count();
    // Let the load run, a random amount, then pull the plug mid-stream.
    const std::size_t more = 10 + rng() % 60;
    REQUIRE(eventually([&] { return acked_count() >= at_start + more; }, 20s));
    if (round == kRounds - 1) {
      // The creates were grouped: fewer syncs than transactions.
      RawClient h(c.root.socket_path());
      const auto writes = h.call("health")["result"]["db_writes"];
      INFO(writes.dump());
      CHECK(writes["syncs"].get<long>() > 0);
      CHECK(writes["transactions"].get<long>() > writes["syncs"].get<long>());
      // Checkpoints run beside the writes (and are killed with the daemon, too).
      CHECK(writes.contains("checkpoints"));
      CHECK(writes["checkpoint_failures"].get<long>() == 0);
    }
    c.root.kill_daemon();
    c.start();
  }
  REQUIRE(eventually([&] { return acked_count() > 0; }));
  stop = true;
  for (auto& w : writers) w.join();  // before reading `acked`

  // Every acknowledged create is in the database.
  std::set<std::string> created;
  for (const auto& l : lines_of(sql(c.root, "SELECT subject FROM events WHERE event_type = 'wo.created'")))
    if (!l.empty()) created.insert(l);
  std::size_t missing = 0;
  for (const auto& id : acked) missing += created.count(id) == 0;
  CHECK(missing == 0);
  // The feed is the database's events exactly, in order, none twice.
  auto feed = feed_event_ids(c.root);
  auto db = db_event_ids(c.root);
  CHECK(feed == db);
  // The agents were re-adopted every round: same processes, each exactly once.
  CHECK(c.agent("f1/supervisor")["pid"] == sup);
  CHECK(c.agent("f1/qa")["pid"] == qa);
  for (const std::string id : {"f1/supervisor", "f1/qa"}) {
    std::vector<pid_t> leaders;
    for (pid_t p : processes_with_env({"AGENT_ID=" + id, "COMPANY_ROOT=" + c.root.dir()}))
      if (auto st = proc_stat(p); st && st->session == p) leaders.push_back(p);
    INFO(id);
    CHECK(leaders.size() == 1);
  }
  CHECK(c.events("agent.adopted").size() >= 2 * kRounds);
  CHECK(c.events("agent.lost").empty());
  int repaired = 0;
  for (const auto& line : lines_of(read_file(c.root.log_file())))
    if (contains(line, "event(s) it lacked")) ++repaired;
  figure(std::to_string(kRounds) + " kill -9 rounds in " + std::to_string(ms_since(t0) / 1000) + " s: " +
         std::to_string(acked.size()) + " creates acknowledged, " + std::to_string(missing) + " lost, " +
         std::to_string(errors.load()) + " error answers; " + std::to_string(db.size()) + " events, " + (feed == db ? "feed equal" : "feed DIFFERS") + "; " +
         std::to_string(repaired) + " restarts repaired the feed");
  c.root.stop();
}

TEST_CASE("an answer larger than the socket buffer reaches a peer that half-closed after asking", "[hostile]") {
  // Found by fuzz_dispatch: close_after_flush closed the socket while a write was in flight,
  // so `echo … | socat` lost the end of any answer past the send buffer (~200 KB).
  Running d;
  RawClient op(d.root.socket_path());
  const std::string description(60 * 1024, 'd');
  for (int i = 0; i < 5; ++i)
    REQUIRE(op.call("wo.create", {{"title", "big " + std::to_string(i)}, {"description", description}})
                .contains("result"));
  for (int round = 0; round < 5; ++round) {
    RawClient c(d.root.socket_path());
    REQUIRE(c.send(request_line(1, "events.query", {{"type", "wo.*"}, {"limit", 100}})) > 0);
    REQUIRE(::shutdown(c.fd(), SHUT_WR) == 0);
    auto line = c.read_line(5s);
    REQUIRE(line.has_value());
    INFO("round " << round << ": " << line->size() << " bytes");
    auto j = parse_json(*line);
    REQUIRE(!j.is_discarded());
    CHECK(j["result"]["events"].size() == 5);
    CHECK(line->size() > 300000);
    CHECK(c.wait_eof(5s));
  }
  d.root.stop();
}
