// co send, co mail inbox|read|ack: their bodies and their entries in the command table. Inside
// an agent the daemon knows who is asking: no id is needed.
#include <iostream>
#include <iterator>
#include <string>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/table.hpp"

namespace vermas::client {

namespace {

struct SendOptions {
  std::string to;
  std::string subject;
  std::string message;  // "-": standard input
};

struct InboxOptions {
  bool unread = false;
  std::string agent;
};

json id_param(const std::string& id) {
  // Message ids are numbers; anything else goes as text for the daemon to refuse.
  if (!id.empty() && id.size() <= 18 && id.find_first_not_of("0123456789") == std::string::npos) return std::stoll(id);
  return id;
}

void print_message(const json& m) {
  std::cout << "message " << field(m, "id", "?") << " from " << field(m, "from") << " to " << field(m, "to") << " ("
            << field(m, "state") << ", " << age_since(m.value("created_at", json())) << ")\n"
            << "subject: " << field(m, "subject", "") << "\n\n"
            << m.value("body", std::string()) << "\n";
}

int cmd_send(Context& ctx, const SendOptions& o) {
  std::string body = o.message;
  if (body == "-") body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto r = ctx.call("mail.send", {{"to", o.to}, {"subject", o.subject}, {"body", body}});
  return ctx.print(r, [&](const json& m) {
    std::cout << "sent message " << field(m, "id", "?") << " to " << field(m, "to") << " (" << field(m, "state")
              << ")\n";
  });
}

int cmd_mail_inbox(Context& ctx, const InboxOptions& o) {
  json params = json::object();
  if (!o.agent.empty()) params["agent"] = o.agent;
  if (o.unread) params["unread"] = true;
  auto r = ctx.call("mail.inbox", params);
  return ctx.print(r, [&](const json& j) {
    const json& messages = j.value("messages", json::array());
    if (messages.empty()) {
      std::cout << (o.unread ? "no unread mail for " : "no mail for ") << field(j, "agent", "you") << "\n";
      return;
    }
    Table t({"ID", "AGE", "FROM", "STATE", "SUBJECT"});
    for (const auto& m : messages)
      t.add({field(m, "id", "?"), age_since(m.value("created_at", json())), field(m, "from"), field(m, "state"),
             field(m, "subject", "")});
    t.print(std::cout);
    std::cout << "read one with: co mail read ID\n";
  });
}

int cmd_mail_read(Context& ctx, const std::string& id) {
  ctx.set_not_found_hint("co mail inbox");
  auto r = ctx.call("mail.read", {{"id", id_param(id)}});
  return ctx.print(r, print_message);
}

int cmd_mail_ack(Context& ctx, const std::string& id) {
  ctx.set_not_found_hint("co mail inbox");
  auto r = ctx.call("mail.ack", {{"id", id_param(id)}});
  return ctx.print(r, [&](const json& m) { std::cout << "acked message " << field(m, "id", id) << "\n"; });
}

}  // namespace

std::vector<Command> mail_commands() {
  return {
      {"send", "send mail to an agent or the operator",
       [](Args& a, SendOptions& o) {
         a.positional("TO", o.to, "an agent id, or operator").required();
         a.option("-s,--subject", o.subject, "the subject").required();
         a.option("-m,--message", o.message, "the body (-: read it from standard input)");
       },
       cmd_send},
      {"mail", "mail: inbox, read, ack (inside an agent: its own)"},
      {"mail inbox", "messages, newest first (your own reading delivers them)",
       [](Args& a, InboxOptions& o) {
         a.flag("--unread", o.unread, "only those not yet delivered");
         a.option("--agent", o.agent, "another recipient's inbox (operators; delivers nothing)");
       },
       cmd_mail_inbox},
      {"mail read", "show one message (delivers it when it is yours)",
       [](Args& a, std::string& id) { a.positional("ID", id, "message id (see: co mail inbox)").required(); },
       cmd_mail_read},
      {"mail ack", "acknowledge a message sent to you",
       [](Args& a, std::string& id) { a.positional("ID", id, "message id").required(); }, cmd_mail_ack},
  };
}

}  // namespace vermas::client
