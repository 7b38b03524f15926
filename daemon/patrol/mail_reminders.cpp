#include "daemon/patrol/mail_reminders.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "daemon/agents/supervisor.hpp"
#include "daemon/patrol/mail.hpp"

namespace vermas {

MailReminders::MailReminders(boost::asio::io_context& io, const Config& config, Journal& journal,
                             Supervisor& supervisor)
    : config_(config), journal_(journal), supervisor_(supervisor), timer_(io) {}

MailReminders::~MailReminders() {
  if (subscription_) journal_.unsubscribe(subscription_);
}

void MailReminders::attach() {
  subscription_ = journal_.subscribe([this](const Event& e) {
    if (e.event_type == "mail.sent" || e.event_type == "agent.started") arm();
    return true;
  });
}

void MailReminders::shutting_down() {
  stopping_ = true;
  timer_.cancel();
}

void MailReminders::arm() {
  if (armed_ || stopping_) return;
  armed_ = true;
  // Read at each arming: a reload applies from the next reminder on.
  timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(config_.mail.poll_interval_seconds)));
  timer_.async_wait([this](boost::system::error_code ec) {
    armed_ = false;
    if (ec || stopping_) return;
    try {
      check();
    } catch (const std::exception& e) {
      spdlog::error("mail reminders: {}", e.what());
    }
  });
}

void MailReminders::check() {
  for (const auto& [to, queued] : mail::queued_by_recipient(journal_.store())) {
    auto told = told_.find(to);
    if (told != told_.end() && queued.newest_id <= told->second) continue;  // nothing new since
    const std::string line = "MAIL: " + std::to_string(queued.count) + " unread message(s), the newest from " +
                             queued.newest_from + "; read them: co mail inbox";
    // Not running in a pane (the operator, a direct agent, a stopped one): nothing to type;
    // a start arms the timer again.
    if (!supervisor_.type_into(to, line)) continue;
    told_[to] = queued.newest_id;
    const auto view = supervisor_.agent(to);
    journal_.record({"mail.reminded", "operations", view.record.factory, to,
                     {{"to", to}, {"count", queued.count}, {"newest_id", queued.newest_id},
                      {"newest_from", queued.newest_from}}});
  }
}

}  // namespace vermas
