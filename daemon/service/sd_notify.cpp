#include "daemon/service/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace vermas::sd {

namespace {

template <class T>
bool parse_decimal(const char* s, T& out) {
  if (!s || !*s) return false;
  const char* end = s + std::strlen(s);
  auto [p, ec] = std::from_chars(s, end, out);
  return ec == std::errc() && p == end;
}

}  // namespace

bool notify_socket_set() {
  const char* name = std::getenv("NOTIFY_SOCKET");
  return name && *name;
}

bool notify(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (!name || (name[0] != '/' && name[0] != '@')) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(name);
  if (len < 2 || len > sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, name, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract: no NUL at the end either
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const ssize_t sent =
      ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

std::uint64_t watchdog_usec(const char* usec, const char* pid, pid_t self) {
  std::uint64_t value = 0;
  if (!parse_decimal(usec, value) || value == 0) return 0;
  if (pid) {
    pid_t for_pid = 0;
    if (!parse_decimal(pid, for_pid) || for_pid != self) return 0;  // meant for another process
  }
  return value;
}

std::uint64_t watchdog_usec() {
  return watchdog_usec(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
}

}  // namespace vermas::sd
