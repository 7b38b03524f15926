// json_text and the agent object written with it must be what nlohmann's dump() writes, byte
// for byte: agent.list and status switched from one to the other, and clients saw no change.
#include "tests/catch.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/json_text.hpp"
#include "common/jsonrpc.hpp"
#include "daemon/agents/agent_record.hpp"

namespace {

using nlohmann::json;
namespace jt = vermas::json_text;

std::string dumped(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string text_of(const std::string& s) {
  std::string out;
  jt::append_string(out, s);
  return out;
}

std::string text_of(double v) {
  std::string out;
  jt::append_number(out, v);
  return out;
}

vermas::AgentView full_view() {
  vermas::AgentView v;
  auto& r = v.record;
  r.id = "f/workers/slot3";
  r.factory = "f";
  r.role = vermas::AgentRole::worker;
  r.slot = 3;
  r.status = vermas::AgentStatus::running;
  r.reason = "started";
  r.want_running = false;
  r.runner = "tmux";
  r.session = "worker-f-slot3";
  r.pid = 4242;
  r.started_at = "2026-12-07T10:00:00.000Z";
  r.last_heartbeat = "2026-12-07T10:01:00.000Z";
  r.last_activity = "2026-12-07T10:01:00.000Z";
  r.activity = "tests \"quoted\" \\ and\ttabs\nand é ✓ 🚀 \x01";
  r.restart_count = 7;
  r.error_streak = 2;
  r.current_work_order = "f-abc123";
  r.last_exit = "exit 1";
  v.pid = 4242;
  v.uptime_seconds = 61.123456789;
  v.next_start_in_seconds = 0.0001234;
  v.today_spend = 1.25;
  v.daily_cap = 5;
  v.over_cap = json{{"scope", "agent"}, {"id", r.id}, {"spend", 5.5}, {"cap", 5.0}};
  v.log = "/tmp/root/logs/worker-f-slot3/output.log";
  v.pane = "%3";
  v.stale = true;
  v.usage_read = true;
  v.cpu_percent = 12.3456;
  v.rss_bytes = 123456789012ULL;
  return v;
}

}  // namespace

TEST_CASE("json_text: strings are escaped as nlohmann escapes them, bad UTF-8 replaced alike", "[json_text]") {
  const std::vector<std::string> cases = {
      "", "plain", "quote \" backslash \\ slash /", "\b\f\n\r\t", std::string("nul \0 byte", 10), "\x01\x1f\x7f",
      "é ✓ 🚀 ÿ", "\xC3", "\xC3(", "\xE2\x82", "\xE2\x82(x", "\xF0\x9F\x9A", "\xF0\x9F\x9A(", "\x80", "\xBF\xBF",
      "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5\x80", "\xFF\xFE", "a\xC3\xA9\xE9z",
      "\xE2\x82\xAC\xE2\x82", "\xF0\x90\x80\x80\xF0"};
  for (const auto& s : cases) {
    INFO("bytes: " << dumped(json(json::binary_t(json::binary_t::container_type(s.begin(), s.end())))));
    CHECK(text_of(s) == dumped(json(s)));
  }
}

TEST_CASE("json_text: numbers are written as nlohmann writes them", "[json_text]") {
  for (double v : {0.0, -0.0, 1.0, 5.0, 0.1, 12.3, 61.123456789, 1e-5, 0.0001, 0.0001234, 1e15, 1e16, 1e20, 123456789.5,
                   1.7976931348623157e308, 5e-324, -2.5})
    CHECK(text_of(v) == dumped(json(v)));
  CHECK(text_of(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(text_of(std::numeric_limits<double>::infinity()) == "null");
  std::string out;
  jt::append_number(out, std::int64_t{-42});
  jt::append_number(out, std::uint64_t{18446744073709551615ULL});
  CHECK(out == "-4218446744073709551615");
}

TEST_CASE("json_text: an object with one member already written keeps nlohmann's member order", "[json_text]") {
  const json rest = {{"agents", {{"total", 2}}}, {"company", "acme"}, {"uptime_seconds", 1.5}, {"zz", nullptr}};
  std::string out;
  jt::append_object_with(out, rest, "factories", [](std::string& o) { o += "[{\"name\":\"f\"}]"; });
  json whole = rest;
  whole["factories"] = json::array({{{"name", "f"}}});
  CHECK(out == dumped(whole));
  std::string last;
  jt::append_object_with(last, json::object(), "only", [](std::string& o) { o += '1'; });
  CHECK(last == "{\"only\":1}");
  // Several members written as text: first, between, and after the others.
  std::string several;
  jt::append_object_with(several, rest,
                         {{"a", [](std::string& o) { o += "true"; }},
                          {"factories", [](std::string& o) { o += "[]"; }},
                          {"zzz", [](std::string& o) { o += "{\"k\":1}"; }}});
  json all = rest;
  all["a"] = true;
  all["factories"] = json::array();
  all["zzz"] = {{"k", 1}};
  CHECK(several == dumped(all));
}

TEST_CASE("agent objects: the text writer gives to_json(view).dump() byte for byte", "[json_text][agent]") {
  vermas::AgentView full = full_view();
  std::string out;
  vermas::append_json(out, full);
  CHECK(out == dumped(vermas::to_json(full)));

  // Every optional member absent or null, usage not read.
  vermas::AgentView bare;
  bare.record.id = "ceo";
  bare.record.role = vermas::AgentRole::ceo;
  bare.record.status = vermas::AgentStatus::stopped;
  out.clear();
  vermas::append_json(out, bare);
  CHECK(out == dumped(vermas::to_json(bare)));

  // Usage read, but no live process: both null.
  bare.usage_read = true;
  out.clear();
  vermas::append_json(out, bare);
  CHECK(out == dumped(vermas::to_json(bare)));
  CHECK(json::parse(out)["cpu_percent"].is_null());
}

TEST_CASE("raw_json: encode splices the text into the response, batches too", "[jsonrpc]") {
  using namespace vermas::rpc;
  const json r = make_result(json(7), raw_json("{\"agents\":[1,2]}"));
  CHECK(is_raw_json(r["result"]));
  CHECK(encode(r) == "{\"id\":7,\"jsonrpc\":\"2.0\",\"result\":{\"agents\":[1,2]}}\n");
  CHECK(encode(r) == encode(make_result(json(7), json{{"agents", {1, 2}}})));
  const json batch = json::array({r, make_result(json(8), json{{"pong", true}})});
  CHECK(json::parse(encode(batch)) ==
        json::array({make_result(json(7), json{{"agents", {1, 2}}}), make_result(json(8), json{{"pong", true}})}));
  CHECK(expand_raw(r["result"]) == json{{"agents", {1, 2}}});
  CHECK(expand_raw(json(3)) == json(3));
  // Handlers' objects are no raw text, nor is a binary value.
  CHECK_FALSE(is_raw_json(json{{"agents", "[1,2]"}}));
  CHECK_FALSE(is_raw_json(json::binary({1, 2}, 1)));
}

TEST_CASE("raw_json: a single answer's text becomes its line, in the same buffer", "[jsonrpc]") {
  using namespace vermas::rpc;
  std::string text = "{\"agents\":[";
  for (int i = 0; i < 10000; ++i) text += (i ? "," : "") + std::to_string(i);
  text += "]}";
  const std::string original = text;
  text.reserve(text.size() + 128);
  const char* buffer = text.data();
  const std::string line = encode(make_result(json(7), raw_json(std::move(text))));
  CHECK(line.data() == buffer);  // moved all the way: no second copy of 59 KB
  CHECK(line == encode(make_result(json(7), json::parse(original))));
  // Members after "result" too (encode's order is the object's, a sorted map's).
  json odd = {{"id", 1}, {"zeta", {{"z", true}}}, {"alpha", "a"}};
  odd["result"] = raw_json("[1,2]");
  const std::string expected = encode(static_cast<const json&>(odd));
  CHECK(expected == "{\"alpha\":\"a\",\"id\":1,\"result\":[1,2],\"zeta\":{\"z\":true}}\n");
  CHECK(encode(std::move(odd)) == expected);
  json only = json::object();
  only["result"] = raw_json("3");
  CHECK(encode(std::move(only)) == "{\"result\":3}\n");
}

TEST_CASE("agent objects: fields picks members, id always, an unknown name is refused", "[json_text][agent]") {
  const vermas::AgentView full = full_view();
  const json whole = vermas::to_json(full);
  CHECK(whole.size() == vermas::kAgentMembers.size());  // every member is a name of the list
  std::string unknown;
  const auto members = vermas::agent_members({"status", "pid", "rss_bytes", "uptime_seconds"}, &unknown);
  REQUIRE(members);
  std::string out;
  vermas::append_json(out, full, *members);
  json expected = json::object();
  for (const char* k : {"id", "status", "pid", "rss_bytes", "uptime_seconds"}) expected[k] = whole[k];
  CHECK(out == dumped(expected));
  // Members the view does not have are not made up: no pane, no usage read.
  vermas::AgentView bare;
  bare.record.id = "f/qa";
  out.clear();
  vermas::append_json(out, bare, *vermas::agent_members({"pane", "cpu_percent"}));
  CHECK(out == "{\"id\":\"f/qa\"}");
  CHECK_FALSE(vermas::agent_members({"status", "nope"}, &unknown));
  CHECK(unknown == "nope");
}
