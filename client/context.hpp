#pragma once
// What every `co` command shares: the global flags, the company root, the daemon
// connection, and the rules for output and exit codes (spec §1, §7).
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client/rpc_client.hpp"
#include "common/paths.hpp"

namespace vermas::client {

enum Exit : int { kOk = 0, kDaemonError = 1, kUsage = 2, kUnreachable = 3 };

struct Globals {
  bool json = false;
  std::optional<std::string> socket;
  double timeout_seconds = 10;
  bool timeout_given = false;  // --timeout on the command line: it then applies to every call
  std::optional<std::string> company_root;
};

class Context {
 public:
  explicit Context(Globals globals);

  const Globals& globals() const { return g_; }
  bool json_output() const { return g_.json; }
  const Paths& paths() const { return paths_; }
  RootSource root_source() const { return root_source_; }
  std::string socket_path() const;
  // "co" with the --company-root and --socket the user gave, then `rest`: hints that work
  // when pasted.
  std::string command(const std::string& rest) const;
  RpcClient& rpc();  // connected lazily
  // A call that fails with Unreachable forgets the connection, so the next call connects
  // again: the daemon that was asked may be gone and a new one serve the same path (a
  // killed daemon's last thread can still accept, then reset).
  json call(const std::string& method, json params = json::object());
  // agent.list or status with `fields`, the agent members a table shows (all of them for
  // --json); a daemon from before `fields` refuses the parameter and is asked again without.
  json call_for_table(const std::string& method, json params, std::initializer_list<const char*> fields);
  // For methods that answer once an action is done (git clone, stopping an agent): waits
  // max(--timeout, at_least_seconds), or exactly --timeout when it was given.
  json call_waiting(const std::string& method, json params, double at_least_seconds);
  // Seconds call_waiting would wait.
  double waiting_seconds(double at_least_seconds) const;

  // Where to look when the daemon answers "not found" (-32001), e.g. "co agent list".
  void set_not_found_hint(std::string hint) { not_found_hint_ = std::move(hint); }
  const std::string& not_found_hint() const { return not_found_hint_; }
  // `co call` names its own method: "method not found" is then a typo, not an old daemon.
  void set_raw_call() { raw_call_ = true; }
  bool raw_call() const { return raw_call_; }

  // Prints `result` as JSON (--json) or calls `human` to print it; returns kOk.
  template <class F>
  int print(const json& result, F&& human) const {
    if (g_.json) print_json(result);
    else human(result);
    return kOk;
  }
  void print_json(const json& doc) const;

 private:
  json call_with_timeout(const std::string& method, json params, std::optional<std::chrono::milliseconds> timeout);
  Globals g_;
  Paths paths_;
  RootSource root_source_;
  mutable std::optional<std::string> socket_;
  std::unique_ptr<RpcClient> rpc_;
  std::string not_found_hint_;
  bool raw_call_ = false;
};

// Runs a command body, mapping failures to the one-line stderr message and exit code.
int guarded(Context& ctx, const std::function<int()>& body);
// One line on stderr ("co: ..."); with --json also {"error": ...} on stdout.
// The JSON document: {"error": {code, message, data}}; `error` may carry the code, the message
// and data (a daemon's), or other keys, which become data.
int fail(const Context& ctx, int exit_code, const std::string& message, const json& error = nullptr);
// A word for a shell (bash and zsh alike): single-quoted only when it must be, so hints and
// completion scripts paste as they are.
std::string shell_quoted(const std::string& s);
int fail(bool json_output, int exit_code, const std::string& message, const json& error = nullptr);
json error_document(int exit_code, const std::string& message, const json& error);

std::string program_name();  // "co" or "wo"
void set_program_name(std::string name);

// A factory name typed on the command line: kOk, or the usage error (exit 2) already printed.
int check_factory_name(const Context& ctx, const std::string& name);

}  // namespace vermas::client
