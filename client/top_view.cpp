#include "client/top_view.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <sstream>

#include "client/agent_view.hpp"
#include "client/table.hpp"
#include "common/time.hpp"

namespace vermas::client {

namespace {

// One list of the screen: its title line, its columns and its rows.
struct Section {
  std::string title;
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  bool keep_last = false;  // events: when cut, the newest rows stay
};

const json& member_of(const json& obj, const char* key) {
  static const json null_value;
  if (!obj.is_object()) return null_value;
  auto it = obj.find(key);
  return it == obj.end() ? null_value : *it;
}

// "12s" from an RFC 3339 time to the snapshot's time, "-" for null.
std::string age_at(const json& ts, std::chrono::system_clock::time_point now) {
  if (!ts.is_string()) return "-";
  auto t = parse_rfc3339(ts.get<std::string>());
  if (!t) return "-";
  return format_age(std::max(std::chrono::system_clock::duration::zero(), now - *t));
}

// "04:22:18" of "2026-11-22T04:22:18.718Z".
std::string clock_of(const json& ts) {
  if (!ts.is_string()) return "-";
  const std::string s = ts.get<std::string>();
  return s.size() >= 19 && s[10] == 'T' ? s.substr(11, 8) : s;
}

// "2 running, 1 failed" from {status: count}, in the order of the most common first.
std::string status_counts(const std::map<std::string, long long>& by) {
  std::vector<std::pair<std::string, long long>> list(by.begin(), by.end());
  std::stable_sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  std::string out;
  for (const auto& [status, n] : list) out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  return out;
}

Section agents_section(const TopSnapshot& s) {
  Section sec;
  sec.headers = {"ID", "STATUS", "PID", "CPU", "RSS", "HEARTBEAT", "WORK ORDER", "RESTARTS"};
  std::map<std::string, long long> by_status;
  if (s.agents.is_array())
    for (const auto& a : s.agents) {
      ++by_status[field(a, "status", "?")];
      sec.rows.push_back({field(a, "id", "?"), agent_status(a), field(a, "pid"), cpu_text(member_of(a, "cpu_percent")),
                          bytes_text(member_of(a, "rss_bytes")), age_at(member_of(a, "last_heartbeat"), s.taken_at),
                          field(a, "current_work_order"), std::to_string(count_of(a, "restart_count"))});
    }
  sec.title = sec.rows.empty() ? "AGENTS  none (add a factory: co factory add NAME URL)"
                               : "AGENTS  " + std::to_string(sec.rows.size()) + ": " + status_counts(by_status);
  return sec;
}

Section factories_section(const TopSnapshot& s) {
  Section sec;
  sec.headers = {"NAME", "AGENTS", "URL"};
  if (s.factories.is_array())
    for (const auto& f : s.factories) {
      const json& agents = member_of(f, "agents");
      std::map<std::string, long long> by;
      if (const json& b = member_of(agents, "by_status"); b.is_object())
        for (const auto& [status, n] : b.items())
          if (n.is_number()) by[status] = n.get<long long>();
      std::string count = std::to_string(count_of(agents, "total"));
      if (!by.empty()) count += " (" + status_counts(by) + ")";
      sec.rows.push_back({field(f, "name", "?"), count, field(f, "url")});
    }
  sec.title = "FACTORIES  " + (sec.rows.empty() ? std::string("none") : std::to_string(sec.rows.size()));
  return sec;
}

Section alerts_section(const TopSnapshot& s) {
  Section sec;
  sec.headers = {"SEVERITY", "TYPE", "SUBJECT", "COUNT", "LAST", "MESSAGE"};
  if (s.alerts.is_array())
    for (const auto& a : s.alerts)
      sec.rows.push_back({field(a, "severity"), field(a, "type"), field(a, "subject"), field(a, "count"),
                          age_at(member_of(a, "last_at"), s.taken_at), field(a, "message", "")});
  sec.title = "ALERTS  " + (sec.rows.empty() ? std::string("none open") : std::to_string(sec.rows.size()) + " open");
  return sec;
}

Section events_section(const TopSnapshot& s) {
  Section sec;
  sec.keep_last = true;
  sec.headers = {"TIME", "EVENT", "ACTOR", "SUBJECT"};
  if (s.events.is_array())
    for (const auto& e : s.events)
      sec.rows.push_back({clock_of(member_of(e, "ts")), field(e, "event_type", "?"), field(e, "actor", ""),
                          field(e, "subject", "")});
  sec.title = sec.rows.empty() ? "EVENTS  none yet" : "EVENTS  latest (UTC)";
  return sec;
}

// A section's lines with room for `room` lines under its title (heading included).
void emit_section(std::vector<ScreenLine>& out, const Section& sec, std::size_t room, std::size_t width) {
  out.push_back({"", LineStyle::plain});
  out.push_back({fit_width(sec.title, width), LineStyle::title});
  if (sec.rows.empty() || room == 0) return;
  const std::size_t fits = room - 1;  // under the heading
  std::size_t shown = sec.rows.size();
  std::string more;
  if (shown > fits) {
    shown = fits > 0 ? fits - 1 : 0;  // one line says what is left out
    more = "  ... " + std::to_string(sec.rows.size() - shown) + (sec.keep_last ? " earlier" : " more");
  }
  Table t(sec.headers);
  const std::size_t first = sec.keep_last ? sec.rows.size() - shown : 0;
  for (std::size_t i = first; i < first + shown; ++i) t.add(sec.rows[i]);
  std::ostringstream text;
  t.print(text, "  ");
  std::istringstream lines(text.str());
  bool heading = true;
  if (fits == 0) {  // no room for rows: only the count
    out.push_back({fit_width(more, width), LineStyle::plain});
    return;
  }
  if (sec.keep_last && !more.empty()) {
    std::string head;
    std::getline(lines, head);
    out.push_back({fit_width(head, width), LineStyle::heading});
    out.push_back({fit_width(more, width), LineStyle::plain});
    heading = false;
  }
  for (std::string line; std::getline(lines, line);) {
    out.push_back({fit_width(line, width), heading ? LineStyle::heading : LineStyle::plain});
    heading = false;
  }
  if (!sec.keep_last && !more.empty()) out.push_back({fit_width(more, width), LineStyle::plain});
}

}  // namespace

std::string fit_width(std::string_view text, std::size_t width) {
  std::string out;
  std::size_t points = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool continuation = (c & 0xC0) == 0x80;
    if (!continuation) {
      if (points == width) break;
      ++points;
    }
    // C0 controls and DEL; C1 controls (U+0080..U+009F, as C2 80..C2 9F) likewise.
    if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      out += ' ';
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::vector<ScreenLine> render_top(const TopSnapshot& s, std::size_t width, std::size_t height) {
  std::vector<ScreenLine> out;
  if (height == 0) return out;
  std::string title = "co top  " + s.company + "  " + format_rfc3339_ms(s.taken_at).substr(11, 8) + " UTC";
  out.push_back({fit_width(title, width), LineStyle::title});

  std::array<Section, 4> secs{agents_section(s), factories_section(s), alerts_section(s), events_section(s)};
  enum { kAgents, kFactories, kAlerts, kEvents };
  // Each section first gets its blank line, title and heading; one that does not fit is
  // left out with those after it.
  std::size_t left = height - 1;
  std::array<bool, 4> shown{};
  std::array<std::size_t, 4> room{};
  for (std::size_t i = 0; i < secs.size(); ++i) {
    const std::size_t overhead = secs[i].rows.empty() ? 2 : 3;
    if (overhead > left) break;
    shown[i] = true;
    left -= overhead;
    room[i] = secs[i].rows.empty() ? 0 : 1;
  }
  auto give = [&](int i, std::size_t upto) {
    if (!shown[i]) return;
    const std::size_t want = std::min(secs[i].rows.size(), upto);
    const std::size_t has = room[i] > 0 ? room[i] - 1 : 0;
    if (want <= has) return;
    const std::size_t add = std::min(want - has, left);
    room[i] += add;
    left -= add;
  };
  // A few rows of each list, then all agents, alerts and factories; events take the rest.
  for (int i : {kAgents, kAlerts, kFactories}) give(i, 3);
  for (int i : {kAgents, kAlerts, kFactories, kEvents}) give(i, secs[i].rows.size());
  for (std::size_t i = 0; i < secs.size(); ++i)
    if (shown[i]) emit_section(out, secs[i], room[i], width);
  if (out.size() > height) out.resize(height);
  return out;
}

json snapshot_json(const TopSnapshot& s) {
  return {{"taken_at", format_rfc3339_ms(s.taken_at)},
          {"company", s.company},
          {"agents", s.agents},
          {"factories", s.factories},
          {"alerts", s.alerts},
          {"events", s.events}};
}

}  // namespace vermas::client
