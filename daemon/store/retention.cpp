#include "daemon/store/retention.hpp"

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"

namespace vermas {

namespace asio = boost::asio;

void Retention::start() { pass(); }

void Retention::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Retention::arm(std::chrono::steady_clock::duration after) {
  timer_.expires_after(after);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !stopped_) pass();
  });
}

void Retention::pass() {
  const int days = config_.events.retention_days;
  const std::string cutoff = format_rfc3339_ms(std::chrono::system_clock::now() - std::chrono::hours(24) * days);
  asio::co_spawn(io_, maintenance_.archive(cutoff, config_.events.partition_by_day, "operations"),
                 [this, days](std::exception_ptr ep, const nlohmann::json& out) {
                   if (ep) {
                     try {
                       std::rethrow_exception(ep);
                     } catch (const std::exception& e) {
                       // Busy (an operator's archive or a rebuild runs) or a full disk: the next day's pass.
                       spdlog::warn("retention ({} days): {}", days, e.what());
                     }
                   } else if (out.value("archived", 0) > 0) {
                     spdlog::info("retention ({} days): {} events archived", days, out.value("archived", 0));
                   }
                   if (!stopped_) arm(std::chrono::hours(24));
                 });
}

}  // namespace vermas
