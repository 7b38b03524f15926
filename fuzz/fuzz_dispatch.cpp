// fuzz_dispatch: the whole request path in-process. One vermas::Daemon, started once on a
// temporary company root (agents are `/bin/sleep 30` with runner "direct", stop timeout
// 0.2 s, two worker slots) with one factory, "ff", cloned from a local git repository the
// harness makes, and four work orders. Per input: a vermas::Connection on one end of a
// socketpair (its send buffer made small, 8 KiB, so that ordinary answers already take the
// partial-write paths), the input written to the other end (a final '\n' added when
// missing: the daemon ignores an unterminated last line), the write side shut down, and
// the daemon's io_context run until the connection has answered everything and closed.
//
// Invariants (a violation prints what and where, then __builtin_trap()):
//  - The connection answers and closes within 20 s (no hang, whatever the input).
//  - Every answer line is valid JSON: a JSON-RPC 2.0 response object, a non-empty array
//    of them (a batch), or an `event` notification (after events.subscribe).
//  - The answers match the requests line by line (framing as the daemon's: '\n'-split,
//    blank lines skipped, decoded with rpc::decode_line): a line the decoder refuses
//    whole gets one error with id null and the same code; otherwise every item that is
//    not a notification gets a response, in order, whose id echoes the request's id; a
//    batch gets an array, a single message an object; notifications get nothing.
//  - A response has exactly one of result and error; a result is an object (docs/
//    protocol.md: "Results are always objects"); an error has a code from the spec's set
//    (-32700, -32600..-32603, -32001..-32006) and a non-empty message.
//  - A method the daemon does not have is -32601.
//  - The daemon is never stopping afterwards.
//
// Neutralised methods (judged for a fuzzer that must not stop, run for unbounded time,
// reach the network or fill the disk; each is still reached through the router):
//  - shutdown: answered {} after the real parameter checks, without stopping anything.
//  - factory.add: a new, valid name would `git clone` the URL: arbitrary hosts (network)
//    or arbitrary local paths (time, disk), and two more agents per factory. Forwarded to
//    the real method only when it fails before cloning (bad params, an invalid or taken
//    name such as "ff", a URL git could never take); otherwise -32002 from the harness.
//  - factory.remove: forwarded, except for "ff" (-32002 from the harness): removing the
//    one factory would leave the rest of the run without factory, agents or dispatch.
//  - team.add: forwarded while "ff" has fewer than 3 teams (each is a git worktree that
//    stays), and whenever it fails before git runs; otherwise -32002 from the harness.
//  - wo.sync, events.archive, wo.rebuild_projections and the other methods that run git
//    or wait for processes (dispatch, worker.*, agent.start/stop/kill/restart,
//    config.reload) are real: their cost is bounded by the company's size. A slow-call
//    budget keeps each input bounded: past 4 of them in one input, the harness answers
//    -32005 (unavailable) instead.
//
// Ids: work-order ids are random, so the harness substitutes, in every string parameter
// at dispatch time, "$WO0".."$WO3" with the four work orders made at start-up and "$LAST"
// with the most recently created one (within the same input too: create, then "$LAST").
//
// The daemon's state carries over from input to input (it is started once): a crash that
// does not reproduce with the single input alone needs the inputs before it (run the
// corpus directory in order). Internal errors (-32603) are allowed by the protocol but
// printed once each at exit, for a look. VERMAS_FUZZ_VERBOSE=1 prints every input and its
// answers; VERMAS_FUZZ_KEEP=1 keeps the company root (and its logs) at exit.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/jsonrpc.hpp"
#include "common/paths.hpp"
#include "daemon/rpc/connection.hpp"
#include "daemon/daemon.hpp"
#include "daemon/rpc/router.hpp"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace rpc = vermas::rpc;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kFactory = "ff";
constexpr int kSlowBudget = 4;
constexpr int kMaxTeams = 3;
constexpr auto kDeadline = 20s;

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\nfuzz_dispatch: INVARIANT VIOLATED: %s\n  %s\n", what, detail.substr(0, 4000).c_str());
  std::fflush(stderr);
  __builtin_trap();
}

[[noreturn]] void setup_failed(const std::string& what) {
  std::fprintf(stderr, "fuzz_dispatch: setup failed: %s\n", what.c_str());
  std::exit(1);
}

std::string show(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void run_or_die(const std::string& command) {
  if (std::system(command.c_str()) != 0) setup_failed("`" + command + "` failed");
}

bool known_code(std::int64_t c) {
  return c == -32700 || (c >= -32603 && c <= -32600) || (c >= -32006 && c <= -32001);
}

const std::set<std::string> kSlowMethods = {
    "factory.add", "factory.remove", "team.add",   "agent.start",  "agent.stop",     "agent.kill",
    "agent.restart", "worker.spawn", "worker.kill", "dispatch",    "wo.sync",        "wo.rebuild_projections",
    "events.archive", "config.reload"};

class Harness {
 public:
  Harness() {
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGCHLD, SIG_DFL);
    char tmpl[] = "/tmp/vermas-fuzz-dispatch-XXXXXX";
    if (!mkdtemp(tmpl)) setup_failed("mkdtemp");
    base_ = tmpl;
    const fs::path root = base_ / "company";
    const fs::path origin = base_ / "origin";
    fs::create_directories(root / ".vermas");
    // A local repository as the factory's URL: nothing leaves the machine.
    const std::string git = "git -c user.name=fuzz -c user.email=fuzz@invalid -c init.defaultBranch=main ";
    run_or_die(git + "init -q " + origin.string());
    run_or_die("echo fuzz > " + (origin / "README").string());
    run_or_die(git + "-C " + origin.string() + " add README");
    run_or_die(git + "-C " + origin.string() + " commit -q -m init");

    std::string agents;
    for (const char* role : {"supervisor", "qa", "worker", "ceo"})
      agents += std::string("[agents.") + role + "]\ncommand = [\"/bin/sleep\", \"30\"]\nrunner = \"direct\"\n";
    const fs::path config_file = root / ".vermas" / "config.toml";
    std::ofstream(config_file) << "[company]\nname = \"fuzz\"\n"
                                  "[operations]\npatrol_interval_seconds = 5\nstop_timeout_seconds = 0.2\n"
                                  "max_agents = 8\nlog_level = \"error\"\n"
                                  "[restart]\nbackoff_initial_seconds = 0.2\nbackoff_max_seconds = 2\n"
                                  "[worker]\nmax_slots_per_factory = 2\n"
                               << agents;
    auto loaded = vermas::load_config(config_file);
    if (!loaded.ok()) setup_failed("config: " + loaded.errors.front().to_string());

    vermas::DaemonOptions options{vermas::Paths{root}, config_file, std::nullopt};
    options.log_to_stderr = false;
    daemon_ = std::make_unique<vermas::Daemon>(std::move(options), std::move(loaded.value));
    try {
      daemon_->start();
    } catch (const std::exception& e) {
      setup_failed(std::string("Daemon::start: ") + e.what());
    }
    vermas::Daemon& d = *daemon_;
    // What run() does after start(): re-adoption, reconciliation, the patrol.
    asio::co_spawn(d.io(), d.start_agents(), asio::detached);
    wait([&] { return false; }, 200ms);

    bool added = false;
    std::string add_error;
    asio::co_spawn(d.io(), d.factories().add(kFactory, origin.string(), std::nullopt, "operator"),
                   [&](std::exception_ptr e, vermas::FactoryRecord) {
                     added = true;
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         add_error = ex.what();
                       }
                     }
                   });
    if (!wait([&] { return added; }, 60s) || !add_error.empty()) setup_failed("factory.add: " + add_error);
    d.supervisor().patrol_soon();

    d.journal().subscribe([this](const vermas::Event& e) {
      if (e.event_type == "wo.created" && e.subject) last_created_ = *e.subject;
      return true;
    });
    for (int i = 0; i < 4; ++i) {
      vermas::WoCreate c;
      c.title = "fuzz work order " + std::to_string(i);
      if (i != 1) c.factory = kFactory;
      fixed_ids_.push_back(d.work_orders().create(c, vermas::WoActor{}).id);
    }
    wait([&] { return false; }, 500ms);  // the supervisor and QA start

    // A copy of the method table (handlers and the caller identification): the real
    // handlers, reached through the wrappers below.
    original_ = d.router();
    for (const auto& method : original_.methods()) wrap(method);
    std::fprintf(stderr, "fuzz_dispatch: daemon on %s, factory %s, work orders %s %s %s %s, %zu methods\n",
                 root.c_str(), kFactory, fixed_ids_[0].c_str(), fixed_ids_[1].c_str(), fixed_ids_[2].c_str(),
                 fixed_ids_[3].c_str(), original_.methods().size());
  }

  // At exit: stop the agents (they would outlive us for 30 s), remove the root.
  void finish() {
    if (!internal_errors_.empty()) {
      std::fprintf(stderr, "fuzz_dispatch: %zu distinct internal error(s) (-32603) answered:\n",
                   internal_errors_.size());
      for (const auto& e : internal_errors_) std::fprintf(stderr, "  %s\n", e.c_str());
    }
    if (!daemon_) return;
    daemon_->request_stop("fuzzing done", true);
    auto& io = daemon_->io();
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!io.stopped() && std::chrono::steady_clock::now() < until) io.run_one_for(50ms);
    if (!std::getenv("VERMAS_FUZZ_KEEP")) {
      std::error_code ec;
      fs::remove_all(base_, ec);
    }
  }

  void one_input(const std::uint8_t* data, std::size_t size);

 private:
  template <class Pred>
  bool wait(Pred done, std::chrono::milliseconds limit) {
    auto& io = daemon_->io();
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) {
      if (io.stopped()) io.restart();
      io.run_one_for(10ms);
    }
    return done();
  }

  void substitute(json& j) const {
    if (j.is_string()) {
      const auto& s = j.get_ref<const std::string&>();
      if (s.size() == 4 && s.rfind("$WO", 0) == 0 && s[3] >= '0' && s[3] <= '3') j = fixed_ids_[s[3] - '0'];
      else if (s == "$LAST") j = last_created_.empty() ? fixed_ids_[0] : last_created_;
    } else if (j.is_structured()) {
      for (auto& v : j) substitute(v);
    }
  }

  // Every method goes through a wrapper: placeholders substituted, the slow-call budget,
  // the neutralised methods; then the real handler through the copied router.
  void wrap(const std::string& method) {
    wrapped_.add_async(method, [this, method](vermas::Call& c) -> asio::awaitable<json> {
      rpc::Request request = c.request;
      substitute(request.params);
      const rpc::Params p(request.params);
      if (kSlowMethods.count(method) && ++slow_calls_ > kSlowBudget)
        throw rpc::Error(rpc::code::unavailable, "fuzz harness: this input's budget of slow calls is spent");
      if (method == "shutdown") {  // the real checks, then nothing
        p.allow_only({"stop_agents"});
        (void)p.boolean("stop_agents");
        co_return json::object();
      }
      if (method == "factory.add" && refuse_factory_add(p))
        throw rpc::Error(rpc::code::conflict, "fuzz harness: factory.add of a new factory would clone; disabled");
      if (method == "factory.remove" && p.raw().contains("name") && p.raw()["name"] == kFactory)
        throw rpc::Error(rpc::code::conflict, "fuzz harness: the harness's factory stays");
      if (method == "team.add" && refuse_team_add(p))
        throw rpc::Error(rpc::code::conflict, "fuzz harness: team limit reached");
      json response = co_await original_.dispatch(c.conn, request);
      if (response.contains("error")) {
        const json& e = response["error"];
        throw rpc::Error(e.value("code", 0), e.value("message", std::string()), e.value("data", json()));
      }
      co_return response["result"];
    });
  }

  // True when the real factory.add would get as far as `git clone`.
  static bool refuse_factory_add(const rpc::Params& p) {
    std::string name, url;
    try {
      p.allow_only({"name", "url", "prefix"});
      name = p.required_str("name", 64);
      url = p.required_str("url", 4096);
      (void)p.str("prefix", 16);
    } catch (const rpc::Error&) {
      return false;  // the real method refuses it the same way
    }
    if (!vermas::valid_factory_name(name) || name == "logs" || name == kFactory) return false;
    // URLs git could never be given: the real method refuses them before cloning.
    if (url.front() == '-') return false;
    for (unsigned char ch : url)
      if (ch < 0x20 || ch == 0x7f) return false;
    return true;
  }

  bool refuse_team_add(const rpc::Params& p) const {
    try {
      p.allow_only({"factory", "name"});
      const auto factory = p.required_str("factory", 64);
      const auto name = p.required_str("name", 64);
      if (factory != kFactory || !vermas::valid_factory_name(name)) return false;
      auto teams = daemon_->factories().teams(factory);
      for (const auto& t : teams)
        if (t.name == name) return false;  // -32002 "already exists" from the real one
      return teams.size() >= kMaxTeams;
    } catch (const rpc::Error&) {
      return false;
    }
  }

  fs::path base_;
  std::unique_ptr<vermas::Daemon> daemon_;
  vermas::Router original_;
  vermas::Router wrapped_;
  std::vector<std::string> fixed_ids_;
  std::string last_created_;
  int slow_calls_ = 0;
  bool verbose_ = std::getenv("VERMAS_FUZZ_VERBOSE") != nullptr;  // print inputs and answers
  std::uint64_t next_connection_ = 1ull << 40;
  std::set<std::string> internal_errors_;
};

// ---- checking the answers

struct Expected {
  bool batch = false;
  std::optional<std::int64_t> whole_line_code;  // a line refused whole
  std::vector<json> ids;                        // ids of the responses, in order
  std::vector<std::string> methods;             // "" for an item error
};

std::vector<Expected> expected_answers(std::string_view input) {
  std::vector<Expected> out;
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t nl = input.find('\n', start);
    if (nl == std::string_view::npos) break;  // the harness ends the input with '\n'
    std::string_view line = input.substr(start, nl - start);
    start = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    rpc::Decoded d = rpc::decode_line(line);
    Expected e;
    e.batch = d.batch;
    if (d.error) {
      e.whole_line_code = (*d.error)["error"]["code"].get<std::int64_t>();
      out.push_back(e);
      continue;
    }
    for (const auto& item : d.items) {
      if (const json* err = std::get_if<json>(&item)) {
        e.ids.push_back((*err)["id"]);
        e.methods.push_back("");
      } else {
        const auto& r = std::get<rpc::Request>(item);
        if (r.notification) continue;
        e.ids.push_back(r.id);
        e.methods.push_back(r.method);
      }
    }
    if (!e.ids.empty()) out.push_back(e);
  }
  return out;
}

void check_response(const json& r, const json& expected_id, const std::string& method, const vermas::Router& router,
                    std::set<std::string>& internal_errors) {
  const std::string ctx = "method " + (method.empty() ? std::string("(item error)") : method) + ": " + show(r);
  if (!r.is_object()) violated("a response that is not an object", ctx);
  if (r.value("jsonrpc", json()) != "2.0") violated("a response without jsonrpc \"2.0\"", ctx);
  if (!r.contains("id") || r["id"] != expected_id)
    violated("a response whose id does not echo the request's", "expected " + show(expected_id) + "; " + ctx);
  if (r.contains("result") == r.contains("error")) violated("a response without exactly one of result and error", ctx);
  if (r.contains("result")) {
    if (!r["result"].is_object()) violated("a result that is not an object", ctx);
    return;
  }
  const json& e = r["error"];
  if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer() ||
      !known_code(e["code"].get<std::int64_t>()))
    violated("an error code outside the spec's set", ctx);
  if (!e.contains("message") || !e["message"].is_string() || e["message"].get<std::string>().empty())
    violated("an error without a message", ctx);
  const auto code = e["code"].get<std::int64_t>();
  if (!method.empty() && !router.has(method) && code != rpc::code::method_not_found)
    violated("an unknown method not answered -32601", ctx);
  if (code == rpc::code::internal_error && internal_errors.size() < 50)
    internal_errors.insert(method + ": " + e["message"].get<std::string>().substr(0, 200));
}

void Harness::one_input(const std::uint8_t* data, std::size_t size) {
  vermas::Daemon& d = *daemon_;
  slow_calls_ = 0;
  std::string input(reinterpret_cast<const char*>(data), size);
  if (input.empty() || input.back() != '\n') input.push_back('\n');

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) setup_failed("socketpair");
  ::fcntl(sv[1], F_SETFL, ::fcntl(sv[1], F_GETFL) | O_NONBLOCK);
  // A small send buffer on the daemon's end: answers of a few KiB already take the partial
  // write and queued-write paths that, with the default buffer, need answers over ~200 KB.
  const int sndbuf = 8192;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  vermas::Connection::Socket socket(d.io(), asio::local::stream_protocol(), sv[0]);
  bool closed = false;
  auto conn = std::make_shared<vermas::Connection>(
      std::move(socket), vermas::PeerCred{::getpid(), ::getuid(), ::getgid()}, next_connection_++, wrapped_,
      std::chrono::milliseconds(2000));
  conn->start([&closed](vermas::Connection&) { closed = true; });

  std::string answers;
  std::size_t written = 0;
  bool shut = false, eof = false;
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  auto& io = d.io();
  while (!(eof && closed)) {
    if (std::chrono::steady_clock::now() > until)
      violated("the connection did not answer and close in time",
               std::to_string(written) + " of " + std::to_string(input.size()) + " bytes written, " +
                   std::to_string(answers.size()) + " bytes answered, closed " + std::to_string(closed));
    while (written < input.size()) {
      ssize_t n = ::send(sv[1], input.data() + written, input.size() - written, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    if (written == input.size() && !shut) {
      ::shutdown(sv[1], SHUT_WR);
      shut = true;
    }
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        answers.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) eof = true;
      break;
    }
    if (io.stopped()) io.restart();
    if (io.poll() == 0) io.run_one_for(2ms);
  }
  ::close(sv[1]);
  conn.reset();
  io.poll();
  if (d.stopping()) violated("the daemon is stopping after an input", "");

  if (verbose_) std::fprintf(stderr, "-- input:\n%s-- answers:\n%s", input.c_str(), answers.c_str());

  // Every line: JSON, a response, a batch of them, or an event notification.
  std::vector<Expected> expected = expected_answers(input);
  std::size_t next = 0, start = 0;
  while (start < answers.size()) {
    std::size_t nl = answers.find('\n', start);
    if (nl == std::string::npos)
      violated("an answer cut short (no final newline)",
               std::to_string(answers.size() - start) + " bytes after the last newline: " + answers.substr(start, 300));
    const std::string line = answers.substr(start, nl - start);
    start = nl + 1;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) violated("an answer line that is not valid JSON", line.substr(0, 300));
    if (j.is_object() && j.contains("method")) {
      if (j["method"] != "event" || !j.contains("params") || !j["params"].is_object() || j.contains("id"))
        violated("a notification that is not an event", line.substr(0, 300));
      continue;
    }
    if (next >= expected.size()) violated("more answers than requests", line.substr(0, 300));
    const Expected& e = expected[next++];
    if (e.whole_line_code) {
      if (!j.is_object() || !j.contains("error") || j["error"].value("code", 0) != *e.whole_line_code)
        violated("a line refused whole is not answered with its error",
                 "expected code " + std::to_string(*e.whole_line_code) + ": " + line.substr(0, 300));
      check_response(j, nullptr, "", wrapped_, internal_errors_);
      continue;
    }
    if (e.batch) {
      if (!j.is_array() || j.size() != e.ids.size())
        violated("a batch not answered with an array of one response per request",
                 std::to_string(e.ids.size()) + " expected: " + line.substr(0, 300));
      for (std::size_t i = 0; i < e.ids.size(); ++i) check_response(j[i], e.ids[i], e.methods[i], wrapped_, internal_errors_);
    } else {
      check_response(j, e.ids.front(), e.methods.front(), wrapped_, internal_errors_);
    }
  }
  if (next != expected.size())
    violated("requests left unanswered", std::to_string(expected.size() - next) + " of " +
                                             std::to_string(expected.size()) + " answers missing");
}

Harness* harness = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  harness = new Harness();  // never destroyed: reachable, so not a leak
  std::atexit([] { harness->finish(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  harness->one_input(data, size);
  return 0;
}
