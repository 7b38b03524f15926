// co (and wo): the global flags, the command table turned into CLI11 subcommands, and the
// exit codes. Commands themselves are declared beside their bodies (commands.hpp); this is
// the only file that includes CLI11.
#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "client/commands.hpp"
#include "version.hpp"

using namespace vermas::client;

std::vector<Command> vermas::client::command_table() {
  std::vector<Command> table;
  for (auto part : {lifecycle_commands, overview_commands, factory_commands, agent_commands, alert_commands, mail_commands, governance_commands,
                    config_commands, wo_commands, db_commands, doctor_commands, report_commands, top_commands, call_commands,
                    completion_commands})
    for (Command& c : part()) table.push_back(std::move(c));
  return table;
}

namespace {

// One declared flag or argument as a CLI11 option; `earlier` are the command's options so far.
CLI::Option* add_arg(CLI::App& cmd, const Arg& arg, const std::map<std::string, CLI::Option*>& earlier) {
  CLI::Option* opt = std::visit(
      [&](auto* target) {
        if constexpr (std::is_same_v<decltype(target), bool*>)
          return cmd.add_flag(arg.name, *target, arg.help);
        else
          return cmd.add_option(arg.name, *target, arg.help);
      },
      arg.target);
  if (arg.is_required) opt->required();
  if (arg.split_at) opt->delimiter(arg.split_at);
  if (!arg.choices.empty()) opt->check(CLI::IsMember(arg.choices));
  if (arg.bounds) opt->check(CLI::Range(arg.bounds->first, arg.bounds->second));
  if (arg.check_fn) opt->check(CLI::Validator([f = arg.check_fn](std::string& s) { return f(s); }, arg.check_name));
  if (!arg.excluded.empty()) opt->excludes(earlier.at(arg.excluded));
  return opt;
}

// How far the words name a command of the table: `path` is the deepest one named; `unknown`
// the first word that names nothing where a command was expected (CLI11 would take it for an
// argument, and `co doctor --help` would print the top-level help and exit 0).
struct Resolved {
  std::string path;
  std::optional<std::string> unknown;
};

Resolved resolve_words(const std::vector<std::string>& args, const std::set<std::string>& paths,
                       const std::set<std::string>& groups) {
  static const std::set<std::string> kValueFlags = {"--socket", "--timeout", "--company-root"};
  Resolved r;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") break;
    if (word.size() > 1 && word[0] == '-') {
      if (kValueFlags.count(word)) ++i;  // its value
      continue;
    }
    if (!r.path.empty() && !groups.count(r.path)) break;  // a command's own arguments
    const std::string next = r.path.empty() ? word : r.path + " " + word;
    if (!paths.count(next)) {
      r.unknown = word;
      break;
    }
    r.path = next;
  }
  return r;
}

std::string children_of(const CLI::App& app) {
  std::string out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    out += (out.empty() ? "" : ", ") + sub->get_name();
  return out;
}

bool given_empty(const std::vector<std::string>& args, const std::string& flag) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag + "=") return true;
    if (args[i] == flag && i + 1 < args.size() && args[i + 1].empty()) return true;
  }
  return false;
}

// CLI11's messages in the client's words: what is wrong and where to look, once.
std::string usage_message(const CLI::ParseError& e, const std::vector<std::string>& args, const Resolved& r,
                          const std::map<std::string, CLI::App*>& node) {
  std::string what = e.what();
  const std::string here = "co" + (r.path.empty() ? std::string() : " " + r.path);
  if (what.find("subcommand is required") != std::string::npos)
    return r.path.empty() ? std::string("a command is required; see co --help")
                          : r.path + " needs a subcommand: " + children_of(*node.at(r.path)) + "; see " + here + " --help";
  if (dynamic_cast<const CLI::RequiredError*>(&e) || dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    // "--title: 1 required TEXT missing" (an empty value is no value to CLI11), "--title is required".
    const std::string flag = what.substr(0, what.find_first_of(": "));
    if (flag.rfind("--", 0) == 0 && what.find("required") != std::string::npos)
      return flag + (given_empty(args, flag) ? " must not be empty" : " is required") + "; see " + here + " --help";
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    const auto colon = what.find(": ");
    return "unexpected argument" + (colon == std::string::npos ? what : " " + what.substr(colon + 2)) + " for " + here +
           "; see " + here + " --help";
  }
  return what + "; see " + here + " --help";
}

}  // namespace

int main(int argc, char** argv) {
  std::string invoked = std::filesystem::path(argv[0]).filename().string();
  std::vector<std::string> args(argv + 1, argv + argc);
  // `wo X` is `co wo X`.
  if (invoked == "wo") args.insert(args.begin(), "wo");
  set_program_name(invoked == "wo" ? "wo" : "co");
  if (debug_from_env()) RpcClient::trace(program_name());

  CLI::App app{"co: the VerMAS operations client (wo: its work-order commands)", "co"};
  app.fallthrough();  // global flags work after the subcommand too
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("co ") + vermas::kVersion);
  Globals g;
  app.add_flag("--json", g.json, "machine output: exactly one JSON document on stdout");
  app.add_option("--socket", g.socket, "daemon socket (default: from the config, or ROOT/.work/operations.sock)");
  auto* timeout_opt = app.add_option("--timeout", g.timeout_seconds,
                                     "seconds to wait for the daemon (default 10; commands that wait for an action, "
                                     "such as a git clone or stopping an agent, allow longer unless this is given)")
                          ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--company-root", g.company_root, "company root (default: $COMPANY_ROOT, nearest parent with .vermas/, ~/company)");

  int rc = 0;
  std::unique_ptr<Context> ctx;
  // Only the subcommands this run can reach are made: every one of the table as a CLI11 App
  // with its options was a fifth of a `co` process's time (perf), and agents run `co` for
  // each heartbeat. Made: the named command and its ancestors, and the children of a group
  // that is named last (its help and its "needs a subcommand" list them).
  const std::vector<Command> table = command_table();
  auto parent_of = [](const std::string& path) {
    const auto space = path.rfind(' ');
    return space == std::string::npos ? std::string() : path.substr(0, space);
  };
  std::set<std::string> paths{""};   // every command's path
  std::set<std::string> groups{""};  // paths that only hold subcommands
  for (const Command& c : table) {
    // A bug in the table: every run fails on it, so any test shows it at once.
    if (!groups.count(parent_of(c.path))) throw std::logic_error("command table: " + c.path + " comes before its parent group");
    paths.insert(c.path);
    if (!c.bind) groups.insert(c.path);
  }
  // Before CLI11 sees them: --json may come after the error, and --help after a typo.
  const bool json_out = std::find(args.begin(), args.end(), "--json") != args.end();
  const Resolved words = resolve_words(args, paths, groups);
  auto wanted = [&](const std::string& path) {
    const std::string parent = parent_of(path);
    if (parent == words.path && groups.count(words.path)) return true;  // a child of the group named
    return words.path == path || words.path.rfind(path + " ", 0) == 0;  // the command or an ancestor
  };
  std::map<std::string, CLI::App*> node{{"", &app}};  // by path
  for (const Command& c : table) {
    if (!wanted(c.path)) continue;
    const std::string parent_path = parent_of(c.path);
    const std::string name = parent_path.empty() ? c.path : c.path.substr(parent_path.size() + 1);
    CLI::App* cmd = node.at(parent_path)->add_subcommand(name, c.summary);
    node[c.path] = cmd;
    if (!c.bind) {
      cmd->require_subcommand(1);
      continue;
    }
    if (c.path != words.path) continue;  // listed in a group's help, never run
    Args declared;
    Run body = c.bind(declared);
    std::map<std::string, CLI::Option*> options;
    for (const Arg& arg : declared.list()) options[arg.name] = add_arg(*cmd, arg, options);
    cmd->callback([&, body] {
      g.timeout_given = timeout_opt->count() > 0;
      ctx = std::make_unique<Context>(g);
      rc = guarded(*ctx, [&] { return body(*ctx); });
    });
  }

  if (words.unknown) {
    const std::string here = "co" + (words.path.empty() ? std::string() : " " + words.path);
    return fail(json_out, kUsage,
                words.path.empty() ? "unknown command '" + *words.unknown + "'; see co --help"
                                   : "unknown subcommand '" + *words.unknown + "' of " + here + " (one of: " +
                                         children_of(*node.at(words.path)) + "); see " + here + " --help");
  }
  const std::vector<std::string> given = args;
  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(json_out, kUsage, usage_message(e, given, words, node));
  }
  return rc;
}
