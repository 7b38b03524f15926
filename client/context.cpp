#include "client/context.hpp"

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
    rpc_ = std::make_unique<RpcClient>(socket_path(), ms);
    rpc_->connect();
  }
  return *rpc_;
}

void Context::print_json(const json& doc) const {
  std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

int fail(const Context& ctx, int exit_code, const std::string& message, const json& error) {
  if (ctx.json_output()) ctx.print_json(json{{"error", error.is_null() ? json{{"message", message}} : error}});
  std::cerr << program_name() << ": " << message << "\n";
  return exit_code;
}

int guarded(Context& ctx, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Unreachable& e) {
    return fail(ctx, kUnreachable,
                std::string("the operations daemon is not reachable: ") + e.what() +
                    "; start it with: co operations start",
                json{{"code", "unreachable"}, {"message", e.what()}, {"socket", ctx.socket_path()}});
  } catch (const RpcFailure& e) {
    std::string msg = e.what();
    if (e.data.is_object() && e.data.contains("errors") && e.data["errors"].is_array())
      for (const auto& line : e.data["errors"]) msg += "\n  " + line.get<std::string>();
    json err{{"code", e.code}, {"message", e.what()}};
    if (!e.data.is_null()) err["data"] = e.data;
    return fail(ctx, kDaemonError, msg + " (" + rpc::code_name(e.code) + " " + std::to_string(e.code) + ")", err);
  }
}

}  // namespace vermas::client
