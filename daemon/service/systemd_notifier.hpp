#pragma once
// The systemd notify protocol (sd_notify(3)), for Type=notify units: READY=1 once serving,
// RELOADING=1 with MONOTONIC_USEC then READY=1 around a reload (what `systemctl reload`
// waits for), STOPPING=1, a one-line STATUS= and the watchdog. Everything is a no-op
// without $NOTIFY_SOCKET, so the daemon runs the same on a laptop.
//
// The watchdog pings come from a timer on the io_context that owns the daemon's state: a
// hung or blocked loop stops them, and systemd (WatchdogSec=) restarts the service.
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace vermas {

class SystemdNotifier {
 public:
  explicit SystemdNotifier(boost::asio::io_context& io) : timer_(io) {}
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  void ready(const std::string& status);
  void reloading();
  void reloaded();
  void stopping(const std::string& status);
  void status(const std::string& line);  // sent only when it changed

  // From now on: WATCHDOG=1 at half the interval systemd asked for ($WATCHDOG_USEC), with
  // `summary()` as the STATUS line each time; without a watchdog, the status alone every 10 s;
  // without $NOTIFY_SOCKET, nothing (no timer).
  void start(std::function<std::string()> summary);
  void stop();

 private:
  void tick();

  boost::asio::steady_timer timer_;
  std::function<std::string()> summary_;
  std::chrono::microseconds every_{0};
  bool watchdog_ = false;  // systemd asked for WATCHDOG=1 ($WATCHDOG_USEC, read once at start)
  std::string last_status_;
  bool stopped_ = false;
};

// The STATUS= line: what an administrator sees in `systemctl status` (pure).
std::string service_status_line(int running, int total, int failed, long long open_alerts, bool squad_paused);

}  // namespace vermas
