#pragma once
// [events] retention_days: events older than that leave the database for the day files of
// R/.work/archive/ (the archive of events.archive: nothing is deleted, audit.export still
// reads them). Once at start-up and then every 24 hours, on the io thread: the archive works
// in chunks and yields between them, so requests are served meanwhile.
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "daemon/store/log_maintenance.hpp"

namespace vermas {

class Retention {
 public:
  Retention(boost::asio::io_context& io, const Config& config, LogMaintenance& maintenance)
      : io_(io), config_(config), maintenance_(maintenance), timer_(io) {}
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  void start();  // a pass now, then daily
  void stop();

 private:
  void pass();
  void arm(std::chrono::steady_clock::duration after);

  boost::asio::io_context& io_;
  const Config& config_;  // read at each pass: a reload's retention_days applies to the next
  LogMaintenance& maintenance_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace vermas
