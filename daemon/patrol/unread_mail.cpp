#include "daemon/patrol/unread_mail.hpp"

#include "common/json_text.hpp"
#include "daemon/patrol/mail.hpp"

namespace vermas::mail {

UnreadCounts::UnreadCounts(Journal& journal) : journal_(journal) {
  subscription_ = journal_.subscribe([this](const Event& e) {
    if (e.event_type.rfind("mail.", 0) == 0) fresh_ = false;
    return true;
  });
}

UnreadCounts::~UnreadCounts() { journal_.unsubscribe(subscription_); }

void UnreadCounts::count() {
  if (fresh_) return;
  total_ = 0;
  by_recipient_ = "{";
  bool first = true;
  for (const auto& [recipient, n] : unread_by_recipient(journal_.store())) {
    if (!first) by_recipient_ += ',';
    first = false;
    json_text::append_string(by_recipient_, recipient);
    by_recipient_ += ':';
    json_text::append_number(by_recipient_, n);
    total_ += n;
  }
  by_recipient_ += '}';
  fresh_ = true;
}

std::int64_t UnreadCounts::total() {
  count();
  return total_;
}

const std::string& UnreadCounts::by_recipient_json() {
  count();
  return by_recipient_;
}

}  // namespace vermas::mail
