#include "daemon/work/git.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vermas::git {

boost::asio::awaitable<proc::CommandResult> run(std::vector<std::string> args, std::filesystem::path cwd,
                                                std::chrono::milliseconds timeout,
                                                std::map<std::string, std::string> env) {
  proc::SpawnSpec spec;
  spec.argv.reserve(args.size() + 1);
  spec.argv.push_back("git");
  for (auto& a : args) spec.argv.push_back(std::move(a));
  spec.cwd = std::move(cwd);
  spec.env_add = std::move(env);
  spec.env_add["GIT_TERMINAL_PROMPT"] = "0";
  spec.env_add["LC_ALL"] = "C";
  // ssh must not ask for a passphrase on a terminal it does not have; a user's own ssh
  // command is kept.
  if (!std::getenv("GIT_SSH_COMMAND")) spec.env_add["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
  // Room for a blob of work orders (wo sync reads one); output is only kept, never parsed
  // beyond what the caller asks for.
  auto result = co_await proc::run_command(std::move(spec), timeout, 64u << 20);
  co_return result;
}

std::string first_line(const std::string& output) {
  std::string line = output.substr(0, output.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
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
