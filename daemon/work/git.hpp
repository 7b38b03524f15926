#pragma once
// git as a subprocess (argv, never a shell), awaited without blocking the io thread. Never
// prompts: a URL that needs credentials fails instead of hanging the daemon.
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "daemon/agents/process.hpp"

namespace vermas::git {

// `env` is added to git's environment (GIT_INDEX_FILE for plumbing on a private index).
boost::asio::awaitable<proc::CommandResult> run(std::vector<std::string> args, std::filesystem::path cwd,
                                                std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                                std::map<std::string, std::string> env = {});
// An argument vector built outside the coroutine: GCC 12 miscompiles a braced list
// (an initializer_list temporary) inside a co_await expression ("array used as initializer").
template <class... Args>
std::vector<std::string> argv(Args&&... args) {
  return std::vector<std::string>{std::string(std::forward<Args>(args))...};
}

// The first line of a command's output, trimmed (an object id, a count).
std::string first_line(const std::string& output);

// Adds `pattern` to <repo>/.git/info/exclude unless it is there: the daemon's own files in
// a factory (.work/, .worktrees/) never show up in `git status`.
void exclude(const std::filesystem::path& repo, const std::string& pattern);

}  // namespace vermas::git
