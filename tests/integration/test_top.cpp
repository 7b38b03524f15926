// co top in a real terminal (a private tmux server's pane): it shows the agents, redraws on
// events, and gives the terminal back (canonical mode and echo, the normal screen, the
// cursor) on q and on SIGTERM and SIGINT. Without a terminal: one snapshot. And the CPU and
// memory figures agent.get and agent.list carry.
#include <signal.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/catch.hpp"
#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

// One namespace for everything here: the tests build as unity batches.
namespace top_it {

using namespace it;

// A shell script that runs `co top` in the pane, then writes how it ended: OUT.pid (co's
// pid), OUT.stty (`stty -a` of the terminal co top left), OUT.rc last ("rc=N"); then it
// keeps the pane open.
std::string top_script(const Company& c) {
  return c.script("top.sh", "out=\"$1\"\n"
                            "sh -c 'echo $$ > \"$1.pid\"; exec \"$2\" --company-root \"$3\" top' sh \"$out\" " +
                                co_bin() + " " + c.root.dir() +
                                "\n"
                                "rc=$?\n"
                                "stty -a > \"$out.stty\"\n"
                                "echo \"rc=$rc\" > \"$out.rc\"\n"
                                "exec sleep 300\n");
}

struct Pane {
  const PrivateTmux& tmux;
  std::string session;

  std::string capture() const {
    auto r = tmux.tmux({"capture-pane", "-p", "-t", "=" + session + ":"});
    return r.exit_code == 0 ? r.out : std::string();
  }
  // A pane format, e.g. #{alternate_on}: "1" while the alternate screen is shown.
  std::string format(const std::string& f) const {
    auto r = tmux.tmux({"display-message", "-p", "-t", "=" + session + ":", f});
    return r.exit_code == 0 ? r.out.substr(0, r.out.find('\n')) : std::string();
  }
};

Pane start_top(const PrivateTmux& tmux, const std::string& script, const std::string& session, const std::string& out) {
  auto r = tmux.tmux({"new-session", "-d", "-s", session, "-x", "160", "-y", "50", "/bin/sh", script, out});
  INFO("tmux new-session: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return Pane{tmux, session};
}

// The words of `stty -a`: "icanon" when on, "-icanon" when off.
bool stty_has(const std::string& stty, const std::string& flag) {
  std::istringstream words(stty);
  for (std::string w; words >> w;) {
    while (!w.empty() && w.back() == ';') w.pop_back();
    if (w == flag) return true;
  }
  return false;
}

// Waits for OUT.rc; returns its text ("rc=0").
std::string wait_rc(const std::string& out) {
  std::string rc;
  REQUIRE(eventually([&] {
    rc = read_file(out + ".rc");
    return rc.find('\n') != std::string::npos;
  }));
  return rc.substr(0, rc.find('\n'));
}

void check_terminal_restored(const Pane& pane, const std::string& out) {
  const std::string stty = read_file(out + ".stty");
  INFO("stty -a after co top: " << stty);
  CHECK(stty_has(stty, "icanon"));
  CHECK(stty_has(stty, "echo"));
  CHECK(pane.format("#{alternate_on}") == "0");
  CHECK(pane.format("#{cursor_flag}") == "1");
}

// The pane shows the view with f/supervisor's row (its CPU and memory) and is in the
// alternate screen without a cursor: what must be undone afterwards.
void wait_for_view(const Pane& pane) {
  std::string screen;
  bool shown = eventually([&] {
    screen = pane.capture();
    return contains(screen, "AGENTS") && contains(screen, "f/supervisor") && contains(screen, "%");
  });
  INFO("pane:\n" << screen);
  REQUIRE(shown);
  CHECK(contains(screen, "co top"));
  CHECK(contains(screen, "FACTORIES"));
  CHECK(contains(screen, "EVENTS"));
  CHECK(pane.format("#{alternate_on}") == "1");
  CHECK(pane.format("#{cursor_flag}") == "0");
}

pid_t pid_in(const std::string& file) {
  std::string text;
  REQUIRE(eventually([&] {
    text = read_file(file);
    return text.find('\n') != std::string::npos;
  }));
  return static_cast<pid_t>(std::stol(text));
}

}  // namespace top_it

using namespace top_it;

TEST_CASE("co top shows the agents in a terminal and redraws on events and q restores the terminal", "[top]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f");
  c.running_pid("f/supervisor");
  c.running_pid("f/qa");
  PrivateTmux tmux(c.root);
  const std::string out = c.root.path("top1");
  Pane pane = start_top(tmux, top_script(c), "top", out);
  wait_for_view(pane);

  // An event (the QA stopped) redraws the view.
  REQUIRE(c.root.co({"agent", "stop", "f/qa"}, 30s).exit_code == 0);
  std::string screen;
  bool redrawn = eventually([&] {
    screen = pane.capture();
    return contains(screen, "stopped (operator)") && contains(screen, "agent.stopped");
  });
  INFO("pane:\n" << screen);
  CHECK(redrawn);

  REQUIRE(tmux.tmux({"send-keys", "-t", "=top:", "q"}).exit_code == 0);
  CHECK(wait_rc(out) == "rc=0");
  check_terminal_restored(pane, out);
  CHECK_FALSE(contains(pane.capture(), "AGENTS"));
}

TEST_CASE("co top restores the terminal when SIGTERM or SIGINT ends it", "[top]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f");
  c.running_pid("f/supervisor");
  PrivateTmux tmux(c.root);
  const std::string script = top_script(c);
  const std::pair<int, const char*> cases[] = {{SIGTERM, "rc=143"}, {SIGINT, "rc=130"}};
  int n = 0;
  for (const auto& [sig, expected] : cases) {
    const std::string session = "top" + std::to_string(++n);
    const std::string out = c.root.path(session);
    INFO("signal " << sig);
    Pane pane = start_top(tmux, script, session, out);
    wait_for_view(pane);
    REQUIRE(::kill(pid_in(out + ".pid"), sig) == 0);
    CHECK(wait_rc(out) == expected);  // it dies of the signal once the terminal is back
    check_terminal_restored(pane, out);
  }
}

TEST_CASE("co top without a terminal prints one snapshot and with --json one document", "[top]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f");
  c.running_pid("f/supervisor");

  auto plain = c.root.co({"top"});
  INFO(plain.out << plain.err);
  REQUIRE(plain.exit_code == 0);
  CHECK(contains(plain.out, "co top  " + c.root.dir()));
  CHECK(contains(plain.out, "AGENTS"));
  CHECK(contains(plain.out, "f/supervisor"));
  CHECK(contains(plain.out, "factory.added"));
  CHECK_FALSE(contains(plain.out, "\x1b"));  // no escapes into a pipe

  auto js = c.root.co({"--json", "top"});
  INFO(js.out << js.err);
  REQUIRE(js.exit_code == 0);
  REQUIRE(stdout_is_one_json_document(js));
  const json doc = parse_json(js.out);
  CHECK(doc["company"] == c.root.dir());
  CHECK(doc["taken_at"].is_string());
  CHECK(doc["factories"].size() == 1);
  CHECK(doc["alerts"].is_array());
  CHECK_FALSE(doc["events"].empty());
  bool found = false;
  for (const auto& a : doc["agents"])
    if (a["id"] == "f/supervisor") {
      found = true;
      CHECK(a["cpu_percent"].is_number());
      CHECK(a["rss_bytes"].is_number());
    }
  CHECK(found);
}

TEST_CASE("agent.get and agent.list carry the CPU and memory of a live agent's process tree", "[agent][usage]") {
  Settings s;
  // The leader sleeps; its child (a subshell) keeps a CPU busy: only the tree's sum is high.
  s.supervisor = {"/bin/sh", "-c", "(while :; do :; done) & exec sleep 300"};
  Company c(s);
  c.start();
  c.add_factory("f");
  c.running_pid("f/supervisor");
  c.running_pid("f/qa");

  json a;
  bool busy = eventually([&] {
    a = c.agent("f/supervisor");
    return a["cpu_percent"].is_number() && a["cpu_percent"].get<double>() > 10;
  });
  INFO(a.dump());
  CHECK(busy);
  CHECK(a["rss_bytes"].is_number_unsigned());
  CHECK(a["rss_bytes"].get<std::uint64_t>() > 0);
  // The QA only sleeps: a share near 0, and a resident set all the same.
  const json qa = c.agent("f/qa");
  INFO(qa.dump());
  CHECK(qa["cpu_percent"].get<double>() >= 0);
  CHECK(qa["cpu_percent"].get<double>() < 50);
  CHECK(qa["rss_bytes"].get<std::uint64_t>() > 0);
  const json listing = c.result("agent.list", {{"usage", true}});  // kept: a range-for over a temporary's member dangles
  for (const auto& listed : listing["agents"]) {
    CHECK(listed["cpu_percent"].is_number());
    CHECK(listed["rss_bytes"].is_number_unsigned());
  }
  // Without usage, agent.list reads nothing from /proc: the figures are absent, not null.
  const json plain = c.result("agent.list");
  REQUIRE(plain["agents"].size() == 2);
  for (const auto& listed : plain["agents"]) {
    CHECK_FALSE(listed.contains("cpu_percent"));
    CHECK_FALSE(listed.contains("rss_bytes"));
  }
  // co agent list asks for them: its CPU and RSS columns have figures.
  const auto shown = c.root.co({"--json", "agent", "list"});
  REQUIRE(shown.exit_code == 0);
  const json shown_doc = parse_json(shown.out);
  for (const auto& listed : shown_doc["agents"]) CHECK(listed["rss_bytes"].is_number_unsigned());
  const auto table = c.root.co({"agent", "list"});
  INFO(table.out);
  CHECK(table.out.find("CPU") != std::string::npos);
  CHECK(table.out.find("%") != std::string::npos);

  REQUIRE(c.root.co({"agent", "stop", "f/supervisor"}, 30s).exit_code == 0);
  const json stopped = c.agent("f/supervisor");
  INFO(stopped.dump());
  CHECK(stopped["status"] == "stopped");
  CHECK(stopped["cpu_percent"].is_null());
  CHECK(stopped["rss_bytes"].is_null());

  // co agent list: the columns, and "-" for the stopped one.
  auto list = c.root.co({"agent", "list"});
  INFO(list.out);
  REQUIRE(list.exit_code == 0);
  CHECK(contains(list.out, "CPU"));
  CHECK(contains(list.out, "RSS"));
  CHECK(std::regex_search(list.out, std::regex(R"(f/qa +qa +running +[0-9]+ +[0-9]+\.[0-9]% +[0-9.]+[BKMG] )")));
  CHECK(std::regex_search(list.out, std::regex(R"(f/supervisor +supervisor +stopped \(operator\) +- +- +- )")));
}

TEST_CASE("agent.list and status with fields carry only those members of each agent", "[agent][fields]") {
  Company c(Settings{});
  c.start();
  c.add_factory("f");
  c.running_pid("f/supervisor");
  c.running_pid("f/qa");

  const json listed = c.result("agent.list", {{"fields", {"status", "pid"}}});
  REQUIRE(listed["agents"].size() == 2);
  for (const auto& a : listed["agents"]) {
    INFO(a.dump());
    CHECK(a.size() == 3);  // id always
    CHECK(a["id"].is_string());
    CHECK(a["status"] == "running");
    CHECK(a["pid"].is_number_integer());
  }
  // The whole object otherwise, as before fields existed.
  const json whole = c.result("agent.list");
  CHECK(whole["agents"][0].contains("log"));
  CHECK(whole["agents"][0].contains("today_spend"));

  const json status = c.result("status", {{"fields", {"uptime_seconds"}}});
  REQUIRE(status["factories"].size() == 1);
  const json& f = status["factories"][0];
  CHECK(f["name"] == "f");
  REQUIRE(f["agents"].size() == 2);
  for (const auto& a : f["agents"]) CHECK((a.size() == 2 && a["uptime_seconds"].is_number()));
  CHECK(status["agents"]["total"] == 2);
  const json full = c.result("status");
  CHECK(full["factories"][0]["agents"][0].contains("restart_count"));

  const json bad = c.call("agent.list", {{"fields", {"status", "colour"}}});
  INFO(bad.dump());
  REQUIRE(bad.contains("error"));
  CHECK(bad["error"]["code"] == -32602);
  CHECK(bad["error"]["data"]["value"] == "colour");

  // co status shows its columns from the members it asks for.
  const auto shown = c.root.co({"status"});
  INFO(shown.out);
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.out.find("f/supervisor") != std::string::npos);
  CHECK(shown.out.find("running") != std::string::npos);
}
