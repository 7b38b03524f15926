#pragma once
// The service manager's notification protocol (sd_notify(3)): a datagram of KEY=VALUE lines
// to the AF_UNIX socket named by $NOTIFY_SOCKET, and the watchdog interval from
// $WATCHDOG_USEC / $WATCHDOG_PID. Written here rather than linked from libsystemd: systemd
// documents the protocol as stable and its man page gives a standalone implementation for
// this very purpose, while libsystemd brought libgcrypt, liblz4, liblzma, libzstd and libcap
// with it, 0.45 MiB of every daemon's resident set for these two calls.
#include <cstdint>
#include <string_view>
#include <sys/types.h>

namespace vermas::sd {

// $NOTIFY_SOCKET is set: a service manager listens for notifications.
bool notify_socket_set();

// Sends `state` to $NOTIFY_SOCKET (a path, or '@' for an abstract name). False when it is
// unset, not such an address, or the send failed: nobody is told, as with libsystemd.
bool notify(std::string_view state);

// The watchdog interval in microseconds; 0 when there is none for this process.
std::uint64_t watchdog_usec();
// The rule, from the two variables' values (null: unset) and this process's pid:
// WATCHDOG_USEC a positive decimal integer, and WATCHDOG_PID, when set, this pid.
std::uint64_t watchdog_usec(const char* usec, const char* pid, pid_t self);

}  // namespace vermas::sd
