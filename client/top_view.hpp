#pragma once
// co top's screen, pure: a snapshot of the company (what agent.list, factory.list,
// alert.list and the event log said) turned into lines that fit a terminal of a given width
// and height (test_top_view.cpp). cmd_top.cpp gathers the snapshot and draws the lines.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vermas::client {

using json = nlohmann::json;

struct TopSnapshot {
  std::string company;             // the root, for the title
  json agents = json::array();     // agent.list's agents (with cpu_percent, rss_bytes)
  json factories = json::array();  // factory.list's factories
  json alerts = json::array();     // alert.list's open alerts, newest first
  json events = json::array();     // the latest events, oldest first
  std::chrono::system_clock::time_point taken_at{};  // ages are counted to this
};

// How cmd_top draws a line; plain text elsewhere.
enum class LineStyle { plain, title, heading };

struct ScreenLine {
  std::string text;
  LineStyle style = LineStyle::plain;
};

// At most `height` lines, none wider than `width` columns (a code point counts as one).
// When not everything fits, events give way first, then rows past the first three of each
// list ("... N more"); agents keep the most room.
std::vector<ScreenLine> render_top(const TopSnapshot& snapshot, std::size_t width, std::size_t height);

// --json: {taken_at, company, agents, factories, alerts, events}.
json snapshot_json(const TopSnapshot& snapshot);

// The first `width` code points of `text`, control characters shown as spaces (a message
// with an escape sequence must not drive the terminal).
std::string fit_width(std::string_view text, std::size_t width);

}  // namespace vermas::client
