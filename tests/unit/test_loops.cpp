// Loop counts (daemon/patrol/loops.*): what counts toward [loops] and what does not.
#include "daemon/patrol/loops.hpp"
#include "tests/catch.hpp"

using nlohmann::json;

namespace {

json move(const std::string& ts, const std::string& actor, const std::string& from, const std::string& to) {
  return {{"ts", ts}, {"actor", actor}, {"data", {{"from", from}, {"to", to}, {"reason", "r"}}}};
}

}  // namespace

TEST_CASE("loops: transitions within the sliding hour count, older ones do not", "[loops]") {
  std::vector<json> t = {move("2026-12-07T09:00:00.000Z", "operator", "open", "assigned"),
                         move("2026-12-07T09:59:59.999Z", "operator", "assigned", "open"),
                         move("2026-12-07T10:00:00.000Z", "operator", "open", "assigned"),
                         move("2026-12-07T10:30:00.000Z", "f/supervisor", "assigned", "open")};
  const auto c = vermas::count_loops(t, "2026-12-07T11:00:00.000Z");
  CHECK(c.in_last_hour == 2);  // 10:00:00.000 is exactly an hour ago: in
  CHECK(c.actors["operator"] == 3);
  CHECK(c.actors["f/supervisor"] == 1);
  vermas::Config::Loops limits;
  limits.max_transitions_per_hour = 2;
  CHECK(c.passed(limits).empty());  // more than the limit, not as many
  limits.max_transitions_per_hour = 1;
  CHECK(c.passed(limits).find("2 transitions within an hour") == 0);
}

TEST_CASE("loops: review to in_progress round trips count, the daemon's own moves never", "[loops]") {
  std::vector<json> t;
  for (int i = 0; i < 4; ++i) {
    t.push_back(move("2026-12-07T10:0" + std::to_string(i) + ":00.000Z", "f/workers/slot0", "in_progress", "review"));
    t.push_back(move("2026-12-07T10:0" + std::to_string(i) + ":30.000Z", "f/qa", "review", "in_progress"));
  }
  t.push_back(move("2026-12-07T10:09:00.000Z", "operations", "review", "in_progress"));
  const auto c = vermas::count_loops(t, "2026-12-07T10:10:00.000Z");
  CHECK(c.review_cycles == 4);
  CHECK(c.in_last_hour == 8);
  CHECK_FALSE(c.actors.contains("operations"));
  vermas::Config::Loops limits;  // 20 an hour, 3 cycles
  CHECK(c.passed(limits).find("4 review -> in_progress round trips") == 0);
  limits.max_review_cycles = 4;
  CHECK(c.passed(limits).empty());
}
