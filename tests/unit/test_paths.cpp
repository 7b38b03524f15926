#include "tests/catch.hpp"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "common/paths.hpp"

using namespace vermas;

TEST_CASE("factory names: lowercase, digits, _ and -, at most 32, no traversal") {
  CHECK(valid_factory_name("myproject"));
  CHECK(valid_factory_name("a"));
  CHECK(valid_factory_name("data_lake-2"));
  CHECK(valid_factory_name(std::string(32, 'a')));
  CHECK(!valid_factory_name(std::string(33, 'a')));
  CHECK(!valid_factory_name(""));
  CHECK(!valid_factory_name("-x"));
  CHECK(!valid_factory_name("_x"));
  CHECK(!valid_factory_name("My"));
  CHECK(!valid_factory_name(".."));
  CHECK(!valid_factory_name("a/b"));
  CHECK(!valid_factory_name("a b"));
  CHECK(!valid_factory_name(std::string("a\0b", 3)));
}

TEST_CASE("company root: flag, then $COMPANY_ROOT, then a parent with .vermas, then ~/company") {
  auto tmp = fs::temp_directory_path() / ("vermas-paths-" + std::to_string(::getpid()));
  fs::create_directories(tmp / "root" / ".vermas");
  fs::create_directories(tmp / "root" / "a" / "b");
  ::unsetenv("COMPANY_ROOT");

  auto c = discover_company_root(std::string("rel"), tmp);
  CHECK(c.root == tmp / "rel");
  CHECK(c.source == RootSource::flag);

  c = discover_company_root(std::nullopt, tmp / "root" / "a" / "b");
  CHECK(c.root == tmp / "root");
  CHECK(c.source == RootSource::parent_directory);

  ::setenv("COMPANY_ROOT", (tmp / "env").c_str(), 1);
  c = discover_company_root(std::nullopt, tmp / "root" / "a");
  CHECK(c.root == tmp / "env");
  CHECK(c.source == RootSource::environment);
  ::unsetenv("COMPANY_ROOT");

  ::setenv("HOME", tmp.c_str(), 1);
  c = discover_company_root(std::nullopt, "/");
  CHECK(c.root == tmp / "company");
  CHECK(c.source == RootSource::home_default);
  fs::remove_all(tmp);
}

TEST_CASE("paths under the root follow the spec") {
  Paths p{"/r"};
  CHECK(p.config_file() == "/r/.vermas/config.toml");
  CHECK(p.db_file() == "/r/.work/operations.db");
  CHECK(p.default_socket() == "/r/.work/operations.sock");
  CHECK(p.pid_file() == "/r/.work/operations.pid");
  CHECK(p.feed_file() == "/r/.work/feed.jsonl");
  CHECK(p.log_file() == "/r/logs/operations.log");
  CHECK(p.assignment_file("mp", 2) == "/r/.work/.assignment-mp-workers-slot2");
  CHECK(p.factory_config("mp") == "/r/mp/.work/config.toml");
  CHECK(socket_path_for(p, std::nullopt) == "/r/.work/operations.sock");
  CHECK(socket_path_for(p, std::string("s.sock")) == "/r/s.sock");
  CHECK(socket_path_for(p, std::string("/run/x.sock")) == "/run/x.sock");
}
