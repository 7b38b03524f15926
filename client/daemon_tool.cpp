#include "client/daemon_tool.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace vermas::client {

namespace fs = std::filesystem;

std::string daemon_binary() {
  if (const char* env = std::getenv("VERMAS_OPERATIONS_BIN"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path beside = self.parent_path() / "vermas-operations";
    if (fs::exists(beside, ec)) return beside.string();
  }
  return "vermas-operations";
}

ToolRun run_daemon_tool(const std::vector<std::string>& args) {
  ToolRun r;
  const std::string bin = daemon_binary();
  std::vector<std::string> all{bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = 0;
  // posix_spawnp searches $PATH, as `co operations start` does.
  const int err = ::posix_spawnp(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (err != 0) {
    ::close(fds[0]);
    r.error = "cannot run " + bin + ": " + std::strerror(err) + " (is vermas-operations installed, or set VERMAS_OPERATIONS_BIN)";
    return r;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) r.out.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else r.error = bin + " was killed by signal " + std::to_string(WTERMSIG(status));
  return r;
}

}  // namespace vermas::client
