// Reports and metrics on the real daemon (issue 13): `co report standup` (Markdown and
// --json, --since) over a company with work orders in every status, costs, an open alert and
// agents that need a look; the daily file at [reports] standup_at; `co metrics` checked by
// the strict checker (and by promtool when the Debian package `prometheus` is installed)
// with known figures; the [metrics] textfile rewritten atomically every interval_seconds.
#include "tests/catch.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"
#include "tests/prom_lint.hpp"

using namespace it;

namespace {

json reports_walk(const Company& c, const std::string& id, const std::vector<std::string>& path) {
  json wo;
  for (const auto& to : path) wo = c.result("wo.transition", {{"id", id}, {"to", to}, {"reason", "walking"}});
  return wo;
}

std::string reports_create(const Company& c, const std::string& title, const std::optional<std::string>& factory) {
  json params = {{"title", title}};
  if (factory) params["factory"] = *factory;
  return c.result("wo.create", params)["id"];
}

// The value of the sample whose name and labels are exactly `series` (as printed), or NaN.
double sample_value(const std::string& text, const std::string& series) {
  for (const auto& line : lines_of(text))
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  return NAN;
}

void check_exposition(const Company& c, const std::string& text) {
  const auto problems = prom_lint::check(text);
  INFO(text << "\nproblems: " << json(problems).dump(2));
  CHECK(problems.empty());
  if (!in_path("promtool")) {
    // CI installs it (VERMAS_PROMTOOL=1 in .ci/run): there, its absence is a failure.
    const char* wanted = std::getenv("VERMAS_PROMTOOL");
    CHECK_FALSE((wanted && std::string(wanted) == "1"));
    WARN("promtool not found: the text was checked by tests/prom_lint.hpp only "
         "(VERMAS_PROMTOOL=1 bash scripts/install-deps adds it: Debian package prometheus)");
    return;
  }
  const std::string file = c.root.path("metrics-check.prom");
  write_file(file, text);
  auto r = run({"sh", "-c", "exec promtool check metrics < \"$1\"", "sh", file}, {}, 30s);
  INFO("promtool check metrics: exit " << r.exit_code << "\n" << r.out << r.err);
  CHECK(r.exit_code == 0);
}

// "HH:MM:SS" of now + `ahead`, UTC.
std::string utc_time_of_day_in(std::chrono::seconds ahead) {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + ahead);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string utc_today() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

// A company whose QA heartbeats once and then goes quiet (stale, a heartbeat_missed alert)
// and whose supervisor goes idle; work orders in every status; costs reported.
struct Staged {
  std::string done, in_progress, blocked, needs_approval, failed, open, company_done;
};

Staged stage(Company& c, Settings& s) {
  s.heartbeat_stale = 0.5;
  s.idle_minutes = 0.01;  // 0.6 s
  s.qa = {"/bin/sh", c.script("qa-beats-once.sh", "co heartbeat --activity starting\nexec sleep 300\n")};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f");
  c.running_pid("f/qa");
  Staged w;
  w.done = reports_create(c, "Fix *it* now", "f");
  reports_walk(c, w.done, {"assigned", "in_progress", "review", "done"});
  w.in_progress = reports_create(c, "Being built", "f");
  reports_walk(c, w.in_progress, {"assigned", "in_progress"});
  w.blocked = reports_create(c, "Waits on infra", "f");
  reports_walk(c, w.blocked, {"assigned", "blocked"});
  w.needs_approval = reports_create(c, "Costly", "f");
  reports_walk(c, w.needs_approval, {"assigned", "in_progress", "needs_approval"});
  w.failed = reports_create(c, "Broke", "f");
  reports_walk(c, w.failed, {"assigned", "in_progress", "failed"});
  w.open = reports_create(c, "Not started", "f");
  w.company_done = reports_create(c, "Company chore", std::nullopt);
  reports_walk(c, w.company_done, {"assigned", "in_progress", "review", "done"});
  c.co_json({"cost", "report", "1.25", "--agent", "f/qa"});
  c.co_json({"cost", "report", "0.5", "--agent", "f/supervisor"});
  // The QA's heartbeats stopped: stale, with its alert; the supervisor, quiet, is idle.
  REQUIRE(eventually([&] { return c.agent("f/qa").value("stale", false); }));
  REQUIRE(c.wait_status("f/supervisor", "idle"));
  REQUIRE(eventually([&] { return !c.events("alert.raised", "f/qa").empty(); }));
  return w;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("reports: co report standup, per factory, as Markdown and as --json, and --since", "[reports]") {
  Settings s;
  Company c(s);
  const Staged w = stage(c, s);

  auto r = c.root.co({"report", "standup"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::string& md = r.out;
  CHECK(md.rfind("# Standup: sup-test, " + utc_today() + "\n", 0) == 0);
  CHECK(has(md, "| f | 1 | 1 | 1 | 1 | 1 | "));
  CHECK(has(md, "## Factory f\n"));
  CHECK(has(md, "### Done (1)\n\n- `" + w.done + "` Fix \\*it\\* now, "));
  CHECK(has(md, "### In progress (1)\n\n- `" + w.in_progress + "` Being built (in_progress), "));
  CHECK(has(md, "### Blocked (1)\n\n- `" + w.blocked + "` Waits on infra, "));
  CHECK(has(md, "### Needs approval (1)\n\n- `" + w.needs_approval + "` Costly, "));
  CHECK(has(md, "### Failed (1)\n\n- `" + w.failed + "` Broke, "));
  CHECK(has(md, "- `f/qa`: "));
  CHECK(has(md, "stale (heartbeats stopped)"));
  CHECK(has(md, "- `f/supervisor`: idle"));
  CHECK(has(md, "today $1.75; since "));
  CHECK(has(md, "### Open alerts (1)\n\n- #"));
  CHECK(has(md, "`heartbeat_missed` f/qa: "));
  CHECK(!has(md, w.open));  // open work is not news
  // What belongs to no factory: its own part.
  CHECK(has(md, "## The company (no factory)\n\n### Done (1)\n\n- `" + w.company_done + "` Company chore"));

  const json j = c.co_json({"report", "standup"});
  CHECK_FALSE(j.contains("markdown"));
  CHECK(j["company"] == "sup-test");
  CHECK(j["date"] == utc_today());
  CHECK(j["totals"]["done"] == 2);
  CHECK(j["totals"]["open_alerts"] == 1);
  CHECK(j["totals"]["stale_agents"] == 1);
  CHECK(std::fabs(j["totals"]["spend_today"].get<double>() - 1.75) < 1e-9);
  REQUIRE(j["factories"].size() == 2);
  const json& f = j["factories"][0];
  CHECK(f["factory"] == "f");
  for (const char* k : {"done", "in_progress", "blocked", "needs_approval", "failed", "open_alerts", "stale_agents"}) {
    INFO(k);
    CHECK(f["counts"][k] == 1);
  }
  CHECK(f["counts"]["idle_agents"].get<int>() >= 1);
  CHECK(f["done"][0]["id"] == w.done);
  CHECK(f["done"][0]["title"] == "Fix *it* now");
  CHECK(f["in_progress"][0]["id"] == w.in_progress);
  CHECK(f["in_progress"][0]["status"] == "in_progress");
  CHECK(f["blocked"][0]["id"] == w.blocked);
  CHECK(f["needs_approval"][0]["id"] == w.needs_approval);
  CHECK(f["failed"][0]["id"] == w.failed);
  CHECK(f["alerts"][0]["type"] == "heartbeat_missed");
  CHECK(f["alerts"][0]["subject"] == "f/qa");
  CHECK(std::fabs(f["spend"]["today"].get<double>() - 1.75) < 1e-9);
  CHECK(j["factories"][1]["factory"].is_null());
  CHECK(j["factories"][1]["done"][0]["id"] == w.company_done);
  // The raw call: the Markdown only when asked for.
  CHECK(c.result("report.standup", {{"markdown", true}})["markdown"].get<std::string>().rfind("# Standup", 0) == 0);

  // --since: what was done since then; the rest stands as it is.
  const json later = c.co_json({"report", "standup", "--since", "2100-01-01T00:00:00Z"});
  CHECK(later["since"] == "2100-01-01T00:00:00.000Z");
  CHECK(later["totals"]["done"] == 0);
  CHECK(later["totals"]["in_progress"] == 1);
  CHECK(later["totals"]["blocked"] == 1);
  CHECK(later["factories"][0]["spend"]["since"] == 0);
  CHECK(c.co_json({"report", "standup", "--since", "7d"})["totals"]["done"] == 2);
  auto bad = c.root.co({"report", "standup", "--since", "yesterday"});
  CHECK(bad.exit_code == 2);
  CHECK(error_code(c.call("report.standup", {{"since", "yesterday"}})) == -32602);
  CHECK(error_code(c.call("report.standup", {{"markdown", "yes"}})) == -32602);
  CHECK(error_code(c.call("report.standup", {{"bogus", 1}})) == -32602);
  c.root.stop();
}

TEST_CASE("reports: standup_at writes the day's standup file at that time and records it", "[reports]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f");
  // Two seconds ahead, set by a reload: the timer is armed for it.
  const std::string at = utc_time_of_day_in(std::chrono::seconds(2));
  c.root.append_config("\n[reports]\nstandup_at = \"" + at + "\"\n");
  REQUIRE(c.root.co({"config", "reload"}).exit_code == 0);
  REQUIRE(eventually([&] { return !c.events("report.standup_written").empty(); }, 15s));
  const json e = c.events("report.standup_written").front();
  CHECK(e["ts"].get<std::string>().substr(11, 8) >= at);  // not before it was due
  const std::string date = e["data"]["date"];
  const std::string file = c.root.path("reports/standup-" + date + ".md");
  CHECK(e["data"]["file"] == file);
  CHECK(e["actor"] == "operations");
  const std::string text = read_file(file);
  INFO(text);
  CHECK(text.rfind("# Standup: sup-test, " + date + "\n", 0) == 0);
  CHECK(has(text, "## Factory f\n"));
  CHECK_FALSE(file_exists(c.root.path("reports/.standup-" + date + ".md.tmp")));
  // R/reports is the company's: no factory may be cloned there.
  const json refused = c.call("factory.add", {{"name", "reports"}, {"url", c.repo}});
  CHECK(error_code(refused) == -32602);
  CHECK(has(refused.dump(), "'reports'"));
  // Once a day: a restarted daemon finds it written and arms tomorrow's.
  c.root.stop();
  c.start();
  c.result("ping");
  c.result("report.standup");
  CHECK(c.events("report.standup_written").size() == 1);
  c.root.stop();
}

TEST_CASE("reports: a standup missed today (the daemon was down at standup_at) is written at start", "[reports]") {
  Settings s;
  Company c(s);
  c.root.append_config("\n[reports]\nstandup_at = \"00:00\"\n");
  c.start();
  REQUIRE(eventually([&] { return !c.events("report.standup_written").empty(); }));
  const json e = c.events("report.standup_written").front();
  CHECK(e["data"]["date"] == utc_today());
  CHECK(file_exists(c.root.path("reports/standup-" + utc_today() + ".md")));
  // A bad standup_at on reload is refused and changes nothing.
  c.root.replace_in_config("standup_at = \"00:00\"", "standup_at = \"25:00\"");
  auto r = c.root.co({"config", "reload"});
  CHECK(r.exit_code != 0);
  CHECK(has(r.out + r.err, "reports.standup_at"));
  CHECK(c.result("config.get")["config"]["reports"]["standup_at"] == "00:00");
  c.root.stop();
}

TEST_CASE("reports: co metrics is valid Prometheus text with the figures of a known state", "[reports]") {
  Settings s;
  Company c(s);
  const Staged w = stage(c, s);
  (void)w;
  auto r = c.root.co({"metrics"});
  REQUIRE(r.exit_code == 0);
  const std::string& text = r.out;
  check_exposition(c, text);
  INFO(text);
  CHECK(sample_value(text, "vermas_work_orders{factory=\"f\",status=\"open\"}") == 1);
  CHECK(sample_value(text, "vermas_work_orders{factory=\"f\",status=\"in_progress\"}") == 1);
  CHECK(sample_value(text, "vermas_work_orders{factory=\"f\",status=\"review\"}") == 0);
  CHECK(sample_value(text, "vermas_work_orders{factory=\"\",status=\"done\"}") == 1);
  CHECK(sample_value(text, "vermas_work_orders_done_total{factory=\"f\"}") == 1);
  CHECK(sample_value(text, "vermas_work_orders_done_24h{factory=\"f\"}") == 1);
  CHECK(sample_value(text, "vermas_work_order_time_to_done_seconds_count") == 2);
  CHECK(sample_value(text, "vermas_work_order_time_to_done_seconds{quantile=\"0.5\"}") >= 0);
  CHECK(sample_value(text, "vermas_work_orders_reached_review_total") == 2);
  CHECK(sample_value(text, "vermas_agents_stale") == 1);
  CHECK(sample_value(text, "vermas_agents{factory=\"f\",status=\"idle\"}") >= 1);
  CHECK(sample_value(text, "vermas_alerts_open{type=\"heartbeat_missed\",severity=\"warning\"}") == 1);
  CHECK(sample_value(text, "vermas_alerts_raised_total{type=\"heartbeat_missed\"}") == 1);
  CHECK(sample_value(text, "vermas_spend_today_dollars") == 1.75);
  CHECK(sample_value(text, "vermas_factory_spend_today_dollars{factory=\"f\"}") == 1.75);
  CHECK(sample_value(text, "vermas_agent_spend_today_dollars{agent=\"f/qa\",factory=\"f\",role=\"qa\"}") == 1.25);
  CHECK(sample_value(text, "vermas_agent_error_streak{agent=\"f/qa\",factory=\"f\",role=\"qa\"}") == 0);
  CHECK(sample_value(text, "vermas_agent_restarts_total{agent=\"f/qa\",factory=\"f\",role=\"qa\"}") == 0);
  CHECK(sample_value(text, "vermas_agent_last_heartbeat_timestamp_seconds{agent=\"f/qa\",factory=\"f\",role=\"qa\"}") >
        1.7e9);
  CHECK(sample_value(text, "vermas_approvals_pending") == 0);
  CHECK(sample_value(text, "vermas_spend_today_by_type_dollars{type=\"none\"}") == 1.75);  // no work order named

  // The cumulative figures follow the log (read since the last snapshot), and agree with a
  // full count by a restarted daemon.
  const std::string more = reports_create(c, "One more", "f");
  reports_walk(c, more, {"assigned", "in_progress", "review", "in_progress", "review", "done"});
  const std::string after = c.root.co({"metrics"}).out;
  CHECK(sample_value(after, "vermas_work_order_time_to_done_seconds_count") == 3);
  CHECK(sample_value(after, "vermas_work_orders_reached_review_total") == 3);  // its first review only
  const double sum = sample_value(after, "vermas_work_order_time_to_done_seconds_sum");
  CHECK(sum > sample_value(text, "vermas_work_order_time_to_done_seconds_sum"));
  const double clean = sample_value(after, "vermas_work_orders_reached_review_without_intervention_total");
  REQUIRE(c.root.co({"operations", "stop", "--keep-agents"}).exit_code == 0);
  c.start();
  const std::string restarted = c.root.co({"metrics"}).out;
  CHECK(sample_value(restarted, "vermas_work_order_time_to_done_seconds_count") == 3);
  CHECK(std::fabs(sample_value(restarted, "vermas_work_order_time_to_done_seconds_sum") - sum) < 0.01);
  CHECK(sample_value(restarted, "vermas_work_orders_reached_review_total") == 3);
  CHECK(sample_value(restarted, "vermas_work_orders_reached_review_without_intervention_total") == clean);

  const json j = c.co_json({"metrics"});
  CHECK(j["text"].is_string());
  CHECK(j["content_type"] == "text/plain; version=0.0.4");
  REQUIRE(j["families"].is_array());
  CHECK(j["families"][0]["name"] == "vermas_info");
  c.root.stop();
}

TEST_CASE("reports: [metrics] textfile is rewritten atomically every interval_seconds", "[reports]") {
  Settings s;
  Company c(s);
  fs::create_directories(c.root.path("node"));
  const std::string file = c.root.path("node/vermas.prom");
  c.root.append_config("\n[metrics]\ntextfile = \"node/vermas.prom\"\ninterval_seconds = 0.2\n");
  c.start();
  REQUIRE(eventually([&] { return file_exists(file); }));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);  // node_exporter reads it as another user
  check_exposition(c, read_file(file));

  // Refreshed: new figures, a new file each time (renamed over the old one), and every read
  // sees a whole file, never half of one.
  const std::string before = read_file(file);
  const double first = sample_value(before, "vermas_metrics_generated_timestamp_seconds");
  const ino_t first_inode = st.st_ino;
  reports_create(c, "counted", std::nullopt);
  int reads = 0;
  bool refreshed = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string now = read_file(file);
    ++reads;
    INFO("read " << reads << ":\n" << now);
    REQUIRE(!now.empty());
    REQUIRE(now.back() == '\n');
    REQUIRE(prom_lint::check(now).empty());
    if (sample_value(now, "vermas_metrics_generated_timestamp_seconds") > first &&
        sample_value(now, "vermas_work_orders{factory=\"\",status=\"open\"}") == 1 && reads > 20) {
      refreshed = true;
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  CHECK(refreshed);
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK(st.st_ino != first_inode);
  for (const auto& entry : fs::directory_iterator(c.root.path("node"))) {
    const std::string name = entry.path().filename().string();
    INFO(name);
    CHECK((name == "vermas.prom" || name == ".vermas.prom.tmp"));
  }

  // A reload re-arms it: another file, at another interval.
  const std::string other = c.root.path("node/other.prom");
  c.root.replace_in_config("textfile = \"node/vermas.prom\"", "textfile = \"" + other + "\"");
  REQUIRE(c.root.co({"config", "reload"}).exit_code == 0);
  REQUIRE(eventually([&] { return file_exists(other); }));
  check_exposition(c, read_file(other));
  c.root.stop();
}

TEST_CASE("reports: a standup that cannot be written is recorded as failed, once for the day", "[reports]") {
  Settings s;
  Company c(s);
  write_file(c.root.path("reports"), "a file where the directory should be\n");
  c.root.append_config("\n[reports]\nstandup_at = \"00:00\"\n");
  c.start();
  REQUIRE(eventually([&] { return !c.events("report.standup_failed").empty(); }));
  const json e = c.events("report.standup_failed").front();
  CHECK(e["data"]["date"] == utc_today());
  CHECK(has(e["data"]["error"].get<std::string>(), "reports/.standup-" + utc_today() + ".md.tmp"));
  CHECK(c.events("report.standup_written").empty());
  CHECK(has(read_file(c.root.log_file()), "writing the standup for " + utc_today()));
  // Still serving, and the day is not tried again by a reload.
  REQUIRE(c.root.co({"config", "reload"}).exit_code == 0);
  c.result("report.standup");
  CHECK(c.events("report.standup_failed").size() == 1);
  c.root.stop();
}
