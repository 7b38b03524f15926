// Mail (spec §4, §6): queued until the recipient itself reads it, acked only by the
// recipient, refused for unknown recipients and oversized bodies, and a projection of the log.
#include "tests/catch.hpp"
#include "tests/integration/company.hpp"

using namespace it;

namespace {

long long message_id(const json& m) { return m.value("id", 0LL); }

}  // namespace

TEST_CASE("mail: queued until its recipient reads it, acked only by the recipient, replayed from the log",
          "[mail]") {
  Settings s;
  Company c(s);
  const std::string box = c.root.path("mailbox");
  // The QA agent, when told to: reads its own inbox, acks the first message, tries to ack
  // the supervisor's, and writes to the operator.
  const std::string qa = c.script("qa-mail.sh", "box=\"" + box + "\"\n" + R"SH(
while [ ! -e "$box.read" ]; do sleep 0.02; done
co --json mail inbox >"$box.inbox" 2>&1
id=$(sed -n 's/^ *"id": \([0-9]*\),\{0,1\}$/\1/p' "$box.inbox" | head -n 1)
co --json mail ack "$id" >"$box.ack" 2>&1
co --json mail ack "$(cat "$box.other")" >"$box.ack_other" 2>&1
co --json mail read "$(cat "$box.other")" >"$box.read_other" 2>&1
echo "read $id" | co --json send operator -s done -m - >"$box.sent" 2>&1
touch "$box.done"
exec sleep 300
)SH");
  s.qa = {"/bin/sh", qa};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  c.running_pid("f1/qa");

  const json to_sup = c.co_json({"send", "f1/supervisor", "-s", "hello", "-m", "for the supervisor"});
  CHECK(to_sup["state"] == "queued");
  CHECK(to_sup["from"] == "operator");
  // status keeps the unread counts until mail changes: this answer is cached, and the next
  // send must make it count again (the 2 below).
  CHECK(c.result("status")["unread_mail"] == 1);
  const json to_qa = c.co_json({"send", "f1/qa", "-s", "work", "-m", "for qa"});
  const long long qa_id = message_id(to_qa), sup_id = message_id(to_sup);
  REQUIRE(qa_id > sup_id);
  write_file(box + ".other", std::to_string(sup_id));

  // Refusals change nothing.
  const long long before = c.result("status")["last_event_id"].get<long long>();
  CHECK(c.call("mail.send", {{"to", "f9/qa"}, {"subject", "x"}, {"body", "y"}})["error"]["code"] == -32001);
  CHECK(c.call("mail.send", {{"to", "f1/qa"}, {"subject", "x"}, {"body", std::string(64 * 1024 + 1, 'x')}})["error"]
            ["code"] == -32006);
  CHECK(c.call("mail.ack", {{"id", qa_id}})["error"]["code"] == -32003);  // the operator is not the recipient
  // The operator looking at someone else's mail delivers nothing.
  CHECK(c.co_json({"mail", "inbox", "--agent", "f1/qa"})["messages"][0]["state"] == "queued");
  CHECK(c.co_json({"mail", "read", std::to_string(qa_id)})["state"] == "queued");
  CHECK(c.result("status")["last_event_id"].get<long long>() == before);
  CHECK(c.result("status")["unread_mail"] == 2);
  CHECK(c.result("status")["unread_mail_by_agent"]["f1/qa"] == 1);

  // The recipient reads: delivered; it acks its own, not another's.
  write_file(box + ".read", "");
  REQUIRE(eventually([&] { return file_exists(box + ".done"); }, 30s));
  const json inbox = parse_json(read_file(box + ".inbox"));
  INFO(read_file(box + ".inbox"));
  REQUIRE(inbox["messages"].size() == 1);
  CHECK(inbox["messages"][0]["id"] == qa_id);
  CHECK(inbox["messages"][0]["state"] == "delivered");
  CHECK(inbox["messages"][0]["delivered_at"].is_string());
  const json ack = parse_json(read_file(box + ".ack"));
  CHECK(ack["state"] == "acked");
  CHECK(contains(read_file(box + ".ack_other"), "-32003"));
  CHECK(contains(read_file(box + ".read_other"), "-32003"));
  const json sent = parse_json(read_file(box + ".sent"));
  CHECK(sent["from"] == "f1/qa");
  CHECK(sent["to"] == "operator");
  CHECK(sent["body"] == "read " + std::to_string(qa_id) + "\n");
  CHECK(c.co_json({"mail", "read", std::to_string(sup_id)})["state"] == "queued");  // still the supervisor's to read

  // The operator's own inbox delivers its mail.
  const json mine = c.co_json({"mail", "inbox", "--unread"});
  REQUIRE(mine["messages"].size() == 1);
  CHECK(mine["messages"][0]["state"] == "delivered");
  CHECK(c.co_json({"mail", "inbox", "--unread"})["messages"].empty());
  CHECK(c.result("status")["unread_mail"] == 1);  // the supervisor's
  CHECK(c.events("mail.delivered", "f1/qa").size() == 1);

  // Mail is a projection: the replay gives it back, and it survives a restart of the daemon.
  auto r = c.co_json({"wo", "rebuild-projections"});
  CHECK(r["differences"] == 0);
  CHECK(r["messages"] == 3);
  c.root.stop();
  c.start();
  CHECK(c.co_json({"mail", "read", std::to_string(qa_id)})["state"] == "acked");
  auto human = c.root.co({"mail", "inbox", "--agent", "f1/supervisor"});
  CHECK(human.exit_code == 0);
  CHECK(contains(human.out, "hello"));
  c.root.stop();
}

TEST_CASE("mail: a tmux agent with unread mail is told in its pane once per new message, at most every poll interval",
          "[mail]") {
  if (!in_path("tmux")) {
    WARN("tmux is not installed: the mail reminder test is skipped");
    return;
  }
  Settings s;
  s.mail_poll = 0.2;
  EchoingPane pane(s);
  Company& c = pane.c;
  const std::string log = pane.pane_log();

  // Two messages, usually within one interval: a reminder that counts both (a slow machine
  // may tell of the first alone, then of the second).
  c.co_json({"send", "f1/supervisor", "-s", "first", "-m", "one"});
  const json second = c.co_json({"send", "f1/supervisor", "-s", "second", "-m", "two"});
  REQUIRE(eventually([&] { return contains(read_file(log), "MAIL: 2 unread message(s), the newest from operator"); },
                     10s));
  const std::size_t reminders = c.events("mail.reminded", "f1/supervisor").size();
  REQUIRE((reminders == 1 || reminders == 2));
  const json told = c.events("mail.reminded", "f1/supervisor").back()["data"];
  CHECK(told["count"] == 2);
  CHECK(told["newest_id"] == second["id"]);
  // The messages stay queued: a reminder is not a reading.
  CHECK(c.co_json({"mail", "inbox", "--agent", "f1/supervisor", "--unread"})["messages"].size() == 2);
  // The subject is never typed (another agent's text is read through co mail inbox).
  CHECK_FALSE(contains(read_file(log), "second"));

  // Nothing new: no second reminder, though the mail is still unread. A third message is
  // told of in its turn, and the QA agent (direct, no pane) is never typed at.
  c.co_json({"send", "f1/qa", "-s", "to qa", "-m", "direct"});
  c.co_json({"send", "f1/supervisor", "-s", "third", "-m", "three"});
  REQUIRE(eventually([&] { return contains(read_file(log), "MAIL: 3 unread message(s)"); }, 10s));
  CHECK(c.events("mail.reminded", "f1/supervisor").size() == reminders + 1);
  CHECK(c.events("mail.reminded", "f1/qa").empty());
  c.root.stop();
}
