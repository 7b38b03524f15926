#pragma once
// The runbook's "Key Metrics" as Prometheus text (spec §7 `co metrics`, §3 [metrics]).
// Pure: a Snapshot of plain figures (gathered by Reports from the daemon's parts) becomes
// metric families, and families become the text exposition format 0.0.4 that
// node_exporter's textfile collector and `promtool check metrics` read.
//
// The format is a few lines of text; no Prometheus client library is packaged for Debian 12
// in C++, and the daemon only ever renders a snapshot (no registry, no HTTP), so it is
// written here: one HELP and one TYPE line per family, each name once, counters ending in
// `_total`, label values escaped (\ " and newline).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vermas::metrics {

// What the daemon knows at one moment; every field is plain data.
struct AgentFigures {
  std::string id;
  std::string factory;  // "" for the company's own (ceo)
  std::string role;
  std::string status;
  bool stale = false;
  int error_streak = 0;
  int restart_count = 0;
  std::optional<double> last_heartbeat;  // Unix seconds
  double today_spend = 0;
};

struct Snapshot {
  std::string version;
  std::string company;
  double now = 0;             // Unix seconds when the snapshot was taken
  double uptime_seconds = 0;
  std::vector<std::string> factories;
  std::vector<AgentFigures> agents;
  // Work orders as they stand, by factory ("" none) and status.
  std::map<std::string, std::map<std::string, std::int64_t>> work_orders;
  std::map<std::string, std::int64_t> done_total;  // by factory: every work order that reached done
  std::map<std::string, std::int64_t> done_24h;    // by factory: done in the last 24 hours
  // Time to done (created -> done): every done work order's sum and count (cumulative), the
  // median of those done in the last 7 days (none: no median).
  double time_to_done_sum = 0;
  std::int64_t time_to_done_count = 0;
  std::optional<double> time_to_done_median_7d;
  std::int64_t reached_review = 0;        // ever
  std::int64_t reached_review_clean = 0;  // ... without intervention
  std::optional<double> review_clean_share_7d;
  // Spend today (UTC): the company's, each factory's, by work-order type.
  double spend_today = 0;
  std::map<std::string, double> factory_spend_today;
  std::map<std::string, double> type_spend_today;
  // Alerts: open by type and severity; raised (ever) by type.
  std::map<std::pair<std::string, std::string>, std::int64_t> alerts_open;
  std::map<std::string, std::int64_t> alerts_raised;
  std::int64_t approvals_total = 0;
  std::int64_t approvals_pending = 0;
  std::int64_t events_last_id = 0;
};

enum class Type { counter, gauge, summary };
const char* to_string(Type type);

struct Sample {
  std::string suffix;  // "" or _sum / _count for a summary
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct Family {
  std::string name;  // vermas_..., a counter's ends in _total
  Type type = Type::gauge;
  std::string help;
  std::vector<Sample> samples;
};

// The families of a snapshot, in a fixed order. Known label values (agent statuses, work
// order statuses) are always present, with zeros, so series do not come and go.
std::vector<Family> families(const Snapshot& snapshot);

// The text exposition: # HELP, # TYPE, then the samples; ends with a newline.
std::string render(const std::vector<Family>& families);
inline std::string render(const Snapshot& snapshot) { return render(families(snapshot)); }

// Label value escaping of the text format: \ -> \\, " -> \", newline -> \n.
std::string escape_label(const std::string& value);
// HELP text escaping: \ -> \\, newline -> \n.
std::string escape_help(const std::string& text);
// A sample value: integers exactly, others in the shortest form that reads back the same;
// NaN, +Inf, -Inf.
std::string format_value(double value);

// {families: [{name, type, help, samples: [{name, labels: {..}, value}]}]}; NaN is null.
nlohmann::json to_json(const std::vector<Family>& families);

}  // namespace vermas::metrics
