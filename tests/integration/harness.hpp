#pragma once
// Integration-test harness: temporary company roots, the real `co` and daemon binaries run
// as child processes (posix_spawn, never a shell), condition waits with deadlines, and a
// raw socket client that speaks bytes rather than JSON-RPC, so malformed input can be sent.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// Whether this build runs under AddressSanitizer (GCC says so with a macro, clang with
// __has_feature): a few measurements mean something else there (RSS holds ASan's
// quarantine; the runtime itself needs descriptors).
#if defined(__SANITIZE_ADDRESS__)
#define VERMAS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VERMAS_TEST_ASAN 1
#endif
#endif
#ifndef VERMAS_TEST_ASAN
#define VERMAS_TEST_ASAN 0
#endif

namespace it {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Env = std::vector<std::pair<std::string, std::string>>;

std::string co_bin();      // VERMAS_CO_BIN
std::string wo_bin();      // the `wo` symlink beside co
std::string daemon_bin();  // VERMAS_DAEMON_BIN

struct RunResult {
  int exit_code = -1;  // exit status; 128+N when killed by signal N; -1 on timeout
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in $PATH when it has no slash) with argv, never via a shell.
// `env` adds to or replaces entries of this process's environment. stdin is /dev/null.
// Both pipes are drained with poll(), so a chatty child can never deadlock us. On
// timeout the child is SIGKILLed.
RunResult run(const std::vector<std::string>& argv, const Env& env = {},
              std::chrono::milliseconds timeout = 15s);

// Polls `pred` every 5 ms until it is true (→ true) or `timeout` passes (→ false).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s);

// True while `pid` exists and is not a zombie (a detached daemon is reaped by init).
bool pid_alive(pid_t pid);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);
bool file_exists(const std::string& path);
// Splits text into lines (without '\n'); a trailing partial line is kept.
std::vector<std::string> lines_of(const std::string& text);
// Parses `text` as JSON; null-discarded on error (check with is_discarded()).
json parse_json(const std::string& text);
bool contains(const std::string& haystack, std::string_view needle);
// A --json command printed exactly one JSON document (not two, no stray text).
bool stdout_is_one_json_document(const RunResult& r);

// A company root under /tmp with a short name (socket paths are limited to 107 bytes),
// initialized with `co init`. Its destructor SIGKILLs any daemon still holding the root's
// pid file and removes the directory.
class TempRoot {
 public:
  explicit TempRoot(bool init = true);
  ~TempRoot();
  TempRoot(const TempRoot&) = delete;
  TempRoot& operator=(const TempRoot&) = delete;

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }
  std::string config_file() const { return path(".vermas/config.toml"); }
  std::string socket_path() const { return path(".work/operations.sock"); }
  std::string pid_file() const { return path(".work/operations.pid"); }
  std::string feed_file() const { return path(".work/feed.jsonl"); }
  std::string db_file() const { return path(".work/operations.db"); }
  std::string log_file() const { return path("logs/operations.log"); }

  std::string read_config() const { return read_file(config_file()); }
  void write_config(const std::string& text) const { write_file(config_file(), text); }
  void append_config(const std::string& text) const { write_file(config_file(), read_config() + text); }
  // Replaces the first occurrence of `from` (which must exist) with `to`.
  void replace_in_config(const std::string& from, const std::string& to) const;

  // `co --company-root DIR args...` / `wo --company-root DIR args...`
  RunResult co(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 15s,
               const Env& env = {}) const;
  RunResult wo(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 15s,
               const Env& env = {}) const;

  // `co operations start` / `stop`; REQUIREs exit 0 and returns the result.
  RunResult start() const;
  RunResult stop() const;

  // The pid recorded in the pid file, if the file exists and holds a number.
  std::optional<pid_t> daemon_pid() const;
  // SIGKILLs the daemon named by the pid file and waits until it is gone.
  void kill_daemon() const;
  // Every event in feed.jsonl, in order (unparseable lines are skipped).
  std::vector<json> feed_events() const;
  std::vector<json> feed_events_of_type(const std::string& type) const;

 private:
  std::string dir_;
};

// A raw client on a Unix socket: bytes in, lines out.
class RawClient {
 public:
  RawClient() = default;
  explicit RawClient(const std::string& socket_path);  // REQUIREs a successful connect
  ~RawClient();
  RawClient(RawClient&& other) noexcept;
  RawClient& operator=(RawClient&& other) noexcept;
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Connects; false (with errno) on failure.
  bool connect(const std::string& socket_path);
  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  void close();

  // Writes all of `bytes`, waiting at most `timeout`; returns the bytes written (less than
  // bytes.size() when the peer stopped reading or closed).
  std::size_t send(std::string_view bytes, std::chrono::milliseconds timeout = 5s);
  // One line without its '\n'; nullopt on timeout or EOF (then eof() is true).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 5s);
  // Reads a line and parses it (REQUIREs both).
  json read_json(std::chrono::milliseconds timeout = 5s);
  // Sends one request and returns the next line, parsed.
  json call(const std::string& method, json params = json::object(), std::chrono::milliseconds timeout = 5s);
  // True once the peer closed the connection (reads consume and discard pending lines).
  bool wait_eof(std::chrono::milliseconds timeout = 5s);
  bool eof() const { return eof_; }
  // True if nothing (not even a partial line) arrives within `quiet`.
  bool silent_for(std::chrono::milliseconds quiet);

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
  long next_id_ = 1000;
};

std::string request_line(long id, const std::string& method, const json& params = json::object());

// The error code of a response (REQUIREs that it is an error).
int error_code(const json& response);
// True once the peer closed its end (poll, no read).
bool peer_closed(const RawClient& c);
// Makes sure this process may hold `n` descriptors.
void ensure_fd_limit(unsigned long n);

// A root with a running daemon; the TempRoot destructor kills it if a test fails midway.
struct Running {
  TempRoot root;
  pid_t pid = 0;
  // request_timeout: a value for [operations] request_timeout_seconds, or "" for the default.
  explicit Running(const std::string& request_timeout = "");
  json call(const std::string& method, const json& params = json::object()) const;
  int connections() const;  // status.connections, this call's own included
};

}  // namespace it
