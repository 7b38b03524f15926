#include "client/rpc_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <strings.h>

#include "common/jsonrpc.hpp"

namespace vermas::client {

using Clock = std::chrono::steady_clock;

RpcClient::RpcClient(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

RpcClient::~RpcClient() {
  if (fd_ >= 0) ::close(fd_);
}

void RpcClient::connect() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) throw Unreachable("socket path too long: " + path_);
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw Unreachable(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == ENOENT) throw Unreachable("no socket at " + path_);
    if (err == ECONNREFUSED) throw Unreachable("connection refused at " + path_ + " (stale socket?)");
    throw Unreachable("cannot connect to " + path_ + ": " + std::strerror(err));
  }
}

namespace {
std::string g_trace;  // the prefix; empty: not tracing

bool env_is(const char* name, std::initializer_list<const char*> values) {
  const char* v = std::getenv(name);
  if (!v) return false;
  for (const char* want : values)
    if (::strcasecmp(v, want) == 0) return true;
  return false;
}

void trace_line(const char* dir, std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::cerr << g_trace << ' ' << dir << ' ' << line << '\n';
}
}  // namespace

bool debug_from_env() {
  return env_is("DEBUG", {"1", "true", "yes", "on"}) || env_is("LOG_LEVEL", {"debug", "trace"});
}

void RpcClient::trace(std::string prefix) { g_trace = std::move(prefix); }

void RpcClient::write_all(const std::string& data) {
  if (!g_trace.empty()) trace_line("->", data);
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Unreachable(std::string("write to daemon: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

// The first whole line of the buffer (its newline at or after `from`), taken out of it.
std::optional<std::string> RpcClient::take_line(std::size_t from) {
  const auto nl = buffer_.find('\n', from);
  if (nl == std::string::npos) return std::nullopt;
  std::string line;
  if (nl + 1 == buffer_.size()) {  // the usual case, one answer in the buffer: handed over
    buffer_.pop_back();
    line = std::move(buffer_);
    buffer_.clear();
  } else {
    line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
  }
  if (!g_trace.empty()) trace_line("<-", line);
  return line;
}

std::optional<std::string> RpcClient::read_line(std::optional<std::chrono::milliseconds> timeout) {
  auto deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
  std::size_t scanned = 0;  // bytes of buffer_ known to hold no newline
  for (;;) {
    if (auto line = take_line(scanned)) return line;
    scanned = buffer_.size();
    int wait_ms = -1;
    if (timeout) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      wait_ms = static_cast<int>(left);
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return std::nullopt;
    ssize_t n = receive(0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Unreachable("the daemon closed the connection");
  }
}

// Straight into the buffer, and a whole-buffer line leaves it by move (read_line): a large
// answer (agent.list of 200 agents) is written into fresh memory once, not three times (a
// chunk on the stack, the buffer, the line). A fresh page costs ~10 µs to fault on the
// virtual machines this runs on, and co runs for every agent's heartbeat.
ssize_t RpcClient::receive(int flags) {
  // Room for what is waiting (FIONREAD), not a fixed 64 KiB: the room is zeroed by resize,
  // and a heartbeat's answer is a hundred bytes.
  int waiting = 0;
  if (::ioctl(fd_, FIONREAD, &waiting) != 0) waiting = 0;
  const std::size_t room = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(waiting, 0)), 1024, 1 << 20);
  const std::size_t used = buffer_.size();
  buffer_.resize(used + room);
  const ssize_t n = ::recv(fd_, buffer_.data() + used, room, flags);
  buffer_.resize(used + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
  return n;
}

json RpcClient::call(const std::string& method, json params) { return call(method, std::move(params), timeout_); }

json RpcClient::call(const std::string& method, json params, std::chrono::milliseconds timeout) {
  if (fd_ < 0) connect();
  std::int64_t id = next_id_++;
  write_all(rpc::encode(rpc::make_request(id, method, std::move(params))));
  for (;;) {
    auto line = read_line(timeout);
    if (!line) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", static_cast<double>(timeout.count()) / 1000.0);
      throw Timeout("no answer to " + method + " within " + secs + " s");
    }
    json msg = json::parse(*line, nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) throw Unreachable("unreadable answer from the daemon");
    if (!msg.contains("id")) {  // a notification that arrived first
      pending_notifications_.push_back(std::move(msg));
      continue;
    }
    if (msg["id"] != id) {
      if (msg["id"].is_null() && msg.contains("error")) {  // refused before reading us
        const auto& e = msg["error"];
        throw RpcFailure(e.value("code", rpc::code::internal_error), e.value("message", "error"),
                         e.value("data", json()));
      }
      continue;
    }
    if (msg.contains("error")) {
      const auto& e = msg["error"];
      throw RpcFailure(e.value("code", rpc::code::internal_error), e.value("message", "error"),
                       e.contains("data") ? e["data"] : json());
    }
    // Moved out: a copy of a large answer (agent.list at 200 agents) cost as much as its parse.
    auto result = msg.find("result");
    if (result == msg.end()) return json::object();
    return std::move(*result);
  }
}

std::optional<json> RpcClient::next_notification(std::optional<std::chrono::milliseconds> timeout) {
  if (!pending_notifications_.empty()) {
    json n = std::move(pending_notifications_.front());
    pending_notifications_.erase(pending_notifications_.begin());
    return n;
  }
  for (;;) {
    auto line = read_line(timeout);
    if (!line) return std::nullopt;
    json msg = json::parse(*line, nullptr, false);
    if (msg.is_object() && !msg.contains("id")) return msg;
  }
}

std::vector<json> RpcClient::ready_notifications() {
  std::vector<json> out(std::make_move_iterator(pending_notifications_.begin()),
                        std::make_move_iterator(pending_notifications_.end()));
  pending_notifications_.clear();
  if (fd_ < 0) return out;
  for (;;) {
    ssize_t n = receive(MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) throw Unreachable("the daemon closed the connection");
  }
  while (auto line = take_line(0)) {
    json msg = json::parse(*line, nullptr, false);
    if (msg.is_object() && !msg.contains("id")) out.push_back(std::move(msg));  // answers: none outstanding
  }
  return out;
}

bool RpcClient::wait_closed(std::chrono::milliseconds timeout) {
  try {
    for (;;)
      if (!read_line(timeout)) return false;
  } catch (const Unreachable&) {
    return true;
  }
}

}  // namespace vermas::client
