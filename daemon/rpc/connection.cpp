#include "daemon/rpc/connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "daemon/rpc/line_framer.hpp"
#include "daemon/rpc/router.hpp"
#include "daemon/store/group_commit.hpp"

namespace vermas {

namespace asio = boost::asio;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
// The sync that would have made these answers' writes durable failed: each success becomes
// an error, since an OK must mean "on disk". The write may still be there after a restart.
void not_durable(rpc::json& responses) {
  for (auto& r : responses) {
    if (!r.contains("result")) continue;
    r = rpc::make_error(r.value("id", rpc::json()), rpc::code::internal_error,
                        "the change was written but the database could not be synced to disk; it may be lost "
                        "in a power cut (see the daemon's log)");
  }
}

// The shared transaction these answers joined was rolled back: none of their changes stands.
void rolled_back(rpc::json& responses, const std::string& why) {
  for (auto& r : responses) {
    if (!r.contains("result")) continue;
    r = rpc::make_error(r.value("id", rpc::json()), rpc::code::unavailable,
                        "the change was not saved: " + why + " (try again)");
  }
}
}  // namespace

Connection::Connection(Socket socket, PeerCred peer, std::uint64_t id, const Router& router,
                       std::chrono::milliseconds request_timeout)
    : socket_(std::move(socket)), peer_(peer), id_(id), router_(router),
      writer_wake_(socket_.get_executor()), reader_wake_(socket_.get_executor()),
      line_deadline_(socket_.get_executor()), request_timeout_(request_timeout) {
  writer_wake_.expires_at(asio::steady_timer::time_point::max());
  reader_wake_.expires_at(asio::steady_timer::time_point::max());
}

Connection::~Connection() = default;

void Connection::start(std::function<void(Connection&)> on_closed) {
  on_closed_ = std::move(on_closed);
  auto self = shared_from_this();
  loops_running_ = 2;
  // Whatever ends a loop, an exception included, closes the connection and gives its slot
  // back: a loop that died silently would hold one of the 256 forever.
  asio::co_spawn(socket_.get_executor(), [self]() { return self->read_loop(); }, [self](std::exception_ptr e) {
    if (e) self->failed("reader", e);
    self->finish();
  });
  asio::co_spawn(socket_.get_executor(), [self]() { return self->write_loop(); }, [self](std::exception_ptr e) {
    if (e) self->failed("writer", e);
    self->finish();
  });
}

void Connection::failed(const char* loop, std::exception_ptr e) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  spdlog::error("connection {} (pid {}): {} failed: {}; closing it", id_, peer_.pid, loop, what);
  close(std::string(loop) + " failed");
}

bool Connection::send(std::string line) {
  if (!open_) return false;
  if (queue_.empty() && !writing_) {
    // Fast path: an answer usually fits the socket buffer, so write it now and spare the
    // writer coroutine a wake-up (a timer and an epoll round trip per request).
    ssize_t n = ::send(socket_.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(line.size())) return true;
    if (n > 0) {
      line.erase(0, static_cast<std::size_t>(n));
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close(std::string("write failed: ") + std::strerror(errno));
      return false;
    }
  }
  queued_bytes_ += line.size();
  queue_.push_back(std::move(line));
  writer_wake_.cancel();
  return true;
}

bool Connection::notify(const rpc::json& message) {
  if (!open_ || closing_) return false;
  if (queued_bytes_ > kHighWaterBytes) {
    spdlog::warn("connection {} (pid {}): dropped: not reading its notifications ({} bytes queued)",
                 id_, peer_.pid, queued_bytes_);
    close("subscriber not reading");
    return false;
  }
  return send(rpc::encode(message));
}

void Connection::close(const std::string& reason) {
  if (!open_) return;
  spdlog::debug("connection {} closed: {}", id_, reason);
  open_ = false;
  boost::system::error_code ec;
  socket_.shutdown(Socket::shutdown_both, ec);
  socket_.close(ec);
  writer_wake_.cancel();
  reader_wake_.cancel();
  line_deadline_.cancel();
  for (auto& fn : cleanups_) fn();
  cleanups_.clear();
}

void Connection::close_after_flush() {
  if (!open_) return;
  closing_ = true;
  boost::system::error_code ec;
  socket_.shutdown(Socket::shutdown_receive, ec);  // wakes the reader with EOF
  // Not while a write is in flight: the writer closes once it is done and the queue is
  // empty (closing here cut off answers larger than the socket buffer).
  if (queue_.empty() && !writing_) close("shutdown");
  writer_wake_.cancel();
}

void Connection::finish() {
  if (--loops_running_ == 0 && on_closed_) {
    auto cb = std::move(on_closed_);
    cb(*this);
  }
}

// The deadline of a begun line runs only while we wait for its bytes: time spent answering
// earlier lines, or paused because the peer does not read, is not the peer's slowness.
void Connection::wait_for_line_deadline(std::chrono::steady_clock::time_point deadline) {
  line_deadline_.expires_at(deadline);
  std::weak_ptr<Connection> weak = weak_from_this();
  // The generation tells a stale expiry (already queued when the bytes arrived) from ours.
  line_deadline_.async_wait([weak, gen = ++deadline_generation_](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && self->deadline_generation_ == gen) self->request_timed_out();
  });
}

void Connection::request_timed_out() {
  if (!open_ || closing_) return;
  const double seconds = std::chrono::duration<double>(request_timeout_).count();
  spdlog::warn("connection {} (pid {}): a request line not completed within {} s; closing it", id_, peer_.pid,
               seconds);
  send(rpc::encode(rpc::make_error(nullptr, rpc::code::invalid_request,
                                   fmt::format("request line not completed within {} s", seconds),
                                   rpc::json{{"request_timeout_seconds", seconds}})));
  close_after_flush();  // wakes the reader with EOF
}

awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  LineFramer framer(rpc::kMaxLineBytes);
  std::chrono::steady_clock::time_point line_began{};
  char chunk[64 * 1024];
  while (open_ && !closing_) {
    if (framer.partial()) wait_for_line_deadline(line_began + request_timeout_);
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(chunk), use_tuple);
    line_deadline_.cancel();
    ++deadline_generation_;
    if (ec || n == 0) break;
    const bool was_partial = framer.partial();
    framer.append(std::string_view(chunk, n));
    bool completed = false;
    for (auto frame = framer.next(); open_ && frame.kind != LineFramer::Frame::Kind::none; frame = framer.next()) {
      completed = true;
      if (frame.kind == LineFramer::Frame::Kind::too_long) {
        send(rpc::encode(rpc::make_error(nullptr, rpc::code::too_large, "message over 1 MiB",
                                         rpc::json{{"limit_bytes", rpc::kMaxLineBytes}})));
      } else {
        // One line's failure is that line's -32603, never the end of the connection.
        std::exception_ptr failure;
        try {
          co_await handle_line(frame.text);
        } catch (...) {
          failure = std::current_exception();
        }
        if (failure) {
          try {
            std::rethrow_exception(failure);
          } catch (const std::exception& e) {
            spdlog::error("connection {} (pid {}): internal error on a request: {}", id_, peer_.pid, e.what());
          } catch (...) {
            spdlog::error("connection {} (pid {}): internal error on a request", id_, peer_.pid);
          }
          send(rpc::encode(rpc::make_error(nullptr, rpc::code::internal_error, "internal error")));
        }
      }
      // Backpressure: stop reading while the peer is not reading our answers.
      while (open_ && queued_bytes_ > kHighWaterBytes) co_await reader_wake_.async_wait(use_tuple);
    }
    // A new line began in this read: its deadline starts now.
    if (framer.partial() && (!was_partial || completed)) line_began = std::chrono::steady_clock::now();
  }
  // EOF from the peer: answer what is queued, then close.
  if (open_) close_after_flush();
}

awaitable<void> Connection::handle_line(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) co_return;
  rpc::Decoded decoded = rpc::decode_line(line);
  if (decoded.error) {
    send(rpc::encode(*decoded.error));
    co_return;
  }
  rpc::json responses = rpc::json::array();
  for (auto& item : decoded.items) {
    if (auto* err = std::get_if<rpc::json>(&item)) {
      responses.push_back(std::move(*err));
      continue;
    }
    auto& request = std::get<rpc::Request>(item);
    rpc::json response = co_await router_.dispatch(*this, request);
    if (!request.notification) responses.push_back(std::move(response));
  }
  if (responses.empty()) co_return;  // notifications only: nothing is answered
  // Group commit: an answer leaves only once everything committed before it is on disk,
  // its own writes and any it may have read. Later lines of this connection wait behind it.
  if (auto* group = router_.group_commit(); group && group->pending()) {
    const auto outcome = co_await group->durable();
    if (outcome == GroupCommit::Outcome::sync_failed) not_durable(responses);
    if (outcome == GroupCommit::Outcome::rolled_back) rolled_back(responses, group->lost_because());
  }
  // A single answer is moved into its line (a large raw result is not copied again).
  send(decoded.batch ? rpc::encode(responses) : rpc::encode(std::move(responses.front())));
}

awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  while (open_) {
    if (queue_.empty()) {
      if (closing_) {
        close("shutdown");
        break;
      }
      writer_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await writer_wake_.async_wait(use_tuple);
      continue;
    }
    // Coalesce small queued lines into one write.
    std::string out = std::move(queue_.front());
    queue_.pop_front();
    while (!queue_.empty() && out.size() < 256 * 1024) {
      out += queue_.front();
      queue_.pop_front();
    }
    writing_ = true;
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), use_tuple);
    writing_ = false;
    queued_bytes_ -= out.size();
    if (ec) {
      close("write failed: " + ec.message());
      break;
    }
    if (queued_bytes_ < kLowWaterBytes) reader_wake_.cancel();
  }
}

}  // namespace vermas
