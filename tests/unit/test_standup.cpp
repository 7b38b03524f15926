// The standup's pure parts: Markdown for people (sections with counts, lists capped,
// hostile titles made harmless) and the JSON document for tools.
#include "daemon/reports/standup.hpp"

#include <nlohmann/json.hpp>

#include "tests/catch.hpp"

using namespace vermas;

namespace {

bool in_text(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

standup::Standup sample() {
  standup::Standup r;
  r.company = "acme";
  r.date = "2026-11-22";
  r.since = "2026-11-21T09:00:00.000Z";
  r.generated_at = "2026-11-22T09:00:00.123Z";
  standup::FactoryPart f;
  f.name = "f";
  f.done.count = 2;
  f.done.items = {{"f-aaaaaa", "Fix the *parser*", "done", "", "2026-11-22T08:00:00.000Z"},
                  {"f-bbbbbb", "Ship it", "done", "", "2026-11-21T10:00:00.000Z"}};
  f.in_progress.count = 1;
  f.in_progress.items = {{"f-cccccc", "Review me", "review", "f/workers/slot0", "2026-11-22T07:00:00.000Z"}};
  f.blocked.count = 1;
  f.blocked.items = {{"f-dddddd", "Waits on infra", "blocked", "", "2026-11-22T06:00:00.000Z"}};
  f.agents = {{"f/qa", "stuck", "stuck_timeout", true, 2, 1, "2026-11-22T05:00:00.000Z"},
              {"f/workers/slot1", "idle", "idle_timeout", false, 0, 0, ""}};
  f.spend_today = 1.5;
  f.spend_since = 2.25;
  f.open_alerts = 1;
  f.alerts = {{7, "heartbeat_missed", "warning", "f/qa", "f/qa has not heartbeated", 3, "2026-11-22T08:30:00.000Z"}};
  r.factories.push_back(f);
  standup::FactoryPart empty;
  empty.name = "g";
  r.factories.push_back(empty);
  return r;
}

}  // namespace

TEST_CASE("standup: Markdown has every section with its count, per factory, and a summary table", "[standup]") {
  const std::string md = standup::markdown(sample());
  INFO(md);
  CHECK(md.rfind("# Standup: acme, 2026-11-22\n", 0) == 0);
  CHECK(in_text(md, "Since 2026-11-21T09:00:00.000Z (UTC)"));
  CHECK(in_text(md, "| f | 2 | 1 | 1 | 0 | 0 | 1 | 1 | 1 | $1.50 | 1 |"));
  CHECK(in_text(md, "| g | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | $0.00 | 0 |"));
  CHECK(in_text(md, "| **total** | 2 | 1 | 1 | 0 | 0 | 1 | 1 | 1 | $1.50 | 1 |"));
  CHECK(in_text(md, "## Factory f\n"));
  CHECK(in_text(md, "## Factory g\n"));
  CHECK(in_text(md, "### Done (2)\n\n- `f-aaaaaa` Fix the \\*parser\\*, 2026-11-22T08:00:00.000Z\n"));
  CHECK(in_text(md, "### In progress (1)\n\n- `f-cccccc` Review me (review, f/workers/slot0), "));
  CHECK(in_text(md, "### Blocked (1)\n"));
  CHECK(in_text(md, "### Needs approval (0)\n\nnone\n"));
  CHECK(in_text(md, "### Failed (0)\n\nnone\n"));
  CHECK(in_text(md, "### Agents needing attention (2)\n\n- `f/qa`: stuck (stuck\\_timeout), stale (heartbeats stopped), "
                "error streak 2"));
  CHECK(in_text(md, "- `f/workers/slot1`: idle (idle\\_timeout)\n"));
  CHECK(in_text(md, "today $1.50; since 2026-11-21 $2.25"));
  CHECK(in_text(md, "### Open alerts (1)\n\n- #7 warning `heartbeat_missed` f/qa: f/qa has not heartbeated (3 times, "));
}

TEST_CASE("standup: long lists are capped and say how many more", "[standup]") {
  standup::Standup r = sample();
  auto& done = r.factories[0].done;
  done.count = 120;
  done.items.assign(standup::kMaxItems, {"f-eeeeee", "t", "done", "", "2026-11-22T08:00:00.000Z"});
  const std::string md = standup::markdown(r);
  CHECK(in_text(md, "### Done (120)\n"));
  CHECK(in_text(md, "- ... and 70 more\n"));
}

TEST_CASE("standup: the company's own part (no factory) and no factories at all", "[standup]") {
  standup::Standup r;
  r.company = "acme";
  r.date = "2026-11-22";
  r.since = "2026-11-21T09:00:00.000Z";
  CHECK(in_text(standup::markdown(r), "No factories yet"));
  standup::FactoryPart company;
  company.agents = {{"ceo", "failed", "start_limit", false, 5, 5, ""}};
  r.factories.push_back(company);
  const std::string md = standup::markdown(r);
  CHECK(in_text(md, "| (company) | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | $0.00 | 0 |"));
  CHECK(in_text(md, "## The company (no factory)"));
  CHECK(standup::to_json(r)["factories"][0]["factory"].is_null());
}

TEST_CASE("standup: md_text keeps a title on its line and its punctuation literal", "[standup]") {
  CHECK(standup::md_text("plain title") == "plain title");
  CHECK(standup::md_text("line\nbreak\r\tand\x01") == "line break  and ");
  CHECK(standup::md_text("# [link](x) <b>|`c`_*~!") == "\\# \\[link\\](x) \\<b\\>\\|\\`c\\`\\_\\*\\~\\!");
  CHECK(standup::md_text("back\\slash") == "back\\\\slash");
  CHECK(standup::md_text("abcdef", 3) == "abc...");
  // Cut at a character, never inside one (é is two bytes).
  CHECK(standup::md_text("\xC3\xA9\xC3\xA9\xC3\xA9", 2) == "\xC3\xA9\xC3\xA9...");
  CHECK(nlohmann::json(standup::md_text(std::string(200, 'x') + "\xC3\xA9", 200)).dump().size() > 0);
}

TEST_CASE("standup: the JSON document", "[standup]") {
  const auto j = standup::to_json(sample());
  CHECK(j["company"] == "acme");
  CHECK(j["date"] == "2026-11-22");
  CHECK(j["since"] == "2026-11-21T09:00:00.000Z");
  CHECK(j["totals"]["done"] == 2);
  CHECK(j["totals"]["stuck_agents"] == 1);
  CHECK(j["totals"]["idle_agents"] == 1);
  CHECK(j["totals"]["stale_agents"] == 1);
  CHECK(j["totals"]["open_alerts"] == 1);
  CHECK(j["totals"]["spend_today"] == 1.5);
  REQUIRE(j["factories"].size() == 2);
  const auto& f = j["factories"][0];
  CHECK(f["factory"] == "f");
  CHECK(f["counts"]["in_progress"] == 1);
  CHECK(f["done"][0]["id"] == "f-aaaaaa");
  CHECK(f["done"][0]["title"] == "Fix the *parser*");  // JSON keeps the text as it is
  CHECK(f["done"][0]["assignee"].is_null());
  CHECK(f["in_progress"][0]["assignee"] == "f/workers/slot0");
  CHECK(f["agents"][0]["id"] == "f/qa");
  CHECK(f["agents"][0]["stale"] == true);
  CHECK(f["spend"]["since"] == 2.25);
  CHECK(f["alerts"][0]["type"] == "heartbeat_missed");
  CHECK(f["alerts"][0]["count"] == 3);
}

TEST_CASE("standup: which agents need attention", "[standup]") {
  for (const char* s : {"stuck", "idle", "failed", "lost", "paused", "quarantined", "backoff"}) {
    INFO(s);
    CHECK(standup::needs_attention(s, false));
  }
  for (const char* s : {"running", "starting", "stopping", "stopped"}) {
    INFO(s);
    CHECK_FALSE(standup::needs_attention(s, false));
  }
  CHECK(standup::needs_attention("running", true));  // stale
}
