#include "tests/integration/harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/catch.hpp"

extern char** environ;

namespace it {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string co_bin() { return VERMAS_CO_BIN; }
std::string wo_bin() { return (fs::path(VERMAS_CO_BIN).parent_path() / "wo").string(); }
std::string daemon_bin() { return VERMAS_DAEMON_BIN; }

namespace {

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Reads what is available without blocking; false once the pipe reached EOF.
bool drain(int fd, std::string& into) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

int pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const Env& env, std::chrono::milliseconds timeout) {
  REQUIRE(!argv.empty());
  RunResult r;
  int out_pipe[2], err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);

  // Environment: ours, with `env` entries replacing or adding.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    bool overridden = false;
    for (const auto& [k, v] : env) overridden = overridden || k == name;
    if (!overridden) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  // The test binary's signal mask and dispositions must not leak into the child.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, args[0].c_str(), &fa, &attr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (err != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    FAIL("posix_spawn " << args[0] << ": " << std::strerror(err));
  }
  ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  // The child's exit is waited on as an fd too: a daemon it started may keep the pipes
  // open (until it detaches), so EOF on them is not the end of the child.
  int pidfd = pidfd_open(pid);
  auto deadline = Clock::now() + timeout;
  bool out_open = true, err_open = true, exited = false;
  int status = 0;
  while (!exited) {
    pollfd fds[3];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[n++] = {err_pipe[0], POLLIN, 0};
    if (pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    int wait_ms = ms_left(deadline);
    if (pidfd < 0) wait_ms = std::min(wait_ms, 5);  // no pidfd: poll the exit every 5 ms
    // EINTR (or any other poll failure) just means another round: the deadline still holds.
    (void)::poll(fds, n, wait_ms);
    if (out_open) out_open = drain(out_pipe[0], r.out);
    if (err_open) err_open = drain(err_pipe[0], r.err);
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
  }
  // Everything the child wrote before it exited is in the pipes now.
  if (out_open) drain(out_pipe[0], r.out);
  if (err_open) drain(err_pipe[0], r.err);
  if (pidfd >= 0) ::close(pidfd);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  r.exit_code = r.timed_out ? -1 : decode_status(status);
  return r;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

bool pid_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || stat.size() < close_paren + 3) return !stat.empty();
  return stat[close_paren + 2] != 'Z';
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& text) {
  // Write then rename: a daemon reading the file concurrently sees the old or the new one.
  std::string tmp = path + ".tmp-it";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    REQUIRE(out);
    out << text;
    out.flush();
    REQUIRE(out);
  }
  REQUIRE(::rename(tmp.c_str(), path.c_str()) == 0);
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

json parse_json(const std::string& text) { return json::parse(text, nullptr, false); }

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

bool stdout_is_one_json_document(const RunResult& r) {
  // nlohmann rejects trailing content, so this fails on two documents or stray text.
  return !parse_json(r.out).is_discarded();
}

// ---------------------------------------------------------------- TempRoot

TempRoot::TempRoot(bool init) {
  char tmpl[] = "/tmp/vi-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  dir_ = tmpl;
  if (init) {
    auto r = run({co_bin(), "init", "--company-root", dir_});
    INFO("co init: " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
}

TempRoot::~TempRoot() {
  try {
    kill_daemon();
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void TempRoot::replace_in_config(const std::string& from, const std::string& to) const {
  std::string text = read_config();
  auto pos = text.find(from);
  INFO("config text to replace: " << from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  write_config(text);
}

RunResult TempRoot::co(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                       const Env& env) const {
  std::vector<std::string> argv{co_bin(), "--company-root", dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, env, timeout);
}

RunResult TempRoot::wo(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                       const Env& env) const {
  std::vector<std::string> argv{wo_bin(), "--company-root", dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, env, timeout);
}

RunResult TempRoot::start() const {
  auto r = co({"operations", "start"});
  INFO("co operations start: exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err
                                    << "\nlog: " << read_file(log_file()));
  REQUIRE(r.exit_code == 0);
  return r;
}

RunResult TempRoot::stop() const {
  auto r = co({"operations", "stop"});
  INFO("co operations stop: exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err
                                   << "\nlog: " << read_file(log_file()));
  REQUIRE(r.exit_code == 0);
  return r;
}

std::optional<pid_t> TempRoot::daemon_pid() const {
  std::string text = read_file(pid_file());
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || v <= 0) return std::nullopt;
  return static_cast<pid_t>(v);
}

void TempRoot::kill_daemon() const {
  auto pid = daemon_pid();
  if (!pid || !pid_alive(*pid)) return;
  // A stale pid file may name a recycled pid: only kill our daemon binary.
  std::string cmdline = read_file("/proc/" + std::to_string(*pid) + "/cmdline");
  if (!contains(cmdline, "vermas-operations")) return;
  ::kill(*pid, SIGKILL);
  wait_until([&] { return !pid_alive(*pid); }, 5s);
}

std::vector<json> TempRoot::feed_events() const {
  std::vector<json> out;
  for (const auto& line : lines_of(read_file(feed_file()))) {
    auto j = parse_json(line);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<json> TempRoot::feed_events_of_type(const std::string& type) const {
  std::vector<json> out;
  for (auto& e : feed_events())
    if (e.value("event_type", "") == type) out.push_back(e);
  return out;
}

// ---------------------------------------------------------------- RawClient

RawClient::RawClient(const std::string& socket_path) {
  bool ok = connect(socket_path);
  INFO("connect " << socket_path << ": " << std::strerror(errno));
  REQUIRE(ok);
}

RawClient::~RawClient() { close(); }

RawClient::RawClient(RawClient&& other) noexcept
    : fd_(other.fd_), eof_(other.eof_), buffer_(std::move(other.buffer_)), next_id_(other.next_id_) {
  other.fd_ = -1;
}

RawClient& RawClient::operator=(RawClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    eof_ = other.eof_;
    buffer_ = std::move(other.buffer_);
    next_id_ = other.next_id_;
    other.fd_ = -1;
  }
  return *this;
}

bool RawClient::connect(const std::string& socket_path) {
  close();
  eof_ = false;
  buffer_.clear();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return false;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    errno = err;
    return false;
  }
  return true;
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::size_t RawClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  REQUIRE(fd_ >= 0);
  auto deadline = Clock::now() + timeout;
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int left = ms_left(deadline);
      if (left == 0) break;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, left);
      continue;
    }
    break;  // EPIPE, ECONNRESET: the peer is gone
  }
  return off;
}

std::optional<std::string> RawClient::read_line(std::chrono::milliseconds timeout) {
  REQUIRE(fd_ >= 0);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (eof_) return std::nullopt;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      eof_ = true;  // orderly close, or ECONNRESET
      continue;
    }
    int left = ms_left(deadline);
    if (left == 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, left);
  }
}

json RawClient::read_json(std::chrono::milliseconds timeout) {
  auto line = read_line(timeout);
  INFO("eof: " << eof_);
  REQUIRE(line.has_value());
  auto j = parse_json(*line);
  INFO("line: " << *line);
  REQUIRE(!j.is_discarded());
  return j;
}

json RawClient::call(const std::string& method, json params, std::chrono::milliseconds timeout) {
  std::string line = request_line(next_id_++, method, params);
  REQUIRE(send(line, timeout) == line.size());
  return read_json(timeout);
}

bool RawClient::wait_eof(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!eof_) {
    if (!read_line(std::chrono::milliseconds(ms_left(deadline))) && !eof_) return false;
  }
  return true;
}

bool RawClient::silent_for(std::chrono::milliseconds quiet) {
  if (!buffer_.empty()) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(quiet.count())) == 0;
}

std::string request_line(long id, const std::string& method, const json& params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump() + "\n";
}

int error_code(const json& response) {
  INFO(response.dump().substr(0, 500));
  REQUIRE(response.is_object());
  REQUIRE(response.contains("error"));
  return response["error"]["code"].get<int>();
}

bool peer_closed(const RawClient& c) {
  pollfd p{c.fd(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

void ensure_fd_limit(unsigned long n) {
  rlimit lim{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_cur >= n) return;
  lim.rlim_cur = std::min<rlim_t>(n, lim.rlim_max);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
  REQUIRE(lim.rlim_cur >= n);
}

Running::Running(const std::string& request_timeout) {
  if (!request_timeout.empty())
    root.replace_in_config("request_timeout_seconds = 10", "request_timeout_seconds = " + request_timeout);
  root.start();
  auto p = root.daemon_pid();
  REQUIRE(p.has_value());
  pid = *p;
}

json Running::call(const std::string& method, const json& params) const {
  RawClient c(root.socket_path());
  return c.call(method, params);
}

int Running::connections() const { return call("status")["result"]["connections"].get<int>(); }

}  // namespace it
