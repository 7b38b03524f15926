// co help COMMAND, and the live values the shell completions ask for (co completion values):
// what a running daemon has, and nothing at all, quickly, when it is down or does not answer.
// The scripts themselves are checked against `co --help` by tests/package/check_docs.py.
#include "tests/catch.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "tests/integration/company.hpp"

using namespace it;

namespace {

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  for (auto& line : lines_of(text))
    if (!line.empty()) out.push_back(line);
  return out;
}

bool has(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

std::string co_dir() {
  std::string bin = co_bin();
  return bin.substr(0, bin.rfind('/'));
}

// bash's answer to TAB after `words` (the last one is being completed), from the script
// `co completion bash` prints, as bash-completion would run it.
std::vector<std::string> bash_complete(const std::vector<std::string>& words) {
  auto script = run({co_bin(), "completion", "bash"});
  REQUIRE(script.exit_code == 0);
  std::string line = "COMP_WORDS=(";
  for (const auto& w : words) line += "'" + w + "' ";
  line += "); COMP_CWORD=" + std::to_string(words.size() - 1) + "; _co; printf '%s\\n' \"${COMPREPLY[@]}\"";
  const std::string path = co_dir() + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
  auto r = run({"bash", "--norc", "-c", script.out + "\n" + line}, {{"PATH", path}});
  INFO("bash: " << r.err);
  REQUIRE(r.exit_code == 0);
  return words_of(r.out);
}

}  // namespace

TEST_CASE("co help COMMAND prints what co COMMAND --help prints", "[completion][commands]") {
  for (std::vector<std::string> path : {std::vector<std::string>{}, {"agent"}, {"agent", "stop"}, {"wo", "transition"},
                                        {"completion", "values"}}) {
    std::vector<std::string> help{co_bin(), "help"}, flag{co_bin()};
    help.insert(help.end(), path.begin(), path.end());
    flag.insert(flag.end(), path.begin(), path.end());
    flag.push_back("--help");
    auto a = run(help);
    auto b = run(flag);
    INFO("co help " << (path.empty() ? "" : path.back()) << ": " << a.err);
    CHECK(a.exit_code == 0);
    CHECK_FALSE(a.out.empty());
    CHECK(a.out == b.out);
  }
  // wo help X is wo X --help (co wo X --help).
  auto w = run({wo_bin(), "help", "create"});
  auto c = run({co_bin(), "wo", "create", "--help"});
  CHECK(w.exit_code == 0);
  CHECK(w.out == c.out);
  // And both complete command names, not arguments.
  CHECK(bash_complete({"co", "help", "agent", "st"}) == std::vector<std::string>{"start", "stop"});
  CHECK(bash_complete({"wo", "help", "transi"}) == std::vector<std::string>{"transition"});
  CHECK(bash_complete({"co", "wo", "help", "transi"}) == std::vector<std::string>{"transition"});
  // A command that does not exist is the usual usage error.
  auto bad = run({co_bin(), "help", "no-such-command"});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "unknown command 'no-such-command'"));
}

TEST_CASE("co completion values: agents, factories and work orders from the daemon", "[completion]") {
  Company company{Settings{}};
  company.start();
  company.add_factory("web");
  company.running_pid("web/qa");
  auto created = company.root.wo({"create", "--title", "Complete me", "--factory", "web"});
  REQUIRE(created.exit_code == 0);
  const std::string wo_id = lines_of(created.out).at(0);

  auto r = company.root.co({"completion", "values", "agents", "factories", "work-orders"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  auto values = words_of(r.out);
  CHECK(has(values, "web/supervisor"));
  CHECK(has(values, "web/qa"));
  CHECK(has(values, "web"));
  CHECK(has(values, wo_id));

  // Through the bash script: the company root typed on the command line is the one asked.
  auto agents = bash_complete({"co", "--company-root", company.root.dir(), "agent", "stop", ""});
  CHECK(has(agents, "web/qa"));
  CHECK(has(agents, "web/supervisor"));
  CHECK_FALSE(has(agents, "web"));
  auto factories = bash_complete({"co", "--company-root", company.root.dir(), "worker", "spawn", "w"});
  CHECK(factories == std::vector<std::string>{"web"});
  auto orders = bash_complete({"wo", "--company-root", company.root.dir(), "show", ""});
  CHECK(has(orders, wo_id));
  auto by_flag = bash_complete({"co", "--company-root=" + company.root.dir(), "agent", "list", "--factory", ""});
  CHECK(by_flag == std::vector<std::string>{"web"});

  // A canceled work order is not offered any more.
  REQUIRE(company.root.wo({"transition", wo_id, "--to", "canceled", "--reason", "test"}).exit_code == 0);
  auto after = company.root.co({"completion", "values", "work-orders"});
  CHECK_FALSE(has(words_of(after.out), wo_id));
}

TEST_CASE("co completion values is silent and quick when the daemon is down or hung", "[completion]") {
  TempRoot root;
  using clock = std::chrono::steady_clock;

  // Down: no socket at all.
  auto t0 = clock::now();
  auto down = root.co({"completion", "values", "agents", "factories", "work-orders"});
  auto down_took = clock::now() - t0;
  CHECK(down.exit_code == 0);
  CHECK(down.out.empty());
  CHECK(down.err.empty());
  CHECK(down_took < 1s);

  // Hung: a socket that accepts connections into its backlog and never answers.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = root.socket_path();
  REQUIRE(sock.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  t0 = clock::now();
  auto hung = root.co({"completion", "values", "agents"});
  auto hung_took = clock::now() - t0;
  ::close(fd);
  CHECK(hung.exit_code == 0);
  CHECK(hung.out.empty());
  CHECK(hung.err.empty());
  // Its own 0.5 s answer timeout, not co's default of 10 s.
  CHECK(hung_took < 3s);

  // Hung with a full accept queue: connect() itself blocks (no timeout of its own), until the
  // one-second bound of co completion values ends it.
  ::unlink(sock.c_str());
  fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 0) == 0);
  int filler = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  REQUIRE(filler >= 0);
  REQUIRE(::connect(filler, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);  // the queue's one place
  t0 = clock::now();
  auto full = root.co({"completion", "values", "agents"});
  auto full_took = clock::now() - t0;
  ::close(filler);
  ::close(fd);
  CHECK(full.exit_code == 0);
  CHECK(full.out.empty());
  CHECK(full.err.empty());
  CHECK(full_took < 3s);

  // And the bash completion then offers nothing for an agent id, without an error.
  ::unlink(sock.c_str());
  CHECK(bash_complete({"co", "--company-root", root.dir(), "agent", "stop", ""}).empty());
}
