// Methods of reports (spec §6, §7): report.standup (the daily standup: JSON, and Markdown on
// request) and report.metrics (the runbook's Key Metrics as Prometheus text). Both only read;
// the figures come from Reports (daemon/reports/).
#include "common/json.hpp"
#include "common/time.hpp"
#include "daemon/daemon.hpp"
#include "daemon/reports/reports.hpp"

namespace vermas {

namespace {

json rpc_report_standup(Daemon& d, Call& c) {
  const auto now = std::chrono::system_clock::now();
  const std::string text = c.params.str("since", 64).value_or("24h");
  auto since = parse_since(text, now);
  if (!since)
    throw rpc::Error(rpc::code::invalid_params, "since: expected a duration such as 24h, 7d or an RFC 3339 time",
                     json{{"field", "since"}});
  const auto report = d.reports().standup(*since, now);
  json out = standup::to_json(report);
  if (c.params.boolean("markdown").value_or(false)) out["markdown"] = standup::markdown(report);
  return out;
}

json rpc_report_metrics(Daemon& d, Call&) {
  const auto families = metrics::families(d.reports().snapshot(std::chrono::system_clock::now()));
  json out = metrics::to_json(families);
  out["text"] = metrics::render(families);
  out["content_type"] = "text/plain; version=0.0.4";
  return out;
}

}  // namespace

void register_report_methods(Router& router, Daemon& d) {
  using namespace access;
  static const DaemonMethod kMethods[] = {
      {"report.standup", {"since", "markdown"}, anyone,
       "per factory: done since, in progress, blocked, needs approval, failed, agents needing attention, spend, "
       "open alerts",
       rpc_report_standup},
      {"report.metrics", {}, anyone, "the runbook's Key Metrics as Prometheus text (and as JSON families)",
       rpc_report_metrics},
  };
  add_methods(router, d, kMethods);
}

}  // namespace vermas
