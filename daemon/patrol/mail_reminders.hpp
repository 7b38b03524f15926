#pragma once
// [mail] poll_interval_seconds: how often agents are told of mail they have not read. A
// message stays `queued` until its recipient reads it (mail.hpp); an agent under tmux may
// never look unless told. At most once per interval, each running tmux agent with queued
// mail newer than what it was last told of gets one line typed into its pane ("MAIL: 2
// unread message(s), the newest from f1/qa; read them: co mail inbox") and a
// `mail.reminded` event is recorded. Only ids and counts are typed: a subject is another
// agent's text and is read through `co mail inbox`, never typed into a terminal.
//
// The timer is armed by mail.sent and agent.started (an agent that was not running when
// its mail came is told once it runs) and not re-armed by itself, so a company without new
// mail never wakes for it.
#include <cstdint>
#include <map>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Supervisor;

class MailReminders {
 public:
  MailReminders(boost::asio::io_context& io, const Config& config, Journal& journal, Supervisor& supervisor);
  ~MailReminders();
  MailReminders(const MailReminders&) = delete;
  MailReminders& operator=(const MailReminders&) = delete;

  void attach();          // subscribes to the journal
  void shutting_down();   // no more reminders

 private:
  void arm();
  void check();

  const Config& config_;
  Journal& journal_;
  Supervisor& supervisor_;
  boost::asio::steady_timer timer_;
  std::uint64_t subscription_ = 0;
  bool armed_ = false;
  bool stopping_ = false;
  std::map<std::string, std::int64_t> told_;  // agent -> the newest message id it was told of
};

}  // namespace vermas
