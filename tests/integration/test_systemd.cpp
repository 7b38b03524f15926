// The daemon as a systemd service: sd_notify messages, foreground under systemd,
// and the socket group permission.
#include "tests/catch.hpp"

#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "tests/integration/harness.hpp"

extern char** environ;

using namespace it;

namespace {

// A fake $NOTIFY_SOCKET: a datagram socket that collects what sd_notify sends.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = "/tmp/vn-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Waits for a datagram containing `needle`; returns everything received meanwhile.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    return wait_until(
        [&] {
          char buf[4096];
          ssize_t n;
          while ((n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0) received_ += std::string(buf, n) + "\n";
          return contains(received_, needle);
        },
        timeout);
  }
  const std::string& received() const { return received_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string received_;
};

pid_t spawn_daemon(const TempRoot& root, const std::vector<std::string>& extra_env) {
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args{daemon_bin(), "--company-root", root.dir()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) == 0);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  REQUIRE(wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 10s));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("under systemd the daemon stays in the foreground and reports READY, RELOADING state and STOPPING") {
  TempRoot root;
  NotifySocket notify;
  // NOTIFY_SOCKET alone (no --foreground) must keep it in the foreground: systemd tracks this pid.
  pid_t pid = spawn_daemon(root, {"NOTIFY_SOCKET=" + notify.path()});
  REQUIRE(notify.wait_for("READY=1"));
  CHECK(contains(notify.received(), "STATUS=serving"));
  CHECK(root.daemon_pid() == pid);  // the pid systemd started is the daemon itself
  CHECK(root.co({"ping"}).exit_code == 0);

  ::kill(pid, SIGHUP);
  REQUIRE(wait_until([&] { return !root.feed_events_of_type("config.reloaded").empty(); }));

  ::kill(pid, SIGTERM);
  REQUIRE(notify.wait_for("STOPPING=1"));
  CHECK(wait_exit(pid) == 0);
  CHECK(!file_exists(root.socket_path()));
  CHECK(!file_exists(root.pid_file()));
  CHECK(root.feed_events_of_type("operations.stopped").size() == 1);
}

TEST_CASE("socket_group makes the socket 0660 and owned by that group") {
  TempRoot root;
  group* g = ::getgrgid(::getegid());
  REQUIRE(g != nullptr);
  root.replace_in_config("# socket_group = ", "socket_group = \"" + std::string(g->gr_name) + "\"\n# was: ");
  root.start();
  struct stat st{};
  REQUIRE(::stat(root.socket_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  CHECK(st.st_gid == ::getegid());
  root.stop();
}

TEST_CASE("an unknown socket_group is a clear startup error") {
  TempRoot root;
  root.replace_in_config("# socket_group = ", "socket_group = \"no-such-group-vermas\"\n# was: ");
  auto r = root.co({"operations", "start"});
  CHECK(r.exit_code != 0);
  CHECK(contains(r.err, "socket_group"));
  CHECK(contains(r.err, "no-such-group-vermas"));
}
