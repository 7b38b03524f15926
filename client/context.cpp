#include "client/context.hpp"

#include <algorithm>
#include <iostream>

#include "common/config.hpp"
#include "common/jsonrpc.hpp"

namespace vermas::client {

namespace {
std::string g_program = "co";
}

std::string program_name() { return g_program; }
void set_program_name(std::string name) { g_program = std::move(name); }

Context::Context(Globals globals) : g_(std::move(globals)) {
  auto choice = discover_company_root(g_.company_root, std::filesystem::current_path());
  paths_.root = choice.root;
  root_source_ = choice.source;
}

std::string Context::socket_path() const {
  if (socket_) return *socket_;
  if (g_.socket) return *(socket_ = *g_.socket);
  if (const char* env = std::getenv("VERMAS_SOCKET"); env && *env && !g_.company_root)
    return *(socket_ = env);
  // The company file may move the socket; a broken file falls back to the default.
  std::error_code ec;
  std::optional<std::string> configured;
  if (std::filesystem::exists(paths_.config_file(), ec)) {
    auto loaded = load_config(paths_.config_file());
    configured = loaded.value.operations.socket;
  }
  return *(socket_ = socket_path_for(paths_, configured));
}

RpcClient& Context::rpc() {
  if (!rpc_) {
    auto ms = std::chrono::milliseconds(static_cast<long>(g_.timeout_seconds * 1000));
    auto client = std::make_unique<RpcClient>(socket_path(), ms);
    client->connect();  // a failed connect leaves no half-made client behind
    rpc_ = std::move(client);
  }
  return *rpc_;
}

std::string shell_quoted(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@,") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string Context::command(const std::string& rest) const {
  const auto quoted = shell_quoted;
  std::string out = "co";
  if (g_.company_root) out += " --company-root " + quoted(*g_.company_root);
  if (g_.socket) out += " --socket " + quoted(*g_.socket);
  return out + " " + rest;
}

double Context::waiting_seconds(double at_least_seconds) const {
  return g_.timeout_given ? g_.timeout_seconds : std::max(g_.timeout_seconds, at_least_seconds);
}

json Context::call_for_table(const std::string& method, json params, std::initializer_list<const char*> fields) {
  if (g_.json) return call(method, std::move(params));
  json with = params;
  with["fields"] = json::array();
  for (const char* f : fields) with["fields"].push_back(f);
  try {
    return call(method, std::move(with));
  } catch (const RpcFailure& e) {
    if (e.code != rpc::code::invalid_params || !e.data.is_object() || e.data.value("field", "") != "fields" ||
        e.data.contains("value"))
      throw;
  }
  return call(method, std::move(params));
}

// Unreachable forgets the connection (see call() in context.hpp).
json Context::call_with_timeout(const std::string& method, json params, std::optional<std::chrono::milliseconds> timeout) {
  try {
    return timeout ? rpc().call(method, std::move(params), *timeout) : rpc().call(method, std::move(params));
  } catch (const Unreachable&) {
    rpc_.reset();
    throw;
  }
}

json Context::call(const std::string& method, json params) { return call_with_timeout(method, std::move(params), {}); }

json Context::call_waiting(const std::string& method, json params, double at_least_seconds) {
  return call_with_timeout(method, std::move(params),
                           std::chrono::milliseconds(static_cast<long>(waiting_seconds(at_least_seconds) * 1000)));
}

void Context::print_json(const json& doc) const {
  std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

json error_document(int exit_code, const std::string& message, const json& error) {
  // Always {code, message, data}: a daemon's error keeps its JSON-RPC code; the client's own
  // are named (usage, unreachable, timeout, failed), and anything else it knows goes in data.
  json out{{"code", exit_code == kUsage ? "usage" : exit_code == kUnreachable ? "unreachable" : "failed"},
           {"message", message},
           {"data", nullptr}};
  if (error.is_object()) {
    json data = json::object();
    for (const auto& [key, value] : error.items()) {
      if (key == "code" || key == "message") out[key] = value;
      else if (key == "data") out["data"] = value;
      else data[key] = value;
    }
    if (!data.empty()) {
      if (out["data"].is_object()) out["data"].update(data);
      else if (out["data"].is_null()) out["data"] = data;
    }
  }
  return json{{"error", out}};
}

int fail(const Context& ctx, int exit_code, const std::string& message, const json& error) {
  return fail(ctx.json_output(), exit_code, message, error);
}

int fail(bool json_output, int exit_code, const std::string& message, const json& error) {
  if (json_output) std::cout << error_document(exit_code, message, error).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  std::cerr << program_name() << ": " << message << "\n";
  return exit_code;
}

int guarded(Context& ctx, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Timeout& e) {
    return fail(ctx, kUnreachable,
                std::string(e.what()) +
                    (ctx.not_found_hint().empty()
                         ? "; the daemon may be busy or hung: see " + ctx.command("operations logs") +
                               ", or allow longer with --timeout"
                         : "; it may still be working on it: check with " + ctx.not_found_hint() +
                               ", or allow longer with --timeout SECONDS"),
                json{{"code", "timeout"}, {"message", e.what()}, {"socket", ctx.socket_path()}});
  } catch (const Unreachable& e) {
    return fail(ctx, kUnreachable,
                std::string("the operations daemon is not reachable: ") + e.what() +
                    "; start it with: " + ctx.command("operations start"),
                json{{"code", "unreachable"}, {"message", e.what()}, {"socket", ctx.socket_path()}});
  } catch (const RpcFailure& e) {
    std::string msg = e.what();
    if (e.data.is_object() && e.data.contains("errors") && e.data["errors"].is_array())
      for (const auto& line : e.data["errors"]) msg += "\n  " + line.get<std::string>();
    json err{{"code", e.code}, {"message", e.what()}};
    if (!e.data.is_null()) err["data"] = e.data;
    msg += std::string(" (") + rpc::code_name(e.code) + " " + std::to_string(e.code) + ")";
    if (e.code == rpc::code::not_found && !ctx.not_found_hint().empty()) msg += "; see: " + ctx.not_found_hint();
    if (e.code == rpc::code::method_not_found && !ctx.raw_call())
      msg +=
          "; the running daemon is older than this co: restart it with co operations stop --keep-agents && "
          "co operations start";
    return fail(ctx, kDaemonError, msg, err);
  } catch (const json::exception& e) {
    // An answer without the fields this co expects: a daemon of another version.
    return fail(ctx, kDaemonError,
                std::string("unexpected answer from the daemon (") + e.what() +
                    "); are co and vermas-operations the same version? (co --version, co ping)");
  }
}

int check_factory_name(const Context& ctx, const std::string& name) {
  if (valid_factory_name(name)) return kOk;
  return fail(ctx, kUsage,
              "invalid factory name '" + name +
                  "': use 1 to 32 lowercase letters, digits, '-' and '_', starting with a letter or digit");
}

}  // namespace vermas::client
