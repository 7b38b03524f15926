// Spawning, watching and stopping real processes (daemon/agents/process.hpp).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon/agents/process.hpp"
#include "tests/catch.hpp"
#include "tests/unit/helpers.hpp"
#include "tests/unit/temp_dir.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using vermas::proc::ChildProcess;
using vermas::proc::ExitInfo;
using vermas::proc::PidWatcher;
using vermas::proc::ProcessIdentity;
using vermas::proc::SpawnSpec;

extern char** environ;

namespace {

using vermas::test::TempDir;
using vermas::test::run_until;
using vermas::test::slurp;

// Spawns and waits for the exit; the child's output goes to `log`.
ExitInfo run_to_exit(asio::io_context& io, SpawnSpec spec) {
  auto r = ChildProcess::spawn(io.get_executor(), spec);
  INFO(r.message);
  REQUIRE(r);
  std::optional<ExitInfo> exit;
  r.child->on_exit([&](const ExitInfo& e) { exit = e; });
  REQUIRE(run_until(io, [&] { return exit.has_value(); }));
  return *exit;
}

// A process is gone for good: no such pid, or a zombie nobody has reaped yet.
bool gone(pid_t pid) { return !vermas::proc::identify(pid).has_value(); }

pid_t read_pid_file(asio::io_context& io, const fs::path& file) {
  pid_t pid = 0;
  run_until(io, [&] {
    std::string s = slurp(file);
    if (s.empty() || s.back() != '\n') return false;
    pid = static_cast<pid_t>(std::stol(s));
    return true;
  });
  return pid;
}

pid_t g_test_pid = 0;
std::string g_atexit_marker;
void atexit_marker() {
  // Runs at the test binary's own exit too; only a forked child may write.
  if (::getpid() != g_test_pid && !g_atexit_marker.empty()) {
    std::FILE* f = std::fopen(g_atexit_marker.c_str(), "a");
    if (f) {
      std::fprintf(f, "atexit ran in pid %d\n", ::getpid());
      std::fclose(f);
    }
  }
}

}  // namespace

TEST_CASE("process: exit code, output log, env and cwd", "[process]") {
  TempDir dir;
  asio::io_context io;
  auto log = dir.path / "out.log";

  SECTION("exit code and output") {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "echo hi; echo err >&2; exit 3"};
    spec.output_log = log;
    auto exit = run_to_exit(io, spec);
    CHECK_FALSE(exit.signaled);
    CHECK(exit.code == 3);
    CHECK(exit.status_known);
    CHECK_FALSE(exit.success());
    CHECK(exit.describe() == "exit 3");
    CHECK(slurp(log) == "hi\nerr\n");
    // Appended, never truncated.
    spec.argv = {"/bin/sh", "-c", "echo again"};
    CHECK(run_to_exit(io, spec).success());
    CHECK(slurp(log) == "hi\nerr\nagain\n");
  }

  SECTION("environment added, inherited, and argv[0] looked up in PATH") {
    ::setenv("VERMAS_TEST_INHERITED", "yes", 1);
    SpawnSpec spec;
    spec.argv = {"sh", "-c", "echo \"$AGENT_ID|$FACTORY|$VERMAS_TEST_INHERITED|$0\""};
    spec.env_add = {{"AGENT_ID", "worker-x-slot0"}, {"FACTORY", "x"}};
    spec.output_log = log;
    CHECK(run_to_exit(io, spec).success());
    CHECK(slurp(log) == "worker-x-slot0|x|yes|sh\n");
    ::unsetenv("VERMAS_TEST_INHERITED");
  }

  SECTION("inherit_env = false gives exactly env_add") {
    ::setenv("VERMAS_TEST_INHERITED", "yes", 1);
    SpawnSpec spec;
    spec.argv = {"env"};  // found through the default PATH
    spec.inherit_env = false;
    spec.env_add = {{"AGENT_ID", "a1"}, {"COMPANY_ROOT", "/r"}};
    spec.output_log = log;
    CHECK(run_to_exit(io, spec).success());
    CHECK(slurp(log) == "AGENT_ID=a1\nCOMPANY_ROOT=/r\n");
    ::unsetenv("VERMAS_TEST_INHERITED");
  }

  SECTION("cwd") {
    fs::create_directories(dir.path / "work tree");
    SpawnSpec spec;
    spec.argv = {"/bin/pwd"};
    spec.cwd = dir.path / "work tree";
    spec.output_log = log;
    CHECK(run_to_exit(io, spec).success());
    CHECK(slurp(log) == (dir.path / "work tree").string() + "\n");
  }

  SECTION("stdin is /dev/null and signals are reset to default") {
    // The test binary ignores SIGPIPE like the daemon; the child must not inherit that.
    auto old = std::signal(SIGPIPE, SIG_IGN);
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c",
                 "cat; readlink /proc/self/fd/0; grep -E '^Sig(Ign|Blk)' /proc/self/status"};
    spec.output_log = log;
    CHECK(run_to_exit(io, spec).success());
    std::signal(SIGPIPE, old);
    CHECK(slurp(log) == "/dev/null\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  }

  SECTION("no output log: /dev/null") {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "test \"$(readlink /proc/self/fd/2)\" = /dev/null"};
    CHECK(run_to_exit(io, spec).success());
  }
}

TEST_CASE("process: failed starts are errors, and the child runs no atexit handler", "[process]") {
  TempDir dir;
  asio::io_context io;
  g_test_pid = ::getpid();
  g_atexit_marker = (dir.path / "atexit").string();
  static bool registered = false;
  if (!registered) {
    std::atexit(atexit_marker);
    registered = true;
  }

  // Buffered output around the spawns must come out exactly once.
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  std::FILE* out = ::fdopen(p[1], "w");
  REQUIRE(out);
  std::setvbuf(out, nullptr, _IOFBF, 4096);
  std::fputs("A", out);

  SpawnSpec spec;
  spec.output_log = dir.path / "log";

  SECTION("absolute path that does not exist: the exec fails in the child") {
    spec.argv = {"/nonexistent/vermas-agent", "--flag"};
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    CHECK_FALSE(r);
    CHECK(r.error == std::error_code(ENOENT, std::system_category()));
    CHECK(r.message == "execve /nonexistent/vermas-agent: No such file or directory");
  }
  SECTION("bare name not in PATH") {
    spec.argv = {"vermas-no-such-agent"};
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    CHECK_FALSE(r);
    CHECK(r.error.value() == ENOENT);
    CHECK(r.message.find("vermas-no-such-agent: not found in PATH") == 0);
  }
  SECTION("not executable") {
    std::ofstream(dir.path / "script") << "#!/bin/sh\n";
    spec.argv = {(dir.path / "script").string()};
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    CHECK_FALSE(r);
    CHECK(r.error.value() == EACCES);
  }
  SECTION("missing cwd") {
    spec.argv = {"/bin/true"};
    spec.cwd = dir.path / "missing";
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    CHECK_FALSE(r);
    CHECK(r.error.value() == ENOENT);
    CHECK(r.message.find("chdir ") == 0);
  }
  SECTION("log directory missing") {
    spec.argv = {"/bin/true"};
    spec.output_log = dir.path / "no" / "log";
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    CHECK_FALSE(r);
    CHECK(r.error.value() == ENOENT);
    CHECK(r.message.find("open log ") == 0);
  }
  SECTION("empty argv") {
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    CHECK_FALSE(r);
    CHECK(r.error.value() == EINVAL);
  }

  std::fputs("B", out);
  std::fclose(out);
  char buf[16] = {};
  auto n = ::read(p[0], buf, sizeof buf);
  ::close(p[0]);
  CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "AB");
  CHECK(slurp(g_atexit_marker).empty());
  // No failed child is left behind unreaped.
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
  g_atexit_marker.clear();
}

TEST_CASE("process: no fd leaks into the child", "[process]") {
  TempDir dir;
  asio::io_context io;
  // Without CLOEXEC, as Asio sockets are.
  int leaky_file = ::open("/dev/null", O_RDONLY);
  int leaky_sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(leaky_file >= 0);
  REQUIRE(leaky_sock >= 0);
  REQUIRE(::dup2(leaky_sock, 200) == 200);

  SpawnSpec spec;
  spec.argv = {"/bin/ls", "/proc/self/fd"};
  spec.output_log = dir.path / "fds";
  CHECK(run_to_exit(io, spec).success());
  std::set<std::string> fds;
  std::istringstream in(slurp(spec.output_log));
  for (std::string line; std::getline(in, line);) fds.insert(line);
  INFO(slurp(spec.output_log));
  // 0, 1, 2 and the directory ls itself has open.
  CHECK(fds.size() == 4);
  CHECK(fds.count("0") == 1);
  CHECK(fds.count("1") == 1);
  CHECK(fds.count("2") == 1);
  CHECK(fds.count("3") == 1);
  CHECK(fds.count("200") == 0);
  ::close(200);
  ::close(leaky_sock);
  ::close(leaky_file);
}

TEST_CASE("process: own session and process group, kill -9 is a signal", "[process]") {
  asio::io_context io;
  SpawnSpec spec;
  spec.argv = {"/bin/sleep", "100"};
  auto r = ChildProcess::spawn(io.get_executor(), spec);
  REQUIRE(r);
  ChildProcess child = *r.child;
  pid_t pid = child.pid();
  CHECK(pid > 0);
  CHECK(::getpgid(pid) == pid);
  CHECK(::getsid(pid) == pid);
  CHECK(child.identity().start_time == vermas::proc::proc_start_time(pid).value_or(1));
  CHECK(vermas::proc::identity_matches(child.identity()));
  CHECK_FALSE(child.exited());

  std::optional<ExitInfo> exit;
  child.on_exit([&](const ExitInfo& e) { exit = e; });
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(run_until(io, [&] { return exit.has_value(); }));
  CHECK(exit->signaled);
  CHECK(exit->code == 9);
  CHECK(exit->describe() == "signal 9 (SIGKILL)");
  CHECK(child.exited());
  CHECK(child.exit_info()->code == 9);
  // Reaped, and no longer signalled.
  CHECK_FALSE(vermas::proc::identity_matches(child.identity()));
  CHECK_FALSE(child.signal(SIGTERM));
  CHECK_FALSE(child.signal_group(SIGTERM));

  // A callback registered after the exit still runs (posted).
  bool late = false;
  child.on_exit([&](const ExitInfo& e) { late = e.code == 9; });
  CHECK_FALSE(late);
  REQUIRE(run_until(io, [&] { return late; }));
}

TEST_CASE("process: exit(9) is not SIGKILL, a crash reports its signal", "[process]") {
  asio::io_context io;
  SpawnSpec spec;
  spec.argv = {"/bin/sh", "-c", "exit 9"};
  auto e = run_to_exit(io, spec);
  CHECK_FALSE(e.signaled);
  CHECK(e.code == 9);
  spec.argv = {"/bin/sh", "-c", "kill -SEGV $$"};
  e = run_to_exit(io, spec);
  CHECK(e.signaled);
  CHECK(e.code == SIGSEGV);
  CHECK(e.describe().find("signal 11 (SIGSEGV") == 0);
}

TEST_CASE("process: stop takes the whole group", "[process]") {
  TempDir dir;
  asio::io_context io;
  auto pid_file = dir.path / "grandchild";

  SECTION("SIGTERM reaches a grandchild") {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "sleep 100 & echo $! > " + pid_file.string() + "; wait"};
    spec.kill_group_on_exit = false;  // the stop alone must get the grandchild
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    REQUIRE(r);
    pid_t grandchild = read_pid_file(io, pid_file);
    REQUIRE(grandchild > 0);
    CHECK(::getpgid(grandchild) == r.child->pid());
    std::optional<ExitInfo> exit;
    auto t0 = std::chrono::steady_clock::now();
    r.child->stop(5000ms, [&](const ExitInfo& e) { exit = e; });
    REQUIRE(run_until(io, [&] { return exit.has_value(); }));
    CHECK(std::chrono::steady_clock::now() - t0 < 2000ms);  // not the SIGKILL deadline
    CHECK(exit->signaled);
    CHECK(exit->code == SIGTERM);
    CHECK(run_until(io, [&] { return gone(grandchild); }, 2000ms));
  }

  SECTION("a child ignoring SIGTERM is SIGKILLed after the grace period") {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "trap '' TERM; echo ready > " + pid_file.string() + "; sleep 100"};
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    REQUIRE(r);
    REQUIRE(run_until(io, [&] { return slurp(pid_file) == "ready\n"; }));
    std::optional<ExitInfo> exit;
    auto t0 = std::chrono::steady_clock::now();
    r.child->stop(200ms, [&](const ExitInfo& e) { exit = e; });
    REQUIRE(run_until(io, [&] { return exit.has_value(); }));
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 200ms);
    CHECK(took < 1500ms);
    CHECK(exit->signaled);
    CHECK(exit->code == SIGKILL);
  }

  SECTION("a second stop only shortens the deadline; grace 0 kills at once") {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "trap '' TERM; echo ready > " + pid_file.string() + "; sleep 100"};
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    REQUIRE(r);
    REQUIRE(run_until(io, [&] { return slurp(pid_file) == "ready\n"; }));
    int calls = 0;
    auto t0 = std::chrono::steady_clock::now();
    r.child->stop(60000ms, [&](const ExitInfo&) { ++calls; });
    r.child->stop(0ms, [&](const ExitInfo&) { ++calls; });
    REQUIRE(run_until(io, [&] { return calls == 2; }));
    CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
    CHECK(r.child->exit_info()->code == SIGKILL);
  }

  SECTION("a paused (SIGSTOPped) group still stops on SIGTERM") {
    SpawnSpec spec;
    spec.argv = {"/bin/sleep", "100"};
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    REQUIRE(r);
    REQUIRE(r.child->signal_group(SIGSTOP));
    std::optional<ExitInfo> exit;
    r.child->stop(5000ms, [&](const ExitInfo& e) { exit = e; });
    REQUIRE(run_until(io, [&] { return exit.has_value(); }, 3000ms));
    CHECK(exit->code == SIGTERM);
  }

  SECTION("leftovers of the group are swept when the leader exits") {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "sleep 100 & echo $! > " + pid_file.string()};
    auto exit = run_to_exit(io, spec);
    CHECK(exit.success());
    pid_t grandchild = read_pid_file(io, pid_file);
    REQUIRE(grandchild > 0);
    CHECK(run_until(io, [&] { return gone(grandchild); }, 2000ms));
  }

  SECTION("...unless kill_group_on_exit is off") {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "sleep 100 & echo $! > " + pid_file.string()};
    spec.kill_group_on_exit = false;
    auto exit = run_to_exit(io, spec);
    CHECK(exit.success());
    pid_t grandchild = read_pid_file(io, pid_file);
    REQUIRE(grandchild > 0);
    CHECK_FALSE(gone(grandchild));
    ::kill(grandchild, SIGKILL);
  }
}

TEST_CASE("process: wait() as an awaitable", "[process]") {
  asio::io_context io;
  std::optional<ExitInfo> exit;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        SpawnSpec spec;
        spec.argv = {"/bin/sh", "-c", "exit 7"};
        auto ex = co_await asio::this_coro::executor;
        auto r = ChildProcess::spawn(ex, spec);
        if (!r) co_return;
        exit = co_await r.child->wait();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  REQUIRE(run_until(io, [&] { return exit.has_value(); }));
  CHECK(exit->code == 7);
}

TEST_CASE("process: a child outlives its handles and the io_context without being killed",
          "[process]") {
  pid_t pid = 0;
  {
    asio::io_context io;
    SpawnSpec spec;
    spec.argv = {"/bin/sleep", "100"};
    auto r = ChildProcess::spawn(io.get_executor(), spec);
    REQUIRE(r);
    pid = r.child->pid();
    bool called = false;
    r.child->on_exit([&](const ExitInfo&) { called = true; });
    io.run_for(1ms);
    CHECK_FALSE(called);
  }  // io_context destroyed with the wait pending: no SIGKILL, no blocking waitpid
  CHECK(vermas::proc::identify(pid).has_value());
  ::kill(pid, SIGKILL);
  CHECK(::waitpid(pid, nullptr, 0) == pid);
}

TEST_CASE("process: PidWatcher on a process that is not our child", "[process]") {
  asio::io_context io;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  pid_t pid = 0;
  char arg0[] = "sleep", arg1[] = "100";
  char* argv[] = {arg0, arg1, nullptr};
  REQUIRE(::posix_spawn(&pid, "/bin/sleep", nullptr, &attr, argv, environ) == 0);
  posix_spawnattr_destroy(&attr);
  auto id = vermas::proc::identify(pid);
  REQUIRE(id);

  SECTION("its exit is noticed, status unknown") {
    auto w = PidWatcher::watch(io.get_executor(), *id);
    std::optional<ExitInfo> exit;
    w.on_exit([&](const ExitInfo& e) { exit = e; });
    io.run_for(1ms);
    CHECK_FALSE(exit);
    ::kill(pid, SIGKILL);
    REQUIRE(run_until(io, [&] { return exit.has_value(); }));
    CHECK_FALSE(exit->status_known);
    CHECK_FALSE(exit->lost);
    CHECK(exit->describe() == "exited (not our child, status unknown)");
  }

  SECTION("stop signals its group") {
    auto w = PidWatcher::watch(io.get_executor(), *id);
    std::optional<ExitInfo> exit;
    w.stop(5000ms, [&](const ExitInfo& e) { exit = e; });
    REQUIRE(run_until(io, [&] { return exit.has_value(); }));
    CHECK_FALSE(exit->lost);
  }

  SECTION("identity mismatch is reported as lost at once") {
    ProcessIdentity wrong = *id;
    wrong.start_time += 1;
    auto w = PidWatcher::watch(io.get_executor(), wrong);
    std::optional<ExitInfo> exit;
    w.on_exit([&](const ExitInfo& e) { exit = e; });
    REQUIRE(run_until(io, [&] { return exit.has_value(); }, 1000ms));
    CHECK(exit->lost);
    CHECK(exit->describe() == "lost (pid " + std::to_string(pid) + " was reused)");
    // Never signalled: it is not the recorded process.
    CHECK_FALSE(w.signal(SIGKILL));
    CHECK_FALSE(w.signal_group(SIGKILL));
    CHECK(vermas::proc::identity_matches(*id));
    ::kill(pid, SIGKILL);
  }

  SECTION("a pid that does not exist is lost") {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    auto w = PidWatcher::watch(io.get_executor(), *id);
    std::optional<ExitInfo> exit;
    w.on_exit([&](const ExitInfo& e) { exit = e; });
    REQUIRE(run_until(io, [&] { return exit.has_value(); }, 1000ms));
    CHECK(exit->lost);
  }

  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST_CASE("process: identities", "[process]") {
  asio::io_context io;
  auto self = vermas::proc::proc_start_time(::getpid());
  REQUIRE(self);
  CHECK(vermas::proc::proc_start_time(::getpid()) == self);
  CHECK(vermas::proc::identity_matches({::getpid(), *self}));
  CHECK_FALSE(vermas::proc::identity_matches({::getpid(), *self + 1}));
  CHECK_FALSE(vermas::proc::proc_start_time(0));
  CHECK_FALSE(vermas::proc::proc_start_time(-1));
  CHECK(vermas::proc::boot_id().size() == 36);

  SpawnSpec spec;
  spec.argv = {"/bin/sleep", "100"};
  auto r = ChildProcess::spawn(io.get_executor(), spec);
  REQUIRE(r);
  CHECK(r.child->identity().start_time >= *self);
  CHECK(r.child->identity() != ProcessIdentity{::getpid(), *self});
  // pid 1 started before us: different start times are told apart.
  auto init = vermas::proc::proc_start_time(1);
  if (init) CHECK(*init <= *self);
  r.child->stop(1000ms);
  REQUIRE(run_until(io, [&] { return r.child->exited(); }));
}

TEST_CASE("process: describe", "[process]") {
  CHECK(ExitInfo::from_wait_status(0).describe() == "exit 0");
  CHECK(ExitInfo::from_wait_status(0).success());
  CHECK(ExitInfo::from_wait_status(3 << 8).describe() == "exit 3");
  CHECK(ExitInfo::from_wait_status(SIGTERM).describe() == "signal 15 (SIGTERM)");
  CHECK(ExitInfo::from_wait_status(SIGABRT | 0x80).describe() == "signal 6 (SIGABRT, core dumped)");
}
