// The client's command table (client/commands.hpp) as the real `co` builds it: walked from
// `co --help` down, every command has a summary, no path is listed twice, and `co PATH --help`
// exits 0 and starts with that summary.
#include "tests/catch.hpp"

#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

struct ListedCommand {
  std::vector<std::string> path;
  std::string summary;
};

std::string command_path_text(const std::vector<std::string>& path) {
  std::string s;
  for (const auto& name : path) s += (s.empty() ? "" : " ") + name;
  return s;
}

// The "Subcommands:" section of a CLI11 help text: "  NAME   SUMMARY" lines; a summary that
// does not fit beside its name continues on the next, indented line.
std::vector<ListedCommand> listed_subcommands(const std::vector<std::string>& parent, const std::string& help) {
  std::vector<ListedCommand> found;
  bool in_section = false;
  for (const auto& line : lines_of(help)) {
    if (line == "Subcommands:") {
      in_section = true;
      continue;
    }
    if (!in_section) continue;
    if (line.empty()) break;
    auto at = line.find_first_not_of(' ');
    if (at == std::string::npos) continue;
    std::string rest = line.substr(at);
    if (at == 2) {
      auto gap = rest.find(' ');
      auto path = parent;
      path.push_back(rest.substr(0, gap));
      auto summary_at = gap == std::string::npos ? gap : rest.find_first_not_of(' ', gap);
      found.push_back({path, summary_at == std::string::npos ? "" : rest.substr(summary_at)});
    } else if (!found.empty()) {
      found.back().summary += (found.back().summary.empty() ? "" : " ") + rest;
    }
  }
  return found;
}

}  // namespace

TEST_CASE("co's command table: summaries, unique paths, --help for every command", "[client]") {
  std::vector<ListedCommand> todo{ListedCommand{}};
  std::set<std::string> seen;
  while (!todo.empty()) {
    ListedCommand cmd = todo.back();
    todo.pop_back();
    std::string path = command_path_text(cmd.path);
    std::vector<std::string> argv{co_bin()};
    argv.insert(argv.end(), cmd.path.begin(), cmd.path.end());
    argv.push_back("--help");
    auto r = run(argv);
    INFO("co " << path << " --help:\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(contains(r.out, "Usage: co " + path + (path.empty() ? "" : " ")));
    if (!cmd.path.empty()) {
      CHECK_FALSE(cmd.summary.empty());
      CHECK(lines_of(r.out).at(0) == cmd.summary);
    }
    // `wo X` is `co wo X`, help included.
    if (!cmd.path.empty() && cmd.path[0] == "wo") {
      std::vector<std::string> wo_argv{wo_bin()};
      wo_argv.insert(wo_argv.end(), cmd.path.begin() + 1, cmd.path.end());
      wo_argv.push_back("--help");
      auto w = run(wo_argv);
      CHECK(w.exit_code == 0);
      CHECK(w.out == r.out);
    }
    for (auto& sub : listed_subcommands(cmd.path, r.out)) {
      INFO(command_path_text(sub.path));
      CHECK(seen.insert(command_path_text(sub.path)).second);
      todo.push_back(std::move(sub));
    }
  }
  // The walk reached every level of the table, not just its top.
  for (const char* path :
       {"init", "operations start", "agent stop", "worker kill", "alert resolve", "config check", "wo transition",
        "wo eval report", "wo events archive", "events tail", "sprint list", "call"}) {
    INFO(path);
    CHECK(seen.count(path) == 1);
  }
}
