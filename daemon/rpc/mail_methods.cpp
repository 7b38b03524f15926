// Methods of mail (spec §6): send, inbox, read, ack. The caller is who the peer is: an agent
// (from its process tree) or the operator; what it may see and change follows from that.
#include "common/json.hpp"
#include "daemon/daemon.hpp"
#include "daemon/error.hpp"
#include "daemon/patrol/mail.hpp"
#include "daemon/rpc/connection.hpp"

namespace vermas {

namespace {

std::int64_t message_id(const Call& c) {
  auto id = c.params.integer("id", 1, INT64_MAX);
  if (!id) throw rpc::Error(rpc::code::invalid_params, "id is required", json{{"field", "id"}});
  return *id;
}

json messages_json(const std::vector<mail::Message>& messages) {
  json out = json::array();
  for (const auto& m : messages) out.push_back(mail::to_json(m));
  return out;
}

json rpc_mail_send(Daemon& d, Call& c) {
  const std::string to = c.params.required_str("to", 128);
  const std::string subject = c.params.required_str("subject", mail::kMaxSubject);
  // Read past the limit so that an over-long body is -32006 (too large), not a bad parameter.
  const std::string body = c.params.str("body", rpc::kMaxLineBytes).value_or("");
  if (to != mail::kOperator) d.supervisor().agent(to);  // not_found for an agent nobody knows
  return mail::to_json(mail::send(d.journal(), c.actor(), to, subject, body));
}

// The caller's own inbox delivers what it returns; an operator looking at an agent's inbox
// (agent: ID) delivers nothing.
json rpc_mail_inbox(Daemon& d, Call& c) {
  const std::string recipient = c.params.str("agent", 128).value_or(c.actor());
  const bool unread = c.params.boolean("unread").value_or(false);
  const int limit = static_cast<int>(c.params.integer("limit", 1, 1000).value_or(100));
  if (recipient != mail::kOperator) d.supervisor().agent(recipient);
  auto messages = mail::inbox(d.journal().store(), recipient, unread, limit);
  // Shown in their new state (an unread listing shows the messages it just delivered).
  if (recipient == c.actor()) mail::delivered(d.journal(), recipient, messages);
  return {{"agent", recipient}, {"messages", messages_json(messages)}};
}

json rpc_mail_read(Daemon& d, Call& c) {
  const std::int64_t id = message_id(c);
  auto m = mail::find(d.journal().store(), id);
  if (!m) throw Error(Errc::not_found, "no message " + std::to_string(id) + " (see: co mail inbox)", json{{"id", id}});
  // An agent reads its own mail only; the operator may read anyone's (delivering only its own).
  if (c.agent && m->to != *c.agent)
    throw Error(Errc::permission_denied, "message " + std::to_string(id) + " is " + m->to + "'s; agent " +
                                             *c.agent + " may not read it",
                json{{"id", id}, {"agent", *c.agent}});
  std::vector<mail::Message> one{*m};
  if (m->to == c.actor()) mail::delivered(d.journal(), m->to, one);
  return mail::to_json(one.front());
}

json rpc_mail_ack(Daemon& d, Call& c) { return mail::to_json(mail::ack(d.journal(), message_id(c), c.actor())); }

}  // namespace

void register_mail_methods(Router& router, Daemon& d) {
  using namespace access;
  static const DaemonMethod kMethods[] = {
      {"mail.send", {"to", "subject", "body"}, anyone, "mail to an agent or the operator (from: the caller)",
       rpc_mail_send},
      {"mail.inbox", {"agent", "unread", "limit"}, agent_self("agent"),
       "a recipient's messages, newest first; the recipient's own reading delivers them", rpc_mail_inbox},
      {"mail.read", {"id"}, agent_scoped, "one message (agents: their own only); the recipient's reading delivers it",
       rpc_mail_read},
      {"mail.ack", {"id"}, agent_scoped, "acknowledge a message (its recipient only)", rpc_mail_ack},
  };
  add_methods(router, d, kMethods);
}

}  // namespace vermas
