#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/store/feed.hpp"
#include "tests/catch.hpp"
#include "tests/unit/temp_dir.hpp"

using vermas::FeedWriter;
namespace fs = std::filesystem;

namespace {

using vermas::test::TempDir;

std::vector<nlohmann::json> read_lines(const fs::path& file) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

nlohmann::json event(int id) {
  return {{"id", id}, {"event_type", "agent.started"}, {"data", {{"pad", "0123456789"}}}};
}

}  // namespace

TEST_CASE("feed: appends one compact line per event", "[feed]") {
  TempDir dir;
  auto file = dir.path / ".work" / "feed.jsonl";  // parent directory is created
  FeedWriter feed(file, 0, 3);
  CHECK(feed.path() == file);
  CHECK(feed.append(event(1)));
  CHECK(feed.append({{"id", 2}, {"text", "Grüße 🚀"}, {"bad", std::string("\xff")}}));
  auto lines = read_lines(file);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == event(1));
  CHECK(lines[1]["text"] == "Grüße 🚀");
  CHECK(lines[1]["bad"] == "\xEF\xBF\xBD");

  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  CHECK(first.find(' ') == std::string::npos);  // compact
  struct stat st {};
  REQUIRE(stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777 & ~0644) == 0);
}

TEST_CASE("feed: gathered lines go out together at flush, in order, and a failed flush keeps none", "[feed]") {
  TempDir dir;
  auto file = dir.path / "feed.jsonl";
  FeedWriter feed(file, 0, 3);
  std::size_t written = 99;
  CHECK(feed.flush(&written));  // nothing gathered: nothing to do
  CHECK(written == 0);
  for (int id = 1; id <= 3; ++id) REQUIRE(feed.add(event(id)));
  CHECK(feed.gathered());
  CHECK(!fs::exists(file));  // nothing written yet
  CHECK(feed.flush(&written));
  CHECK(written == 3);
  CHECK(!feed.gathered());
  CHECK(read_lines(file) == std::vector<nlohmann::json>{event(1), event(2), event(3)});

  // A full disk: the write fails, whole lines written 0, and the gathered lines are dropped
  // (the journal takes them from the database again).
  fs::remove(file);
  fs::create_symlink("/dev/full", file);
  REQUIRE(feed.add(event(4)));
  CHECK_FALSE(feed.flush(&written));
  CHECK(written == 0);
  CHECK(!feed.gathered());
  CHECK(feed.last_error().find("write") != std::string::npos);
}

TEST_CASE("feed: rotates by size and keeps N files", "[feed]") {
  TempDir dir;
  auto file = dir.path / "feed.jsonl";
  const auto line_size = event(1).dump().size() + 1;
  FeedWriter feed(file, 3 * line_size, 2);  // three lines per file
  for (int id = 1; id <= 10; ++id) REQUIRE(feed.append(event(id)));

  auto ids = [](const fs::path& p) {
    std::vector<int> out;
    for (const auto& j : read_lines(p)) out.push_back(j["id"]);
    return out;
  };
  CHECK(ids(file) == std::vector<int>{10});
  CHECK(ids(dir.path / "feed.jsonl.1") == std::vector<int>{7, 8, 9});
  CHECK(ids(dir.path / "feed.jsonl.2") == std::vector<int>{4, 5, 6});
  CHECK(!fs::exists(dir.path / "feed.jsonl.3"));
  for (const auto& p : {file, dir.path / "feed.jsonl.1", dir.path / "feed.jsonl.2"})
    CHECK(fs::file_size(p) <= 3 * line_size);

  SECTION("keep 0 just starts over") {
    feed.set_limits(line_size, 0);
    REQUIRE(feed.append(event(11)));
    CHECK(ids(file) == std::vector<int>{11});
    CHECK(ids(dir.path / "feed.jsonl.1") == std::vector<int>{7, 8, 9});  // untouched
  }
  SECTION("a line larger than max_bytes is still written") {
    feed.set_limits(5, 2);
    REQUIRE(feed.append(event(11)));
    CHECK(ids(file) == std::vector<int>{11});
    CHECK(ids(dir.path / "feed.jsonl.1") == std::vector<int>{10});
  }
}

TEST_CASE("feed: reopens after external deletion or rotation", "[feed]") {
  TempDir dir;
  auto file = dir.path / "feed.jsonl";
  FeedWriter feed(file, 0, 1);
  REQUIRE(feed.append(event(1)));

  SECTION("deleted") {
    fs::remove(file);
    REQUIRE(feed.append(event(2)));
    auto lines = read_lines(file);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["id"] == 2);
  }
  SECTION("moved away (logrotate)") {
    fs::rename(file, dir.path / "old.jsonl");
    REQUIRE(feed.append(event(2)));
    CHECK(read_lines(dir.path / "old.jsonl").size() == 1);
    CHECK(read_lines(file).size() == 1);
  }
}

TEST_CASE("feed: errors are reported, never thrown", "[feed]") {
  TempDir dir;
  fs::create_directories(dir.path / "feed.jsonl");  // a directory where the file should be
  FeedWriter feed(dir.path / "feed.jsonl", 0, 1);
  CHECK(!feed.append(event(1)));  // and no exception
  CHECK(feed.last_error().find("feed.jsonl") != std::string::npos);

  fs::remove(dir.path / "feed.jsonl");  // the next append recovers
  CHECK(feed.append(event(2)));
}

TEST_CASE("feed: recover finds the last whole event and ends a torn line", "[feed]") {
  TempDir dir;
  auto file = dir.path / "feed.jsonl";
  FeedWriter feed(file, 0, 3);
  CHECK(!feed.recover());  // no feed at all
  { std::ofstream(file) << ""; }
  CHECK(!feed.recover());  // an empty one
  for (int i = 1; i <= 5; ++i) REQUIRE(feed.append(event(i)));
  CHECK(feed.recover() == 5);
  // A crash cut the last write short: the line is ended, and event 5 is the last whole one.
  { std::ofstream(file, std::ios::app) << R"({"id":6,"event_type":"agent.sta)"; }
  CHECK(feed.recover() == 5);
  REQUIRE(feed.append(event(6)));
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 7);
  CHECK(lines[5] == R"({"id":6,"event_type":"agent.sta)");
  CHECK(nlohmann::json::parse(lines[6]) == event(6));
  CHECK(feed.recover() == 6);
}

TEST_CASE("feed: recover looks into the rotated files when the live one has no event", "[feed]") {
  TempDir dir;
  auto file = dir.path / "feed.jsonl";
  FeedWriter feed(file, 400, 2);
  for (int i = 1; i <= 10; ++i) REQUIRE(feed.append(event(i)));
  REQUIRE(fs::exists(dir.path / "feed.jsonl.1"));
  fs::resize_file(file, 0);  // rotated, then the crash came before the first line
  auto recovered = feed.recover();
  REQUIRE(recovered.has_value());
  CHECK(*recovered < 10);
  CHECK(*recovered >= 1);
  // A line longer than the backwards reader's blocks is still found whole.
  FeedWriter big(dir.path / "big.jsonl", 0, 0);
  REQUIRE(big.append({{"id", 41}, {"data", std::string(200 * 1024, 'x')}}));
  REQUIRE(big.append({{"id", 42}, {"data", std::string(300 * 1024, 'y')}}));
  CHECK(big.recover() == 42);
}
