#pragma once
// Mail between agents and the operator (spec §4, §6): durable, and truthful about its state.
// A message is `queued` when sent, `delivered` once its recipient itself has read it (its
// inbox or the message), `acked` when the recipient says so. Every change is an event
// (mail.sent, mail.delivered, mail.acked) and the `messages` table is the reducer's
// projection of them, so a replay gives it back.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/journal.hpp"

namespace vermas::mail {

inline constexpr std::size_t kMaxBody = 64 * 1024;
inline constexpr std::size_t kMaxSubject = 256;
inline const std::string kOperator = "operator";

struct Message {
  std::int64_t id = 0;
  std::string from;
  std::string to;  // an agent id or "operator"
  std::string subject;
  std::string body;
  std::string state;  // queued | delivered | acked
  std::string created_at;
  std::optional<std::string> delivered_at;
  std::optional<std::string> acked_at;
};
nlohmann::json to_json(const Message& m);

// Appends mail.sent (the caller has checked the recipient exists). too_large past kMaxBody.
Message send(Journal& journal, const std::string& from, const std::string& to, const std::string& subject,
             const std::string& body);
// Newest first; `unread_only`: those not yet delivered.
std::vector<Message> inbox(const Store& store, const std::string& recipient, bool unread_only, int limit);
std::optional<Message> find(const Store& store, std::int64_t id);
// The recipient has read these: the queued ones among them become delivered (one event),
// and so do the copies in `read` (no second read of the table).
void delivered(Journal& journal, const std::string& recipient, std::vector<Message>& read);
// The recipient's ack; anyone else: permission_denied. Acking twice is a no-op.
Message ack(Journal& journal, std::int64_t id, const std::string& caller);
// Messages not yet delivered, by recipient.
std::map<std::string, std::int64_t> unread_by_recipient(const Store& store);
// The same with the newest of them: which id, and from whom.
struct Queued {
  std::int64_t count = 0;
  std::int64_t newest_id = 0;
  std::string newest_from;
};
std::map<std::string, Queued> queued_by_recipient(const Store& store);

}  // namespace vermas::mail
