#include "daemon/router.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/store.hpp"

namespace vermas {

void Router::add(const std::string& method, SyncHandler handler, Access access) {
  handlers_[method] = Entry{std::move(handler), nullptr, access};
}

void Router::add_async(const std::string& method, AsyncHandler handler, Access access) {
  handlers_[method] = Entry{nullptr, std::move(handler), access};
}

std::vector<std::string> Router::methods() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : handlers_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

boost::asio::awaitable<rpc::json> Router::dispatch(Connection& conn, const rpc::Request& request) const {
  auto it = handlers_.find(request.method);
  if (it == handlers_.end())
    co_return rpc::make_error(request.id, rpc::code::method_not_found,
                              "method not found: " + request.method, rpc::json{{"method", request.method}});
  Call call{conn, request, rpc::Params(request.params), std::nullopt};
  if (identify_) call.agent = identify_(conn);
  if (call.agent && it->second.access == Access::operator_only)
    co_return rpc::make_error(request.id, rpc::code::permission_denied,
                              request.method + " is an operator method; agent " + *call.agent + " may not call it",
                              rpc::json{{"method", request.method}, {"agent", *call.agent}});
  // Errors become values first: co_await is not allowed inside a catch block. And no
  // co_await inside a conditional expression either: GCC 12 miscompiles that.
  rpc::json response;
  try {
    rpc::json result;
    if (it->second.sync) {
      result = it->second.sync(call);
    } else {
      result = co_await it->second.async(call);
    }
    response = rpc::make_result(request.id, std::move(result));
  } catch (const rpc::Error& e) {
    response = rpc::make_error(request.id, e.code(), e.what(), e.data());
  } catch (const StoreError& e) {
    bool transient = e.kind() == StoreError::Kind::busy || e.kind() == StoreError::Kind::full;
    spdlog::error("{}: database: {}", request.method, e.what());
    response = rpc::make_error(request.id, transient ? rpc::code::unavailable : rpc::code::internal_error,
                               std::string("database: ") + e.what());
  } catch (const std::exception& e) {
    spdlog::error("{}: internal error: {}", request.method, e.what());
    response = rpc::make_error(request.id, rpc::code::internal_error, std::string("internal error: ") + e.what());
  }
  co_return response;
}

}  // namespace vermas
