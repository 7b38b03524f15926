// sd_notify without libsystemd (daemon/service/sd_notify.hpp): the watchdog rule, and a
// notification reaching a datagram socket named by a path and by an abstract name.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "daemon/service/sd_notify.hpp"
#include "tests/catch.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

// A bound datagram socket: the service manager's end.
struct ManagerSocket {
  int fd = -1;
  explicit ManagerSocket(const std::string& name) {  // '@' first: abstract
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
  }
  ~ManagerSocket() { ::close(fd); }
  std::string receive() {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
};

// Sets $NOTIFY_SOCKET for one scope and restores what was there.
struct NotifyEnv {
  std::optional<std::string> before;
  explicit NotifyEnv(const char* value) {
    if (const char* b = std::getenv("NOTIFY_SOCKET")) before = b;
    if (value) ::setenv("NOTIFY_SOCKET", value, 1);
    else ::unsetenv("NOTIFY_SOCKET");
  }
  ~NotifyEnv() {
    if (before) ::setenv("NOTIFY_SOCKET", before->c_str(), 1);
    else ::unsetenv("NOTIFY_SOCKET");
  }
};

}  // namespace

TEST_CASE("sd_notify: the watchdog interval only for this process and a positive number", "[sd_notify]") {
  using vermas::sd::watchdog_usec;
  CHECK(watchdog_usec("400000", nullptr, 42) == 400000);
  CHECK(watchdog_usec("400000", "42", 42) == 400000);
  CHECK(watchdog_usec("400000", "43", 42) == 0);  // meant for another process
  CHECK(watchdog_usec("400000", "x", 42) == 0);
  CHECK(watchdog_usec(nullptr, nullptr, 42) == 0);
  CHECK(watchdog_usec("", nullptr, 42) == 0);
  CHECK(watchdog_usec("0", nullptr, 42) == 0);
  CHECK(watchdog_usec("-5", nullptr, 42) == 0);
  CHECK(watchdog_usec("12s", nullptr, 42) == 0);
  CHECK(watchdog_usec("99999999999999999999999", nullptr, 42) == 0);  // beyond 64 bits
}

TEST_CASE("sd_notify: a notification reaches the socket named by a path and by an abstract name", "[sd_notify]") {
  vermas::test::TempDir dir;
  const std::string path = (dir.path / "notify").string();
  {
    ManagerSocket manager(path);
    NotifyEnv env(path.c_str());
    CHECK(vermas::sd::notify("READY=1\nSTATUS=up"));
    CHECK(manager.receive() == "READY=1\nSTATUS=up");
  }
  {
    const std::string abstract = "@vermas-test-" + std::to_string(::getpid());
    ManagerSocket manager(abstract);
    NotifyEnv env(abstract.c_str());
    CHECK(vermas::sd::notify("WATCHDOG=1"));
    CHECK(manager.receive() == "WATCHDOG=1");
  }
  {
    NotifyEnv env(nullptr);
    CHECK_FALSE(vermas::sd::notify("READY=1"));  // nobody to tell
  }
  {
    NotifyEnv env("relative/name");
    CHECK_FALSE(vermas::sd::notify("READY=1"));
  }
  {
    NotifyEnv env((path + ".absent").c_str());
    CHECK_FALSE(vermas::sd::notify("READY=1"));
  }
}
