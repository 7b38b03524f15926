#pragma once
// The client's commands as one table, like tmux's cmd_table: each entry (its path of names,
// summary, flags and arguments, and body) sits beside its body in a cmd_*.cpp, and main.cpp
// walks the table to build the CLI. Entries describe their flags here rather than on CLI11
// objects so that main.cpp is the only file that includes CLI11 (slow to compile).
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "client/context.hpp"

namespace vermas::client {

// One flag, option or positional argument of a command, as main.cpp hands it to CLI11.
struct Arg {
  // A bool is a flag; anything else takes a value.
  using Target = std::variant<bool*, int*, std::string*, std::optional<std::string>*, std::optional<int>*,
                              std::vector<std::string>*>;
  Arg(std::string arg_name, std::string arg_help, Target arg_target)
      : name(std::move(arg_name)), help(std::move(arg_help)), target(arg_target) {}

  std::string name;  // "--factory", "-n,--lines"; without a dash ("ID") it is positional
  std::string help;
  Target target;

  // Set through the calls below; main.cpp reads them.
  bool is_required = false;
  char split_at = 0;                          // a list: values split at this character
  std::vector<std::string> choices;           // the value must be one of these,
  std::optional<std::pair<int, int>> bounds;  // or within [first, second],
  std::string check_name;                     // or pass check_fn, shown in --help as check_name (DURATION):
  std::function<std::string(const std::string&)> check_fn;  // "" when the value is fine, else why not
  std::string excluded;                       // the name of an earlier arg that cannot be given with this one

  Arg& required() {
    is_required = true;
    return *this;
  }
  Arg& delimiter(char c) {
    split_at = c;
    return *this;
  }
  template <class Values>
  Arg& one_of(const Values& values) {
    for (const auto& v : values) choices.emplace_back(v);
    return *this;
  }
  Arg& range(int min, int max) {
    bounds = std::pair(min, max);
    return *this;
  }
  Arg& check(std::string check_title, std::function<std::string(const std::string&)> fn) {
    check_name = std::move(check_title);
    check_fn = std::move(fn);
    return *this;
  }
  Arg& excludes(std::string other) {
    excluded = std::move(other);
    return *this;
  }
};

// The flags and arguments one command declares, in the order --help lists them.
class Args {
 public:
  template <class T>
  Arg& option(std::string name, T& target, std::string help) {
    return list_.emplace_back(std::move(name), std::move(help), &target);
  }
  template <class T>
  Arg& positional(std::string name, T& target, std::string help) {
    return option(std::move(name), target, std::move(help));
  }
  Arg& flag(std::string name, bool& target, std::string help) {
    return option(std::move(name), target, std::move(help));
  }
  // A deque: an Arg& stays valid while later ones are declared.
  const std::deque<Arg>& list() const { return list_; }

 private:
  std::deque<Arg> list_;
};

using Run = std::function<int(Context&)>;

struct Command {
  std::string path;     // names from the top, space-separated: "agent stop", "wo events tail"
  std::string summary;  // one line for --help
  // Declares the flags and arguments into Args, bound to storage of their own, and returns the
  // body bound to the same storage. Empty for a group, which needs one of its subcommands.
  std::function<Run(Args&)> bind;

  // A group, e.g. "agent".
  Command(std::string names, std::string help) : path(std::move(names)), summary(std::move(help)) {}
  // A command without flags or arguments.
  Command(std::string names, std::string help, int (*run)(Context&)) : Command(std::move(names), std::move(help)) {
    bind = [run](Args&) { return Run(run); };
  }
  // A command whose flags and arguments fill one Opts (a struct, or a single value) for `run`;
  // `declare` may be a lambda: Opts is taken from `run`.
  template <class Opts>
  Command(std::string names, std::string help, std::type_identity_t<void (*)(Args&, Opts&)> declare,
          int (*run)(Context&, const Opts&))
      : Command(std::move(names), std::move(help)) {
    bind = [declare, run](Args& args) -> Run {
      auto opts = std::make_shared<Opts>();
      declare(args, *opts);
      return [opts, run](Context& ctx) { return run(ctx, *opts); };
    };
  }
};

// The table, in parts by topic; main.cpp joins them in the order of `co --help`.
std::vector<Command> lifecycle_commands();  // cmd_lifecycle.cpp: init, operations
std::vector<Command> overview_commands();   // cmd_overview.cpp: ping, status, health
std::vector<Command> factory_commands();    // cmd_factory.cpp: factory, team
std::vector<Command> agent_commands();      // cmd_agent.cpp: agent, worker, heartbeat, attach
std::vector<Command> alert_commands();      // cmd_alert.cpp: alert
std::vector<Command> mail_commands();       // cmd_mail.cpp: send, mail
std::vector<Command> governance_commands(); // cmd_governance.cpp: cost, runs, budget, approval
std::vector<Command> config_commands();     // cmd_overview.cpp: config
std::vector<Command> wo_commands();         // cmd_wo.cpp: wo, events, dispatch, sprint
std::vector<Command> db_commands();         // cmd_db.cpp: backup, restore, verify-db
std::vector<Command> doctor_commands();     // cmd_doctor.cpp: doctor
std::vector<Command> report_commands();     // cmd_report.cpp: report, metrics
std::vector<Command> top_commands();        // cmd_top.cpp: top
std::vector<Command> call_commands();       // cmd_overview.cpp: call
std::vector<Command> completion_commands(); // cmd_completion.cpp: help, completion

// The whole table, parents before their children, in the order `co --help` lists them
// (main.cpp); `co completion` generates the shell completions and co(1)'s reference from it.
std::vector<Command> command_table();

}  // namespace vermas::client
