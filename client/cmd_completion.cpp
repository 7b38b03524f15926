// co completion bash|zsh|values|table, co help: shell completions and help by name, from the
// same command table main.cpp builds the CLI from. The package's completion files and the
// command reference of co(1) are generated from it at build time (packaging/CMakeLists.txt),
// so neither can drift from `co --help`.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "client/commands.hpp"

namespace vermas::client {

// A namespace of its own: the client is a unity build, and the other cmd_*.cpp files have
// helpers of their own in their anonymous namespaces (split, quoted ...).
namespace completion_impl {
namespace {

// The global flags main.cpp declares on the top-level app (CLI11 adds -h,--help there and on
// every subcommand). tests/package/check_docs.py checks this list against `co --help`.
struct GlobalFlag {
  const char* names;
  const char* help;
  bool takes_value;
  const char* live;  // what completes its value: "files", "dirs" or nothing
};
constexpr GlobalFlag kGlobalFlags[] = {
    {"--json", "machine output: exactly one JSON document on stdout", false, ""},
    {"--socket", "daemon socket (default: from the config, or ROOT/.work/operations.sock)", true, "files"},
    {"--timeout", "seconds to wait for the daemon", true, ""},
    {"--company-root", "company root (default: $COMPANY_ROOT, nearest parent with .vermas/, ~/company)", true, "dirs"},
    {"-h,--help", "print this help message and exit", false, ""},
    {"--version", "display program version information and exit", false, ""},
};

// The live values `co completion values` prints, and what else completes an argument.
constexpr const char* kLiveKinds[] = {"agents", "factories", "work-orders"};

struct ArgInfo {
  std::vector<std::string> names;  // "-n", "--lines"; a positional has its one NAME
  std::string help;
  bool positional = false;
  bool takes_value = false;
  bool repeats = false;  // a positional that takes every remaining word
  bool required = false;
  std::vector<std::string> choices;
  std::string live;  // kinds of live values ("agents", "factories work-orders"), "files", "dirs", "commands"
};

struct CommandInfo {
  std::string path;  // "agent stop"
  std::string summary;
  bool group = false;
  std::vector<ArgInfo> args;
};

std::vector<std::string> split(const std::string& text, char at) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, at))
    if (!part.empty()) out.push_back(part);
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Where an argument's values come from, by its name and help text: the table names agents,
// factories and work orders the same way everywhere ("agent id (see: co agent list)", FACTORY,
// --factory, "work order id, e.g. wo-abc123").
std::string live_kind(const std::string& path, const std::string& name, const std::string& help) {
  if (path == "help" || path == "wo help") return "commands";
  if (name == "FACTORY" || name == "--factory") return "factories";
  if (name == "NAME" && starts_with(help, "factory name") && path != "factory add") return "factories";
  if (name == "AGENT" || name == "TO" || name == "--agent" || name == "--assignee" ||
      (name == "--id" && contains(help, "agent")))
    return "agents";
  if (name == "WO" || name == "--wo") return "work-orders";
  if (name == "ID") {
    if (starts_with(help, "agent id")) return "agents";
    if (starts_with(help, "work order id")) return "work-orders";
    if (contains(help, "factory or agent")) return "factories agents";
  }
  if (name == "FILE" || name == "file" || name == "--output") return "files";
  return "";
}

std::vector<CommandInfo> describe(const std::vector<Command>& table) {
  std::vector<CommandInfo> out;
  for (const Command& c : table) {
    CommandInfo info{c.path, c.summary, !c.bind, {}};
    if (c.bind) {
      Args declared;
      (void)c.bind(declared);  // the body is not run: only the declarations are read
      for (const Arg& arg : declared.list()) {
        ArgInfo a;
        a.names = split(arg.name, ',');
        a.help = arg.help;
        a.positional = !arg.name.empty() && arg.name[0] != '-';
        a.takes_value = !std::holds_alternative<bool*>(arg.target);
        a.repeats = a.positional && std::holds_alternative<std::vector<std::string>*>(arg.target);
        a.required = arg.is_required;
        a.choices = arg.choices;
        a.live = live_kind(c.path, a.names.empty() ? arg.name : a.names.back(), arg.help);
        info.args.push_back(std::move(a));
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The tables both scripts read, keyed by the command path from "co" ("co agent stop"): a
// group's subcommands; a command's flags and which of them take a value; choices and live
// kinds by "PATH FLAG" or "PATH #N" (the Nth positional, from 0; "#*" for a list); positional
// counts; and the summaries and flag help zsh shows beside each candidate.
struct Tables {
  std::map<std::string, std::vector<std::string>> subs, flags, value_flags;
  std::map<std::string, std::string> choices, live, summary, flag_help;
  std::map<std::string, int> positionals;
  std::set<std::string> rest;  // commands whose last positional takes every remaining word
};

Tables tables(const std::vector<CommandInfo>& commands) {
  Tables t;
  for (const auto& c : commands) {
    const std::string key = "co " + c.path;
    const auto space = key.rfind(' ');
    t.subs[key.substr(0, space)].push_back(key.substr(space + 1));
    t.summary[key] = c.summary;
    if (c.group) continue;
    int n = 0;
    for (const auto& a : c.args) {
      std::vector<std::string> keys;
      if (a.positional) {
        keys.push_back(key + " #" + std::to_string(n++));
        if (a.repeats) {
          keys.push_back(key + " #*");
          t.rest.insert(key);
        }
      } else {
        for (const auto& name : a.names) {
          t.flags[key].push_back(name);
          t.flag_help[key + " " + name] = a.help;
          if (a.takes_value) t.value_flags[key].push_back(name);
          keys.push_back(key + " " + name);
        }
      }
      for (const auto& k : keys) {
        if (!a.choices.empty()) t.choices[k] = joined(a.choices);
        else if (!a.live.empty()) t.live[k] = a.live;
      }
    }
    if (n) t.positionals[key] = n;
  }
  for (const auto& g : kGlobalFlags)
    for (const auto& name : split(g.names, ',')) {
      t.flag_help["* " + name] = g.help;
      if (*g.live) t.live["* " + name] = g.live;
    }
  return t;
}

std::string global_flags(bool values_only) {
  std::vector<std::string> out;
  for (const auto& g : kGlobalFlags)
    if (!values_only || g.takes_value)
      for (const auto& name : split(g.names, ',')) out.push_back(name);
  return joined(out);
}

// NAME=( [key]=value ... ) for bash, NAME=( key value ... ) for zsh.
template <class Map, class F>
void emit_map(std::ostream& out, bool bash, const std::string& name, const Map& map, F value) {
  out << name << "=(\n";
  for (const auto& [key, v] : map) {
    if (bash) out << "  [" << shell_quoted(key) << "]=" << shell_quoted(value(v)) << "\n";
    else out << "  " << shell_quoted(key) << " " << shell_quoted(value(v)) << "\n";
  }
  out << ")\n";
}

void emit_tables(std::ostream& out, const Tables& t, bool bash) {
  auto words = [](const std::vector<std::string>& v) { return joined(v); };
  auto same = [](const std::string& s) { return s; };
  auto number = [](int n) { return std::to_string(n); };
  const std::string prefix = bash ? "_co_" : "";
  out << (bash ? "declare -gA" : "local -A") << " " << prefix << "subs " << prefix << "flags " << prefix
      << "value_flags " << prefix << "choices " << prefix << "live " << prefix << "positionals " << prefix << "rest";
  if (!bash) out << " summary flag_help";
  out << "\n";
  emit_map(out, bash, prefix + "subs", t.subs, words);
  emit_map(out, bash, prefix + "flags", t.flags, words);
  emit_map(out, bash, prefix + "value_flags", t.value_flags, words);
  emit_map(out, bash, prefix + "choices", t.choices, same);
  emit_map(out, bash, prefix + "live", t.live, same);
  emit_map(out, bash, prefix + "positionals", t.positionals, number);
  std::map<std::string, std::string> rest;
  for (const auto& r : t.rest) rest[r] = "1";
  emit_map(out, bash, prefix + "rest", rest, same);
  if (!bash) {
    emit_map(out, bash, "summary", t.summary, same);
    emit_map(out, bash, "flag_help", t.flag_help, same);
  }
}

// The scripts' logic. Both walk the words typed so far: subcommand names descend the table,
// flags that take a value skip it (--company-root, --socket and --timeout are kept, so live
// values come from the company being typed at), anything else counts as a positional.
constexpr const char* kBashBody = R"BASH(
_co_has() { [[ " $1 " == *" $2 "* ]]; }
_co_takes_value() { _co_has "$_co_global_value_flags ${_co_value_flags[$1]}" "$2"; }

# Candidates for the value of KEY ("co agent list --status", "co agent stop #0") into COMPREPLY.
_co_value() {
  local key
  for key; do
    if [[ -n ${_co_choices[$key]+set} ]]; then
      COMPREPLY=($(compgen -W "${_co_choices[$key]}" -- "$cur"))
      return
    fi
    [[ -n ${_co_live[$key]+set} ]] || continue
    case ${_co_live[$key]} in
      files) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
      dirs) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
      *)
        # From the daemon: one quick call; nothing at all when it is down or slow.
        local co=${COMP_WORDS[0]}
        [[ ${co##*/} == wo ]] && co=${co%wo}co
        COMPREPLY=($(compgen -W "$("$co" "${ctx[@]}" completion values ${_co_live[$key]} 2>/dev/null)" -- "$cur")) ;;
    esac
    return
  done
}

_co() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local cmdpath=co hpath=co word opt="" pre="" i npos=0
  local -a ctx=()
  COMPREPLY=()
  [[ ${COMP_WORDS[0]##*/} == wo ]] && cmdpath="co wo"
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      if [[ ${COMP_WORDS[i+1]} == = ]]; then          # --flag=value, split at = by bash
        _co_has "$_co_global_value_flags" "$word" && ctx+=("$word=${COMP_WORDS[i+2]}")
        ((i += 2))
      elif [[ $word == *=* ]]; then
        _co_has "$_co_global_value_flags" "${word%%=*}" && ctx+=("$word")
      elif _co_takes_value "$cmdpath" "$word"; then
        _co_has "$_co_global_value_flags" "$word" && ctx+=("$word" "${COMP_WORDS[i+1]}")
        ((i++))
      fi
      continue
    fi
    if [[ $cmdpath == *" help" ]]; then                # co help agent ..., wo help ...
      _co_has "${_co_subs[$hpath]}" "$word" && hpath="$hpath $word"
    elif [[ -n ${_co_subs[$cmdpath]+set} ]] && _co_has "${_co_subs[$cmdpath]}" "$word"; then
      cmdpath="$cmdpath $word"
      hpath=${cmdpath% help}
    else
      ((npos++))
    fi
  done

  if [[ $cur == = ]]; then
    opt=$prev cur=""
  elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
    opt=${COMP_WORDS[COMP_CWORD-2]}
  elif [[ $cur == -*=* ]]; then                          # = not a word break here
    opt=${cur%%=*} pre="${cur%%=*}=" cur=${cur#*=}
  elif [[ $prev == -* ]] && _co_takes_value "$cmdpath" "$prev"; then
    opt=$prev
  fi
  if [[ -n $opt ]]; then
    _co_value "$cmdpath $opt" "* $opt"
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${_co_flags[$cmdpath]} $_co_global_flags" -- "$cur"))
  elif [[ $cmdpath == *" help" ]]; then
    COMPREPLY=($(compgen -W "${_co_subs[$hpath]}" -- "$cur"))
  elif [[ -n ${_co_subs[$cmdpath]+set} ]]; then
    COMPREPLY=($(compgen -W "${_co_subs[$cmdpath]}" -- "$cur"))
  elif ((npos < ${_co_positionals[$cmdpath]:-0})) || [[ -n ${_co_rest[$cmdpath]+set} ]]; then
    _co_value "$cmdpath #$npos" "$cmdpath #*"
  else
    COMPREPLY=($(compgen -W "${_co_flags[$cmdpath]} $_co_global_flags" -- "$cur"))
  fi
  [[ -n $pre ]] && COMPREPLY=("${COMPREPLY[@]/#/$pre}")
  return 0
}
complete -F _co co wo
)BASH";

constexpr const char* kZshBody = R"ZSH(
local cmdpath=co hpath=co word opt="" cur=${words[CURRENT]} i npos=0 w
local -a ctx items
[[ ${words[1]:t} == wo ]] && cmdpath="co wo"

_co_has() { [[ " $1 " == *" $2 "* ]] }
_co_takes_value() { _co_has "$global_value_flags ${value_flags[$1]}" "$2" }
# Candidates for the value of KEY ("co agent list --status", "co agent stop #0").
_co_value() {
  local key
  for key; do
    if (( ${+choices[$key]} )); then
      compadd -- ${=choices[$key]}
      return
    fi
    (( ${+live[$key]} )) || continue
    case ${live[$key]} in
      files) _files ;;
      dirs) _directories ;;
      *)
        # From the daemon: one quick call; nothing at all when it is down or slow.
        local co=${words[1]}
        [[ ${co:t} == wo ]] && co=${co%wo}co
        compadd -- ${(f)"$(command $co $ctx completion values ${=live[$key]} 2>/dev/null)"} ;;
    esac
    return
  done
}
_co_describe() {  # TAG PATH WORDS...: each word with its summary or help beside it
  local tag=$1 at=$2 w text
  local -a described
  shift 2
  for w; do
    if [[ $tag == commands ]]; then text=${summary[$at $w]}; else text=${flag_help[$at $w]:-${flag_help[* $w]}}; fi
    described+=("${w//:/\\:}:$text")
  done
  _describe -t $tag $tag described
}

for (( i = 2; i < CURRENT; i++ )); do
  word=${words[i]}
  if [[ $word == -* ]]; then
    if [[ $word == *=* ]]; then
      _co_has "$global_value_flags" "${word%%=*}" && ctx+=($word)
    elif _co_takes_value "$cmdpath" "$word"; then
      _co_has "$global_value_flags" "$word" && ctx+=($word ${words[i+1]})
      (( i++ ))
    fi
    continue
  fi
  if [[ $cmdpath == *" help" ]]; then                  # co help agent ..., wo help ...
    _co_has "${subs[$hpath]}" "$word" && hpath="$hpath $word"
  elif (( ${+subs[$cmdpath]} )) && _co_has "${subs[$cmdpath]}" "$word"; then
    cmdpath="$cmdpath $word"
    hpath=${cmdpath% help}
  else
    (( npos++ ))
  fi
done

if [[ $cur == -*=* ]]; then
  opt=${cur%%=*}
  compset -P '*='
elif (( CURRENT > 2 )) && [[ ${words[CURRENT-1]} == -* ]] && _co_takes_value "$cmdpath" "${words[CURRENT-1]}"; then
  opt=${words[CURRENT-1]}
fi
if [[ -n $opt ]]; then
  _co_value "$cmdpath $opt" "* $opt"
elif [[ $cur == -* ]]; then
  _co_describe options "$cmdpath" ${=flags[$cmdpath]} ${=global_flags}
elif [[ $cmdpath == *" help" ]]; then
  _co_describe commands "$hpath" ${=subs[$hpath]}
elif (( ${+subs[$cmdpath]} )); then
  _co_describe commands "$cmdpath" ${=subs[$cmdpath]}
elif (( npos < ${positionals[$cmdpath]:-0} )) || (( ${+rest[$cmdpath]} )); then
  _co_value "$cmdpath #$npos" "$cmdpath #*"
else
  _co_describe options "$cmdpath" ${=flags[$cmdpath]} ${=global_flags}
fi
)ZSH";

int cmd_completion_bash(Context&) {
  const Tables t = tables(describe(command_table()));
  std::cout << "# bash completion for co and wo: every command and flag of the command table, and live\n"
               "# agent ids, factory names and work-order ids from the daemon (co completion values).\n"
               "# Generated by `co completion bash`; load it with: source <(co completion bash)\n";
  emit_tables(std::cout, t, true);
  std::cout << "_co_global_flags=" << shell_quoted(global_flags(false)) << "\n"
            << "_co_global_value_flags=" << shell_quoted(global_flags(true)) << "\n"
            << kBashBody;
  return kOk;
}

int cmd_completion_zsh(Context&) {
  const Tables t = tables(describe(command_table()));
  std::cout << "#compdef co wo\n"
               "# zsh completion for co and wo: every command and flag of the command table, and live\n"
               "# agent ids, factory names and work-order ids from the daemon (co completion values).\n"
               "# Generated by `co completion zsh`; install it as _co in a directory of $fpath.\n";
  emit_tables(std::cout, t, false);
  std::cout << "local global_flags=" << shell_quoted(global_flags(false)) << "\n"
            << "local global_value_flags=" << shell_quoted(global_flags(true)) << "\n"
            << kZshBody;
  return kOk;
}

struct ValuesOptions {
  std::vector<std::string> kinds;
};

// One value per line, and nothing but exit 0 when the daemon is down, slow or says no: a
// completion must never print an error into the command line being typed.
int cmd_completion_values(Context& ctx, const ValuesOptions& o) {
  Globals quick = ctx.globals();
  if (!quick.timeout_given) {
    quick.timeout_seconds = 0.5;  // each answer
    // And one second for everything, whatever blocks (a connect to a daemon whose accept
    // queue is full blocks without a timeout): then exit 0 with nothing more printed.
    ::signal(SIGALRM, [](int) { ::_exit(0); });
    ::alarm(1);
  }
  try {
    Context c(quick);
    std::vector<std::string> out;
    auto ids = [&](const json& result, const char* list, const char* key) {
      if (!result.is_object() || !result.contains(list) || !result[list].is_array()) return;
      for (const json& item : result[list])
        if (item.is_object() && item.contains(key) && item[key].is_string()) out.push_back(item[key].get<std::string>());
    };
    for (const auto& kind : o.kinds) {
      if (kind == "agents") ids(c.call("agent.list"), "agents", "id");
      else if (kind == "factories") ids(c.call("factory.list"), "factories", "name");
      else if (kind == "work-orders")  // the ones still in play; done and canceled would be most of them
        ids(c.call("wo.list", {{"status", "open,assigned,in_progress,review,needs_approval,blocked,failed"}}),
            "work_orders", "id");
    }
    for (const auto& v : out) std::cout << v << "\n";
  } catch (...) {
  }
  return kOk;
}

int cmd_completion_table(Context& ctx) {
  json commands = json::array();
  for (const auto& c : describe(command_table())) {
    json args = json::array();
    for (const auto& a : c.args)
      args.push_back({{"names", a.names},
                      {"help", a.help},
                      {"positional", a.positional},
                      {"takes_value", a.takes_value},
                      {"repeats", a.repeats},
                      {"required", a.required},
                      {"choices", a.choices},
                      {"live", a.live}});
    commands.push_back({{"path", c.path}, {"summary", c.summary}, {"group", c.group}, {"args", args}});
  }
  json globals = json::array();
  for (const auto& g : kGlobalFlags)
    globals.push_back({{"names", split(g.names, ',')}, {"help", g.help}, {"takes_value", g.takes_value}});
  ctx.print_json({{"program", "co"}, {"global_flags", globals}, {"commands", commands}});
  return kOk;
}

struct HelpOptions {
  std::vector<std::string> words;
};

// `co help agent stop` is `co agent stop --help`, `wo help create` is `co wo create --help`:
// the same text, by running this co again.
int run_help(Context& ctx, std::vector<std::string> words, const HelpOptions& o) {
  words.insert(words.end(), o.words.begin(), o.words.end());
  words.push_back("--help");
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::cout.flush();
  ::execv("/proc/self/exe", argv.data());
  return fail(ctx, kUsage, std::string("cannot run /proc/self/exe for the help: ") + std::strerror(errno));
}

int cmd_help(Context& ctx, const HelpOptions& o) { return run_help(ctx, {"co"}, o); }
int cmd_wo_help(Context& ctx, const HelpOptions& o) { return run_help(ctx, {"co", "wo"}, o); }

}  // namespace
}  // namespace completion_impl

std::vector<Command> completion_commands() {
  using namespace completion_impl;
  return {
      {"help", "the help of a command: co help agent stop is co agent stop --help",
       [](Args& a, HelpOptions& o) { a.positional("COMMAND", o.words, "a command, e.g. agent stop"); }, cmd_help},
      {"wo help", "the help of a work-order command: wo help create is wo create --help",
       [](Args& a, HelpOptions& o) { a.positional("COMMAND", o.words, "a work-order command, e.g. create"); },
       cmd_wo_help},
      {"completion", "shell completion scripts for co and wo, from this co's command table"},
      {"completion bash", "print the bash completion script (source <(co completion bash))", cmd_completion_bash},
      {"completion zsh", "print the zsh completion script (save it as _co in a directory of $fpath)",
       cmd_completion_zsh},
      {"completion values", "live values for completions, one per line; silent when the daemon is down",
       [](Args& a, ValuesOptions& o) {
         a.positional("KIND", o.kinds, "agents, factories or work-orders (those not done or canceled)")
             .required()
             .one_of(kLiveKinds);
       },
       cmd_completion_values},
      {"completion table", "the command table as JSON: every command, flag and argument (for tools)",
       cmd_completion_table},
  };
}

}  // namespace vermas::client
