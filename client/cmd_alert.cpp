// co alert list|resolve: their bodies and their entries in the command table.
#include <iostream>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/table.hpp"
#include "common/alert_severity.hpp"

namespace vermas::client {

namespace {

struct AlertListOptions {
  bool all = false;
  std::optional<std::string> severity;
};

int cmd_alert_list(Context& ctx, const AlertListOptions& opts) {
  const bool all = opts.all;
  json params = json::object();
  if (!all) params["resolved"] = false;  // the open ones; --all: every alert
  if (opts.severity) params["severity"] = *opts.severity;
  auto r = ctx.call("alert.list", params);
  return ctx.print(r, [&](const json& j) {
    const json& alerts = j.value("alerts", json::array());
    if (alerts.empty()) {
      std::string what = opts.severity ? *opts.severity + "+ " : "";
      std::cout << (all ? "no " + what + "alerts\n" : "no open " + what + "alerts\n");
      return;
    }
    std::vector<std::string> headers{"ID", "TYPE", "SEVERITY", "SUBJECT", "COUNT", "FIRST", "LAST"};
    if (all) headers.push_back("RESOLVED");
    headers.push_back("MESSAGE");
    Table t(headers);
    for (const auto& a : alerts) {
      std::string subject = field(a, "subject", "");
      if (subject.empty()) subject = field(a, "factory");
      std::vector<std::string> row{field(a, "id", "?"),
                                   field(a, "type"),
                                   field(a, "severity"),
                                   subject,
                                   field(a, "count", "1"),
                                   age_since(a.value("first_at", json())),
                                   age_since(a.value("last_at", json()))};
      if (all) {
        const json& resolved = a.value("resolved_at", json());
        row.push_back(resolved.is_string() ? age_since(resolved) + " by " + field(a, "resolved_by", "?") : "open");
      }
      row.push_back(field(a, "message", ""));
      t.add(std::move(row));
    }
    t.print(std::cout);
    if (!all) std::cout << "resolve one with: co alert resolve ID\n";
  });
}

int cmd_alert_resolve(Context& ctx, const std::string& id) {
  ctx.set_not_found_hint("co alert list --all");
  // Alert ids are numbers; anything else is passed through as text for the daemon to judge.
  json id_param = id;
  if (!id.empty() && id.size() <= 18 && id.find_first_not_of("0123456789") == std::string::npos)
    id_param = std::stoll(id);
  auto r = ctx.call("alert.resolve", {{"id", id_param}});
  return ctx.print(r, [&](const json& a) {
    std::cout << "resolved alert " << field(a, "id", id) << ": " << field(a, "type", "") << " "
              << field(a, "message", "") << "\n";
  });
}

}  // namespace

std::vector<Command> alert_commands() {
  return {
      {"alert", "alerts raised by the daemon (start limits, error streaks, missed heartbeats, ...)"},
      {"alert list", "open alerts (--all: resolved ones too; --severity: that severity and above)",
       [](Args& a, AlertListOptions& o) {
         a.flag("--all", o.all, "resolved ones too");
         a.option("--severity", o.severity, "only alerts of this severity and above").one_of(alerts::kSeverityNames);
       },
       cmd_alert_list},
      {"alert resolve", "mark an alert resolved",
       [](Args& a, std::string& id) { a.positional("ID", id, "alert id (see: co alert list)").required(); },
       cmd_alert_resolve},
  };
}

}  // namespace vermas::client
