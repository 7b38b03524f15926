// A daemon that stops (or is destroyed) with coroutines still suspended destroys their
// frames while the components they refer to still live. A frame's destructors (a slot
// reservation, a rebuild's cache guard) used to run in ~io_context, after the components:
// one such use after free hung a stopping daemon at 100 % CPU.
#include <chrono>
#include <fstream>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tests/catch.hpp"
#include "common/config.hpp"
#include "daemon/daemon.hpp"
#include "tests/unit/helpers.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

namespace asio = boost::asio;

std::unique_ptr<vermas::Daemon> teardown_daemon(const std::filesystem::path& root) {
  std::filesystem::create_directories(root / ".vermas");
  const auto config_file = root / ".vermas" / "config.toml";
  std::ofstream(config_file) << "[company]\nname = \"teardown\"\n[operations]\nlog_level = \"error\"\n";
  auto loaded = vermas::load_config(config_file);
  REQUIRE(loaded.ok());
  vermas::DaemonOptions options{vermas::Paths{root}, config_file, std::nullopt};
  options.log_to_stderr = false;
  return std::make_unique<vermas::Daemon>(std::move(options), std::move(loaded.value));
}

// A coroutine that waits an hour, holding what reads the store when its frame goes.
asio::awaitable<void> wait_holding_the_store(vermas::Daemon& daemon, bool& store_read) {
  struct ReadsTheStore {
    vermas::Daemon& d;
    bool& read;
    // A store already destroyed is a crash here (a use after free under ASan).
    ~ReadsTheStore() { read = d.store().last_event_id() >= 0; }
  } guard{daemon, store_read};
  asio::steady_timer never(co_await asio::this_coro::executor, std::chrono::hours(1));
  co_await never.async_wait(asio::use_awaitable);
}

}  // namespace

TEST_CASE("a daemon destroyed with a coroutine suspended destroys its frame before the components",
          "[daemon][teardown]") {
  vermas::test::TempDir dir;
  auto daemon = teardown_daemon(dir.path / "company");
  daemon->start();
  bool store_read = false;
  asio::co_spawn(daemon->io(), wait_holding_the_store(*daemon, store_read), asio::detached);
  daemon->io().poll();  // the coroutine runs to its wait
  REQUIRE_FALSE(store_read);
  daemon.reset();
  CHECK(store_read);
}

TEST_CASE("a daemon that stops with a coroutine suspended destroys its frame before the components",
          "[daemon][teardown]") {
  vermas::test::TempDir dir;
  auto daemon = teardown_daemon(dir.path / "company");
  bool store_read = false;
  // Once run() has started everything: the coroutine suspends, then the daemon is asked to stop.
  asio::post(daemon->io(), [&] {
    asio::co_spawn(daemon->io(), wait_holding_the_store(*daemon, store_read), asio::detached);
    asio::post(daemon->io(), [&] { daemon->request_stop("test", false); });
  });
  REQUIRE(daemon->run() == 0);
  CHECK(store_read);
  daemon.reset();
}
