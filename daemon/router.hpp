#pragma once
// Method name -> handler. Handlers run on the daemon's one io_context thread; they return
// the result object or throw rpc::Error. Slow work is awaited, never blocked on.
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "common/jsonrpc.hpp"

namespace vermas {

class Connection;

struct Call {
  Connection& conn;
  const rpc::Request& request;
  rpc::Params params;
  // The agent whose process tree the peer runs in; empty for operators and other tools.
  std::optional<std::string> agent;
  std::string actor() const { return agent ? *agent : "operator"; }
};

// Operator methods (shutdown, config, budgets, pause …) refuse callers inside an agent's
// process tree with -32003: an agent can never change its own status, budget or approvals.
enum class Access { anyone, operator_only };

class Router {
 public:
  using AsyncHandler = std::function<boost::asio::awaitable<rpc::json>(Call&)>;
  using SyncHandler = std::function<rpc::json(Call&)>;

  void add(const std::string& method, SyncHandler handler, Access access = Access::anyone);
  void add_async(const std::string& method, AsyncHandler handler, Access access = Access::anyone);
  // Finds the agent a connection's peer belongs to (cached per connection by the caller).
  void set_identify(std::function<std::optional<std::string>(Connection&)> fn) { identify_ = std::move(fn); }
  bool has(const std::string& method) const { return handlers_.count(method) != 0; }
  std::vector<std::string> methods() const;

  // Always yields a response object (result or error), even for notifications.
  boost::asio::awaitable<rpc::json> dispatch(Connection& conn, const rpc::Request& request) const;

 private:
  struct Entry {
    SyncHandler sync;
    AsyncHandler async;
    Access access = Access::anyone;
  };
  std::unordered_map<std::string, Entry> handlers_;
  std::function<std::optional<std::string>(Connection&)> identify_;
};

}  // namespace vermas
