// The `direct` runner: the agent is a child of the daemon, in its own session and process
// group, writing straight into its log file (so the log does not depend on the daemon
// staying alive, and a re-adopted agent keeps logging after a daemon restart).
#include "daemon/agents/runner.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vermas {

namespace {

class DirectRunner final : public Runner {
 public:
  const char* name() const override { return "direct"; }

  boost::asio::awaitable<LaunchResult> launch(const LaunchRequest& request) override {
    proc::SpawnSpec spec;
    spec.argv = request.argv;
    spec.cwd = request.cwd;
    spec.env_add = request.env;
    spec.output_log = request.output_log;
    spec.kill_group_on_exit = true;
    auto ex = co_await boost::asio::this_coro::executor;
    auto r = proc::ChildProcess::spawn(ex, spec);
    LaunchResult out;
    if (!r) {
      out.error = r.message;
      co_return out;
    }
    out.launched = Launched{*r.child, r.child->identity(), {}};
    co_return out;
  }

  boost::asio::awaitable<LaunchResult> adopt(const RecordedProcess& recorded) override {
    auto ex = co_await boost::asio::this_coro::executor;
    // No longer our child (it was the previous daemon's): watched by pidfd, status unknown.
    auto w = proc::PidWatcher::watch(ex, recorded.identity, true);
    LaunchResult out;
    if (w.exited()) {
      out.error = w.exit_info() ? w.exit_info()->detail : "gone";
      co_return out;
    }
    out.launched = Launched{w, recorded.identity, {}};
    co_return out;
  }

  boost::asio::awaitable<proc::ExitInfo> after_exit(const RecordedProcess&, proc::ExitInfo exit) override {
    co_return exit;
  }

  boost::asio::awaitable<bool> type_text(const RecordedProcess&, const std::string&) override { co_return false; }
};

}  // namespace

std::unique_ptr<Runner> make_direct_runner() { return std::make_unique<DirectRunner>(); }

}  // namespace vermas
