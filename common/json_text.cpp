#include "common/json_text.hpp"

#include <charconv>
#include <cmath>

namespace vermas::json_text {

namespace {

// At a byte >= 0x80: how many bytes the sequence starting there takes, and whether it is
// valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). A broken one
// takes its lead byte and the continuation bytes accepted before the one that broke it
// (that one starts afresh), as nlohmann's decoder does; a cut-off one takes the rest.
std::size_t utf8_scan(std::string_view s, std::size_t i, bool& ok) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  ok = false;
  if (n == 0) return 1;
  for (std::size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) return s.size() - i;
    const unsigned char x = b(i + k);
    if (k == 1 ? (x < lo || x > hi) : (x & 0xC0) != 0x80) return k;
  }
  ok = true;
  return n;
}

}  // namespace

void append_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t plain = 0;  // start of the run not written yet
  auto flush = [&](std::size_t to) { out.append(s.data() + plain, to - plain); };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      bool ok = false;
      const std::size_t n = utf8_scan(s, i, ok);
      if (!ok) {  // nlohmann's error_handler_t::replace: U+FFFD for the broken bytes
        flush(i);
        out += "\xEF\xBF\xBD";
        plain = i + n;
      }
      i += n;
      continue;
    }
    flush(i);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        static const char hex[] = "0123456789abcdef";
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    plain = ++i;
  }
  flush(s.size());
  out += '"';
}

void append_number(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  // nlohmann's own Grisu2 (what its dump() calls), so the digits and the exponent's form
  // are its: std::to_chars picks "1e-04" where it writes "0.0001".
  char buf[64];
  char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_json(std::string& out, const nlohmann::json& v) {
  out += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_object_with(std::string& out, const nlohmann::json& rest, const std::vector<TextMember>& members) {
  out += '{';
  bool first = true;
  std::size_t next = 0;  // the first member not yet placed
  auto place = [&] {
    if (!first) out += ',';
    first = false;
    append_string(out, members[next].key);
    out += ':';
    members[next].write(out);
    ++next;
  };
  for (auto it = rest.begin(); it != rest.end(); ++it) {
    while (next < members.size() && members[next].key < std::string_view(it.key())) place();
    if (!first) out += ',';
    first = false;
    append_string(out, it.key());
    out += ':';
    append_json(out, *it);
  }
  while (next < members.size()) place();
  out += '}';
}

}  // namespace vermas::json_text
