#include "daemon/service/systemd_notifier.hpp"
#include "daemon/service/sd_notify.hpp"

#include <time.h>

namespace vermas {

namespace {

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

void SystemdNotifier::ready(const std::string& line) {
  last_status_ = line;
  sd::notify("READY=1\nSTATUS=" + line);
}

void SystemdNotifier::reloading() {
  // MONOTONIC_USEC lets systemd tell this reload from an earlier one (systemd >= 253 needs
  // it for Type=notify-reload; older ones ignore it).
  sd::notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
}

void SystemdNotifier::reloaded() { sd::notify("READY=1"); }

void SystemdNotifier::stopping(const std::string& line) {
  last_status_ = line;
  sd::notify("STOPPING=1\nSTATUS=" + line);
}

void SystemdNotifier::status(const std::string& line) {
  if (line == last_status_) return;
  last_status_ = line;
  sd::notify("STATUS=" + line);
}

void SystemdNotifier::start(std::function<std::string()> summary) {
  summary_ = std::move(summary);
  // Nobody to tell (a laptop, co operations start): no timer at all, so an idle daemon is
  // not woken every 10 s for a status line no one reads.
  if (!sd::notify_socket_set()) return;
  // > 0 only when $WATCHDOG_USEC is set and $WATCHDOG_PID, if set, is this process.
  const std::uint64_t usec = sd::watchdog_usec();
  watchdog_ = usec > 0;
  // Half the interval, as sd_watchdog_enabled(3) advises: one late tick is not a restart.
  every_ = usec ? std::chrono::microseconds(usec / 2) : std::chrono::seconds(10);
  tick();
}

void SystemdNotifier::stop() {
  stopped_ = true;
  timer_.cancel();
}

void SystemdNotifier::tick() {
  if (stopped_) return;
  std::string line = summary_ ? summary_() : std::string();
  if (watchdog_) {
    std::string msg = "WATCHDOG=1";
    if (!line.empty() && line != last_status_) msg += "\nSTATUS=" + line;
    if (!line.empty()) last_status_ = line;
    sd::notify(msg);
  } else if (!line.empty()) {
    status(line);
  }
  timer_.expires_after(every_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

std::string service_status_line(int running, int total, int failed, long long open_alerts, bool squad_paused) {
  std::string out = std::to_string(running) + "/" + std::to_string(total) + " agents running";
  if (failed) out += ", " + std::to_string(failed) + " failed";
  out += ", " + std::to_string(open_alerts) + (open_alerts == 1 ? " open alert" : " open alerts");
  if (squad_paused) out += ", squad paused";
  return out;
}

}  // namespace vermas
