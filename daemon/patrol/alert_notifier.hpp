#pragma once
// [alerts] command: run once for each new alert at or above [alerts] min_severity, with
// the alert (as alert.list shows it) as one JSON document on stdin.
//
// A journal subscriber of alert.raised: it hears of an alert only after the commit, never
// during a replay (rebuild-projections and events.archive fold events without publishing
// them), and a repeat (alert.repeated) runs nothing. The command is an argv (never a
// shell), an asynchronous child (proc::run_command: nothing blocks the loop but the
// fork+exec), with cwd = the company root and COMPANY_ROOT, VERMAS_ALERT_ID in its
// environment; past command_timeout_seconds its process group is SIGKILLed. A failure
// (exit != 0, timeout, cannot start) is logged and recorded as alert.notify_failed
// {alert_id, type, error, command}; it never stops the daemon. At most a few commands run
// at a time; the rest wait in order (a burst of alerts is not a fork storm).
#include <cstdint>
#include <deque>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class AlertNotifier {
 public:
  // `config` is read at each alert, so a reload applies to the next one.
  AlertNotifier(boost::asio::io_context& io, const Config& config, Journal& journal, Paths paths);
  ~AlertNotifier();
  AlertNotifier(const AlertNotifier&) = delete;
  AlertNotifier& operator=(const AlertNotifier&) = delete;

  void attach();          // subscribe to the journal
  void shutting_down();   // start nothing more (those running finish or time out)
  int running() const { return running_; }

  static constexpr int kMaxRunning = 4;
  static constexpr std::size_t kMaxQueued = 1000;

 private:
  void on_event(const Event& e);
  void pump();
  boost::asio::awaitable<void> notify(std::int64_t alert_id);
  void record_failure(std::int64_t alert_id, const std::string& error, const std::vector<std::string>& command);

  boost::asio::io_context& io_;
  const Config& config_;
  Journal& journal_;
  Paths paths_;
  std::uint64_t subscription_ = 0;
  std::deque<std::int64_t> queue_;
  int running_ = 0;
  bool pump_posted_ = false;
  bool stopping_ = false;
};

}  // namespace vermas
