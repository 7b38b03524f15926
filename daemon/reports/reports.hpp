#pragma once
// Reports and metrics on the daemon: gathers the standup (standup.hpp) and the metrics
// snapshot (metrics.hpp) from the daemon's parts, and keeps the two files of spec §3:
//   [reports] standup_at  each day at that UTC time R/reports/standup-YYYY-MM-DD.md
//                         (the last 24 hours) and a report.standup_written event; a daemon
//                         that was down at that time writes the day's file when it starts
//                         (once a day: the log says whether it was written).
//   [metrics] textfile    the Prometheus text, rewritten every interval_seconds.
// Each is one timer on the io_context armed for its next due time (a system_timer for the
// time of day, so a clock step or a suspend is caught up within asio's 5-minute wait cap);
// nothing polls. The files are small and written atomically (atomic_file.hpp); the
// queries are bounded (lists capped, counts through indexes).
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "common/time.hpp"
#include "daemon/reports/metrics.hpp"
#include "daemon/reports/standup.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Factories;
class Supervisor;
class Costs;

class Reports {
 public:
  struct Sources {
    Factories& factories;
    Supervisor& supervisor;
    Costs& costs;
    std::function<double()> uptime_seconds;
  };
  // `config` is read at each use, so a reload takes effect at the next arming.
  Reports(boost::asio::io_context& io, const Config& config, Paths paths, Journal& journal, Sources sources);
  Reports(const Reports&) = delete;
  Reports& operator=(const Reports&) = delete;

  // Arms the timers the configuration asks for (and writes a standup missed today).
  void start();
  // After a reload: the timers again, for the new settings.
  void config_changed();
  void stop();

  standup::Standup standup(SystemTime since, SystemTime now) const;
  metrics::Snapshot snapshot(SystemTime now);
  // Writes the standup of the day of `due` (the 24 hours before `now`) to
  // R/reports/standup-<date>.md and records report.standup_written {file, date, since}.
  nlohmann::json write_standup(SystemTime due, SystemTime now);
  std::filesystem::path standup_file(const std::string& date) const;
  // The configured textfile, relative paths under the company root.
  std::optional<std::filesystem::path> textfile() const;

 private:
  void arm_standup();
  void arm_metrics(bool write_now);
  void write_metrics();
  std::optional<std::string> last_standup_date() const;
  void update_cumulative();

  const Config& config_;
  Paths paths_;
  Journal& journal_;
  Sources sources_;
  boost::asio::system_timer standup_timer_;
  boost::asio::steady_timer metrics_timer_;
  // Bumped at each arming: a handler already queued when its timer was re-armed sees that
  // it is stale and does nothing.
  std::uint64_t standup_generation_ = 0;
  std::uint64_t metrics_generation_ = 0;
  // The metrics' cumulative figures, as of event after_id (see update_cumulative).
  struct Cumulative {
    bool loaded = false;
    std::int64_t after_id = 0;
    double ttd_sum = 0;
    std::int64_t ttd_count = 0;
    std::int64_t reviewed = 0;
    std::int64_t clean = 0;
  };
  Cumulative cumulative_;
  mutable std::optional<std::string> last_standup_date_;  // from the log, then kept
  std::string metrics_error_;  // the last textfile failure, logged once until it changes
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace vermas
