#include "daemon/reports/standup.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace vermas::standup {

namespace {

using nlohmann::json;

std::string standup_money(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "$%.2f", v);
  return buf;
}

struct Counts {
  std::int64_t done = 0, in_progress = 0, blocked = 0, needs_approval = 0, failed = 0;
  std::int64_t attention = 0, stuck = 0, idle = 0, stale = 0, open_alerts = 0;
  double spend_today = 0, spend_since = 0;

  void add(const FactoryPart& f) {
    done += f.done.count;
    in_progress += f.in_progress.count;
    blocked += f.blocked.count;
    needs_approval += f.needs_approval.count;
    failed += f.failed.count;
    for (const auto& a : f.agents) {
      ++attention;
      stuck += a.status == "stuck";
      idle += a.status == "idle";
      stale += a.stale;
    }
    open_alerts += f.open_alerts;
    spend_today += f.spend_today;
    spend_since += f.spend_since;
  }
  json to_json() const {
    return {{"done", done},
            {"in_progress", in_progress},
            {"blocked", blocked},
            {"needs_approval", needs_approval},
            {"failed", failed},
            {"agents_needing_attention", attention},
            {"stuck_agents", stuck},
            {"idle_agents", idle},
            {"stale_agents", stale},
            {"open_alerts", open_alerts},
            {"spend_today", spend_today},
            {"spend_since", spend_since}};
  }
};

Counts counts_of(const FactoryPart& f) {
  Counts c;
  c.add(f);
  return c;
}

std::string part_title(const FactoryPart& f) { return f.name ? *f.name : "(company)"; }

json item_json(const WorkItem& w) {
  return {{"id", w.id},
          {"title", w.title},
          {"status", w.status},
          {"assignee", w.assignee.empty() ? json(nullptr) : json(w.assignee)},
          {"at", w.at}};
}

json section_json(const Section& s) {
  json items = json::array();
  for (const auto& w : s.items) items.push_back(item_json(w));
  return items;
}

void md_section(std::string& out, const char* title, const Section& s, bool show_status) {
  out += "### " + std::string(title) + " (" + std::to_string(s.count) + ")\n\n";
  if (s.count == 0) {
    out += "none\n\n";
    return;
  }
  for (const auto& w : s.items) {
    out += "- `" + w.id + "` " + md_text(w.title);
    std::string detail;
    if (show_status) detail = w.status;
    if (!w.assignee.empty()) detail += (detail.empty() ? "" : ", ") + md_text(w.assignee, 80);
    if (!detail.empty()) out += " (" + detail + ")";
    out += ", " + w.at + "\n";
  }
  if (s.count > static_cast<std::int64_t>(s.items.size()))
    out += "- ... and " + std::to_string(s.count - static_cast<std::int64_t>(s.items.size())) + " more\n";
  out += "\n";
}

std::string agent_line(const AgentItem& a) {
  std::string out = "- `" + a.id + "`: " + a.status;
  if (!a.reason.empty()) out += " (" + md_text(a.reason, 60) + ")";
  if (a.stale) out += ", stale (heartbeats stopped)";
  if (a.error_streak > 0) out += ", error streak " + std::to_string(a.error_streak);
  if (a.restart_count > 0) out += ", " + std::to_string(a.restart_count) + " restart(s)";
  if (!a.last_activity.empty()) out += ", last activity " + a.last_activity;
  return out + "\n";
}

std::string alert_line(const AlertItem& a) {
  std::string out = "- #" + std::to_string(a.id) + " " + a.severity + " `" + a.type + "`";
  if (!a.subject.empty()) out += " " + md_text(a.subject, 80);
  out += ": " + md_text(a.message, 200);
  if (a.count > 1) out += " (" + std::to_string(a.count) + " times, last " + a.last_at + ")";
  else out += " (" + a.last_at + ")";
  return out + "\n";
}

void md_row(std::string& out, const std::string& name, const Counts& c) {
  out += "| " + name + " | " + std::to_string(c.done) + " | " + std::to_string(c.in_progress) + " | " +
         std::to_string(c.blocked) + " | " + std::to_string(c.needs_approval) + " | " + std::to_string(c.failed) +
         " | " + std::to_string(c.stuck) + " | " + std::to_string(c.idle) + " | " + std::to_string(c.stale) + " | " +
         standup_money(c.spend_today) + " | " + std::to_string(c.open_alerts) + " |\n";
}

}  // namespace

bool needs_attention(const std::string& status, bool stale) {
  return stale || status == "stuck" || status == "idle" || status == "failed" || status == "lost" ||
         status == "paused" || status == "quarantined" || status == "backoff";
}

std::string md_text(const std::string& text, std::size_t max) {
  std::string out;
  out.reserve(text.size());
  std::size_t kept = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool continuation = (c & 0xC0) == 0x80;
    if (!continuation && kept == max) {
      out += "...";
      break;
    }
    if (!continuation) ++kept;
    if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else if (std::string_view("\\`*_[]<>|#~!").find(char(c)) != std::string_view::npos) {
      out += '\\';
      out += char(c);
    } else {
      out += char(c);
    }
  }
  return out;
}

std::string markdown(const Standup& r) {
  std::string out;
  out += "# Standup: " + md_text(r.company, 80) + ", " + r.date + "\n\n";
  out += "Since " + r.since + " (UTC); generated " + r.generated_at + ".\n\n";
  out += "| factory | done | in progress | blocked | needs approval | failed | stuck | idle | stale | spend today | "
         "open alerts |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  Counts total;
  for (const auto& f : r.factories) {
    md_row(out, part_title(f), counts_of(f));
    total.add(f);
  }
  md_row(out, "**total**", total);
  out += "\n";
  if (r.factories.empty()) out += "No factories yet (add one with: co factory add NAME URL).\n\n";

  for (const auto& f : r.factories) {
    out += "## " + (f.name ? "Factory " + *f.name : std::string("The company (no factory)")) + "\n\n";
    md_section(out, "Done", f.done, false);
    md_section(out, "In progress", f.in_progress, true);
    md_section(out, "Blocked", f.blocked, false);
    md_section(out, "Needs approval", f.needs_approval, false);
    md_section(out, "Failed", f.failed, false);
    out += "### Agents needing attention (" + std::to_string(f.agents.size()) + ")\n\n";
    if (f.agents.empty()) out += "none\n";
    for (const auto& a : f.agents) out += agent_line(a);
    out += "\n### Spend\n\n";
    out += "today " + standup_money(f.spend_today) + "; since " + r.since.substr(0, 10) + " " +
           standup_money(f.spend_since) + "\n\n";
    out += "### Open alerts (" + std::to_string(f.open_alerts) + ")\n\n";
    if (f.open_alerts == 0) out += "none\n";
    for (const auto& a : f.alerts) out += alert_line(a);
    if (f.open_alerts > static_cast<std::int64_t>(f.alerts.size()))
      out += "- ... and " + std::to_string(f.open_alerts - static_cast<std::int64_t>(f.alerts.size())) +
             " more (co alert list)\n";
    out += "\n";
  }
  return out;
}

json to_json(const Standup& r) {
  json factories = json::array();
  Counts total;
  for (const auto& f : r.factories) {
    total.add(f);
    json agents = json::array();
    for (const auto& a : f.agents)
      agents.push_back({{"id", a.id},
                        {"status", a.status},
                        {"reason", a.reason},
                        {"stale", a.stale},
                        {"error_streak", a.error_streak},
                        {"restart_count", a.restart_count},
                        {"last_activity", a.last_activity.empty() ? json(nullptr) : json(a.last_activity)}});
    json alerts = json::array();
    for (const auto& a : f.alerts)
      alerts.push_back({{"id", a.id},
                        {"type", a.type},
                        {"severity", a.severity},
                        {"subject", a.subject.empty() ? json(nullptr) : json(a.subject)},
                        {"message", a.message},
                        {"count", a.count},
                        {"last_at", a.last_at}});
    factories.push_back({{"factory", f.name ? json(*f.name) : json(nullptr)},
                         {"counts", counts_of(f).to_json()},
                         {"done", section_json(f.done)},
                         {"in_progress", section_json(f.in_progress)},
                         {"blocked", section_json(f.blocked)},
                         {"needs_approval", section_json(f.needs_approval)},
                         {"failed", section_json(f.failed)},
                         {"agents", agents},
                         {"spend", {{"today", f.spend_today}, {"since", f.spend_since}}},
                         {"alerts", alerts}});
  }
  return {{"company", r.company},
          {"date", r.date},
          {"since", r.since},
          {"generated_at", r.generated_at},
          {"totals", total.to_json()},
          {"factories", factories}};
}

}  // namespace vermas::standup
