#pragma once
// git as a subprocess (argv, never a shell), awaited without blocking the io thread. Never
// prompts: a URL that needs credentials fails instead of hanging the daemon.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "daemon/process.hpp"

namespace vermas::git {

boost::asio::awaitable<proc::CommandResult> run(std::vector<std::string> args, std::filesystem::path cwd,
                                                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Adds `pattern` to <repo>/.git/info/exclude unless it is there: the daemon's own files in
// a factory (.work/, .worktrees/) never show up in `git status`.
void exclude(const std::filesystem::path& repo, const std::string& pattern);

}  // namespace vermas::git
