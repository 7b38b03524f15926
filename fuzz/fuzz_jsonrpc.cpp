// fuzz_jsonrpc: one request line through vermas::rpc::decode_line, then every Params
// accessor over each decoded request's params (its own keys and a few fixed names).
//
// Invariants (a violation prints what and where, then __builtin_trap()):
//  - decode_line never throws; the Params accessors throw nothing but rpc::Error.
//  - A whole-line error is the only item: no items beside it. Every error (whole line,
//    per item, or an rpc::Error turned into a response as the router does) is a valid
//    JSON-RPC 2.0 error object: jsonrpc "2.0", an id that is a string, number or null,
//    error.code an integer from the protocol's set, error.message a non-empty string, no
//    result. rpc::encode of it is exactly one line ending in '\n' and parses back to the
//    same code and id.
//  - A line holding a NUL byte is a whole-line error: -32700, or -32006 when the line is
//    also over 1 MiB or nested deeper than 64 (those checks come first).
//  - A line over 1 MiB is -32006; a line nested deeper than 64 is -32006 and never parsed.
//  - A decoded Request has a non-empty method, object params and a valid id (null for a
//    notification); rpc::encode(make_result(id, params)) round-trips exactly (the parser
//    has already validated the UTF-8, so nothing needs replacing).
//  - Accessors keep their promises: str() fits max_len, integer()/number() are within
//    [min, max] (number() finite), str_list() fits max_items; every rpc::Error they throw
//    is -32602 naming the field in error.data.field; allow_only() refuses exactly when a
//    key is outside the list, naming that key.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/jsonrpc.hpp"

namespace {

using vermas::rpc::json;
namespace rpc = vermas::rpc;

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\nfuzz_jsonrpc: INVARIANT VIOLATED: %s\n  %s\n", what, detail.substr(0, 2000).c_str());
  std::fflush(stderr);
  __builtin_trap();
}

void check(bool ok, const char* what, const json& context = nullptr) {
  if (!ok) violated(what, context.dump(-1, ' ', false, json::error_handler_t::replace));
}

bool known_code(std::int64_t c) {
  return c == -32700 || (c >= -32603 && c <= -32600) || (c >= -32006 && c <= -32001);
}

bool valid_id(const json& id) { return id.is_null() || id.is_string() || id.is_number(); }

void check_encodes_as_one_line(const json& message) {
  const std::string line = rpc::encode(message);
  check(!line.empty() && line.back() == '\n', "encode does not end in a newline", message);
  check(line.find('\n') == line.size() - 1, "encode produced more than one line", message);
  json back = json::parse(line.substr(0, line.size() - 1), nullptr, false);
  check(!back.is_discarded(), "encode output does not parse back", message);
  if (message.contains("error")) {
    check(back.contains("error") && back["error"]["code"] == message["error"]["code"],
          "the error code changed through encode", message);
    check(back["id"] == message["id"], "the id changed through encode", message);
  }
}

// A JSON-RPC 2.0 error response, as every error of this codec must be.
void check_error_response(const json& r, const char* where) {
  check(r.is_object(), where, r);
  check(r.contains("jsonrpc") && r["jsonrpc"] == "2.0", "error response without jsonrpc \"2.0\"", r);
  check(r.contains("id") && valid_id(r["id"]), "error response with a missing or invalid id", r);
  check(!r.contains("result"), "error response with a result", r);
  check(r.contains("error") && r["error"].is_object(), "error response without an error object", r);
  const json& e = r["error"];
  check(e.contains("code") && e["code"].is_number_integer() && known_code(e["code"].get<std::int64_t>()),
        "error code outside the protocol's set", r);
  check(e.contains("message") && e["message"].is_string() && !e["message"].get<std::string>().empty(),
        "error without a non-empty message", r);
  check_encodes_as_one_line(r);
}

// An rpc::Error thrown by an accessor: -32602 naming `field`, and a valid response once
// the router turns it into one.
void check_params_error(const rpc::Error& e, const rpc::Request& req, const std::string& field) {
  json response = rpc::make_error(req.id, e.code(), e.what(), e.data());
  check(e.code() == rpc::code::invalid_params, "a Params accessor threw a code other than -32602", response);
  check(e.data().is_object() && e.data().contains("field") && e.data()["field"] == field,
        "a Params error does not name its field in error.data.field", response);
  check_error_response(response, "Params error response is not an object");
}

template <class F>
void guarded(const rpc::Request& req, const std::string& field, F&& f) {
  try {
    f();
  } catch (const rpc::Error& e) {
    check_params_error(e, req, field);
  }
  // Anything else escapes: libFuzzer reports an uncaught exception as a crash.
}

void exercise_one(const rpc::Request& req, const rpc::Params& p, const std::string& key) {
  // Params takes C-string names (the daemon's are literals): a key with a NUL byte is looked
  // up, and named in errors, up to that byte.
  const std::string name(key.c_str());
  const char* n = name.c_str();
  const json* raw = p.raw().contains(name) ? &p.raw()[name] : nullptr;
  guarded(req, name, [&] {
    auto v = p.str(n, 16);
    if (v) check(v->size() <= 16 && raw && raw->is_string() && *raw == *v, "str() broke its bounds", p.raw());
  });
  guarded(req, name, [&] {
    auto v = p.required_str(n, 64);
    check(!v.empty() && v.size() <= 64, "required_str() returned an empty or long string", p.raw());
  });
  guarded(req, name, [&] {
    auto v = p.integer(n, -5, 1000);
    if (v) check(*v >= -5 && *v <= 1000, "integer() out of [min, max]", p.raw());
  });
  guarded(req, name, [&] {
    auto v = p.integer(n, 0, INT64_MAX);
    if (v) check(*v >= 0, "integer() out of [0, INT64_MAX]", p.raw());
  });
  guarded(req, name, [&] {
    auto v = p.integer(n, INT64_MIN, INT64_MAX);
    (void)v;
  });
  guarded(req, name, [&] {
    auto v = p.number(n, 0.0, 1e6);
    if (v) check(std::isfinite(*v) && *v >= 0.0 && *v <= 1e6, "number() out of [min, max]", p.raw());
  });
  guarded(req, name, [&] {
    auto v = p.boolean(n);
    if (v) check(raw && raw->is_boolean(), "boolean() from a non-boolean", p.raw());
  });
  guarded(req, name, [&] {
    auto v = p.str_list(n, 4);
    if (v && raw && raw->is_array()) check(v->size() <= 4, "str_list() past max_items", p.raw());
  });
  const bool has = p.has(n);
  check(has == (raw && !raw->is_null()), "has() disagrees with the params", p.raw());
}

void exercise(const rpc::Request& req) {
  check(!req.method.empty(), "a decoded request with an empty method");
  check(req.params.is_object(), "decoded params are not an object", req.params);
  check(valid_id(req.id), "a decoded request with an invalid id", req.id);
  if (req.notification) check(req.id.is_null(), "a notification with an id", req.id);
  // The parser validated every string, so encoding changes nothing.
  json result = rpc::make_result(req.id, req.params);
  const std::string line = rpc::encode(result);
  check(line.find('\n') == line.size() - 1, "encode of a result is not one line", result);
  json back = json::parse(line.substr(0, line.size() - 1), nullptr, false);
  check(!back.is_discarded() && back == result, "a result does not round-trip through encode", result);

  rpc::Params p(req.params);
  // allow_only: refuses exactly when some key is outside the list, and names that key.
  static const std::initializer_list<std::string_view> kAllowed = {"id", "name", "limit", "since", "types"};
  std::optional<std::string> outside;
  for (const auto& [key, _] : req.params.items()) {
    bool known = false;
    for (auto a : kAllowed) known = known || a == key;
    if (!known) {
      outside = key;
      break;
    }
  }
  try {
    p.allow_only(kAllowed);
    check(!outside, "allow_only() accepted an unknown key", req.params);
  } catch (const rpc::Error& e) {
    check(outside.has_value(), "allow_only() refused params whose keys are all allowed", req.params);
    check_params_error(e, req, *outside);
  }
  try {
    p.allow_only({});
    check(req.params.empty(), "allow_only({}) accepted a key", req.params);
  } catch (const rpc::Error& e) {
    check(!req.params.empty(), "allow_only({}) refused empty params", req.params);
    check_params_error(e, req, req.params.begin().key());
  }

  int keys = 0;
  for (const auto& [key, _] : req.params.items()) {
    if (++keys > 16) break;  // enough: a 10k-key object would only slow the fuzzer down
    exercise_one(req, p, key);
  }
  for (const char* fixed : {"id", "limit", "since", "types", "stop_agents", ""}) exercise_one(req, p, fixed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  rpc::Decoded d = rpc::decode_line(line);

  const bool has_nul = line.find('\0') != std::string_view::npos;
  const bool too_large = line.size() > rpc::kMaxLineBytes;
  const bool too_deep = !too_large && rpc::nesting_depth(line, rpc::kMaxDepth) > rpc::kMaxDepth;

  if (d.error) {
    check(d.items.empty(), "a whole-line error with items beside it", *d.error);
    check_error_response(*d.error, "whole-line error is not an object");
    check((*d.error)["id"].is_null(), "a whole-line error with a non-null id", *d.error);
  } else {
    check(!d.items.empty(), "neither an error nor any item");
    check(d.batch || d.items.size() == 1, "a single message decoded into several items");
  }
  if (too_large || too_deep) {
    check(d.error && (*d.error)["error"]["code"] == rpc::code::too_large,
          "a line over 1 MiB or nested deeper than 64 is not -32006", d.error.value_or(json()));
  }
  if (has_nul) {
    // Known defect under repair: the parser stopped at the NUL and read only the prefix.
    check(d.error.has_value(), "a line with a NUL byte decoded into items (not a whole-line error)");
    const auto code = (*d.error)["error"]["code"].get<std::int64_t>();
    if (too_large || too_deep) check(code == rpc::code::too_large, "NUL line: not -32006", *d.error);
    else check(code == rpc::code::parse_error, "a line with a NUL byte is not a -32700 parse error", *d.error);
  }

  // Ids echo the requests: each item answers the message in the same position, with its
  // id when that id is valid, and null otherwise.
  json parsed;
  if (!d.error) {
    parsed = json::parse(line, nullptr, false);
    check(!parsed.is_discarded(), "decode_line accepted a line that does not parse");
    if (!d.batch) parsed = json::array({parsed});
    check(parsed.is_array() && parsed.size() == d.items.size(), "item count differs from the batch size", parsed);
  }
  for (std::size_t i = 0; i < d.items.size(); ++i) {
    const json& msg = parsed[i];
    json expected_id = nullptr;
    if (msg.is_object() && msg.contains("id") && valid_id(msg["id"])) expected_id = msg["id"];
    if (const json* err = std::get_if<json>(&d.items[i])) {
      check_error_response(*err, "an item error is not an object");
      check((*err)["id"] == expected_id, "an item error does not echo the request's id", *err);
    } else {
      const auto& req = std::get<rpc::Request>(d.items[i]);
      check(req.id == expected_id, "a request's id differs from the message's", msg);
      check(req.notification == !msg.contains("id"), "notification flag wrong", msg);
      check(msg["method"] == req.method, "a request's method differs from the message's", msg);
      exercise(req);
    }
  }
  return 0;
}
