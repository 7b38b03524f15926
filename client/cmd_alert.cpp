// co alert list|resolve: their bodies and their entries in the command table.
#include <iostream>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/table.hpp"

namespace vermas::client {

namespace {

struct AlertListOptions {
  bool all = false;
};

int cmd_alert_list(Context& ctx, const AlertListOptions& opts) {
  const bool all = opts.all;
  json params = json::object();
  if (!all) params["resolved"] = false;  // the open ones; --all: every alert
  auto r = ctx.call("alert.list", params);
  return ctx.print(r, [&](const json& j) {
    const json& alerts = j.value("alerts", json::array());
    if (alerts.empty()) {
      std::cout << (all ? "no alerts\n" : "no open alerts\n");
      return;
    }
    std::vector<std::string> headers{"ID", "AGE", "SEVERITY", "KIND", "SUBJECT", "MESSAGE"};
    if (all) headers.insert(headers.begin() + 2, "RESOLVED");
    Table t(headers);
    for (const auto& a : alerts) {
      std::string subject = field(a, "agent", "");
      if (subject.empty()) subject = field(a, "factory");
      std::vector<std::string> row{field(a, "id", "?"),
                                   age_since(a.value("created_at", json())),
                                   field(a, "severity"),
                                   field(a, "kind"),
                                   subject,
                                   field(a, "message", "")};
      if (all) {
        const json& resolved = a.value("resolved_at", json());
        row.insert(row.begin() + 2, resolved.is_string() ? age_since(resolved) : "open");
      }
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
    std::cout << "resolved alert " << field(a, "id", id) << ": " << field(a, "kind", "") << " "
              << field(a, "message", "") << "\n";
  });
}

}  // namespace

std::vector<Command> alert_commands() {
  return {
      {"alert", "alerts raised by the daemon (start limits, budgets, loops, ...)"},
      {"alert list", "open alerts (--all: resolved ones too)",
       [](Args& a, AlertListOptions& o) { a.flag("--all", o.all, "resolved ones too"); }, cmd_alert_list},
      {"alert resolve", "mark an alert resolved",
       [](Args& a, std::string& id) { a.positional("ID", id, "alert id (see: co alert list)").required(); },
       cmd_alert_resolve},
  };
}

}  // namespace vermas::client
