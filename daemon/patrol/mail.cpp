#include "daemon/patrol/mail.hpp"

#include "common/json.hpp"
#include "daemon/error.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas::mail {

namespace {

constexpr const char* kMessageColumns =
    "SELECT id, sender, recipient, subject, body, state, created_at, delivered_at, acked_at FROM messages";

Message read_row(const sql::Stmt& s) {
  return Message{s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.opt_text(7),
                 s.opt_text(8)};
}

}  // namespace

json to_json(const Message& m) {
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  return {{"id", m.id},           {"from", m.from},       {"to", m.to},
          {"subject", m.subject}, {"body", m.body},       {"state", m.state},
          {"created_at", m.created_at}, {"delivered_at", opt(m.delivered_at)}, {"acked_at", opt(m.acked_at)}};
}

Message send(Journal& journal, const std::string& from, const std::string& to, const std::string& subject,
             const std::string& body) {
  if (body.size() > kMaxBody)
    throw Error(Errc::too_large, "body: " + std::to_string(body.size()) + " bytes, over the 64 KiB a message may hold",
                json{{"field", "body"}, {"max_bytes", kMaxBody}});
  std::int64_t id = 0;
  journal.commit([&](Store::Tx& tx) {
    // Messages are never deleted, so the next after the largest is never reused.
    sql::Stmt next(tx.statements(), "SELECT COALESCE(MAX(id), 0) + 1 FROM messages", "choosing a message id");
    next.step();
    id = next.int64(0);
    std::optional<std::string> factory;
    if (auto slash = to.find('/'); slash != std::string::npos) factory = to.substr(0, slash);
    tx.append({"mail.sent", from, factory, to,
               {{"message_id", id}, {"from", from}, {"to", to}, {"subject", subject}, {"body", body}}});
  });
  return *find(journal.store(), id);
}

std::vector<Message> inbox(const Store& store, const std::string& recipient, bool unread_only, int limit) {
  std::string text = std::string(kMessageColumns) + " WHERE recipient = ?";
  if (unread_only) text += " AND state = 'queued'";
  text += " ORDER BY id DESC LIMIT ?";
  sql::Stmt s(store.statements(), text, "reading an inbox");
  s.bind(1, recipient).bind(2, static_cast<std::int64_t>(limit));
  std::vector<Message> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

std::optional<Message> find(const Store& store, std::int64_t id) {
  sql::Stmt s(store.statements(), std::string(kMessageColumns) + " WHERE id = ?", "reading a message");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

void delivered(Journal& journal, const std::string& recipient, std::vector<Message>& read) {
  json ids = json::array();
  for (const auto& m : read)
    if (m.to == recipient && m.state == "queued") ids.push_back(m.id);
  if (ids.empty()) return;  // nothing changes: no event
  std::optional<std::string> factory;
  if (auto slash = recipient.find('/'); slash != std::string::npos) factory = recipient.substr(0, slash);
  const Event e =
      journal.record({"mail.delivered", recipient, factory, recipient, {{"message_ids", ids}, {"to", recipient}}});
  for (auto& m : read)
    if (m.to == recipient && m.state == "queued") m.state = "delivered", m.delivered_at = e.ts;
}

Message ack(Journal& journal, std::int64_t id, const std::string& caller) {
  auto m = find(journal.store(), id);
  if (!m) throw Error(Errc::not_found, "no message " + std::to_string(id) + " (see: co mail inbox)", json{{"id", id}});
  if (m->to != caller)
    throw Error(Errc::permission_denied, "only " + m->to + " may ack message " + std::to_string(id),
                json{{"id", id}, {"to", m->to}, {"agent", caller}});
  if (m->state == "acked") return *m;
  journal.record({"mail.acked", caller, std::nullopt, m->to, {{"message_id", id}}});
  return *find(journal.store(), id);
}

std::map<std::string, std::int64_t> unread_by_recipient(const Store& store) {
  sql::Stmt s(store.statements(), "SELECT recipient, count(*) FROM messages WHERE state = 'queued' GROUP BY recipient",
              "counting unread mail");
  std::map<std::string, std::int64_t> out;
  while (s.step()) out[s.text(0)] = s.int64(1);
  return out;
}

std::map<std::string, Queued> queued_by_recipient(const Store& store) {
  // SQLite's bare column beside max(): `sender` comes from the row with the largest id.
  sql::Stmt s(store.statements(),
              "SELECT recipient, count(*), max(id), sender FROM messages WHERE state = 'queued' GROUP BY recipient",
              "listing queued mail");
  std::map<std::string, Queued> out;
  while (s.step()) out[s.text(0)] = {s.int64(1), s.int64(2), s.text(3)};
  return out;
}

}  // namespace vermas::mail
