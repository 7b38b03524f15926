#include "daemon/rpc/server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/jsonrpc.hpp"
#include "common/paths.hpp"

namespace vermas {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace {

// Asio does not open sockets with CLOEXEC; without it every agent we spawn would
// inherit the listening socket and clients' connections.
void set_cloexec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

PeerCred peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  PeerCred peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.pid = cred.pid;
    peer.uid = cred.uid;
    peer.gid = cred.gid;
  } else {
    peer.uid = static_cast<uid_t>(-1);  // unknown peers are refused
  }
  return peer;
}

bool process_in_group(pid_t pid, gid_t group) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream in(line.substr(7));
    gid_t g;
    while (in >> g)
      if (g == group) return true;
  }
  return false;
}

// Refuses a connection with one error line, without ever blocking the io thread.
void refuse(stream::socket& socket, int code, const std::string& message) {
  std::string line = rpc::encode(rpc::make_error(nullptr, code, message));
  ::send(socket.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  boost::system::error_code ec;
  socket.close(ec);
}

}  // namespace

Server::Server(asio::io_context& io, const Router& router) : io_(io), router_(router) {}

Server::~Server() { close_all_now(); }

void Server::listen(const std::filesystem::path& socket_path, const std::optional<std::string>& socket_group) {
  const std::string path = socket_path.string();
  if (path.size() > kMaxSocketPathBytes)
    throw std::runtime_error("[operations] socket: path is " + std::to_string(path.size()) +
                             " bytes, over the kernel's 107-byte limit for Unix sockets: " + path +
                             " (set a shorter [operations] socket, e.g. under /run/user/$UID)");
  if (socket_group) {
    group* g = ::getgrnam(socket_group->c_str());
    if (!g) throw std::runtime_error("[operations] socket_group: no such group: " + *socket_group);
    group_ = g->gr_gid;
  }
  // The socket's directory may be ours to make (a relative [operations] socket).
  std::error_code dir_ec;
  std::filesystem::create_directories(socket_path.parent_path(), dir_ec);
  // We hold the pid lock, so a socket file here is a stale one from a killed daemon.
  ::unlink(path.c_str());
  acceptor_ = std::make_unique<stream::acceptor>(io_);
  boost::system::error_code ec;
  acceptor_->open(stream(), ec);
  if (!ec) set_cloexec(acceptor_->native_handle());
  // The umask is process-wide; nothing else runs yet, so narrowing it around bind()
  // means the socket is never reachable with wider permissions, even for an instant.
  mode_t old_mask = ::umask(0177);
  if (!ec) acceptor_->bind(stream::endpoint(path), ec);
  ::umask(old_mask);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("[operations] socket: cannot listen on " + path + ": " + ec.message());
  if (group_) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *group_) != 0 || ::chmod(path.c_str(), 0660) != 0)
      throw std::runtime_error("[operations] socket_group: cannot give " + path + " to group " + *socket_group +
                               ": " + std::strerror(errno));
  } else {
    ::chmod(path.c_str(), 0600);
  }
  path_ = socket_path;
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

bool Server::peer_allowed(const PeerCred& peer) const {
  if (peer.uid == ::geteuid()) return true;
  if (group_ && (peer.gid == *group_ || process_in_group(peer.pid, *group_))) return true;
  return false;
}

asio::awaitable<void> Server::accept_loop() {
  bool accept_failing = false;
  while (!stopping_ && acceptor_ && acceptor_->is_open()) {
    auto [ec, socket] = co_await acceptor_->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) break;
      // EMFILE and friends: keep serving the connections we have. The peer stays in the
      // backlog, so an immediate retry would fail again at once: spinning at 100% CPU and
      // flooding the log. Log once per streak and retry every 100 ms.
      if (!accept_failing) spdlog::warn("accept: {} (retrying every 100 ms)", ec.message());
      accept_failing = true;
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (accept_failing) spdlog::info("accept: working again");
    accept_failing = false;
    set_cloexec(socket.native_handle());
    PeerCred peer = peer_credentials(socket.native_handle());
    if (!peer_allowed(peer)) {
      spdlog::warn("refused connection from uid {} pid {}: not the daemon's user or socket group", peer.uid, peer.pid);
      refuse(socket, rpc::code::permission_denied, "permission denied: uid " + std::to_string(peer.uid) +
                                                       " may not use this socket");
      continue;
    }
    if (connections_.size() >= kMaxConnections) {
      spdlog::warn("refused connection from pid {}: {} connections open", peer.pid, connections_.size());
      refuse(socket, rpc::code::too_large, "too many connections (limit 256)");
      continue;
    }
    auto id = next_id_++;
    auto conn = std::make_shared<Connection>(std::move(socket), peer, id, router_, request_timeout_);
    connections_.emplace(id, conn);
    conn->start([this](Connection& c) {
      connections_.erase(c.id());
      if (stopping_ && connections_.empty() && on_drained_) on_drained_();
    });
  }
}

void Server::stop() {
  stopping_ = true;
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  if (!path_.empty()) ::unlink(path_.c_str());
  // Copy: closing may erase from the map.
  auto conns = connections_;
  for (auto& [_, c] : conns) c->close_after_flush();
}

void Server::on_drained(std::function<void()> fn) {
  on_drained_ = std::move(fn);
  if (stopping_ && connections_.empty() && on_drained_) on_drained_();
}

void Server::close_all_now() {
  auto conns = connections_;
  for (auto& [_, c] : conns) c->close("daemon exiting");
  connections_.clear();
}

}  // namespace vermas
