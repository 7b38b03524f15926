#pragma once
// One client connection: a reader that frames lines and dispatches them in order, and a
// writer that drains a bounded queue. A peer that stops reading stalls only itself: its
// reader pauses past the high-water mark, and a subscriber past it is dropped.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/jsonrpc.hpp"

namespace vermas {

class Router;

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  static constexpr std::size_t kHighWaterBytes = 4 << 20;  // stop reading / drop subscriber
  static constexpr std::size_t kLowWaterBytes = 1 << 20;   // resume reading

  using Socket = boost::asio::local::stream_protocol::socket;
  // request_timeout: a request line, once begun, must end within this (slow-loris defence).
  Connection(Socket socket, PeerCred peer, std::uint64_t id, const Router& router,
             std::chrono::milliseconds request_timeout);
  ~Connection();

  void start(std::function<void(Connection&)> on_closed);
  // Queues one encoded line. Returns false if the connection is closed.
  bool send(std::string line);
  // For unsolicited messages (event notifications): a reader that has fallen past the
  // high-water mark is dropped rather than buffered without bound.
  bool notify(const rpc::json& message);
  void close(const std::string& reason);
  void close_after_flush();  // graceful: finish queued writes, then close

  const PeerCred& peer() const { return peer_; }
  std::uint64_t id() const { return id_; }
  bool open() const { return open_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  // Run once when the connection closes (e.g. to drop its event subscription).
  void on_close(std::function<void()> fn) { cleanups_.push_back(std::move(fn)); }
  // The journal token of this connection's events.subscribe, if any.
  std::optional<std::uint64_t> subscription() const { return subscription_; }
  void set_subscription(std::optional<std::uint64_t> token) { subscription_ = token; }
  // The agent this peer belongs to, once looked up (the peer's process does not change).
  const std::optional<std::optional<std::string>>& caller() const { return caller_; }
  void set_caller(std::optional<std::string> agent) { caller_ = std::move(agent); }

 private:
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> handle_line(std::string_view line);
  void wait_for_line_deadline(std::chrono::steady_clock::time_point deadline);
  void request_timed_out();
  void failed(const char* loop, std::exception_ptr e);
  void finish();

  Socket socket_;
  PeerCred peer_;
  std::uint64_t id_;
  const Router& router_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  boost::asio::steady_timer writer_wake_;
  boost::asio::steady_timer reader_wake_;
  boost::asio::steady_timer line_deadline_;
  std::chrono::milliseconds request_timeout_;
  std::uint64_t deadline_generation_ = 0;
  bool open_ = true;
  bool closing_ = false;  // close once the queue is empty
  bool writing_ = false;  // an async_write is in flight: later lines must queue behind it
  int loops_running_ = 0;
  std::function<void(Connection&)> on_closed_;
  std::vector<std::function<void()>> cleanups_;
  std::optional<std::uint64_t> subscription_;
  std::optional<std::optional<std::string>> caller_;
};

}  // namespace vermas
