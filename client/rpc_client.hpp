#pragma once
// A blocking JSON-RPC client over the Unix socket: plain POSIX sockets and poll(), which
// keeps `co` small and quick to start (a status call is mostly process start-up).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vermas::client {

using json = nlohmann::json;

// The daemon could not be reached: no socket, refused, or no answer in time.
class Unreachable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Connected, but the answer did not come in time: the daemon may still be working on it.
class Timeout : public Unreachable {
 public:
  using Unreachable::Unreachable;
};

// The daemon answered with a JSON-RPC error.
class RpcFailure : public std::runtime_error {
 public:
  RpcFailure(int error_code, const std::string& message, json error_data)
      : std::runtime_error(message), code(error_code), data(std::move(error_data)) {}
  int code;
  json data;
};

// The guide's "Debug Mode": DEBUG=1 (or true, yes, on), or LOG_LEVEL=DEBUG or TRACE, prints
// each request and answer line on stderr ("co -> ...", "co <- ...").
bool debug_from_env();

class RpcClient {
 public:
  // Every line written and read on stderr after `prefix` ("co"); empty: off.
  static void trace(std::string prefix);
  RpcClient(std::string socket_path, std::chrono::milliseconds timeout);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  void connect();  // throws Unreachable
  json call(const std::string& method, json params = json::object());  // result, or throws
  // The same with its own answer timeout, for methods that wait for an action (git clone, stop).
  json call(const std::string& method, json params, std::chrono::milliseconds timeout);
  // Next notification (a message without id); nullopt on timeout. Throws Unreachable on EOF.
  std::optional<json> next_notification(std::optional<std::chrono::milliseconds> timeout);
  // Notifications already received or readable now, without waiting (co top polls the
  // socket beside the keyboard). Throws Unreachable on EOF.
  std::vector<json> ready_notifications();
  int fd() const { return fd_; }  // -1 until connected
  // Waits until the daemon closes the connection; false on timeout.
  bool wait_closed(std::chrono::milliseconds timeout);
  const std::string& socket_path() const { return path_; }

 private:
  std::optional<std::string> read_line(std::optional<std::chrono::milliseconds> timeout);
  ssize_t receive(int flags);  // recv(2) appended to buffer_
  std::optional<std::string> take_line(std::size_t from);
  void write_all(const std::string& data);
  std::string path_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;
  std::int64_t next_id_ = 1;
  std::vector<json> pending_notifications_;
};

}  // namespace vermas::client
