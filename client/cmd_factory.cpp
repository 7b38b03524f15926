// co factory add|list|status|remove, co team add|list: their bodies and their entries in the command
// table.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "client/agent_view.hpp"
#include "client/commands.hpp"
#include "client/table.hpp"
#include "common/paths.hpp"

namespace vermas::client {

namespace {

// The daemon clones from the company root, not from here: a local path the operator typed
// relative to their own directory is made absolute. URLs (scheme://, user@host:path) pass.
std::string local_or_url(const std::string& url) {
  if (url.find("://") != std::string::npos) return url;
  auto colon = url.find(':');
  auto slash = url.find('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon < slash)) return url;  // scp-like
  std::error_code ec;
  if (!std::filesystem::exists(url, ec)) return url;
  auto abs = std::filesystem::absolute(url, ec);
  return ec ? url : abs.lexically_normal().string();
}

// A git clone can take minutes; the daemon answers factory.add when it is done.
constexpr double kCloneSeconds = 600;
// factory.remove stops the factory's agents first (each gets its stop timeout).
constexpr double kRemoveSeconds = 300;

// "running=2 backoff=1"
std::string by_status_text(const json& agents) {
  std::string s;
  if (agents.is_object() && agents.contains("by_status") && agents["by_status"].is_object())
    for (const auto& [status, n] : agents["by_status"].items())
      s += (s.empty() ? "" : " ") + status + "=" + (n.is_number() ? std::to_string(n.get<long long>()) : n.dump());
  return s.empty() ? "-" : s;
}

// Nested config objects as "section.key = value" lines.
void print_flat(std::ostream& out, const json& v, const std::string& prefix) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [k, child] : v.items()) print_flat(out, child, prefix.empty() ? k : prefix + "." + k);
    return;
  }
  out << "  " << prefix << " = " << v.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
}

struct FactoryAddOptions {
  std::string name;
  std::string url;
  std::optional<std::string> prefix;
};

int cmd_factory_add(Context& ctx, const FactoryAddOptions& opts) {
  ctx.set_not_found_hint("co factory list");
  if (int rc = check_factory_name(ctx, opts.name); rc != kOk) return rc;
  if (opts.url.empty()) return fail(ctx, kUsage, "URL must not be empty: a git URL or path to clone");
  json params{{"name", opts.name}, {"url", local_or_url(opts.url)}};
  if (opts.prefix) params["prefix"] = *opts.prefix;
  if (!ctx.json_output() && isatty(STDERR_FILENO))
    std::cerr << "cloning " << opts.url << " for factory " << opts.name << " (up to "
              << static_cast<long>(ctx.waiting_seconds(kCloneSeconds)) << " s)...\n";
  auto r = ctx.call_waiting("factory.add", params, kCloneSeconds);
  return ctx.print(r, [&](const json& f) {
    std::cout << "added factory " << field(f, "name", opts.name) << " (prefix " << field(f, "prefix") << ") at "
              << field(f, "path") << "\n"
              << "  its supervisor and QA start at the next patrol; watch them with: co factory status "
              << field(f, "name", opts.name) << "\n";
  });
}

int cmd_factory_list(Context& ctx) {
  auto r = ctx.call("factory.list");
  return ctx.print(r, [](const json& j) {
    const json& factories = j.contains("factories") ? j["factories"] : json::array();
    if (factories.empty()) {
      std::cout << "no factories (add one with: co factory add NAME URL)\n";
      return;
    }
    Table t({"NAME", "PREFIX", "AGENTS", "BY STATUS", "ADDED", "URL"});
    for (const auto& f : factories) {
      const json& agents = f.contains("agents") ? f["agents"] : json();
      t.add({field(f, "name", "?"), field(f, "prefix"), std::to_string(count_of(agents, "total")),
             by_status_text(agents), age_since(f.value("added_at", json())), field(f, "url")});
    }
    t.print(std::cout);
  });
}

int cmd_factory_status(Context& ctx, const std::string& name) {
  ctx.set_not_found_hint("co factory list");
  if (int rc = check_factory_name(ctx, name); rc != kOk) return rc;
  auto r = ctx.call("factory.status", {{"name", name}});
  return ctx.print(r, [&](const json& j) {
    const json& f = j.contains("factory") ? j["factory"] : json::object();
    std::cout << "factory " << field(f, "name", name) << "  (prefix " << field(f, "prefix") << ")\n"
              << "  url:   " << field(f, "url") << "\n"
              << "  path:  " << field(f, "path") << "\n"
              << "  added: " << field(f, "added_at") << " (" << age_since(f.value("added_at", json())) << ")\n"
              << "\nagents:\n";
    print_agents(
        std::cout, j.value("agents", json::array()),
        {Col::id, Col::role, Col::status, Col::pid, Col::uptime, Col::restarts, Col::heartbeat, Col::work_order}, "  ",
        "no agents yet (the supervisor and QA start at the next patrol)");
    if (j.contains("config") && j["config"].is_object() && !j["config"].empty()) {
      std::cout << "\nconfig:\n";
      print_flat(std::cout, j["config"], "");
    }
  });
}

int cmd_factory_remove(Context& ctx, const std::string& name) {
  ctx.set_not_found_hint("co factory list");
  if (int rc = check_factory_name(ctx, name); rc != kOk) return rc;
  auto r = ctx.call_waiting("factory.remove", {{"name", name}}, kRemoveSeconds);
  return ctx.print(r, [&](const json& j) {
    std::cout << "removed factory " << name << "\n";
    const json& stopped = j.value("stopped", json::array());
    if (!stopped.empty()) {
      std::cout << "  stopped " << stopped.size() << " agent(s):";
      for (const auto& id : stopped) std::cout << " " << (id.is_string() ? id.get<std::string>() : id.dump());
      std::cout << "\n";
    }
    const json& kept = j.value("kept_directory", json());
    if (kept.is_string())
      std::cout << "  its clone is kept at " << kept.get<std::string>() << " (delete it yourself when done)\n";
    else if (kept.is_boolean() && kept.get<bool>())
      std::cout << "  its clone is kept at " << ctx.paths().factory_dir(name).string()
                << " (delete it yourself when done)\n";
  });
}

struct TeamAddOptions {
  std::string name, factory;
};

int cmd_team_add(Context& ctx, const TeamAddOptions& opts) {
  ctx.set_not_found_hint("co factory list");
  if (int rc = check_factory_name(ctx, opts.factory); rc != kOk) return rc;
  // Creating a team may create a git worktree and branch.
  auto r = ctx.call_waiting("team.add", {{"factory", opts.factory}, {"name", opts.name}}, 120);
  return ctx.print(r, [&](const json& t) {
    std::cout << "added team " << field(t, "name", opts.name) << " to factory " << field(t, "factory", opts.factory)
              << " at " << field(t, "path") << " (branch " << field(t, "branch") << ")\n";
  });
}

int cmd_team_list(Context& ctx, const std::optional<std::string>& factory) {
  ctx.set_not_found_hint("co factory list");
  json params = json::object();
  if (factory) {
    if (int rc = check_factory_name(ctx, *factory); rc != kOk) return rc;
    params["factory"] = *factory;
  }
  auto r = ctx.call("team.list", params);
  return ctx.print(r, [&](const json& j) {
    const json& teams = j.value("teams", json::array());
    if (teams.empty()) {
      std::cout << "no teams (add one with: co team add NAME --factory F)\n";
      return;
    }
    Table t({"FACTORY", "NAME", "BRANCH", "CREATED", "PATH"});
    for (const auto& team : teams)
      t.add({field(team, "factory"), field(team, "name"), field(team, "branch"),
             age_since(team.value("created_at", json())), field(team, "path")});
    t.print(std::cout);
  });
}

}  // namespace

std::vector<Command> factory_commands() {
  return {
      {"factory", "add, list, inspect and remove factories (the repositories agents work on)"},
      {"factory add", "clone a repository as a factory; its supervisor and QA start at the next patrol",
       [](Args& a, FactoryAddOptions& o) {
         a.positional("NAME", o.name, "factory name: lowercase letters, digits, - and _ (at most 32)").required();
         a.positional("URL", o.url, "git URL or path to clone into ROOT/NAME").required();
         a.option("--prefix", o.prefix, "work-order id prefix for this factory (default: the daemon's choice)");
       },
       cmd_factory_add},
      {"factory list", "every factory with its agents' counts by status", cmd_factory_list},
      {"factory status", "one factory: its repository, agents and configuration",
       [](Args& a, std::string& name) { a.positional("NAME", name, "factory name").required(); }, cmd_factory_status},
      {"factory remove", "stop a factory's agents and forget it (its clone stays on disk)",
       [](Args& a, std::string& name) { a.positional("NAME", name, "factory name").required(); }, cmd_factory_remove},
      {"team", "teams within a factory"},
      {"team add", "add a team (its own worktree and branch) to a factory",
       [](Args& a, TeamAddOptions& o) {
         a.positional("NAME", o.name, "team name").required();
         a.option("--factory", o.factory, "the factory it belongs to").required();
       },
       cmd_team_add},
      {"team list", "teams, of every factory or of one",
       [](Args& a, std::optional<std::string>& factory) {
         a.option("--factory", factory, "only this factory's teams");
       },
       cmd_team_list},
  };
}

}  // namespace vermas::client
