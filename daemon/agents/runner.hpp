#pragma once
// How an agent's process is started, re-adopted and cleaned up: `direct` (a child of the
// daemon) or `tmux` (a detached session an operator can attach to). The supervisor sees
// only this interface; either way the exit is noticed through a pidfd, never by polling.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "daemon/agents/process.hpp"

namespace vermas {

struct LaunchRequest {
  std::string agent_id;
  std::string session;                      // tmux session name; also the log directory name
  std::vector<std::string> argv;            // never run through a shell
  std::filesystem::path cwd;
  std::map<std::string, std::string> env;   // added to the daemon's environment
  std::filesystem::path output_log;         // R/logs/<session>/output.log (directory exists)
};

// A running agent process as the runner hands it to the supervisor.
struct Launched {
  proc::WatchedProcess process;  // exit noticed through its pidfd
  proc::ProcessIdentity identity;
  std::string pane;              // tmux pane id such as "%3"; empty for direct
};

struct LaunchResult {
  std::optional<Launched> launched;
  std::string error;  // why it did not start, for the event and the operator
};

// What the store remembers of a running agent, to find it again after a daemon restart.
struct RecordedProcess {
  std::string agent_id;
  std::string session;
  proc::ProcessIdentity identity;
  std::string pane;
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual const char* name() const = 0;

  // Starts the process; the result arrives on the io thread.
  virtual boost::asio::awaitable<LaunchResult> launch(const LaunchRequest& request) = 0;

  // Finds a recorded process again. The caller has already checked pid + start time are
  // those recorded (in this boot); the runner checks what else identifies it (the pane).
  // On success the process is watched again; on failure `error` says why it is lost.
  virtual boost::asio::awaitable<LaunchResult> adopt(const RecordedProcess& recorded) = 0;

  // Called once after the process's exit was noticed: the runner may learn the real exit
  // status (tmux keeps a dead pane until asked) and cleans up (kills the session).
  virtual boost::asio::awaitable<proc::ExitInfo> after_exit(const RecordedProcess& recorded,
                                                            proc::ExitInfo exit) = 0;

  // Types `text` and Enter into the agent's terminal (nudges); false when the runner has
  // no terminal (direct) or typing failed.
  virtual boost::asio::awaitable<bool> type_text(const RecordedProcess& recorded, const std::string& text) = 0;
};

std::unique_ptr<Runner> make_direct_runner();
// Uses the tmux server of the daemon's environment (TMUX_TMPDIR is honoured, so tests use a
// private server); `tmux` must be in PATH.
std::unique_ptr<Runner> make_tmux_runner();

}  // namespace vermas
