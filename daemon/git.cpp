#include "daemon/git.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vermas::git {

boost::asio::awaitable<proc::CommandResult> run(std::vector<std::string> args, std::filesystem::path cwd,
                                                std::chrono::milliseconds timeout) {
  proc::SpawnSpec spec;
  spec.argv.reserve(args.size() + 1);
  spec.argv.push_back("git");
  for (auto& a : args) spec.argv.push_back(std::move(a));
  spec.cwd = std::move(cwd);
  spec.env_add = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
  // ssh must not ask for a passphrase on a terminal it does not have; a user's own ssh
  // command is kept.
  if (!std::getenv("GIT_SSH_COMMAND")) spec.env_add["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
  auto result = co_await proc::run_command(std::move(spec), timeout);
  co_return result;
}

void exclude(const std::filesystem::path& repo, const std::string& pattern) {
  auto file = repo / ".git" / "info" / "exclude";
  std::error_code ec;
  if (!std::filesystem::is_directory(repo / ".git")) return;  // a worktree or bare: nothing to do
  std::filesystem::create_directories(file.parent_path(), ec);
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line == pattern) return;
  std::ofstream out(file, std::ios::app);
  out << pattern << '\n';
}

}  // namespace vermas::git
