#pragma once
// The Unix socket server: mode 0600 whatever the umask (0660 with a socket group),
// SO_PEERCRED checks, at most kMaxConnections at once.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "daemon/rpc/connection.hpp"

namespace vermas {

class Router;

class Server {
 public:
  static constexpr std::size_t kMaxConnections = 256;

  Server(boost::asio::io_context& io, const Router& router);
  ~Server();

  // Binds and listens. Throws std::runtime_error with an operator-readable message
  // (path too long, directory missing, group unknown, ...).
  void listen(const std::filesystem::path& socket_path, const std::optional<std::string>& socket_group);
  // Stops accepting, lets each connection flush what it owes, removes the socket file.
  void stop();
  void close_all_now();

  // Called once every connection has closed after stop().
  void on_drained(std::function<void()> fn);
  // For connections accepted from now on ([operations] request_timeout_seconds).
  void set_request_timeout(std::chrono::milliseconds timeout) { request_timeout_ = timeout; }
  std::size_t connection_count() const { return connections_.size(); }
  const std::filesystem::path& socket_path() const { return path_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  bool peer_allowed(const PeerCred& peer) const;

  boost::asio::io_context& io_;
  const Router& router_;
  std::filesystem::path path_;
  std::optional<gid_t> group_;
  std::unique_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
  std::chrono::milliseconds request_timeout_{10000};
  bool stopping_ = false;
  std::function<void()> on_drained_;
};

}  // namespace vermas
