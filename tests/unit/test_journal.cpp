// The journal's promise about the feed: every committed event, once, in id order, even
// after a crash between a commit and its feed line, or while the feed cannot be written.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/store/feed.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/store/store.hpp"
#include "tests/catch.hpp"
#include "tests/unit/helpers.hpp"
#include "tests/unit/temp_dir.hpp"

using vermas::FeedWriter;
using vermas::Journal;
using vermas::Store;
namespace fs = std::filesystem;

namespace {

using vermas::test::feed_ids;

std::vector<std::int64_t> one_to(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

void record(Journal& j, int n) {
  for (int i = 0; i < n; ++i) j.record({"test.event", "operations", std::nullopt, std::nullopt, {{"i", i}}});
}

}  // namespace

TEST_CASE("journal: at start the feed gets the events it lacks, in id order, once", "[journal]") {
  vermas::test::TempDir dir;
  Store store(dir.path / "operations.db");
  const auto file = dir.path / "feed.jsonl";
  {
    FeedWriter feed(file, 0, 3);
    Journal journal(store, feed);
    record(journal, 20);
  }
  REQUIRE(feed_ids(file) == one_to(20));

  SECTION("the last lines were never written, one of them half") {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::ofstream out(file, std::ios::trunc);
    for (int i = 0; i < 12; ++i) out << lines[static_cast<std::size_t>(i)] << "\n";
    out << lines[12].substr(0, 25);
  }
  SECTION("the feed is gone altogether") { fs::remove(file); }
  SECTION("nothing is missing") {}

  FeedWriter feed(file, 0, 3);
  Journal journal(store, feed);
  journal.repair_feed();
  record(journal, 1);
  CHECK(feed_ids(file) == one_to(21));
  CHECK(journal.repair_feed() == 0);  // idempotent
}

TEST_CASE("journal: while the feed cannot be written, later events wait behind the gap", "[journal]") {
  vermas::test::TempDir dir;
  Store store(dir.path / "operations.db");
  const auto file = dir.path / "feed.jsonl";
  // Every write to /dev/full fails with ENOSPC: a full disk, for the feed only.
  fs::create_symlink("/dev/full", file);
  FeedWriter feed(file, 0, 3);
  Journal journal(store, feed);
  record(journal, 5);  // committed, none in the feed
  CHECK(store.last_event_id() == 5);

  // Space again: the feed (reopened, since the file changed) gets the five first, then
  // the new one, in order.
  fs::remove(file);
  { std::ofstream(file) << ""; }
  record(journal, 2);
  CHECK(feed_ids(file) == one_to(7));
}
