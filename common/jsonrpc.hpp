#pragma once
// JSON-RPC 2.0 with newline framing: one message (or batch) per line, both directions.
// Shared by the daemon (decode requests, encode responses) and the client.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace vermas::rpc {

using json = nlohmann::json;

namespace code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int not_found = -32001;
inline constexpr int conflict = -32002;
inline constexpr int permission_denied = -32003;
inline constexpr int budget_exceeded = -32004;
inline constexpr int unavailable = -32005;
inline constexpr int too_large = -32006;
}  // namespace code

inline constexpr std::size_t kMaxLineBytes = 1 << 20;  // 1 MiB, newline excluded
inline constexpr int kMaxDepth = 64;

// Thrown by method handlers; becomes the error object of the response.
class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& message, json data = nullptr)
      : std::runtime_error(message), code_(code), data_(std::move(data)) {}
  int code() const { return code_; }
  const json& data() const { return data_; }
 private:
  int code_;
  json data_;
};

struct Request {
  json id;  // null for notifications
  bool notification = false;
  std::string method;
  json params = json::object();  // always an object (named params); omitted -> {}
};

// One element of a decoded line: a valid request, or the error response it earned.
using Item = std::variant<Request, json>;

struct Decoded {
  bool batch = false;
  std::vector<Item> items;  // empty when `error` is set
  std::optional<json> error;  // a response for the whole line (parse error, too deep, empty batch)
};

// Depth of the deepest array/object nesting, stopping early once past `limit`.
// Runs before the (recursive) parser so 100k nested brackets cannot overflow the stack.
int nesting_depth(std::string_view text, int limit);

Decoded decode_line(std::string_view line);

json make_result(const json& id, json result);
json make_error(const json& id, int code, const std::string& message, json data = nullptr);
json make_request(std::int64_t id, const std::string& method, json params);
json make_notification(const std::string& method, json params);
// Compact JSON plus '\n'; invalid UTF-8 in strings is replaced rather than thrown. A
// response whose result is raw_json() gets that text as its result, as it is.
std::string encode(const json& message);
// The same, and a single response's raw_json() text becomes the line itself: the members
// before it are put in front (a move within its buffer) and those after it behind, so a
// large answer (status of 2,000 agents: 1.1 MB) is never copied into a second buffer.
std::string encode(json&& message);

// A result written as JSON text already (json_text.hpp: the large answers, agent.list and
// status): it travels through the router as an object of one member under a key no
// handler writes, holding the text (moved, not copied), and encode() splices the text in.
// `text` must be one valid JSON value; leave room for ~100 bytes more in its capacity and
// encode(json&&) needs no new buffer.
json raw_json(std::string text);
bool is_raw_json(const json& v);
// A raw_json() value parsed into a json (others as they are), for in-process readers.
json expand_raw(const json& v);

const char* code_name(int code);

// Typed access to named params: wrong types and out-of-range values throw Error
// (-32602) naming the field in error.data.field.
class Params {
 public:
  explicit Params(const json& params) : p_(params) {}
  // Unknown names are refused, so a typo never silently does nothing.
  void allow_only(std::initializer_list<std::string_view> names) const;
  void allow_only(const std::vector<std::string>& names) const;  // the router's, from a method's spec
  bool has(const char* name) const;
  std::optional<std::string> str(const char* name, std::size_t max_len = 4096) const;
  std::string required_str(const char* name, std::size_t max_len = 4096) const;
  std::optional<std::int64_t> integer(const char* name, std::int64_t min, std::int64_t max) const;
  std::optional<double> number(const char* name, double min, double max) const;
  std::optional<bool> boolean(const char* name) const;
  std::optional<std::vector<std::string>> str_list(const char* name, std::size_t max_items = 256) const;
  const json& raw() const { return p_; }
 private:
  [[noreturn]] void bad(const char* name, const std::string& what) const;
  const json* find(const char* name) const;
  const json& p_;
};

}  // namespace vermas::rpc
