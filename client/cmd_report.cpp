// co report standup, co metrics: their bodies and their entries in the command table. The
// daemon renders both (the same text it writes to its files); co prints it, or the JSON.
#include <iostream>

#include "client/commands.hpp"
#include "common/time.hpp"

namespace vermas::client {

namespace {

std::string report_check_since(const std::string& s) {
  return parse_since(s, std::chrono::system_clock::now())
             ? std::string()
             : "not a duration (24h, 7d) or an RFC 3339 time (2026-11-22T09:00:00Z): " + s;
}

int cmd_report_standup(Context& ctx, const std::optional<std::string>& since) {
  json params = json::object();
  if (since) params["since"] = *since;
  // People get the Markdown; tools the document without it.
  if (!ctx.json_output()) params["markdown"] = true;
  const json r = ctx.call("report.standup", params);
  return ctx.print(r, [](const json& j) { std::cout << j.value("markdown", ""); });
}

int cmd_metrics(Context& ctx) {
  const json r = ctx.call("report.metrics");
  return ctx.print(r, [](const json& j) { std::cout << j.value("text", ""); });
}

}  // namespace

std::vector<Command> report_commands() {
  return {
      {"report", "reports for people: the daily standup"},
      {"report standup",
       "per factory: done, in progress, blocked, needs approval, failed, agents needing attention, spend, open "
       "alerts (Markdown; --json for tools)",
       [](Args& a, std::optional<std::string>& since) {
         a.option("--since", since, "done since: a duration (24h, the default) or an RFC 3339 time")
             .check("SINCE", report_check_since);
       },
       cmd_report_standup},
      {"metrics", "the Key Metrics in Prometheus text format (as node_exporter's textfile collector reads them)",
       cmd_metrics},
  };
}

}  // namespace vermas::client
