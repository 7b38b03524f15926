// co cost report|show|daily, co runs, co budget show|set, co approval list|approve|deny: their bodies and their entries in the command table.
// Inside an agent a report is the agent's own; the operator names the agent with --agent.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/table.hpp"

namespace vermas::client {

namespace {

struct ReportOptions {
  std::string amount;
  std::optional<std::string> tokens_in, tokens_out, model, run, work_order, agent;
};

struct RunsOptions {
  std::optional<std::string> agent;
  int limit = 20;
  std::string sort = "time";
};

// "" when `text` is a finite number >= 0 (dollars), else why not.
std::string check_amount(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || v < 0)
    return "must be an amount in dollars, a number >= 0 (e.g. 0.42)";
  return "";
}

std::string check_count(const std::string& text) {
  if (text.empty() || text.size() > 13 || text.find_first_not_of("0123456789") != std::string::npos)
    return "must be a whole number of tokens >= 0";
  return "";
}

double number(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string tokens(const json& row) {
  return std::to_string(row.value("tokens_in", 0LL)) + "/" + std::to_string(row.value("tokens_out", 0LL));
}

int cmd_cost_report(Context& ctx, const ReportOptions& o) {
  json params = {{"amount", std::strtod(o.amount.c_str(), nullptr)}};
  if (o.tokens_in) params["tokens_in"] = std::stoll(*o.tokens_in);
  if (o.tokens_out) params["tokens_out"] = std::stoll(*o.tokens_out);
  if (o.model) params["model"] = *o.model;
  if (o.run) params["run_id"] = *o.run;
  if (o.work_order) params["work_order"] = *o.work_order;
  if (o.agent) params["agent"] = *o.agent;
  auto r = ctx.call("cost.report", params);
  return ctx.print(r, [&](const json& j) {
    std::cout << "reported " << money(number(j, "amount")) << " for " << field(j, "agent") << " (run "
              << field(j, "run_id") << "); today " << money(number(j, "today_spend")) << "\n";
    // A crossed cap is news the operator must act on: say what it set off.
    for (const auto& c : j.value("crossed", json::array()))
      std::cout << "  past the " << field(c, "scope") << " daily cap (" << money(number(c, "spend")) << " of "
                << money(number(c, "cap")) << "): " << field(j, "on_exceed") << "\n";
    if (!j.value("approvals", json::array()).empty())
      std::cout << "  paused, waiting for an approval: co approval list\n";
  });
}

void print_summary(const json& j, const char* heading) {
  const json& rows = j.value("rows", json::array());
  if (rows.empty()) {
    std::cout << "no costs reported" << (j.value("since", json()).is_string() ? " since " + field(j, "since") : "")
              << "\n";
    return;
  }
  Table t({heading, "COST", "TOKENS IN/OUT", "REPORTS"});
  for (const auto& row : rows)
    t.add({field(row, "key"), money(number(row, "cost")), tokens(row), field(row, "reports", "0")});
  t.print(std::cout);
  std::cout << "total " << money(number(j, "total")) << "; today " << money(number(j, "today")) << "\n";
}

// One agent: today's spend against its cap, and its latest runs; without an agent, spend
// by agent.
int cmd_cost_show(Context& ctx, const std::optional<std::string>& agent) {
  if (!agent) {
    auto r = ctx.call("cost.summary", {{"by", "agent"}});
    return ctx.print(r, [](const json& j) { print_summary(j, "AGENT"); });
  }
  ctx.set_not_found_hint("co agent list");
  auto a = ctx.call("agent.get", {{"id", *agent}});
  auto runs = ctx.call("run.list", {{"agent", *agent}, {"limit", 10}});
  json both = {{"agent", a}, {"runs", runs.value("runs", json::array())}};
  return ctx.print(both, [&](const json& j) {
    const json& ag = j["agent"];
    const double cap = number(ag, "daily_cap");
    std::cout << field(ag, "id") << ": today " << money(number(ag, "today_spend"))
              << (cap > 0 ? " of a " + money(cap) + " daily cap" : " (no cap)") << "\n";
    if (j["runs"].empty()) {
      std::cout << "no runs\n";
      return;
    }
    Table t({"RUN", "LAST", "COST", "TOKENS IN/OUT", "MODEL", "WORK ORDER"});
    for (const auto& run : j["runs"])
      t.add({field(run, "id"), age_since(run.value("last_at", json())), money(number(run, "cost")), tokens(run),
             field(run, "model"), field(run, "work_order")});
    t.print(std::cout);
  });
}

int cmd_cost_daily(Context& ctx) {
  auto r = ctx.call("cost.summary", {{"by", "day"}});
  return ctx.print(r, [](const json& j) { print_summary(j, "DAY (UTC)"); });
}

int cmd_runs(Context& ctx, const RunsOptions& o) {
  json params = {{"limit", o.limit}, {"sort", o.sort}};
  if (o.agent) params["agent"] = *o.agent;
  auto r = ctx.call("run.list", params);
  return ctx.print(r, [&](const json& j) {
    const json& runs = j.value("runs", json::array());
    if (runs.empty()) {
      std::cout << "no runs\n";
      return;
    }
    Table t({"RUN", "AGENT", "LAST", "COST", "TOKENS IN/OUT", "REPORTS", "MODEL", "WORK ORDER"});
    for (const auto& run : runs)
      t.add({field(run, "id"), field(run, "agent"), age_since(run.value("last_at", json())), money(number(run, "cost")),
             tokens(run), field(run, "reports", "0"), field(run, "model"), field(run, "work_order")});
    t.print(std::cout);
  });
}

struct BudgetSetOptions {
  std::string scope;
  std::optional<std::string> id;
  std::string daily_cap;
};

std::string cap_text(const json& b) {
  const double cap = number(b, "daily_cap");
  return cap > 0 ? money(cap) : std::string("no cap");
}

int cmd_budget_show(Context& ctx) {
  auto r = ctx.call("budget.get");
  return ctx.print(r, [](const json& j) {
    Table t({"SCOPE", "ID", "TODAY", "DAILY CAP", "SET"});
    auto row = [&](const json& b) {
      t.add({field(b, "scope"), field(b, "id"), money(number(b, "today_spend")), cap_text(b),
             field(b, "source") == "set" ? "yes" : "default"});
    };
    row(j.value("company", json::object()));
    for (const auto& b : j.value("factories", json::array())) row(b);
    for (const auto& b : j.value("agents", json::array())) row(b);
    t.print(std::cout);
    std::cout << "past a cap: " << field(j, "on_exceed") << " (config [budgets] on_exceed)\n";
  });
}

int cmd_budget_set(Context& ctx, const BudgetSetOptions& o) {
  json params = {{"scope", o.scope}, {"daily_cap", std::strtod(o.daily_cap.c_str(), nullptr)}};
  if (o.id) params["id"] = *o.id;
  auto r = ctx.call("budget.set", params);
  return ctx.print(r, [&](const json& j) {
    const json& b = j.value("budget", json::object());
    std::cout << field(b, "scope") << (b.value("id", json()).is_string() ? " " + field(b, "id") : "")
              << ": daily cap " << cap_text(b) << " (was " << money(number(j, "previous")) << "); today "
              << money(number(b, "today_spend")) << "\n";
  });
}

struct DecideOptions {
  std::string id;
  std::string decision;
  std::string approver;
  bool override_cap = false;
};

json approval_id_param(const std::string& id) {
  if (!id.empty() && id.size() <= 18 && id.find_first_not_of("0123456789") == std::string::npos) return std::stoll(id);
  return id;  // the daemon refuses it
}

int cmd_approval_list(Context& ctx, const std::optional<std::string>& status) {
  json params = json::object();
  if (status) params["status"] = *status;
  auto r = ctx.call("approval.list", params);
  return ctx.print(r, [&](const json& j) {
    const json& list = j.value("approvals", json::array());
    if (list.empty()) {
      std::cout << "no " << (status ? *status + " " : std::string()) << "approvals\n";
      return;
    }
    Table t({"ID", "STATUS", "KIND", "AGENT", "WORK ORDER", "SCOPE", "SPEND", "CAP", "AGE", "DECISION"});
    for (const auto& a : list)
      t.add({field(a, "id"), field(a, "status"), field(a, "kind"), field(a, "agent"), field(a, "work_order"),
             field(a, "scope") + (a.value("scope_id", json()).is_string() ? " " + field(a, "scope_id") : ""),
             money(number(a, "spend")), money(number(a, "cap")), age_since(a.value("created_at", json())),
             field(a, "decision")});
    t.print(std::cout);
    std::cout << "decide with: co approval approve ID -m WHY [--override] | co approval deny ID -m WHY\n";
  });
}

int cmd_approval_decide(Context& ctx, const DecideOptions& o, bool approve) {
  ctx.set_not_found_hint("co approval list");
  json params = {{"id", approval_id_param(o.id)}, {"decision", o.decision}};
  if (!o.approver.empty()) params["approver"] = o.approver;
  if (approve && o.override_cap) params["override"] = true;
  auto r = ctx.call(approve ? "approval.approve" : "approval.deny", params);
  return ctx.print(r, [&](const json& a) {
    std::cout << "approval " << field(a, "id") << " " << field(a, "status") << ": " << field(a, "agent")
              << (approve ? " resumed" : " stopped")
              << (a.value("work_order", json()).is_string()
                      ? std::string(", ") + field(a, "work_order") + (approve ? " back to " + field(a, "prior_status") : " canceled")
                      : std::string())
              << (a.value("override", false) ? " (cap waived until the UTC day ends)" : "") << "\n";
  });
}

struct AuditOptions {
  std::string start, end, output;
};

// Follows the pages to the end: every event in the range, one JSON line each, never
// truncated (the runbook's export stopped silently at 10,000).
int cmd_audit_export(Context& ctx, const AuditOptions& o) {
  std::ofstream file;
  if (!o.output.empty()) {
    file.open(o.output, std::ios::trunc);
    if (!file) {
      std::cerr << program_name() << ": cannot write " << o.output << "\n";
      return 1;
    }
  }
  std::ostream& out = o.output.empty() ? std::cout : file;
  json after = 0;
  long long count = 0;
  json first_id, last_id;
  for (;;) {
    auto page = ctx.call("audit.export", {{"start", o.start}, {"end", o.end}, {"after_id", after}, {"limit", 5000}});
    for (const auto& e : page.value("events", json::array())) {
      out << e.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      if (first_id.is_null()) first_id = e.value("id", json());
      last_id = e.value("id", json());
      ++count;
    }
    after = page.value("next_after_id", json());
    if (after.is_null()) break;
  }
  out.flush();
  if (!out) {
    std::cerr << program_name() << ": writing the export failed\n";
    return 1;
  }
  std::cerr << "exported " << count << " events" << (count ? " (ids " + first_id.dump() + ".." + last_id.dump() + ")" : "")
            << (o.output.empty() ? "" : " to " + o.output) << "\n";
  return 0;
}

struct SquadOptions {
  bool all = false;
  std::string reason;
};

int cmd_squad(Context& ctx, const SquadOptions& o, bool pause) {
  if (!o.all) {
    std::cerr << program_name() << ": " << (pause ? "pause" : "resume") << " needs --all (one agent: co agent "
              << (pause ? "pause" : "resume") << " ID)\n";
    return 2;
  }
  json params = json::object();
  if (pause && !o.reason.empty()) params["reason"] = o.reason;
  auto r = ctx.call(pause ? "squad.pause" : "squad.resume", params);
  return ctx.print(r, [&](const json& j) {
    const json& agents = j.value(pause ? "frozen" : "thawed", json::array());
    std::cout << (pause ? "squad paused: " : "squad resumed: ") << agents.size()
              << (pause ? " agents frozen; no dispatch, spawn or start until: co resume --all" : " agents thawed")
              << "\n";
  });
}

int cmd_squad_pause(Context& ctx, const SquadOptions& o) { return cmd_squad(ctx, o, true); }
int cmd_squad_resume(Context& ctx, const SquadOptions& o) { return cmd_squad(ctx, o, false); }

int cmd_approval_approve(Context& ctx, const DecideOptions& o) { return cmd_approval_decide(ctx, o, true); }
int cmd_approval_deny(Context& ctx, const DecideOptions& o) { return cmd_approval_decide(ctx, o, false); }

void declare_decision(Args& a, DecideOptions& o) {
  a.positional("ID", o.id, "approval id (see: co approval list)").required();
  a.option("-m,--decision", o.decision, "why (recorded with the decision)").required();
  a.option("--approver", o.approver, "who decides (default: operator)");
}

}  // namespace

std::vector<Command> governance_commands() {
  return {
      {"cost", "costs: report, show, daily"},
      {"cost report", "report spend: an agent for itself (the operator names --agent)",
       [](Args& a, ReportOptions& o) {
         a.positional("AMOUNT", o.amount, "US dollars, e.g. 0.42").required().check("AMOUNT", check_amount);
         a.option("--tokens-in", o.tokens_in, "input tokens").check("N", check_count);
         a.option("--tokens-out", o.tokens_out, "output tokens").check("N", check_count);
         a.option("--model", o.model, "the model used");
         a.option("--run", o.run, "the run this report belongs to (default: a run of its own)");
         a.option("--wo", o.work_order, "the work order (default: the agent's own)");
         a.option("--agent", o.agent, "the agent (operators; an agent reports for itself)");
       },
       cmd_cost_report},
      {"cost show", "today's spend of an agent and its latest runs (no AGENT: spend by agent)",
       [](Args& a, std::optional<std::string>& agent) { a.positional("AGENT", agent, "an agent id"); }, cmd_cost_show},
      {"cost daily", "spend per UTC day", cmd_cost_daily},
      {"runs", "runs (reports summed by run), newest or costliest first",
       [](Args& a, RunsOptions& o) {
         a.option("--agent", o.agent, "only this agent's");
         a.option("-n,--limit", o.limit, "at most this many").range(1, 10000);
         a.option("--sort", o.sort, "time or cost").one_of(std::vector<std::string>{"time", "cost"});
       },
       cmd_runs},
      {"budget", "daily caps: show, set"},
      {"budget show", "every scope's daily cap and today's spend", cmd_budget_show},
      {"budget set", "set a daily cap: co budget set company|factory F|agent ID --daily-cap N (0: no cap)",
       [](Args& a, BudgetSetOptions& o) {
         a.positional("SCOPE", o.scope, "company, factory or agent")
             .required()
             .one_of(std::vector<std::string>{"company", "factory", "agent"});
         a.positional("ID", o.id, "the factory or agent (none for the company)");
         a.option("--daily-cap", o.daily_cap, "US dollars per UTC day").required().check("DOLLARS", check_amount);
       },
       cmd_budget_set},
      {"pause", "co pause --all: freeze every agent, hold dispatch and starts (the squad pause)",
       [](Args& a, SquadOptions& o) {
         a.flag("--all", o.all, "every agent (required: one agent is co agent pause ID)");
         a.option("--reason", o.reason, "why (recorded)");
       },
       cmd_squad_pause},
      {"resume", "co resume --all: end the squad pause (agents paused for other reasons stay paused)",
       [](Args& a, SquadOptions& o) { a.flag("--all", o.all, "every agent the squad pause froze (required)"); },
       cmd_squad_resume},
      {"audit", "the audit trail: export"},
      {"audit export", "every event of a date range as JSON lines, archived days included",
       [](Args& a, AuditOptions& o) {
         a.option("--start", o.start, "first day, YYYY-MM-DD (or an RFC 3339 time)").required();
         a.option("--end", o.end, "last day, YYYY-MM-DD, inclusive (or an RFC 3339 time)").required();
         a.option("-o,--output", o.output, "write to this file (default: standard output)");
       },
       cmd_audit_export},
      {"approval", "approvals waiting for an operator: list, approve, deny"},
      {"approval list", "approvals, newest first",
       [](Args& a, std::optional<std::string>& status) {
         a.option("--status", status, "only these").one_of(std::vector<std::string>{"pending", "approved", "denied"});
       },
       cmd_approval_list},
      {"approval approve", "approve: the agent resumes, its work order goes back (a cap must be raised first, or --override)",
       [](Args& a, DecideOptions& o) {
         declare_decision(a, o);
         a.flag("--override", o.override_cap, "waive the exceeded cap until the UTC day ends");
       },
       cmd_approval_approve},
      {"approval deny", "deny: the work order is canceled, the agent stopped (its worktree saved)",
       [](Args& a, DecideOptions& o) { declare_decision(a, o); }, cmd_approval_deny},
  };
}

}  // namespace vermas::client
