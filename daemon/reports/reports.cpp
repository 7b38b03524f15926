#include "daemon/reports/reports.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <map>

#include <spdlog/spdlog.h>

#include "daemon/agents/supervisor.hpp"
#include "daemon/factories.hpp"
#include "daemon/governance/costs.hpp"
#include "daemon/reports/atomic_file.hpp"
#include "daemon/store/sqlite.hpp"
#include "version.hpp"

namespace vermas {

namespace {

using nlohmann::json;
using std::chrono::duration;

constexpr auto kStandupSpan = std::chrono::hours(24);
constexpr mode_t kTextfileMode = 0644;  // node_exporter runs as its own user

double unix_seconds(SystemTime t) { return duration<double>(t.time_since_epoch()).count(); }

// The part of a standup for a factory ("" in the tables: none, the company's own).
standup::FactoryPart& part_for(std::map<std::string, standup::FactoryPart>& parts, const std::string& factory) {
  auto [it, added] = parts.try_emplace(factory);
  if (added && !factory.empty()) it->second.name = factory;
  return it->second;
}

bool part_has_news(const standup::FactoryPart& p) {
  return p.done.count || p.in_progress.count || p.blocked.count || p.needs_approval.count || p.failed.count ||
         !p.agents.empty() || p.open_alerts || p.spend_today != 0 || p.spend_since != 0;
}

standup::WorkItem reports_work_item(const sql::Stmt& s) {
  return {s.text(0), s.text(1), s.text(2), s.opt_text(3).value_or(""), s.text(4)};
}

}  // namespace

Reports::Reports(boost::asio::io_context& io, const Config& config, Paths paths, Journal& journal, Sources sources)
    : config_(config), paths_(std::move(paths)), journal_(journal), sources_(std::move(sources)),
      standup_timer_(io), metrics_timer_(io) {}

// ---------------------------------------------------------------------------------------
// The standup

standup::Standup Reports::standup(SystemTime since_time, SystemTime now) const {
  auto& st = journal_.store().statements();
  const std::string since = format_rfc3339_ms(since_time);
  const std::string today = utc_date(now);
  std::map<std::string, standup::FactoryPart> parts;
  for (const auto& [name, f] : sources_.factories.all()) part_for(parts, name);

  // Counts through the (factory, status) index; lists capped per factory.
  {
    sql::Stmt s(st, "SELECT COALESCE(factory, ''), status, count(*) FROM work_orders GROUP BY factory, status",
                "counting work orders for the standup");
    while (s.step()) {
      auto& p = part_for(parts, s.text(0));
      const std::string status = s.text(1);
      const std::int64_t n = s.int64(2);
      if (status == "assigned" || status == "in_progress" || status == "review") p.in_progress.count += n;
      else if (status == "blocked") p.blocked.count += n;
      else if (status == "needs_approval") p.needs_approval.count += n;
      else if (status == "failed") p.failed.count += n;
    }
  }
  {
    // A done work order's updated_at is never before its done_at: the status index bounds it.
    sql::Stmt s(st,
                "SELECT COALESCE(factory, ''), count(*) FROM work_orders WHERE status = 'done' AND updated_at >= ?1 "
                "AND done_at >= ?1 GROUP BY factory",
                "counting work orders done for the standup");
    s.bind(1, since);
    while (s.step()) part_for(parts, s.text(0)).done.count = s.int64(1);
  }
  for (auto& entry : parts) {
    const std::string& factory = entry.first;  // named: clang 14 cannot capture a structured binding
    auto& p = entry.second;
    auto list = [&](standup::Section& section, const std::string& where, const char* at_column) {
      if (section.count == 0) return;
      // `factory = ?1` (not a COALESCE) so that the (factory, status) index applies.
      sql::Stmt s(st,
                  std::string("SELECT id, title, status, assignee, ") + at_column + " FROM work_orders WHERE " +
                      (factory.empty() ? "factory IS NULL" : "factory = ?1") + " AND " + where + " ORDER BY " +
                      at_column + " DESC, id LIMIT " + std::to_string(standup::kMaxItems),
                  "listing work orders for the standup");
      if (!factory.empty()) s.bind(1, factory);
      if (where.find("?2") != std::string::npos) s.bind(2, since);
      while (s.step()) section.items.push_back(reports_work_item(s));
    };
    list(p.done, "status = 'done' AND updated_at >= ?2 AND done_at >= ?2", "done_at");
    list(p.in_progress, "status IN ('assigned', 'in_progress', 'review')", "updated_at");
    list(p.blocked, "status = 'blocked'", "updated_at");
    list(p.needs_approval, "status = 'needs_approval'", "updated_at");
    list(p.failed, "status = 'failed'", "updated_at");
  }

  for (const auto& v : sources_.supervisor.list(AgentFilter{})) {
    const auto& r = v.record;
    const std::string status = to_string(r.status);
    if (!standup::needs_attention(status, v.stale)) continue;
    part_for(parts, r.factory.value_or(""))
        .agents.push_back({r.id, status, r.reason, v.stale, r.error_streak, r.restart_count,
                           r.last_activity.value_or("")});
  }

  {
    // Spend: agents' resets are their own adjustments, not the factory's or company's.
    sql::Stmt s(st,
                "SELECT factory, total(cost) FILTER (WHERE day = ?1), total(cost) FILTER (WHERE day >= ?2) "
                "FROM cost_daily WHERE (day = ?1 OR day >= ?2) AND wo_type != ?3 GROUP BY factory",
                "summing spend for the standup");
    s.bind(1, today).bind(2, since.substr(0, 10)).bind(3, kResetRow);
    while (s.step()) {
      auto& p = part_for(parts, s.text(0));
      p.spend_today = s.real(1);
      p.spend_since = s.real(2);
    }
  }
  {
    sql::Stmt s(st, "SELECT COALESCE(factory, ''), count(*) FROM alerts WHERE resolved_at IS NULL GROUP BY factory",
                "counting open alerts for the standup");
    while (s.step()) part_for(parts, s.text(0)).open_alerts = s.int64(1);
  }
  {
    sql::Stmt s(st,
                "SELECT id, type, severity, subject, message, count, last_at, COALESCE(factory, '') FROM alerts "
                "WHERE resolved_at IS NULL ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 "
                "ELSE 2 END, last_at DESC, id DESC LIMIT 1000",
                "listing open alerts for the standup");
    while (s.step()) {
      auto& p = part_for(parts, s.text(7));
      if (p.alerts.size() >= standup::kMaxItems) continue;
      p.alerts.push_back({s.int64(0), s.text(1), s.text(2), s.opt_text(3).value_or(""), s.text(4), s.int64(5),
                          s.text(6)});
    }
  }

  standup::Standup out;
  out.company = config_.company.name;
  out.date = today;
  out.since = since;
  out.generated_at = format_rfc3339_ms(now);
  // Factories by name; the company's own part last, and only when it has something to say.
  for (auto& [factory, p] : parts)
    if (!factory.empty()) out.factories.push_back(std::move(p));
  if (auto it = parts.find(""); it != parts.end() && part_has_news(it->second))
    out.factories.push_back(std::move(it->second));
  return out;
}

std::filesystem::path Reports::standup_file(const std::string& date) const {
  return paths_.root / "reports" / ("standup-" + date + ".md");
}

json Reports::write_standup(SystemTime due, SystemTime now) {
  const std::string date = utc_date(due);
  auto report = standup(now - kStandupSpan, now);
  report.date = date;
  const auto file = standup_file(date);
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  write_file_atomically(file, standup::markdown(report));
  journal_.record({"report.standup_written", "operations", std::nullopt, std::nullopt,
                   {{"file", file.string()}, {"date", date}, {"since", report.since}}});
  last_standup_date_ = date;
  spdlog::info("standup for {} written to {}", date, file.string());
  return {{"file", file.string()}, {"date", date}, {"since", report.since}};
}

std::optional<std::string> Reports::last_standup_date() const {
  if (!last_standup_date_) {
    EventFilter f;
    f.type = "report.standup_written";
    f.limit = 1;
    f.newest_first = true;
    auto events = journal_.store().query(f);
    last_standup_date_ = events.empty() ? std::string() : events.back().data.value("date", std::string());
  }
  return last_standup_date_;
}

// Today's time if still ahead; past it and not yet written today (the daemon was down, or
// standup_at was just set earlier than now): now; otherwise tomorrow's.
void Reports::arm_standup() {
  const auto generation = ++standup_generation_;
  standup_timer_.cancel();
  if (stopped_ || !config_.reports.standup_at) return;
  const auto at = parse_time_of_day(*config_.reports.standup_at);
  if (!at) return;  // the config was validated; nothing else could get here
  const auto now = std::chrono::system_clock::now();
  auto due = next_time_of_day(std::chrono::floor<std::chrono::days>(now), *at);  // today's
  if (due <= now && last_standup_date() == utc_date(due)) due += std::chrono::days(1);
  standup_timer_.expires_at(std::max(due, now));
  standup_timer_.async_wait([this, generation, due](boost::system::error_code ec) {
    if (ec || generation != standup_generation_ || stopped_) return;
    try {
      write_standup(due, std::chrono::system_clock::now());
    } catch (const std::exception& e) {
      // A day's standup is written once: the failure is on record and tomorrow's is armed.
      spdlog::error("writing the standup for {}: {}", utc_date(due), e.what());
      try {
        journal_.record({"report.standup_failed", "operations", std::nullopt, std::nullopt,
                         {{"date", utc_date(due)}, {"error", e.what()}}});
      } catch (const std::exception& again) {
        spdlog::error("recording report.standup_failed: {}", again.what());
      }
      last_standup_date_ = utc_date(due);
    }
    arm_standup();
  });
}

// ---------------------------------------------------------------------------------------
// Metrics

metrics::Snapshot Reports::snapshot(SystemTime now) {
  auto& st = journal_.store().statements();
  metrics::Snapshot s;
  s.version = kVersion;
  s.company = config_.company.name;
  s.now = unix_seconds(now);
  s.uptime_seconds = sources_.uptime_seconds ? sources_.uptime_seconds() : 0;
  s.events_last_id = journal_.store().last_event_id();
  for (const auto& [name, f] : sources_.factories.all()) s.factories.push_back(name);
  for (const auto& v : sources_.supervisor.list(AgentFilter{})) {
    const auto& r = v.record;
    metrics::AgentFigures a;
    a.id = r.id;
    a.factory = r.factory.value_or("");
    a.role = to_string(r.role);
    a.status = to_string(r.status);
    a.stale = v.stale;
    a.error_streak = r.error_streak;
    a.restart_count = r.restart_count;
    if (r.last_heartbeat)
      if (auto t = parse_rfc3339(*r.last_heartbeat)) a.last_heartbeat = unix_seconds(*t);
    a.today_spend = v.today_spend;
    s.agents.push_back(std::move(a));
  }

  {
    sql::Stmt q(st, "SELECT COALESCE(factory, ''), status, count(*) FROM work_orders GROUP BY factory, status",
                "counting work orders for the metrics");
    while (q.step()) {
      s.work_orders[q.text(0)][q.text(1)] = q.int64(2);
      if (q.text(1) == "done") s.done_total[q.text(0)] = q.int64(2);
    }
  }
  const std::string day_ago = format_rfc3339_ms(now - std::chrono::hours(24));
  const std::string week_ago = format_rfc3339_ms(now - std::chrono::hours(24 * 7));
  {
    sql::Stmt q(st,
                "SELECT COALESCE(factory, ''), count(*) FROM work_orders WHERE status = 'done' AND updated_at >= ?1 "
                "AND done_at >= ?1 GROUP BY factory",
                "counting work orders done today for the metrics");
    q.bind(1, day_ago);
    while (q.step()) s.done_24h[q.text(0)] = q.int64(1);
  }
  update_cumulative();
  s.time_to_done_sum = cumulative_.ttd_sum;
  s.time_to_done_count = cumulative_.ttd_count;
  s.reached_review = cumulative_.reviewed;
  s.reached_review_clean = cumulative_.clean;
  {
    std::vector<double> week;
    sql::Stmt q(st,
                "SELECT (julianday(done_at) - julianday(created_at)) * 86400.0 FROM work_orders WHERE status = 'done' "
                "AND updated_at >= ?1 AND done_at >= ?1",
                "reading last week's time to done for the metrics");
    q.bind(1, week_ago);
    while (q.step()) week.push_back(std::max(0.0, q.real(0)));
    if (!week.empty()) {
      std::sort(week.begin(), week.end());
      const std::size_t n = week.size();
      s.time_to_done_median_7d = n % 2 ? week[n / 2] : (week[n / 2 - 1] + week[n / 2]) / 2;
    }
  }
  {
    // first_review_at is never after updated_at: the IN list lets the (status, updated_at)
    // index bound the read to last week's work orders.
    sql::Stmt q(st,
                "SELECT count(*), total(review_clean) FROM work_orders WHERE status IN ('open', 'assigned', "
                "'in_progress', 'review', 'needs_approval', 'blocked', 'failed', 'done', 'canceled') AND "
                "updated_at >= ?1 AND first_review_at >= ?1",
                "counting last week's reviews for the metrics");
    q.bind(1, week_ago);
    if (q.step() && q.int64(0) > 0) s.review_clean_share_7d = q.real(1) / double(q.int64(0));
  }

  s.spend_today = sources_.costs.today_company();
  for (const auto& f : s.factories) s.factory_spend_today[f] = sources_.costs.today_factory(f);
  {
    sql::Stmt q(st, "SELECT wo_type, total(cost) FROM cost_daily WHERE day = ? AND wo_type != ? GROUP BY wo_type",
                "summing today's spend by type for the metrics");
    q.bind(1, utc_date(now)).bind(2, kResetRow);
    while (q.step()) s.type_spend_today[q.text(0)] = q.real(1);
  }
  {
    sql::Stmt q(st, "SELECT type, severity, count(*) FROM alerts WHERE resolved_at IS NULL GROUP BY type, severity",
                "counting open alerts for the metrics");
    while (q.step()) s.alerts_open[{q.text(0), q.text(1)}] = q.int64(2);
  }
  {
    sql::Stmt q(st, "SELECT type, count(*) FROM alerts GROUP BY type", "counting alerts for the metrics");
    while (q.step()) s.alerts_raised[q.text(0)] = q.int64(1);
  }
  {
    sql::Stmt q(st, "SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM approvals",
                "counting approvals for the metrics");
    if (q.step()) {
      s.approvals_total = q.int64(0);
      s.approvals_pending = q.int64(1);
    }
  }
  return s;
}

std::optional<std::filesystem::path> Reports::textfile() const {
  if (!config_.metrics.textfile) return std::nullopt;
  std::filesystem::path p(*config_.metrics.textfile);
  return p.is_absolute() ? p : paths_.root / p;
}

void Reports::write_metrics() {
  const auto file = textfile();
  if (!file) return;
  try {
    write_file_atomically(*file, metrics::render(snapshot(std::chrono::system_clock::now())), kTextfileMode);
    if (!metrics_error_.empty()) spdlog::info("metrics textfile {} written again", file->string());
    metrics_error_.clear();
  } catch (const std::exception& e) {
    // Every interval tries again; the log hears of a failure once, not every 15 s.
    if (metrics_error_ != e.what()) spdlog::error("metrics textfile: {}", e.what());
    metrics_error_ = e.what();
  }
}

void Reports::arm_metrics(bool write_now) {
  const auto generation = ++metrics_generation_;
  metrics_timer_.cancel();
  if (stopped_ || !config_.metrics.textfile) return;
  if (write_now) write_metrics();
  metrics_timer_.expires_after(to_ms(config_.metrics.interval_seconds));
  metrics_timer_.async_wait([this, generation](boost::system::error_code ec) {
    if (ec || generation != metrics_generation_ || stopped_) return;
    arm_metrics(true);
  });
}

// The cumulative figures (every done work order's time to done, every first review) once in
// full, then from the events since: a transition to done or review looks its work order up
// by id, so each snapshot reads what changed, not the whole table (100k work orders: about
// 100 ms in full). An import (wo sync) can rewrite a record's status and dates: the figures
// are then summed in full again. A scan reads at most kScanSpan event ids; a larger burst
// is caught up over the next snapshots.
void Reports::update_cumulative() {
  constexpr std::int64_t kScanSpan = 20000;
  auto& store = journal_.store();
  auto& st = store.statements();
  const std::int64_t last = store.last_event_id();
  bool full = !cumulative_.loaded;
  if (!full && last > cumulative_.after_id) {
    const std::int64_t up_to = std::min(last, cumulative_.after_id + kScanSpan);
    Cumulative next = cumulative_;
    store.scan(cumulative_.after_id, up_to, kScanSpan, {"wo.transitioned", "wo.imported"}, [&](const Event& e) {
      if (full) return;
      if (e.event_type == "wo.imported") {
        full = true;
        return;
      }
      const std::string to = e.data.value("to", "");
      if (e.event_type != "wo.transitioned" || !e.subject || (to != "done" && to != "review")) return;
      sql::Stmt row(st, "SELECT created_at, first_review_at, review_clean FROM work_orders WHERE id = ?",
                    "reading a work order for the metrics");
      row.bind(1, *e.subject);
      if (!row.step()) return;
      if (to == "done") {
        const auto created = parse_rfc3339(row.text(0));
        const auto done = parse_rfc3339(e.ts);
        ++next.ttd_count;
        if (created && done) next.ttd_sum += std::max(0.0, duration<double>(*done - *created).count());
      } else if (row.opt_text(1) == e.ts) {  // its first review (the reducer sets it from this event)
        ++next.reviewed;
        next.clean += row.opt_int64(2).value_or(0);
      }
    });
    if (!full) {
      next.after_id = up_to;
      cumulative_ = next;
    }
  }
  if (!full) return;
  Cumulative c;
  c.loaded = true;
  c.after_id = last;  // one thread: nothing commits between this and the sums below
  {
    sql::Stmt q(st,
                "SELECT count(*), total(max(0, (julianday(done_at) - julianday(created_at)) * 86400.0)) FROM "
                "work_orders WHERE status = 'done' AND done_at IS NOT NULL",
                "summing time to done for the metrics");
    if (q.step()) {
      c.ttd_count = q.int64(0);
      c.ttd_sum = q.real(1);
    }
  }
  {
    sql::Stmt q(st, "SELECT count(first_review_at), total(review_clean) FROM work_orders",
                "counting reviews for the metrics");
    if (q.step()) {
      c.reviewed = q.int64(0);
      c.clean = static_cast<std::int64_t>(q.real(1));
    }
  }
  cumulative_ = c;
}

// ---------------------------------------------------------------------------------------

void Reports::start() {
  started_ = true;
  arm_standup();
  arm_metrics(true);
}

void Reports::config_changed() {
  if (!started_) return;
  arm_standup();
  arm_metrics(true);
}

void Reports::stop() {
  stopped_ = true;
  ++standup_generation_;
  ++metrics_generation_;
  standup_timer_.cancel();
  metrics_timer_.cancel();
}

}  // namespace vermas
