// The metrics' pure parts: a Snapshot's families and figures, the text format (escaping,
// values, one family per name), and the strict checker the integration tests also use.
#include "daemon/reports/metrics.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "tests/catch.hpp"
#include "tests/prom_lint.hpp"

using namespace vermas;

namespace {

metrics::Snapshot known() {
  metrics::Snapshot s;
  s.version = "1.2.3";
  s.company = "acme \"quoted\" \\ co\nnext";
  s.now = 1767000000.5;
  s.uptime_seconds = 12.25;
  s.factories = {"f", "g"};
  s.agents = {
      {"f/supervisor", "f", "supervisor", "running", false, 0, 0, 1767000000.0, 0.5},
      {"f/qa", "f", "qa", "stuck", true, 2, 3, std::nullopt, 0},
      {"f/workers/slot0", "f", "worker", "idle", false, 0, 1, std::nullopt, 1.25},
      {"ceo", "", "ceo", "failed", false, 5, 7, std::nullopt, 0},
  };
  s.work_orders = {{"f", {{"open", 2}, {"done", 3}, {"blocked", 1}}}, {"", {{"open", 1}}}};
  s.done_total = {{"f", 3}};
  s.done_24h = {{"f", 2}};
  s.time_to_done_sum = 300;
  s.time_to_done_count = 3;
  s.time_to_done_median_7d = 90;
  s.reached_review = 4;
  s.reached_review_clean = 3;
  s.review_clean_share_7d = 0.75;
  s.spend_today = 1.75;
  s.factory_spend_today = {{"f", 1.75}};
  s.type_spend_today = {{"bug", 1.25}, {"", 0.5}};
  s.alerts_open = {{{"heartbeat_missed", "warning"}, 1}, {{"start_limit", "critical"}, 2}};
  s.alerts_raised = {{"heartbeat_missed", 4}, {"start_limit", 2}};
  s.approvals_total = 3;
  s.approvals_pending = 1;
  s.events_last_id = 123;
  return s;
}

// The value of the one sample with these labels (all of them), or NaN when absent.
double value_of(const std::vector<metrics::Family>& fams, const std::string& name,
                const std::vector<std::pair<std::string, std::string>>& labels = {}, const std::string& suffix = "") {
  for (const auto& f : fams) {
    if (f.name != name) continue;
    for (const auto& s : f.samples) {
      if (s.suffix != suffix) continue;
      bool all = true;
      for (const auto& l : labels) {
        bool found = false;
        for (const auto& have : s.labels) found = found || have == l;
        all = all && found;
      }
      if (all) return s.value;
    }
  }
  return NAN;
}

const metrics::Family* family_named(const std::vector<metrics::Family>& fams, const std::string& name) {
  for (const auto& f : fams)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("metrics: the families of a known snapshot carry its figures", "[metrics]") {
  const auto fams = metrics::families(known());
  CHECK(value_of(fams, "vermas_info", {{"version", "1.2.3"}}) == 1);
  CHECK(value_of(fams, "vermas_uptime_seconds") == 12.25);
  CHECK(value_of(fams, "vermas_events_total") == 123);
  // Agents by factory and status: every status, with zeros; the company's own under "".
  CHECK(value_of(fams, "vermas_agents", {{"factory", "f"}, {"status", "running"}}) == 1);
  CHECK(value_of(fams, "vermas_agents", {{"factory", "f"}, {"status", "stuck"}}) == 1);
  CHECK(value_of(fams, "vermas_agents", {{"factory", "f"}, {"status", "paused"}}) == 0);
  CHECK(value_of(fams, "vermas_agents", {{"factory", "g"}, {"status", "running"}}) == 0);
  CHECK(value_of(fams, "vermas_agents", {{"factory", ""}, {"status", "failed"}}) == 1);
  CHECK(family_named(fams, "vermas_agents")->samples.size() == 3 * 11);
  CHECK(value_of(fams, "vermas_agents_active") == 3);  // running, stuck, idle
  CHECK(value_of(fams, "vermas_agents_stale") == 1);
  CHECK(value_of(fams, "vermas_agent_error_streak", {{"agent", "f/qa"}}) == 2);
  CHECK(value_of(fams, "vermas_agent_restarts_total", {{"agent", "ceo"}}) == 7);
  CHECK(value_of(fams, "vermas_agent_spend_today_dollars", {{"agent", "f/workers/slot0"}}) == 1.25);
  CHECK(value_of(fams, "vermas_agent_last_heartbeat_timestamp_seconds", {{"agent", "f/supervisor"}}) == 1767000000.0);
  CHECK(std::isnan(value_of(fams, "vermas_agent_last_heartbeat_timestamp_seconds", {{"agent", "f/qa"}})));
  // Work orders: every status of every factory, with zeros.
  CHECK(value_of(fams, "vermas_work_orders", {{"factory", "f"}, {"status", "open"}}) == 2);
  CHECK(value_of(fams, "vermas_work_orders", {{"factory", "f"}, {"status", "review"}}) == 0);
  CHECK(value_of(fams, "vermas_work_orders", {{"factory", "g"}, {"status", "done"}}) == 0);
  CHECK(value_of(fams, "vermas_work_orders", {{"factory", ""}, {"status", "open"}}) == 1);
  CHECK(family_named(fams, "vermas_work_orders")->samples.size() == 3 * 9);
  CHECK(value_of(fams, "vermas_work_orders_done_total", {{"factory", "f"}}) == 3);
  CHECK(value_of(fams, "vermas_work_orders_done_total", {{"factory", "g"}}) == 0);
  CHECK(value_of(fams, "vermas_work_orders_done_24h", {{"factory", "f"}}) == 2);
  CHECK(value_of(fams, "vermas_work_order_time_to_done_seconds", {{"quantile", "0.5"}}) == 90);
  CHECK(value_of(fams, "vermas_work_order_time_to_done_seconds", {}, "_sum") == 300);
  CHECK(value_of(fams, "vermas_work_order_time_to_done_seconds", {}, "_count") == 3);
  CHECK(value_of(fams, "vermas_work_orders_review_without_intervention_ratio") == 0.75);
  CHECK(value_of(fams, "vermas_work_orders_reached_review_without_intervention_total") == 3);
  CHECK(value_of(fams, "vermas_spend_today_dollars") == 1.75);
  CHECK(value_of(fams, "vermas_factory_spend_today_dollars", {{"factory", "g"}}) == 0);
  CHECK(value_of(fams, "vermas_spend_today_by_type_dollars", {{"type", "bug"}}) == 1.25);
  CHECK(value_of(fams, "vermas_spend_today_by_type_dollars", {{"type", "none"}}) == 0.5);
  CHECK(value_of(fams, "vermas_alerts_open", {{"type", "start_limit"}, {"severity", "critical"}}) == 2);
  CHECK(value_of(fams, "vermas_alerts_raised_total", {{"type", "heartbeat_missed"}}) == 4);
  CHECK(value_of(fams, "vermas_approvals_pending") == 1);

  SECTION("names: vermas_*, each once, counters end in _total") {
    std::set<std::string> seen;
    for (const auto& f : fams) {
      INFO(f.name);
      CHECK(f.name.rfind("vermas_", 0) == 0);
      CHECK(seen.insert(f.name).second);
      CHECK(!f.help.empty());
      const bool total = f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_total") == 0;
      CHECK(total == (f.type == metrics::Type::counter));
    }
  }
}

TEST_CASE("metrics: an empty snapshot has NaN where nothing is known, and is still valid text", "[metrics]") {
  const auto fams = metrics::families(metrics::Snapshot{});
  CHECK(std::isnan(value_of(fams, "vermas_work_order_time_to_done_seconds", {{"quantile", "0.5"}})));
  CHECK(std::isnan(value_of(fams, "vermas_work_orders_review_without_intervention_ratio")));
  const std::string text = metrics::render(fams);
  INFO(text);
  CHECK(prom_lint::check(text).empty());
  CHECK(text.find("vermas_work_order_time_to_done_seconds{quantile=\"0.5\"} NaN\n") != std::string::npos);
}

TEST_CASE("metrics: the text format, escaping and values", "[metrics]") {
  CHECK(metrics::escape_label("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(metrics::escape_label("plain/id_0") == "plain/id_0");
  CHECK(metrics::escape_help("x\\y\nz \"q\"") == "x\\\\y\\nz \"q\"");  // quotes stay in HELP
  CHECK(metrics::format_value(0) == "0");
  CHECK(metrics::format_value(42) == "42");
  CHECK(metrics::format_value(-3) == "-3");
  CHECK(metrics::format_value(1.85) == "1.85");
  CHECK(metrics::format_value(0.1 + 0.2) == "0.30000000000000004");  // reads back the same
  CHECK(metrics::format_value(1e20) == "1e+20");
  CHECK(metrics::format_value(NAN) == "NaN");
  CHECK(metrics::format_value(INFINITY) == "+Inf");
  CHECK(metrics::format_value(-INFINITY) == "-Inf");

  const std::string text = metrics::render(known());
  INFO(text);
  CHECK(text.back() == '\n');
  CHECK(text.find("# HELP vermas_agents Agents by factory and status\n# TYPE vermas_agents gauge\n") !=
        std::string::npos);
  CHECK(text.find("vermas_info{version=\"1.2.3\",company=\"acme \\\"quoted\\\" \\\\ co\\nnext\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("vermas_work_order_time_to_done_seconds_sum 300\n") != std::string::npos);
  CHECK(text.find("vermas_work_order_time_to_done_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("vermas_agent_restarts_total{agent=\"ceo\",factory=\"\",role=\"ceo\"} 7\n") != std::string::npos);
  CHECK(text.find("vermas_spend_today_dollars 1.75\n") != std::string::npos);
  const auto problems = prom_lint::check(text);
  INFO(nlohmann::json(problems).dump(2));
  CHECK(problems.empty());

  const auto j = metrics::to_json(metrics::families(known()));
  REQUIRE(j["families"].is_array());
  CHECK(j["families"][0]["name"] == "vermas_info");
  CHECK(j["families"][0]["samples"][0]["labels"]["version"] == "1.2.3");
}

TEST_CASE("prom_lint: the checker finds what promtool and node_exporter refuse", "[metrics]") {
  const std::string good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
  CHECK(prom_lint::check(good).empty());
  CHECK(prom_lint::check("# HELP g G\n# TYPE g gauge\n").empty());  // a family without samples
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "empty"},
      {"# HELP a_total A.\n# TYPE a_total counter\na_total 2", "no final newline"},
      {"# TYPE g gauge\ng 1\n", "no HELP"},
      {"# HELP g G\ng 1\n", "no TYPE"},
      {"g 1\n", "neither"},
      {"# HELP c C\n# TYPE c counter\nc 1\n", "counter without _total"},
      {"# HELP a_total A\n# TYPE a_total counter\na_total -1\n", "negative counter"},
      {"# HELP g G\n# TYPE g gauge\ng{x=\"a\nb\"} 1\n", "raw newline in a label"},
      {"# HELP g G\n# TYPE g gauge\ng{x=\"a\\qb\"} 1\n", "bad escape"},
      {"# HELP g G\n# TYPE g gauge\ng{x=\"a\"b\"} 1\n", "unescaped quote"},
      {"# HELP g G\n# TYPE g gauge\ng{x=\"a\",x=\"b\"} 1\n", "label twice"},
      {"# HELP g G\n# TYPE g gauge\ng{0x=\"a\"} 1\n", "bad label name"},
      {"# HELP g G\n# TYPE g gauge\ng 1\ng 2\n", "duplicate series"},
      {"# HELP g G\n# TYPE g gauge\ng one\n", "bad value"},
      {"# HELP g G\n# TYPE g gauge\ng nan\n", "lowercase nan"},
      {"# HELP g G\n# TYPE g gauge\ng 1\n# HELP h H\n# TYPE h gauge\nh 1\ng{a=\"b\"} 1\n", "interleaved"},
      {"# HELP g G\n# TYPE g gauge\n# TYPE g gauge\ng 1\n", "TYPE twice"},
      {"# HELP g G\n# TYPE g gauge\n\ng 1\n", "blank line"},
      {"# HELP g G\n# TYPE g gauge\ng 1\n# HELP g again\n", "HELP after samples"},
      {"# HELP s S\n# TYPE s summary\ns 1\n", "summary sample without quantile"},
      {"# HELP g G\n# TYPE g gauge\ng_sum 1\n", "_sum in a gauge"},
      {"# HELP 1g G\n# TYPE 1g gauge\n", "bad metric name"},
      {"# HELP g G\n# TYPE g wobbly\ng 1\n", "unknown type"},
  };
  for (const auto& [text, why] : bad) {
    INFO(why << ": " << text);
    CHECK_FALSE(prom_lint::check(text).empty());
  }
}
