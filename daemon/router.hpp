#pragma once
// Method name -> handler. Handlers run on the daemon's one io_context thread; they return
// the result object or throw rpc::Error. Slow work is awaited, never blocked on.
#include <functional>
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
};

class Router {
 public:
  using AsyncHandler = std::function<boost::asio::awaitable<rpc::json>(Call&)>;
  using SyncHandler = std::function<rpc::json(Call&)>;

  void add(const std::string& method, SyncHandler handler);
  void add_async(const std::string& method, AsyncHandler handler);
  bool has(const std::string& method) const { return handlers_.count(method) != 0; }
  std::vector<std::string> methods() const;

  // Always yields a response object (result or error), even for notifications.
  boost::asio::awaitable<rpc::json> dispatch(Connection& conn, const rpc::Request& request) const;

 private:
  struct Entry {
    SyncHandler sync;
    AsyncHandler async;
  };
  std::unordered_map<std::string, Entry> handlers_;
};

}  // namespace vermas
