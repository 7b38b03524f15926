#pragma once
// The daemon binary as a tool: `co operations start` starts it; `co verify-db` and
// `co restore` run its offline modes (--verify-db, --restore FILE), which need SQLite and
// the store's pieces that this static, thin client does not link.
#include <string>
#include <vector>

namespace vermas::client {

// VERMAS_OPERATIONS_BIN, then vermas-operations beside this `co` (a build tree or
// /usr/bin), then $PATH.
std::string daemon_binary();

struct ToolRun {
  int exit_code = -1;  // -1: it could not be started or was killed (then `error`)
  std::string out;     // its stdout; stderr goes to ours
  std::string error;
};
// Runs the daemon binary with `args` (argv, no shell) and waits for it.
ToolRun run_daemon_tool(const std::vector<std::string>& args);

}  // namespace vermas::client
