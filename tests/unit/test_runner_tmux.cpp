// The tmux runner (daemon/agents/runner_tmux.cpp) against a real tmux server: a private one per
// test case (TMUX_TMPDIR in a temporary directory), killed at the end.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "daemon/agents/runner.hpp"
#include "tests/catch.hpp"
#include "tests/unit/helpers.hpp"
#include "tests/unit/temp_dir.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using vermas::LaunchRequest;
using vermas::LaunchResult;
using vermas::RecordedProcess;
using vermas::proc::ExitInfo;

extern char** environ;

namespace {

using vermas::test::TempDir;
using vermas::test::run_until;
using vermas::test::slurp;

bool tmux_installed() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((fs::path(dir) / "tmux").c_str(), X_OK) == 0) return true;
  return false;
}

// Runs tmux synchronously for the test's own checks; output is stdout + stderr.
struct TmuxOut {
  int status = -1;
  std::string output;
};
TmuxOut tmux(std::vector<std::string> args, const fs::path& scratch) {
  args.insert(args.begin(), "tmux");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  fs::path out = scratch / "tmux-out.txt";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  TmuxOut r;
  if (posix_spawnp(&pid, "tmux", &fa, nullptr, argv.data(), environ) == 0) ::waitpid(pid, &r.status, 0);
  posix_spawn_file_actions_destroy(&fa);
  r.output = slurp(out);
  while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
  return r;
}

// A private tmux server for one test case; killed (with its panes) at the end.
struct PrivateTmux {
  TempDir dir;
  std::optional<std::string> saved_tmpdir, saved_tmux;
  PrivateTmux() {
    if (const char* t = std::getenv("TMUX_TMPDIR")) saved_tmpdir = t;
    if (const char* t = std::getenv("TMUX")) saved_tmux = t;
    ::setenv("TMUX_TMPDIR", dir.path.c_str(), 1);
    ::unsetenv("TMUX");  // the test's own checks must not talk to an enclosing server
  }
  ~PrivateTmux() {
    tmux({"kill-server"}, dir.path);
    restore("TMUX_TMPDIR", saved_tmpdir);
    restore("TMUX", saved_tmux);
  }
  static void restore(const char* name, const std::optional<std::string>& value) {
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  TmuxOut operator()(std::vector<std::string> args) { return tmux(std::move(args), dir.path); }
  bool has_session(const std::string& name) { return (*this)({"has-session", "-t", "=" + name}).status == 0; }
};

// Runs one awaitable to completion on `io`.
template <class T>
T await(asio::io_context& io, asio::awaitable<T> a, std::chrono::milliseconds timeout = 10000ms) {
  std::optional<T> out;
  std::exception_ptr err;
  auto done = [&](std::exception_ptr e, T v) {
    if (e)
      err = e;
    else
      out = std::move(v);
  };
  asio::co_spawn(io, std::move(a), done);
  bool finished = run_until(io, [&] { return out.has_value() || err; }, timeout);
  REQUIRE(finished);
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}

struct Fixture {
  PrivateTmux tmux;
  fs::path work, logs;
  std::unique_ptr<vermas::Runner> runner = vermas::make_tmux_runner();
  Fixture() {
    work = tmux.dir.path / "work";
    logs = tmux.dir.path / "logs";
    fs::create_directories(work);
    fs::create_directories(logs);
  }
  LaunchRequest request(const std::string& session, std::vector<std::string> argv) {
    LaunchRequest r;
    r.agent_id = "test/" + session;
    r.session = session;
    r.argv = std::move(argv);
    r.cwd = work;
    fs::create_directories(logs / session);
    r.output_log = logs / session / "output.log";
    return r;
  }
};

RecordedProcess record(const LaunchRequest& req, const vermas::Launched& l) {
  return RecordedProcess{req.agent_id, req.session, l.identity, l.pane};
}

// Waits for the watched process's exit as the supervisor would, then asks the runner.
ExitInfo exit_of(asio::io_context& io, vermas::Runner& runner, const RecordedProcess& rec,
                 vermas::proc::WatchedProcess process) {
  std::optional<ExitInfo> seen;
  process.on_exit([&](const ExitInfo& e) { seen = e; });
  REQUIRE(run_until(io, [&] { return seen.has_value(); }));
  return await(io, runner.after_exit(rec, *seen));
}

#define SKIP_WITHOUT_TMUX()                            \
  do {                                                 \
    if (!tmux_installed()) {                           \
      WARN("tmux is not installed: test skipped");     \
      SUCCEED();                                       \
      return;                                          \
    }                                                  \
  } while (0)

}  // namespace

TEST_CASE("tmux runner: launch, environment, output log, pane pid, SIGKILL is signal 9", "[tmux]") {
  SKIP_WITHOUT_TMUX();
  Fixture f;
  asio::io_context io;
  auto req = f.request("worker-test-slot0", {"/bin/sh", "-c", "echo hello-$AGENT_X in $PWD; exec sleep 30"});
  req.env["AGENT_X"] = "42;#{host}";  // neither a tmux separator nor a format

  // As if the daemon ran inside another tmux session: the runner still uses TMUX_TMPDIR's.
  ::setenv("TMUX", "/nonexistent/tmux-socket,1,0", 1);
  LaunchResult r = await(io, f.runner->launch(req));
  ::unsetenv("TMUX");
  INFO(r.error);
  REQUIRE(r.launched);
  const auto& l = *r.launched;
  CHECK(l.pane.rfind('%', 0) == 0);
  CHECK(f.tmux.has_session("worker-test-slot0"));
  auto shown = f.tmux({"display-message", "-p", "-t", l.pane, "#{session_name} #{pane_pid}"});
  CHECK(shown.output == "worker-test-slot0 " + std::to_string(l.identity.pid));
  CHECK(l.identity.pid == l.process.pid());
  CHECK(vermas::proc::identify(l.identity.pid) == std::optional(l.identity));

  std::string expected = "hello-42;#{host} in " + f.work.string();
  bool logged = run_until(io, [&] { return slurp(req.output_log).find(expected) != std::string::npos; });
  INFO(slurp(req.output_log));
  CHECK(logged);

  REQUIRE(::kill(l.identity.pid, SIGKILL) == 0);
  ExitInfo e = exit_of(io, *f.runner, record(req, l), l.process);
  INFO(e.describe());
  CHECK(e.status_known);
  CHECK_FALSE(e.lost);
  CHECK(e.signaled);
  CHECK(e.code == SIGKILL);
  CHECK_FALSE(f.tmux.has_session("worker-test-slot0"));
}

TEST_CASE("tmux runner: exit codes are read from the dead pane", "[tmux]") {
  SKIP_WITHOUT_TMUX();
  Fixture f;
  asio::io_context io;

  SECTION("exit 3 after a while") {
    fs::path fifo = f.tmux.dir.path / "go";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto req = f.request("qa-test", {"/bin/sh", "-c", "read x < \"$0\"; exit 3", fifo.string()});
    LaunchResult r = await(io, f.runner->launch(req));
    INFO(r.error);
    REQUIRE(r.launched);
    // Opening for writing without blocking succeeds once the agent has it open to read.
    int fd = -1;
    REQUIRE(run_until(io, [&] { return (fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK)) >= 0; }));
    REQUIRE(::write(fd, "go\n", 3) == 3);
    ::close(fd);
    ExitInfo e = exit_of(io, *f.runner, record(req, *r.launched), r.launched->process);
    INFO(e.describe());
    CHECK(e.status_known);
    CHECK_FALSE(e.signaled);
    CHECK(e.code == 3);
    CHECK_FALSE(f.tmux.has_session("qa-test"));
  }

  SECTION("a command that exits at once keeps its status and output") {
    auto req = f.request("supervisor-test", {"/bin/sh", "-c", "echo bye; exit 7"});
    LaunchResult r = await(io, f.runner->launch(req));
    INFO(r.error);
    REQUIRE(r.launched);
    ExitInfo e = exit_of(io, *f.runner, record(req, *r.launched), r.launched->process);
    INFO(e.describe());
    CHECK(e.status_known);
    CHECK_FALSE(e.lost);
    CHECK(e.code == 7);
    // tmux's pipe-pane copies the output on its own: it may land just after the exit.
    CHECK(run_until(io, [&] { return slurp(req.output_log).find("bye") != std::string::npos; }));
    CHECK_FALSE(f.tmux.has_session("supervisor-test"));
  }
}

TEST_CASE("tmux runner: a one-element argv is exec'd, never run by a shell", "[tmux]") {
  SKIP_WITHOUT_TMUX();
  Fixture f;
  asio::io_context io;
  // A shell would split this path at the spaces, stop at the quote and expand $HOME.
  fs::path dir = f.tmux.dir.path / "it's a dir; $HOME";
  fs::create_directories(dir);
  fs::path script = dir / "my agent";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\necho \"started with $# args as $0\"\nsleep 30\n";
  }
  fs::permissions(script, fs::perms::owner_all);

  auto req = f.request("worker-test-slot1", {script.string()});
  LaunchResult r = await(io, f.runner->launch(req));
  INFO(r.error);
  REQUIRE(r.launched);
  std::string expected = "started with 0 args as " + script.string();
  bool logged = run_until(io, [&] { return slurp(req.output_log).find(expected) != std::string::npos; });
  INFO(slurp(req.output_log));
  CHECK(logged);
  // The pane's process is the script itself (env exec'd it): the pid the runner watches.
  std::string cmdline = slurp("/proc/" + std::to_string(r.launched->identity.pid) + "/cmdline");
  CHECK(cmdline == "/bin/sh" + std::string(1, '\0') + script.string() + std::string(1, '\0'));
}

TEST_CASE("tmux runner: refused launches", "[tmux]") {
  SKIP_WITHOUT_TMUX();
  Fixture f;
  asio::io_context io;

  SECTION("a session of that name already exists") {
    auto req = f.request("worker-test-slot2", {"/bin/sleep", "30"});
    LaunchResult first = await(io, f.runner->launch(req));
    INFO(first.error);
    REQUIRE(first.launched);
    LaunchResult second = await(io, f.runner->launch(req));
    CHECK_FALSE(second.launched);
    CHECK(second.error.find("already exists") != std::string::npos);
    // The running one is untouched.
    CHECK(vermas::proc::identity_matches(first.launched->identity));
    auto opt = f.tmux({"show-options", "-p", "-v", "-t", first.launched->pane, "remain-on-exit"});
    CHECK(opt.output == "on");
  }

  SECTION("what tmux would rename, expand or silently change") {
    for (std::string name : {"a.b", "a:b", "#{host}", "=x", "", "a b"}) {
      auto req = f.request("ok", {"/bin/sleep", "30"});
      req.session = name;
      LaunchResult r = await(io, f.runner->launch(req));
      INFO(name);
      CHECK_FALSE(r.launched);
      CHECK(r.error.find("invalid tmux session name") != std::string::npos);
    }
    auto req = f.request("ok", {"/bin/sleep", "30"});
    req.cwd = f.work / "missing";
    LaunchResult r = await(io, f.runner->launch(req));
    CHECK_FALSE(r.launched);
    CHECK(r.error.find("not a directory") != std::string::npos);

    req = f.request("ok", {"/no/such/agent", "--flag"});
    r = await(io, f.runner->launch(req));
    CHECK_FALSE(r.launched);
    CHECK(r.error.find("No such file or directory") != std::string::npos);

    req = f.request("ok", {"/opt/a=b/agent"});
    r = await(io, f.runner->launch(req));
    CHECK_FALSE(r.launched);
    CHECK(r.error.find("'='") != std::string::npos);
    CHECK_FALSE(f.tmux.has_session("ok"));
  }

  SECTION("tmux is not installed") {
    std::string saved_path = std::getenv("PATH") ? std::getenv("PATH") : "";
    fs::path empty = f.tmux.dir.path / "empty-bin";
    fs::create_directories(empty);
    ::setenv("PATH", empty.c_str(), 1);
    auto req = f.request("worker-test-slot3", {"/bin/sleep", "30"});
    LaunchResult r = await(io, f.runner->launch(req));
    ::setenv("PATH", saved_path.c_str(), 1);
    CHECK_FALSE(r.launched);
    INFO(r.error);
    CHECK(r.error.find("tmux is not installed") != std::string::npos);
  }
}

TEST_CASE("tmux runner: adopt checks the pane, session and pid", "[tmux]") {
  SKIP_WITHOUT_TMUX();
  Fixture f;
  asio::io_context io;
  auto req = f.request("worker-test-slot4", {"/bin/sleep", "30"});
  LaunchResult r = await(io, f.runner->launch(req));
  INFO(r.error);
  REQUIRE(r.launched);
  RecordedProcess rec = record(req, *r.launched);

  SECTION("the live pane is adopted and its exit noticed") {
    LaunchResult a = await(io, f.runner->adopt(rec));
    INFO(a.error);
    REQUIRE(a.launched);
    CHECK(a.launched->pane == rec.pane);
    CHECK(a.launched->identity == rec.identity);
    REQUIRE(::kill(rec.identity.pid, SIGTERM) == 0);
    ExitInfo e = exit_of(io, *f.runner, rec, a.launched->process);
    INFO(e.describe());
    CHECK(e.status_known);
    CHECK(e.signaled);
    CHECK(e.code == SIGTERM);
  }

  SECTION("a different pid") {
    RecordedProcess wrong = rec;
    wrong.identity.pid += 1;
    LaunchResult a = await(io, f.runner->adopt(wrong));
    CHECK_FALSE(a.launched);
    CHECK(a.error.find("not the recorded") != std::string::npos);
  }

  SECTION("another session") {
    RecordedProcess wrong = rec;
    wrong.session = "worker-test-slot40";
    LaunchResult a = await(io, f.runner->adopt(wrong));
    CHECK_FALSE(a.launched);
    CHECK(a.error.find("belongs to session") != std::string::npos);
  }

  SECTION("no such pane") {
    RecordedProcess wrong = rec;
    wrong.pane = "%999";
    LaunchResult a = await(io, f.runner->adopt(wrong));
    CHECK_FALSE(a.launched);
    CHECK(a.error.find("no longer exists") != std::string::npos);
    wrong.pane = "=worker-test-slot4";
    a = await(io, f.runner->adopt(wrong));
    CHECK_FALSE(a.launched);
  }

  SECTION("no tmux server") {
    f.tmux({"kill-server"});
    LaunchResult a = await(io, f.runner->adopt(rec));
    CHECK_FALSE(a.launched);
    INFO(a.error);
    CHECK(a.error.find("no tmux server") != std::string::npos);
  }
}

TEST_CASE("tmux runner: after_exit never kills a session it cannot prove is ours", "[tmux]") {
  SKIP_WITHOUT_TMUX();
  Fixture f;
  asio::io_context io;
  auto req = f.request("worker-test-slot5", {"/bin/sleep", "30"});
  LaunchResult r = await(io, f.runner->launch(req));
  INFO(r.error);
  REQUIRE(r.launched);
  RecordedProcess rec = record(req, *r.launched);
  ExitInfo unknown;
  unknown.status_known = false;
  unknown.detail = "not our child";

  RecordedProcess wrong = rec;
  wrong.identity.pid += 1;
  ExitInfo e = await(io, f.runner->after_exit(wrong, unknown));
  CHECK_FALSE(e.status_known);
  wrong = rec;
  wrong.session = "other";
  e = await(io, f.runner->after_exit(wrong, unknown));
  CHECK_FALSE(e.status_known);
  CHECK(f.tmux.has_session("worker-test-slot5"));

  // Once the session is gone, the status stays unknown.
  f.tmux({"kill-session", "-t", "=worker-test-slot5"});
  e = await(io, f.runner->after_exit(rec, unknown));
  CHECK_FALSE(e.status_known);
  CHECK(e.detail == "not our child");
}

TEST_CASE("tmux runner: type_text reaches the program", "[tmux]") {
  SKIP_WITHOUT_TMUX();
  Fixture f;
  asio::io_context io;
  fs::path got = f.tmux.dir.path / "got.txt";
  auto req = f.request("supervisor-typing",
                       {"/bin/sh", "-c", "read -r line; printf 'got:%s\\n' \"$line\" > \"$0\"", got.string()});
  LaunchResult r = await(io, f.runner->launch(req));
  INFO(r.error);
  REQUIRE(r.launched);
  RecordedProcess rec = record(req, *r.launched);

  RecordedProcess wrong = rec;
  wrong.identity.pid += 1;
  CHECK_FALSE(await(io, f.runner->type_text(wrong, "not for you")));

  const std::string text = "-n NUDGE: check your inbox; $HOME #{host} \\;";
  CHECK(await(io, f.runner->type_text(rec, text)));
  bool arrived = run_until(io, [&] { return slurp(got) == "got:" + text + "\n"; });
  INFO(slurp(got));
  CHECK(arrived);
  ExitInfo e = exit_of(io, *f.runner, rec, r.launched->process);
  INFO(e.describe());
  CHECK(e.success());
  CHECK_FALSE(await(io, f.runner->type_text(rec, "too late")));
}
