#include "common/jsonrpc.hpp"

#include <cmath>

namespace vermas::rpc {

int nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[': case '{':
        if (++depth > deepest && (deepest = depth) > limit) return deepest;
        break;
      case ']': case '}': if (depth > 0) --depth; break;
      default: break;
    }
  }
  return deepest;
}

// Built by assignment, not brace lists: a json initializer_list copies every element,
// and the result can be large (events.query).
json make_result(const json& id, json result) {
  json r(json::value_t::object);
  r["jsonrpc"] = "2.0";
  r["id"] = id;
  r["result"] = std::move(result);
  return r;
}

json make_error(const json& id, int code, const std::string& message, json data) {
  json err(json::value_t::object);
  err["code"] = code;
  err["message"] = message;
  if (!data.is_null()) err["data"] = std::move(data);
  json r(json::value_t::object);
  r["jsonrpc"] = "2.0";
  r["id"] = id;
  r["error"] = std::move(err);
  return r;
}

json make_request(std::int64_t id, const std::string& method, json params) {
  json r{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) r["params"] = std::move(params);
  return r;
}

json make_notification(const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

namespace {

// A key no handler writes (a control character first), so a raw_json() value is known by it.
constexpr const char* kRawJsonKey = "\x01raw-json";

const std::string& raw_text(const json& raw) { return raw.begin()->get_ref<const std::string&>(); }

void dump_into(std::string& out, const json& v) { out += v.dump(-1, ' ', false, json::error_handler_t::replace); }

// The members of a response in nlohmann's order (its objects are sorted maps), a raw
// result spliced in (`raw_at`: where); a batch element by element. Anything else as dump()
// writes it.
void encode_into(std::string& out, const json& m, std::size_t* raw_at = nullptr) {
  if (m.is_array()) {
    out += '[';
    for (std::size_t i = 0; i < m.size(); ++i) {
      if (i) out += ',';
      encode_into(out, m[i]);
    }
    out += ']';
    return;
  }
  const auto raw = m.is_object() ? m.find("result") : m.end();
  if (raw == m.end() || !is_raw_json(*raw)) {
    dump_into(out, m);
    return;
  }
  out.reserve(out.size() + raw_text(*raw).size() + 128);  // one allocation for a large answer
  out += '{';
  bool first = true;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (!first) out += ',';
    first = false;
    dump_into(out, json(it.key()));
    out += ':';
    if (it == raw) {
      if (raw_at) *raw_at = out.size();
      out += raw_text(*it);
    } else {
      dump_into(out, *it);
    }
  }
  out += '}';
}

}  // namespace

std::string encode(const json& message) {
  std::string s;
  encode_into(s, message);
  s.push_back('\n');
  return s;
}

std::string encode(json&& message) {
  const auto raw = message.is_object() ? message.find("result") : message.end();
  if (raw == message.end() || !is_raw_json(*raw)) return encode(static_cast<const json&>(message));
  // The text taken out, the rest encoded around where it was; then the rest put around the
  // text, within its capacity: a move of the text, no new buffer.
  std::string& text = raw->begin()->get_ref<std::string&>();
  std::string line = std::move(text);
  text.clear();  // moved from: now certainly empty
  std::string rest;
  std::size_t at = 0;
  encode_into(rest, message, &at);
  line.insert(0, rest, 0, at);
  line.append(rest, at);
  line += '\n';
  return line;
}

json raw_json(std::string text) {
  json v(json::value_t::object);
  v[kRawJsonKey] = std::move(text);
  return v;
}

bool is_raw_json(const json& v) {
  return v.is_object() && v.size() == 1 && v.begin().key() == kRawJsonKey && v.begin()->is_string();
}

json expand_raw(const json& v) {
  if (!is_raw_json(v)) return v;
  return json::parse(raw_text(v));
}

const char* code_name(int c) {
  switch (c) {
    case code::parse_error: return "parse error";
    case code::invalid_request: return "invalid request";
    case code::method_not_found: return "method not found";
    case code::invalid_params: return "invalid params";
    case code::internal_error: return "internal error";
    case code::not_found: return "not found";
    case code::conflict: return "conflict";
    case code::permission_denied: return "permission denied";
    case code::budget_exceeded: return "budget exceeded";
    case code::unavailable: return "unavailable";
    case code::too_large: return "too large";
    default: return "error";
  }
}

namespace {

bool valid_id(const json& id) { return id.is_string() || id.is_number() || id.is_null(); }

Item decode_one(const json& msg) {
  if (!msg.is_object())
    return make_error(nullptr, code::invalid_request, "a request must be a JSON object");
  json id = nullptr;
  auto id_it = msg.find("id");
  if (id_it != msg.end()) {
    if (!valid_id(*id_it))
      return make_error(nullptr, code::invalid_request, "id must be a string, a number or null");
    id = *id_it;
  }
  auto v = msg.find("jsonrpc");
  if (v == msg.end() || *v != "2.0")
    return make_error(id, code::invalid_request, "\"jsonrpc\" must be \"2.0\"");
  auto m = msg.find("method");
  if (m == msg.end() || !m->is_string() || m->get_ref<const std::string&>().empty())
    return make_error(id, code::invalid_request, "\"method\" must be a non-empty string");
  Request req;
  req.id = id;
  req.notification = id_it == msg.end();
  req.method = m->get<std::string>();
  auto p = msg.find("params");
  if (p != msg.end() && !p->is_null()) {
    if (!p->is_object())
      return make_error(id, code::invalid_params,
                        "params must be an object of named parameters", json{{"field", "params"}});
    req.params = *p;
  }
  return req;
}

}  // namespace

Decoded decode_line(std::string_view line) {
  Decoded out;
  if (line.size() > kMaxLineBytes) {
    out.error = make_error(nullptr, code::too_large, "message over 1 MiB",
                           json{{"limit_bytes", kMaxLineBytes}});
    return out;
  }
  if (nesting_depth(line, kMaxDepth) > kMaxDepth) {
    out.error = make_error(nullptr, code::too_large, "nesting deeper than 64 levels",
                           json{{"limit_depth", kMaxDepth}});
    return out;
  }
  // nlohmann's lexer takes a NUL byte for the end of input and would parse only what comes
  // before it; a line is one message, so a NUL anywhere makes the whole line unreadable.
  if (auto nul = line.find('\0'); nul != std::string_view::npos) {
    out.error = make_error(nullptr, code::parse_error, "NUL byte at offset " + std::to_string(nul) +
                                                           " (a line is one JSON message)");
    return out;
  }
  json msg;
  try {
    msg = json::parse(line);
  } catch (const json::exception& e) {
    // parse_error for bad syntax and UTF-8, out_of_range (406) for a number beyond a
    // double's range: both mean the line cannot be read.
    std::string why = e.what();  // "[json.exception.parse_error.101] parse error at line 1, ..."
    if (auto pos = why.find("] "); pos != std::string::npos) why = why.substr(pos + 2);
    out.error = make_error(nullptr, code::parse_error, why);
    return out;
  }
  if (msg.is_array()) {
    out.batch = true;
    if (msg.empty()) {
      out.error = make_error(nullptr, code::invalid_request, "empty batch");
      return out;
    }
    out.items.reserve(msg.size());
    for (const auto& m : msg) out.items.push_back(decode_one(m));
    return out;
  }
  out.items.push_back(decode_one(msg));
  return out;
}

// ---- Params -----------------------------------------------------------------

void Params::bad(const char* name, const std::string& what) const {
  throw Error(code::invalid_params, std::string(name) + ": " + what, json{{"field", name}});
}

const json* Params::find(const char* name) const {
  auto it = p_.find(name);
  if (it == p_.end() || it->is_null()) return nullptr;
  return &*it;
}

namespace {

template <class Names>
void refuse_unknown(const json& params, const Names& names) {
  for (const auto& [key, _] : params.items()) {
    bool known = false;
    for (const auto& n : names) known = known || n == key;
    if (!known) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + std::string(n);
      throw Error(code::invalid_params,
                  "unknown parameter '" + key + "'" + (list.empty() ? " (takes none)" : " (takes: " + list + ")"),
                  json{{"field", key}});
    }
  }
}

}  // namespace

void Params::allow_only(std::initializer_list<std::string_view> names) const { refuse_unknown(p_, names); }

void Params::allow_only(const std::vector<std::string>& names) const { refuse_unknown(p_, names); }

bool Params::has(const char* name) const { return find(name) != nullptr; }

std::optional<std::string> Params::str(const char* name, std::size_t max_len) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) bad(name, "expected a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_len) bad(name, "longer than " + std::to_string(max_len) + " bytes");
  return s;
}

std::string Params::required_str(const char* name, std::size_t max_len) const {
  auto s = str(name, max_len);
  if (!s) bad(name, "is required");
  if (s->empty()) bad(name, "must not be empty");
  return *s;
}

std::optional<std::int64_t> Params::integer(const char* name, std::int64_t min, std::int64_t max) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      bad(name, "out of range");
    n = v->get<std::int64_t>();
  } else if (v->is_number_float() && std::trunc(v->get<double>()) == v->get<double>() &&
             std::abs(v->get<double>()) < 9e15) {
    n = static_cast<std::int64_t>(v->get<double>());
  } else {
    bad(name, "expected an integer");
  }
  if (n < min || n > max)
    bad(name, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return n;
}

std::optional<double> Params::number(const char* name, double min, double max) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad(name, "expected a number");
  double d = v->get<double>();
  if (!std::isfinite(d) || d < min || d > max) {
    std::string range = std::to_string(min) + " and " + std::to_string(max);
    bad(name, "must be a finite number between " + range);
  }
  return d;
}

std::optional<bool> Params::boolean(const char* name) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) bad(name, "expected true or false");
  return v->get<bool>();
}

std::optional<std::vector<std::string>> Params::str_list(const char* name, std::size_t max_items) const {
  const json* v = find(name);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  if (v->is_string()) {  // one value is accepted where a list is expected
    out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) bad(name, "expected a list of strings");
  if (v->size() > max_items) bad(name, "more than " + std::to_string(max_items) + " items");
  for (const auto& e : *v) {
    if (!e.is_string()) bad(name, "expected a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace vermas::rpc
