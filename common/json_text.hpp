#pragma once
// JSON text written straight into a string, for the large answers (agent.list and status at
// hundreds of agents): building an nlohmann value of ~30 members per agent, dumping it and
// freeing it cost milliseconds on the io thread; appending the text costs a tenth of that.
// The output is byte for byte what nlohmann's dump() (compact, invalid UTF-8 replaced)
// writes for the same value, so a writer can be tested against the json it replaces.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vermas::json_text {

// A JSON string: quotes, escapes as nlohmann writes them (\n, \u001f ...), invalid UTF-8
// replaced by U+FFFD.
void append_string(std::string& out, std::string_view s);
void append_number(std::string& out, std::int64_t v);
void append_number(std::string& out, std::uint64_t v);
// As nlohmann: shortest round trip, "5.0" for a whole number, null for NaN and infinities.
void append_number(std::string& out, double v);
inline void append_number(std::string& out, int v) { append_number(out, static_cast<std::int64_t>(v)); }
inline void append_bool(std::string& out, bool v) { out += v ? "true" : "false"; }
// Any value, through nlohmann (for the rare member that is a json already).
void append_json(std::string& out, const nlohmann::json& v);

// A member of an object whose value is appended as JSON text by `write`.
struct TextMember {
  std::string_view key;
  std::function<void(std::string&)> write;
};
// The object `rest` with more members written as text, in nlohmann's member order (sorted by
// key): the whole is what dump() would write with them. `members` sorted by key.
void append_object_with(std::string& out, const nlohmann::json& rest, const std::vector<TextMember>& members);
inline void append_object_with(std::string& out, const nlohmann::json& rest, std::string_view key,
                               std::function<void(std::string&)> write) {
  append_object_with(out, rest, std::vector<TextMember>{{key, std::move(write)}});
}

// `"key":` after a ',' unless it is the object's first member.
inline void key(std::string& out, std::string_view k, bool first = false) {
  if (!first) out += ',';
  out += '"';
  out += k;  // the callers' keys are literals that need no escaping
  out += "\":";
}

inline void append_opt(std::string& out, const std::optional<std::string>& v) {
  if (v) append_string(out, *v);
  else out += "null";
}

}  // namespace vermas::json_text
