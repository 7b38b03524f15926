#pragma once
// The daily standup (spec §6 report.standup, §7 co report standup; the runbook's "Review
// daily standup"): per factory, what was done since a time, what is in progress, blocked,
// waiting for approval or failed, the agents that need a look (stuck, idle, stale, failed
// ...), the spend and the open alerts. Pure: a Standup of plain data (gathered by Reports)
// becomes Markdown for people and JSON for tools.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vermas::standup {

// Lists are capped at this many entries; their counts are always whole.
inline constexpr int kMaxItems = 50;

struct WorkItem {
  std::string id;
  std::string title;
  std::string status;
  std::string assignee;  // "" when none
  std::string at;        // done: done_at; the others: updated_at
};

struct AgentItem {
  std::string id;
  std::string status;
  std::string reason;
  bool stale = false;
  int error_streak = 0;
  int restart_count = 0;
  std::string last_activity;  // "" when none
};

struct AlertItem {
  std::int64_t id = 0;
  std::string type;
  std::string severity;
  std::string subject;  // "" when none
  std::string message;
  std::int64_t count = 1;
  std::string last_at;
};

struct Section {
  std::int64_t count = 0;        // all of them
  std::vector<WorkItem> items;   // the first kMaxItems, newest first
};

struct FactoryPart {
  std::optional<std::string> name;  // none: what belongs to no factory (the company's)
  Section done;                     // reached done since `since`
  Section in_progress;              // assigned, in_progress or review now
  Section blocked;
  Section needs_approval;
  Section failed;                   // failed now (until reopened or canceled)
  std::vector<AgentItem> agents;    // needing attention (all of them)
  double spend_today = 0;           // US dollars, today (UTC)
  double spend_since = 0;           // since the UTC day of `since`
  std::int64_t open_alerts = 0;
  std::vector<AlertItem> alerts;    // the first kMaxItems, most severe first
};

struct Standup {
  std::string company;
  std::string date;          // the UTC day it is for: YYYY-MM-DD
  std::string since;         // RFC 3339
  std::string generated_at;  // RFC 3339
  std::vector<FactoryPart> factories;
};

// Whether an agent in this status (or stale) needs a look in a standup.
bool needs_attention(const std::string& status, bool stale);

std::string markdown(const Standup& report);
// {company, date, since, generated_at, totals: {...}, factories: [{factory, counts: {...},
// done: [...], in_progress, blocked, needs_approval, failed, agents, spend: {today, since},
// alerts}]}
nlohmann::json to_json(const Standup& report);

// Text safe inside one Markdown line: control characters become spaces, Markdown's
// punctuation is backslash-escaped, and it is cut at `max` characters.
std::string md_text(const std::string& text, std::size_t max = 160);

}  // namespace vermas::standup
