// co top's screen (client/top_view.*): a snapshot into lines that fit the terminal, and the
// CPU and memory figures of the agent tables (client/agent_view.*).
#include <string>

#include "client/agent_view.hpp"
#include "client/top_view.hpp"
#include "common/time.hpp"
#include "tests/catch.hpp"

namespace top_test {

using vermas::client::json;
using vermas::client::LineStyle;
using vermas::client::ScreenLine;
using vermas::client::TopSnapshot;

std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

json agent(const std::string& id, const std::string& status, json pid, json cpu, json rss) {
  return {{"id", id},
          {"status", status},
          {"reason", status == "running" ? "started" : "operator"},
          {"pid", pid},
          {"cpu_percent", cpu},
          {"rss_bytes", rss},
          {"last_heartbeat", "2026-11-22T04:22:08.000Z"},
          {"current_work_order", nullptr},
          {"restart_count", 2}};
}

TopSnapshot company(int agents, int events, int alerts) {
  TopSnapshot s;
  s.company = "/home/me/company";
  s.taken_at = *vermas::parse_rfc3339("2026-11-22T04:22:18.000Z");
  for (int i = 0; i < agents; ++i)
    s.agents.push_back(agent("f/workers/slot" + std::to_string(i), "running", 1000 + i, 3.25, 14784921));
  s.factories.push_back({{"name", "f"},
                         {"url", "https://example.com/f.git"},
                         {"agents", {{"total", agents}, {"by_status", {{"running", agents}}}}}});
  for (int i = 0; i < alerts; ++i)
    s.alerts.push_back({{"severity", "critical"},
                        {"type", "start_limit"},
                        {"subject", "f/qa"},
                        {"count", 1},
                        {"last_at", "2026-11-22T04:20:18.000Z"},
                        {"message", "f/qa failed 5 times"}});
  for (int i = 0; i < events; ++i)
    s.events.push_back({{"id", i + 1},
                        {"ts", "2026-11-22T04:22:1" + std::to_string(i % 10) + ".000Z"},
                        {"event_type", "agent.started"},
                        {"actor", "operations"},
                        {"subject", "ev" + std::to_string(i)}});
  return s;
}

std::string text_of(const std::vector<ScreenLine>& lines) {
  std::string out;
  for (const auto& l : lines) out += l.text + "\n";
  return out;
}

bool screen_has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace top_test

using namespace top_test;
using vermas::client::render_top;

TEST_CASE("top view: every section with its columns when the screen is large", "[top_view]") {
  const auto lines = render_top(company(2, 3, 1), 200, 100);
  const std::string text = text_of(lines);
  INFO(text);
  CHECK(lines.front().style == LineStyle::title);
  CHECK(screen_has(lines.front().text, "/home/me/company"));
  CHECK(screen_has(lines.front().text, "04:22:18"));
  CHECK(screen_has(text, "AGENTS  2: 2 running"));
  CHECK(screen_has(text, "f/workers/slot1"));
  CHECK(screen_has(text, "3.2%"));  // 3.25 to one decimal
  CHECK(screen_has(text, "14.1M"));
  CHECK(screen_has(text, "10s"));   // the heartbeat's age at the snapshot's time
  CHECK(screen_has(text, "FACTORIES  1"));
  CHECK(screen_has(text, "2 (2 running)"));
  CHECK(screen_has(text, "ALERTS  1 open"));
  CHECK(screen_has(text, "start_limit"));
  CHECK(screen_has(text, "EVENTS"));
  CHECK(screen_has(text, "ev2"));
  int headings = 0;
  for (const auto& l : lines) headings += l.style == LineStyle::heading;
  CHECK(headings == 4);
  CHECK(lines.size() < 100);
}

TEST_CASE("top view: no line is wider or the screen taller than the terminal", "[top_view]") {
  for (std::size_t height : {0u, 1u, 2u, 3u, 5u, 8u, 12u, 24u, 50u})
    for (std::size_t width : {1u, 10u, 40u, 80u}) {
      const auto lines = render_top(company(30, 40, 5), width, height);
      INFO("width " << width << " height " << height << "\n" << text_of(lines));
      CHECK(lines.size() <= height);
      for (const auto& l : lines) CHECK(columns(l.text) <= width);
    }
}

TEST_CASE("top view: on a small screen events give way and long lists say how many more", "[top_view]") {
  const auto lines = render_top(company(30, 40, 5), 120, 24);
  const std::string text = text_of(lines);
  INFO(text);
  CHECK(lines.size() == 24);
  CHECK(screen_has(text, "f/workers/slot0"));
  CHECK(screen_has(text, " more"));  // agents cut
  CHECK(screen_has(text, "ALERTS  5 open"));
  CHECK(screen_has(text, "start_limit"));  // the alerts keep a few rows
}

TEST_CASE("top view: when cut the newest events stay", "[top_view]") {
  // Few agents: room for some events but not all 40.
  const auto lines = render_top(company(1, 40, 0), 120, 20);
  const std::string text = text_of(lines);
  INFO(text);
  CHECK(screen_has(text, "ev39\n"));
  CHECK_FALSE(screen_has(text, "ev0\n"));
  CHECK(screen_has(text, " earlier"));
}

TEST_CASE("top view: an empty company says so", "[top_view]") {
  TopSnapshot s;
  s.company = "/c";
  const std::string text = text_of(render_top(s, 100, 30));
  INFO(text);
  CHECK(screen_has(text, "AGENTS  none"));
  CHECK(screen_has(text, "ALERTS  none open"));
  CHECK(screen_has(text, "FACTORIES  none"));
  CHECK(screen_has(text, "EVENTS  none yet"));
}

TEST_CASE("top view: agents without a process show dashes", "[top_view]") {
  TopSnapshot s = company(0, 0, 0);
  s.agents.push_back(agent("f/qa", "stopped", nullptr, nullptr, nullptr));
  const auto lines = render_top(s, 200, 30);
  const std::string text = text_of(lines);
  INFO(text);
  std::string row;
  for (const auto& l : lines)
    if (screen_has(l.text, "f/qa")) row = l.text;
  CHECK(screen_has(row, "stopped (operator)"));
  CHECK_FALSE(screen_has(row, "%"));
}

TEST_CASE("top view: fit_width cuts at code points and blanks control characters", "[top_view]") {
  using vermas::client::fit_width;
  CHECK(fit_width("hello", 3) == "hel");
  CHECK(fit_width("h\xc3\xa9llo", 2) == "h\xc3\xa9");  // é stays whole
  CHECK(fit_width("a\x1b[2Jb", 10) == "a [2Jb");
  CHECK(fit_width("a\nb\tc", 10) == "a b c");
  CHECK(fit_width("x\xc2\x9b" "1m", 10) == "x 1m");  // C1 CSI
  CHECK(fit_width("abc", 0).empty());
}

TEST_CASE("top view: the JSON snapshot has every list", "[top_view]") {
  const json j = vermas::client::snapshot_json(company(1, 1, 1));
  CHECK(j["taken_at"] == "2026-11-22T04:22:18.000Z");
  CHECK(j["agents"].size() == 1);
  CHECK(j["factories"].size() == 1);
  CHECK(j["alerts"].size() == 1);
  CHECK(j["events"].size() == 1);
}

TEST_CASE("agent tables: CPU and memory figures", "[top_view]") {
  using vermas::client::bytes_text;
  using vermas::client::cpu_text;
  CHECK(cpu_text(json(3.25)) == "3.2%");
  CHECK(cpu_text(json(0)) == "0.0%");
  CHECK(cpu_text(json(250.0)) == "250.0%");
  CHECK(cpu_text(json()) == "-");
  CHECK(bytes_text(json(512)) == "512B");
  CHECK(bytes_text(json(2048)) == "2.0K");
  CHECK(bytes_text(json(14784921)) == "14.1M");
  CHECK(bytes_text(json(3ull << 30)) == "3.0G");
  CHECK(bytes_text(json()) == "-");
}
