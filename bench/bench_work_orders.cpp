// bench_work_orders: work orders on the event log, against the targets.
//
//   wo.create, each answered after its own commit (synchronous=FULL)   calls/s, p50, p99
//     on one connection, and in total over 8 connections at once (group commit: >= 10,000/s),
//     beside the floor, an fdatasync on this disk, and the mean batch and group (writes per
//     commit, per sync)
//   events.stats over 1M events, without `since` and with since=1h     <= 50 ms
//   wo.rebuild_projections of those 1M events                           <= 10 s, matched_live
//   database bytes per event (operations.db + -wal after a checkpoint)
//
// It makes a throw-away company root under /tmp (`co init`, `co operations start`), stops
// the daemon and appends the 1M events straight into the company's database through the
// project's own Store (daemon/store/store.hpp: every append runs the projection reducer, so the
// live projections are those of the log), starts the daemon again and measures over its
// socket. The root is removed and the daemon stopped also when a step fails or on Ctrl-C
// (the daemon is then killed by pid, after checking that the pid is still our
// vermas-operations). Output: a table, then one line of JSON with every figure.
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_harness.hpp"
#include "common/time.hpp"
#include "common/work_order.hpp"
#include "daemon/store/store.hpp"

namespace {

using namespace vermas::bench;

constexpr double kTargetStatsMs = 50.0;      // events.stats over 1M events, with or without since
constexpr double kTargetRebuildS = 10.0;     // wo.rebuild_projections of 1M events (wall)
constexpr std::int64_t kBatch = 20000;       // events per population transaction
constexpr int kConnections = 8;              // concurrent wo.create connections
constexpr double kTargetGroupedPerS = 10000;  // wo.create over kConnections, group commit
constexpr int kRule = 104;                   // the width of the tables

struct Options {
  std::int64_t events = 1000000;
  double create_seconds = 3;
  int rounds = 3;
  int stats_calls = 7;
  bool enforce = false;
  bool keep = false;
  std::string co = VERMAS_CO_BIN;
  std::string daemon = VERMAS_DAEMON_BIN;
};

[[noreturn]] void usage(int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: bench_work_orders [--events N] [--create-seconds S] [--rounds N] [--stats-calls N]\n"
               "                         [--enforce] [--keep] [--co PATH] [--daemon PATH]\n"
               "  --events N          events appended to the log before the timed parts (default 1000000)\n"
               "  --create-seconds S  seconds of wo.create per round, on 1 and on 8 connections (default 3)\n"
               "  --rounds N          rounds; the summary is the median of the per-round figures (default 3)\n"
               "  --stats-calls N     events.stats calls per round and variant; their median counts (default 7)\n"
               "  --enforce           exit 1 when a target is missed\n"
               "  --keep              keep the company root (its daemon stopped), to look at again\n");
  std::exit(rc);
}

Options parse_args(int argc, char** argv) {
  Options o;
  Args args(argc, argv, usage);
  while (args.next()) {
    const std::string& a = args.flag();
    if (a == "--events") o.events = static_cast<std::int64_t>(args.number(100));
    else if (a == "--create-seconds") o.create_seconds = args.number(0.1);
    else if (a == "--rounds") o.rounds = static_cast<int>(args.number(1));
    else if (a == "--stats-calls") o.stats_calls = static_cast<int>(args.number(1));
    else if (a == "--enforce") o.enforce = true;
    else if (a == "--keep") o.keep = true;
    else if (a == "--co") o.co = args.value();
    else if (a == "--daemon") o.daemon = args.value();
    else if (a == "-h" || a == "--help") usage(0);
    else args.unknown();
  }
  return o;
}

// ---------------------------------------------------------------- the event log

// A realistic log of `total` events: a tenth wo.created, six wo.transitioned per work order
// (open -> assigned -> in_progress -> review -> in_progress -> review -> done: one review
// round sent back), the rest agent and worker events of one factory. The three streams are
// interleaved at random in proportion to what is left of each, so every work order is
// created before it moves and done by the end. Deterministic (fixed seed).
class LogGenerator {
 public:
  explicit LogGenerator(std::int64_t total)
      : wo_left_(total / 10), other_left_(total - total / 10 - 6 * (total / 10)) {}

  std::int64_t work_orders() const { return created_; }

  vermas::EventDraft next() {
    const std::uint64_t w_create = static_cast<std::uint64_t>(wo_left_);
    const std::uint64_t w_move = static_cast<std::uint64_t>(steps_left_);
    const std::uint64_t w_other = static_cast<std::uint64_t>(other_left_);
    const std::uint64_t sum = w_create + w_move + w_other;
    if (sum == 0) throw std::logic_error("LogGenerator: no events left");
    const std::uint64_t r = rng_() % sum;
    if (r < w_create) return create();
    if (r < w_create + w_move) return move();
    return other();
  }

 private:
  struct Open {
    std::string id;
    int step;
    int worker;
  };

  std::string agent(int worker) const { return "acme/worker-" + std::to_string(worker); }

  vermas::EventDraft create() {
    --wo_left_;
    // A bijection of the counter onto 6 base-36 digits (the multiplier is prime to 36^6).
    const unsigned long long bits = (static_cast<unsigned long long>(created_) * 1000003ULL) % 2176782336ULL;
    std::string id = vermas::wo::make_id("wo", bits, 6);
    ++created_;
    const int worker = 1 + static_cast<int>(rng_() % 8);
    open_.push_back({id, 0, worker});
    steps_left_ += 6;
    json data = {{"title", "Fix the flaky retry test in module " + std::to_string(created_ % 97)},
                 {"description", ""},
                 {"type", "task"},
                 {"priority", 2},
                 {"factory", nullptr}};
    return {"wo.created", "operator", std::nullopt, id, std::move(data)};
  }

  vermas::EventDraft move() {
    static const char* const kPath[] = {"open", "assigned", "in_progress", "review", "in_progress", "review", "done"};
    std::size_t i = static_cast<std::size_t>(rng_() % open_.size());
    Open& w = open_[i];
    const int s = w.step++;
    --steps_left_;
    json data = {{"from", kPath[s]}, {"to", kPath[s + 1]}};
    std::string actor;
    switch (s) {
      case 0:
        actor = "acme/supervisor";
        data["reason"] = "dispatched to " + agent(w.worker);
        data["assignee"] = agent(w.worker);
        break;
      case 1: actor = agent(w.worker), data["reason"] = "started"; break;
      case 2: actor = agent(w.worker), data["reason"] = "ready for review"; break;
      case 3: actor = "acme/qa", data["reason"] = "changes requested: 2 tests fail"; break;
      case 4: actor = agent(w.worker), data["reason"] = "fixed the failing tests"; break;
      default: actor = "acme/qa", data["reason"] = "all checks pass"; break;
    }
    vermas::EventDraft d{"wo.transitioned", actor, std::nullopt, w.id, std::move(data)};
    if (w.step == 6) {
      open_[i] = std::move(open_.back());
      open_.pop_back();
    }
    return d;
  }

  vermas::EventDraft other() {
    --other_left_;
    const int worker = 1 + static_cast<int>(rng_() % 8);
    const int pid = 10000 + static_cast<int>(rng_() % 50000);
    const std::uint64_t r = rng_() % 100;
    std::string subject = r % 10 == 0 ? "acme/supervisor" : r % 10 == 1 ? "acme/qa" : agent(worker);
    json data;
    std::string type;
    if (r < 30) {
      type = "agent.started";
      data = {{"pid", pid}, {"runner", "direct"}, {"session", "vermas-" + subject}, {"restart_count", 0},
              {"from", "stopped"}};
    } else if (r < 60) {
      type = "agent.exited";
      data = {{"pid", pid}, {"code", 0}, {"signal", nullptr}, {"reason", "exited"}, {"ran_seconds", 1834.2}};
    } else if (r < 72) {
      type = "agent.restarting";
      data = {{"delay_seconds", 1.0}, {"attempt", 1}};
    } else if (r < 84) {
      type = "worker.spawned";
      data = {{"slot", worker}, {"worktree", "/srv/acme/.work/worktrees/slot-" + std::to_string(worker)}};
    } else if (r < 92) {
      type = "agent.stopping";
      data = {{"signal", "SIGTERM"}, {"grace_seconds", 10.0}};
    } else if (r < 99) {
      type = "agent.stopped";
      data = json::object();
    } else {
      type = "alert.raised";
      data = {{"severity", "warning"}, {"kind", "crash_loop"}, {"message", subject + " restarted 5 times in 60 s"}};
    }
    return {type, "operations", std::string("acme"), subject, std::move(data)};
  }

  std::int64_t wo_left_;
  std::int64_t other_left_;
  std::int64_t steps_left_ = 0;
  std::int64_t created_ = 0;
  std::vector<Open> open_;
  std::mt19937_64 rng_{20261201};
};

std::int64_t scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string(sql) + ": " + sqlite3_errmsg(db));
  std::int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_finalize(s);
  return v;
}

std::uintmax_t file_size_or_0(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

struct DbSize {
  std::uintmax_t bytes = 0;  // main file + WAL
  std::int64_t events = 0;
  std::map<std::string, std::int64_t> by_object;  // dbstat: bytes of each table and index
  double per_event() const { return events ? static_cast<double>(bytes) / static_cast<double>(events) : NAN; }
};

// Checkpoints (TRUNCATE), then sizes. Only with the daemon stopped.
DbSize measure_db(const fs::path& db_file) {
  vermas::Store store(db_file);
  sqlite3* db = store.db();
  if (sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("wal_checkpoint: ") + sqlite3_errmsg(db));
  DbSize out;
  out.events = scalar(db, "SELECT count(*) FROM events");
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name", -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW)
      out.by_object[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))] = sqlite3_column_int64(s, 1);
  }
  sqlite3_finalize(s);  // no dbstat in this SQLite: no breakdown
  out.bytes = file_size_or_0(db_file) + file_size_or_0(db_file.string() + "-wal");
  return out;
}

struct Population {
  std::int64_t events = 0;
  std::int64_t work_orders = 0;
  std::int64_t done = 0;  // work orders in status done in the live projection
  double seconds = 0;
};

// With the daemon stopped: appends `n` events through Store::transact, kBatch per
// transaction, timestamps spread evenly over the 2 days before now.
Population populate(const fs::path& db_file, std::int64_t n) {
  vermas::Store store(db_file);
  const auto span = std::chrono::milliseconds(48LL * 3600 * 1000);
  const auto base = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) - span;
  std::int64_t k = 0;
  store.now_rfc3339 = [&] {
    auto t = base + std::chrono::milliseconds(k * span.count() / n);
    ++k;
    return vermas::format_rfc3339_ms(t);
  };
  LogGenerator gen(n);
  Population p;
  const auto t0 = Clock::now();
  std::int64_t done = 0;
  while (done < n) {
    check_interrupt();
    const std::int64_t batch = std::min(kBatch, n - done);
    store.transact([&](vermas::Store::Tx& tx) {
      for (std::int64_t i = 0; i < batch; ++i) tx.append(gen.next());
    });
    done += batch;
    if (done % 200000 == 0 || done == n) {
      std::fprintf(stderr, "\r  appended %lld / %lld events", static_cast<long long>(done), static_cast<long long>(n));
      std::fflush(stderr);
    }
  }
  p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::fprintf(stderr, "\n");
  p.events = done;
  p.work_orders = gen.work_orders();
  p.done = scalar(store.db(), "SELECT count(*) FROM work_orders WHERE status = 'done'");
  return p;
}

// ---------------------------------------------------------------- measurements

struct CreateStats {
  long calls = 0;
  double calls_per_s = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  double per_sync = 0;    // writes per sync while it ran (the daemon's health.db_writes)
  double per_commit = 0;  // writes per commit: the mean shared transaction
};

// WAL pages a lone wo.create writes (its event, the log's five indexes, sqlite_sequence,
// event_counts, the work order and its two indexes, ...), counted with a WAL hook.
constexpr int kPagesPerCreate = 13;

// The floor under a durable write: one fdatasync after overwriting `pages` 4 KiB pages in
// `dir`, median ms.
double measure_fdatasync_ms(const std::filesystem::path& dir, int pages) {
  const auto file = dir / "bench-fdatasync.tmp";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("opening " + file.string() + ": " + std::strerror(errno));
  std::string block(static_cast<std::size_t>(pages) * 4096, 'x');
  std::vector<double> ms;
  for (int i = 0; i < 41; ++i) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i % 8) * static_cast<off_t>(block.size())) < 0) break;
    const auto t0 = Clock::now();
    if (::fdatasync(fd) != 0) break;
    if (i > 0) ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  ::close(fd);
  std::filesystem::remove(file);
  std::sort(ms.begin(), ms.end());
  return ms.empty() ? NAN : ms[ms.size() / 2];
}

// wo.create back to back on one connection for `seconds`; `tag` keeps titles apart.
// Returns the per-call latencies (ns) and fills calls.
std::vector<std::int64_t> create_loop(const std::string& socket, double seconds, const std::string& tag,
                                      std::atomic<int>& ready, const std::atomic<bool>& go,
                                      std::atomic<bool>& stop_all) {
  RawConnection conn(socket);
  conn.call("wo.create", {{"title", "warm-up " + tag}});  // connects the daemon's side too
  ++ready;
  while (!go.load()) {
    check_interrupt();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  std::vector<std::int64_t> ns;
  ns.reserve(4096);
  char req[256];
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (long i = 0; !stop_all.load(); ++i) {
    int len = std::snprintf(req, sizeof req,
                            "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"wo.create\",\"params\":{\"title\":"
                            "\"bench %s %ld\",\"type\":\"task\",\"priority\":2}}\n",
                            i + 2, tag.c_str(), i);
    auto t0 = Clock::now();
    conn.send_all(req, static_cast<std::size_t>(len));
    std::string_view line = conn.read_line();
    auto t1 = Clock::now();
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    // Every answer in full: cheap next to a commit.
    json r = json::parse(line);
    if (r.contains("error") || !r.contains("result") || r["result"].value("status", "") != "open")
      throw std::runtime_error("wo.create: unexpected answer " + std::string(line));
    check_interrupt();
    if (t1 >= deadline) break;
  }
  return ns;
}

CreateStats measure_create(const std::string& socket, double seconds, int connections) {
  // An older daemon (a before/after run with --daemon) has no db_writes: NaN per sync.
  auto writes = [&] {
    json w = RawConnection(socket).call("health").value("db_writes", json::object());
    return w.is_object() ? w : json::object();
  };
  const json before = writes();
  std::atomic<bool> go{false}, stop_all{false};
  std::vector<std::vector<std::int64_t>> per(static_cast<std::size_t>(connections));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(connections));
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int c = 0; c < connections; ++c) {
    // Each thread connects and makes one untimed call, then waits for `go`.
    threads.emplace_back([&, c] {
      try {
        per[static_cast<std::size_t>(c)] =
            create_loop(socket, seconds, "c" + std::to_string(c), ready, go, stop_all);
      } catch (...) {
        errors[static_cast<std::size_t>(c)] = std::current_exception();
        stop_all = true;
        go = true;
      }
    });
  }
  while (ready.load() < connections && !stop_all.load() && !g_interrupted)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  const auto t0 = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  std::vector<std::int64_t> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  CreateStats s;
  s.calls = static_cast<long>(all.size());
  s.calls_per_s = static_cast<double>(all.size()) / elapsed;
  s.p50_ms = percentile(all, 50) / 1e6;
  s.p99_ms = percentile(all, 99) / 1e6;
  s.max_ms = all.empty() ? NAN : static_cast<double>(all.back()) / 1e6;
  const json after = writes();
  const double syncs = after.value("syncs", 0.0) - before.value("syncs", 0.0);
  const double commits = after.value("commits", 0.0) - before.value("commits", 0.0);
  const double transactions = after.value("transactions", 0.0) - before.value("transactions", 0.0);
  s.per_sync = syncs > 0 ? transactions / syncs : NAN;
  s.per_commit = commits > 0 ? transactions / commits : NAN;
  return s;
}

struct StatsTiming {
  double median_ms = 0, first_ms = 0, max_ms = 0;
  std::int64_t total = 0;  // events counted by the last call
  std::size_t types = 0;
};

StatsTiming measure_stats(RawConnection& conn, const json& params, int calls) {
  std::vector<double> ms;
  json last;
  for (int i = 0; i < calls; ++i) {
    check_interrupt();
    auto t0 = Clock::now();
    last = conn.call("events.stats", params);
    ms.push_back(ms_since(t0));
  }
  StatsTiming t;
  t.first_ms = ms.front();
  t.max_ms = *std::max_element(ms.begin(), ms.end());
  t.median_ms = median(ms);
  t.total = last.value("total", std::int64_t{-1});
  t.types = last.contains("by_type") ? last["by_type"].size() : 0;
  return t;
}

struct RebuildResult {
  double seconds = 0;       // the daemon's own figure
  double wall_seconds = 0;  // request sent -> answer read
  double longest_hold = 0;  // the longest single step: how long other requests waited
  double longest_chunk = 0, swap = 0;  // of which: the longest replay chunk, the final swap
  bool matched_live = false;
  std::int64_t differences = -1, replayed = 0, work_orders = 0;
};

RebuildResult measure_rebuild(RawConnection& conn) {
  auto t0 = Clock::now();
  json r = conn.call("wo.rebuild_projections", json::object());
  RebuildResult out;
  out.wall_seconds = ms_since(t0) / 1e3;
  out.seconds = r.value("seconds", NAN);
  out.longest_hold = r.value("longest_hold_seconds", NAN);
  const json holds = r.value("holds", json::object());
  out.longest_chunk = holds.value("longest_chunk_seconds", NAN);
  out.swap = holds.value("swap_seconds", NAN);
  out.matched_live = r.value("matched_live", false);
  out.differences = r.value("differences", std::int64_t{-1});
  out.replayed = r.value("events_replayed", std::int64_t{0});
  out.work_orders = r.value("work_orders", std::int64_t{0});
  return out;
}

// `co audit export` of the whole log to a file, as an operator runs it: the client follows
// the daemon's capped pages (audit.export {start, end, after_id}) and writes JSON lines.
struct ExportResult {
  double wall_seconds = 0;
  std::int64_t events = 0;                // lines written
  std::int64_t expected = 0;              // the log's highest id before the export
  long daemon_rss_before_kib = -1;        // VmRSS
  long daemon_rss_peak_kib = -1;          // the highest VmRSS sampled (every 2 ms) while it ran
  long co_max_rss_kib = -1;               // the client's ru_maxrss
  double per_second() const { return wall_seconds > 0 ? static_cast<double>(events) / wall_seconds : 0; }
};

std::int64_t count_lines(const std::string& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + file);
  std::int64_t n = 0;
  char buf[1 << 16];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;)
    n += std::count(buf, buf + got, '\n');
  std::fclose(f);
  return n;
}

ExportResult measure_export(const Company& company, Spawner& sp) {
  ExportResult out;
  out.expected = RawConnection(company.socket()).call("status").at("last_event_id").get<std::int64_t>();
  const std::string file = company.root() + "/audit.jsonl";
  const pid_t daemon = company.pid();
  out.daemon_rss_before_kib = status_kib(daemon, "VmRSS");
  std::atomic<bool> done{false};
  std::atomic<long> peak{out.daemon_rss_before_kib};
  // A sampler, not VmHWM: the rebuild before it already set the high-water mark.
  std::thread sampler([&] {
    while (!done.load()) {
      peak.store(std::max(peak.load(), status_kib(daemon, "VmRSS")));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const auto t0 = Clock::now();
  // Its "exported N events" line (stderr) goes to /dev/null with stdout: detached.
  const pid_t p = sp.spawn(company.co({"audit", "export", "--start", "2000-01-01", "--end", "2999-12-31", "-o", file}),
                           "/dev/null", true);
  int status = 0;
  struct rusage ru {};
  while (::wait4(p, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  out.wall_seconds = ms_since(t0) / 1e3;
  done.store(true);
  sampler.join();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("co audit export failed" + Spawner::how(status));
  out.daemon_rss_peak_kib = peak.load();
  out.co_max_rss_kib = ru.ru_maxrss;
  out.events = count_lines(file);
  fs::remove(file);
  if (out.events < out.expected)
    throw std::runtime_error("co audit export wrote " + std::to_string(out.events) + " events of " +
                             std::to_string(out.expected));
  return out;
}

// `co backup` of the whole database, as an operator runs it, while another connection asks
// the daemon `ping` and `status` in turn: how long the backup takes and how long requests
// wait meanwhile (the snapshot, copies and digests run on a thread of the daemon's own, tar
// as a child; the io thread should hardly notice).
struct BackupResult {
  double wall_seconds = 0;
  double daemon_seconds = 0;  // db.backup's own figure
  std::int64_t bytes = 0, highest_event_id = 0;
  std::size_t samples = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;  // ping / status while it ran
  double idle_p50_ms = 0, idle_p99_ms = 0;    // the same before it, for comparison
};

// Latencies (ns) of ping/status in turn on one connection until `done`, a sample every 2 ms.
std::vector<double> sample_latency(const std::string& socket, const std::atomic<bool>& done, std::size_t at_most) {
  RawConnection conn(socket);
  std::vector<double> ns;
  for (std::size_t i = 0; !done.load() && ns.size() < at_most; ++i) {
    const auto t0 = Clock::now();
    conn.call(i % 2 ? "status" : "ping");
    ns.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::sort(ns.begin(), ns.end());
  return ns;
}

BackupResult measure_backup(const Company& company, Spawner& sp) {
  BackupResult out;
  {
    std::atomic<bool> never{false};
    auto idle = sample_latency(company.socket(), never, 200);
    out.idle_p50_ms = percentile(idle, 50) / 1e6;
    out.idle_p99_ms = percentile(idle, 99) / 1e6;
  }
  const std::string file = company.root() + "/bench-backup.tar.gz";
  const std::string answer = company.root() + "/bench-backup.json";
  std::atomic<bool> done{false};
  std::vector<double> ns;
  std::thread sampler([&] { ns = sample_latency(company.socket(), done, SIZE_MAX); });
  const auto t0 = Clock::now();
  const pid_t p = sp.spawn(company.co({"--json", "backup", "-o", file}), answer, true);
  int status = 0;
  while (::waitpid(p, &status, 0) < 0 && errno == EINTR) {
  }
  out.wall_seconds = ms_since(t0) / 1e3;
  done.store(true);
  sampler.join();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("co backup failed" + Spawner::how(status));
  json r = json::parse(read_file(answer), nullptr, false);
  out.daemon_seconds = r.value("seconds", NAN);
  out.bytes = r.value("bytes", std::int64_t{0});
  out.highest_event_id = r.value("highest_event_id", std::int64_t{0});
  out.samples = ns.size();
  if (!ns.empty()) {
    out.p50_ms = percentile(ns, 50) / 1e6;
    out.p99_ms = percentile(ns, 99) / 1e6;
    out.max_ms = ns.back() / 1e6;
  }
  fs::remove(file);
  fs::remove(answer);
  return out;
}

struct Round {
  StatsTiming stats_all, stats_1h;
  RebuildResult rebuild;
  ExportResult exported;
  BackupResult backup;
  long rss_before_rebuild_kib = -1, rss_after_rebuild_kib = -1;  // the daemon's VmRSS
  CreateStats create1, create8;
};

}  // namespace

int main(int argc, char** argv) {
  g_program = "bench_work_orders";
  Options opts = parse_args(argc, argv);
  catch_signals();
  if (!binaries_ok(opts.co, opts.daemon)) return 2;

  Spawner sp(opts.daemon);
  try {
    Company company(opts.co, opts.daemon, sp, {.command = std::chrono::seconds(60), .gone = std::chrono::seconds(5)});
    company.init();
    if (opts.keep) company.keep();
    company.start();  // the daemon makes and migrates the database, and logs its start
    company.stop();

    std::printf("bench_work_orders: co %s\n                   daemon %s\n                   root %s\n",
                opts.co.c_str(), opts.daemon.c_str(), company.root().c_str());
    std::printf("appending %lld events through Store::transact (%lld per transaction), daemon stopped ...\n",
                static_cast<long long>(opts.events), static_cast<long long>(kBatch));
    std::fflush(stdout);
    Population pop = populate(company.db_file(), opts.events);
    if (pop.done != pop.work_orders)
      throw std::runtime_error("population: " + std::to_string(pop.done) + " of " + std::to_string(pop.work_orders) +
                               " work orders are done in the live projection");
    DbSize size = measure_db(company.db_file());
    std::printf("  %lld events in %.1f s (%.0f events/s), %lld work orders, all done; %lld events in the log\n",
                static_cast<long long>(pop.events), pop.seconds, static_cast<double>(pop.events) / pop.seconds,
                static_cast<long long>(pop.work_orders), static_cast<long long>(size.events));
    std::printf("  operations.db after wal_checkpoint(TRUNCATE): %.1f MiB, %.1f bytes per event\n",
                static_cast<double>(size.bytes) / 1048576.0, size.per_event());
    if (!size.by_object.empty()) {
      std::vector<std::pair<std::int64_t, std::string>> objs;
      for (const auto& [name, bytes] : size.by_object) objs.emplace_back(bytes, name);
      std::sort(objs.rbegin(), objs.rend());
      std::printf("  by table / index (dbstat):");
      int shown = 0;
      for (const auto& [bytes, name] : objs) {
        if (shown++ == 8) break;
        std::printf("%s %s %.1f MiB (%.1f B/event)", shown > 1 ? "," : "", name.c_str(),
                    static_cast<double>(bytes) / 1048576.0, static_cast<double>(bytes) / static_cast<double>(size.events));
      }
      std::printf("\n");
    }
    std::fflush(stdout);

    const double fsync_ms = measure_fdatasync_ms(company.db_file().parent_path(), 1);
    const double fsync_create_ms = measure_fdatasync_ms(company.db_file().parent_path(), kPagesPerCreate);
    std::printf("fdatasync in the company's directory, medians of 40: after a 4 KiB overwrite %.3f ms, "
                "after %d pages (a lone wo.create's WAL) %.3f ms\n",
                fsync_ms, kPagesPerCreate, fsync_create_ms);
    company.start();
    std::printf("daemon pid %d; %d round(s): events.stats x%d (all, since=1h), wo.rebuild_projections,\n"
                "wo.create for %.1f s on 1 connection, then on %d\n",
                static_cast<int>(company.pid()), opts.rounds, opts.stats_calls, opts.create_seconds,
                kConnections);
    rule(kRule);
    std::printf("%-7s| %-17s| %-17s| %-22s| %-20s| %s\n", "", "stats all ms", "stats 1h ms", "rebuild s", "create 1 conn",
                "create 8 conn");
    std::printf("%-7s| %7s %9s| %7s %9s| %6s %6s %8s| %6s %6s %6s| %6s %6s\n", "", "median", "first", "median", "first",
                "own", "wall", "matched", "/s", "p50ms", "p99ms", "/s", "p50ms");
    rule(kRule);
    std::fflush(stdout);

    std::vector<Round> rounds;
    for (int r = 0; r < opts.rounds; ++r) {
      Round rd;
      {
        RawConnection conn(company.socket());
        rd.stats_all = measure_stats(conn, json::object(), opts.stats_calls);
        rd.stats_1h = measure_stats(conn, {{"since", "1h"}}, opts.stats_calls);
        if (rd.stats_all.total < pop.events)
          throw std::runtime_error("events.stats counted " + std::to_string(rd.stats_all.total) + " events, fewer than " +
                                   std::to_string(pop.events));
        rd.rss_before_rebuild_kib = status_kib(company.pid(), "VmRSS");
        rd.rebuild = measure_rebuild(conn);
        rd.rss_after_rebuild_kib = status_kib(company.pid(), "VmRSS");
      }
      rd.exported = measure_export(company, sp);
      rd.backup = measure_backup(company, sp);
      rd.create1 = measure_create(company.socket(), opts.create_seconds, 1);
      rd.create8 = measure_create(company.socket(), opts.create_seconds, kConnections);
      rounds.push_back(rd);
      std::printf("round %d| %7.2f %9.2f| %7.2f %9.2f| %6.2f %6.2f %8s| %6.0f %6.2f %6.2f| %6.0f %6.2f\n", r + 1,
                  rd.stats_all.median_ms, rd.stats_all.first_ms, rd.stats_1h.median_ms, rd.stats_1h.first_ms,
                  rd.rebuild.seconds, rd.rebuild.wall_seconds, rd.rebuild.matched_live ? "yes" : "NO",
                  rd.create1.calls_per_s, rd.create1.p50_ms, rd.create1.p99_ms, rd.create8.calls_per_s,
                  rd.create8.p50_ms);
      std::printf("       | co audit export: %lld events in %.2f s (%.0f/s), daemon RSS %ld -> peak %ld KiB\n",
                  static_cast<long long>(rd.exported.events), rd.exported.wall_seconds, rd.exported.per_second(),
                  rd.exported.daemon_rss_before_kib, rd.exported.daemon_rss_peak_kib);
      std::printf("       | co backup: %.1f MiB in %.2f s (events up to %lld); ping/status meanwhile p50 %.2f p99 %.2f "
                  "max %.2f ms (%zu samples; idle p50 %.2f p99 %.2f)\n",
                  static_cast<double>(rd.backup.bytes) / 1048576.0, rd.backup.wall_seconds,
                  static_cast<long long>(rd.backup.highest_event_id), rd.backup.p50_ms, rd.backup.p99_ms, rd.backup.max_ms,
                  rd.backup.samples, rd.backup.idle_p50_ms, rd.backup.idle_p99_ms);
      std::fflush(stdout);
    }
    rule(kRule);

    const long peak_rss_kib = status_kib(company.pid(), "VmHWM");  // in practice: during a rebuild
    company.stop();
    DbSize end = measure_db(company.db_file());

    auto med = [&](auto field) { return median_of(rounds, field); };
    // Insertion order is kept, so each target and verdict follows its figure.
    nlohmann::ordered_json j;
    const double stats_all = med([](const Round& r) { return r.stats_all.median_ms; });
    const double stats_1h = med([](const Round& r) { return r.stats_1h.median_ms; });
    const double rebuild_wall = med([](const Round& r) { return r.rebuild.wall_seconds; });
    bool matched = true;
    std::int64_t replayed = 0, rebuilt_wos = 0;
    for (const auto& rd : rounds) {
      matched = matched && rd.rebuild.matched_live;
      replayed = std::max(replayed, rd.rebuild.replayed);
      rebuilt_wos = std::max(rebuilt_wos, rd.rebuild.work_orders);
    }
    const bool stats_all_ok = stats_all <= kTargetStatsMs;
    const bool stats_1h_ok = stats_1h <= kTargetStatsMs;
    const bool rebuild_ok = rebuild_wall <= kTargetRebuildS;

    j["events"] = pop.events;
    put(j, "population_seconds", pop.seconds, 2);
    put(j, "population_events_per_s", static_cast<double>(pop.events) / pop.seconds, 0);
    put(j, "create_calls_per_s", med([](const Round& r) { return r.create1.calls_per_s; }), 1);
    put(j, "create_p50_ms", med([](const Round& r) { return r.create1.p50_ms; }), 3);
    put(j, "create_p99_ms", med([](const Round& r) { return r.create1.p99_ms; }), 3);
    put(j, "create_max_ms", med([](const Round& r) { return r.create1.max_ms; }), 3);
    put(j, "create_8conn_calls_per_s", med([](const Round& r) { return r.create8.calls_per_s; }), 1);
    put(j, "create_8conn_p50_ms", med([](const Round& r) { return r.create8.p50_ms; }), 3);
    put(j, "create_8conn_p99_ms", med([](const Round& r) { return r.create8.p99_ms; }), 3);
    put(j, "create_8conn_writes_per_sync", med([](const Round& r) { return r.create8.per_sync; }), 2);
    put(j, "create_8conn_writes_per_commit", med([](const Round& r) { return r.create8.per_commit; }), 2);
    const double grouped = med([](const Round& r) { return r.create8.calls_per_s; });
    const bool grouped_ok = grouped >= kTargetGroupedPerS;
    j["create_8conn_target"] = kTargetGroupedPerS;
    j["create_8conn_ok"] = grouped_ok;
    put(j, "fdatasync_ms", fsync_ms, 3);
    put(j, "fdatasync_create_pages_ms", fsync_create_ms, 3);
    put(j, "create_floor_per_s", 1000.0 / fsync_create_ms, 0);
    put(j, "create_8conn_floor_per_s", kConnections * 1000.0 / fsync_ms, 0);
    put(j, "stats_ms", stats_all, 3);
    j["stats_ms_target"] = kTargetStatsMs;
    j["stats_ms_ok"] = stats_all_ok;
    put(j, "stats_since_1h_ms", stats_1h, 3);
    j["stats_since_1h_ms_target"] = kTargetStatsMs;
    j["stats_since_1h_ms_ok"] = stats_1h_ok;
    put(j, "stats_first_ms", rounds.front().stats_all.first_ms, 3);
    put(j, "stats_since_1h_first_ms", rounds.front().stats_1h.first_ms, 3);
    j["stats_total"] = rounds.back().stats_all.total;
    j["stats_since_1h_total"] = rounds.back().stats_1h.total;
    put(j, "rebuild_wall_seconds", rebuild_wall, 3);
    j["rebuild_wall_seconds_target"] = kTargetRebuildS;
    j["rebuild_wall_seconds_ok"] = rebuild_ok;
    put(j, "rebuild_seconds", med([](const Round& r) { return r.rebuild.seconds; }), 3);
    put(j, "rebuild_longest_hold_seconds", med([](const Round& r) { return r.rebuild.longest_hold; }), 3);
    put(j, "rebuild_longest_chunk_seconds", med([](const Round& r) { return r.rebuild.longest_chunk; }), 3);
    put(j, "rebuild_swap_seconds", med([](const Round& r) { return r.rebuild.swap; }), 3);
    j["rebuild_matched_live"] = matched;
    j["rebuild_matched_live_target"] = true;
    j["rebuild_matched_live_ok"] = matched;
    j["rebuild_events_replayed"] = replayed;
    j["rebuild_work_orders"] = rebuilt_wos;
    j["daemon_rss_before_rebuild_kib"] = rounds.front().rss_before_rebuild_kib;
    j["daemon_rss_after_rebuild_kib"] = rounds.back().rss_after_rebuild_kib;
    j["daemon_peak_rss_kib"] = peak_rss_kib;
    j["db_bytes"] = size.bytes;
    put(j, "db_bytes_per_event", size.per_event(), 1);
    j["db_bytes_end"] = end.bytes;
    j["db_events_end"] = end.events;
    put(j, "db_bytes_per_event_end", end.per_event(), 1);
    auto obj = [&](const char* name) {
      auto it = size.by_object.find(name);
      return it == size.by_object.end() ? -1 : it->second;
    };
    if (!size.by_object.empty()) {
      std::int64_t idx = 0;
      for (const char* n : {"events_ts", "events_type", "events_type_ts", "events_factory", "events_subject"})
        idx += std::max<std::int64_t>(0, obj(n));
      put(j, "db_events_table_bytes_per_event", static_cast<double>(obj("events")) / static_cast<double>(size.events), 1);
      put(j, "db_events_indexes_bytes_per_event", static_cast<double>(idx) / static_cast<double>(size.events), 1);
    }
    put(j, "audit_export_seconds", med([](const Round& r) { return r.exported.wall_seconds; }), 3);
    put(j, "audit_export_events_per_s", med([](const Round& r) { return r.exported.per_second(); }), 0);
    j["audit_export_events"] = rounds.back().exported.events;
    j["audit_export_complete"] = std::all_of(rounds.begin(), rounds.end(), [](const Round& r) {
      return r.exported.events >= r.exported.expected;
    });
    put(j, "audit_export_daemon_rss_before_kib", med([](const Round& r) {
          return static_cast<double>(r.exported.daemon_rss_before_kib); }), 0);
    put(j, "audit_export_daemon_rss_peak_kib", med([](const Round& r) {
          return static_cast<double>(r.exported.daemon_rss_peak_kib); }), 0);
    put(j, "audit_export_co_max_rss_kib", med([](const Round& r) {
          return static_cast<double>(r.exported.co_max_rss_kib); }), 0);
    put(j, "backup_wall_seconds", med([](const Round& r) { return r.backup.wall_seconds; }), 3);
    put(j, "backup_daemon_seconds", med([](const Round& r) { return r.backup.daemon_seconds; }), 3);
    j["backup_bytes"] = rounds.back().backup.bytes;
    put(j, "backup_latency_p50_ms", med([](const Round& r) { return r.backup.p50_ms; }), 3);
    put(j, "backup_latency_p99_ms", med([](const Round& r) { return r.backup.p99_ms; }), 3);
    put(j, "backup_latency_max_ms", med([](const Round& r) { return r.backup.max_ms; }), 3);
    put(j, "idle_latency_p50_ms", med([](const Round& r) { return r.backup.idle_p50_ms; }), 3);
    put(j, "idle_latency_p99_ms", med([](const Round& r) { return r.backup.idle_p99_ms; }), 3);
    j["all_targets_met"] = stats_all_ok && stats_1h_ok && rebuild_ok && matched && grouped_ok;
    j["rounds"] = opts.rounds;
    put(j, "create_seconds", opts.create_seconds, 2);
    j["stats_calls"] = opts.stats_calls;

    const Summary summary{38, 14};
    summary.header(opts.rounds);
    summary.row("wo.create, 1 connection", j["create_calls_per_s"], "/s");
    summary.row("wo.create p50", j["create_p50_ms"], "ms");
    summary.row("wo.create p99", j["create_p99_ms"], "ms");
    summary.row("wo.create, 8 connections, total", j["create_8conn_calls_per_s"], "/s", ">= 10000/s",
                verdict(grouped_ok));
    summary.row("wo.create p50, 8 connections", j["create_8conn_p50_ms"], "ms");
    summary.row("  writes per commit (the mean shared transaction)", j["create_8conn_writes_per_commit"], "");
    summary.row("  writes per sync (the mean group)", j["create_8conn_writes_per_sync"], "");
    summary.row("  floor: fdatasync of 4 KiB on this disk", j["fdatasync_ms"], "ms");
    summary.row("  floor: fdatasync of a lone create's 13 pages", j["fdatasync_create_pages_ms"], "ms");
    summary.row("  floor: 8 per fdatasync of 4 KiB", j["create_8conn_floor_per_s"], "/s");
    summary.row("  floor for 1 connection: 1 per 13-page fdatasync", j["create_floor_per_s"], "/s");
    summary.row("events.stats (all)", stats_all, "ms", "<= 50 ms", verdict(stats_all_ok));
    summary.row("events.stats since=1h", stats_1h, "ms", "<= 50 ms", verdict(stats_1h_ok));
    summary.row("events.stats first call (round 1)", j["stats_first_ms"], "ms");
    summary.row("wo.rebuild_projections, wall", rebuild_wall, "s", "<= 10 s", verdict(rebuild_ok));
    summary.row("wo.rebuild_projections, own seconds", j["rebuild_seconds"], "s");
    summary.row("  longest single step (requests wait)", j["rebuild_longest_hold_seconds"], "s");
    summary.row("    longest replay chunk", j["rebuild_longest_chunk_seconds"], "s");
    summary.row("    the swap", j["rebuild_swap_seconds"], "s");
    summary.line("rebuild matched_live (every round)", matched ? "true" : "false", "true", verdict(matched));
    summary.kib("daemon RSS before the first rebuild", rounds.front().rss_before_rebuild_kib);
    summary.kib("daemon RSS after the last rebuild", rounds.back().rss_after_rebuild_kib);
    summary.kib("daemon peak RSS (VmHWM)", peak_rss_kib);
    summary.row("co audit export of the whole log", j["audit_export_seconds"], "s");
    summary.row("  events per second", j["audit_export_events_per_s"], "ev/s");
    summary.kib("  daemon RSS before it", static_cast<long>(j["audit_export_daemon_rss_before_kib"].get<double>()));
    summary.kib("  daemon RSS peak during it (sampled)", static_cast<long>(j["audit_export_daemon_rss_peak_kib"].get<double>()));
    summary.kib("  co's max RSS", static_cast<long>(j["audit_export_co_max_rss_kib"].get<double>()));
    summary.row("co backup of the whole database, wall", j["backup_wall_seconds"], "s");
    summary.row("  archive size", static_cast<double>(rounds.back().backup.bytes) / 1048576.0, "MiB");
    summary.row("  ping/status p50 while it runs", j["backup_latency_p50_ms"], "ms");
    summary.row("  ping/status p99 while it runs", j["backup_latency_p99_ms"], "ms");
    summary.row("  ping/status max while it runs", j["backup_latency_max_ms"], "ms");
    summary.row("  ping/status p99 idle (before it)", j["idle_latency_p99_ms"], "ms");
    summary.row("database bytes per event", size.per_event(), "B");
    summary.row("  after the rounds (daemon stopped)", end.per_event(), "B");
    summary.row("population (Store::transact)", static_cast<double>(pop.events) / pop.seconds, "ev/s");
    rule(kRule);

    return finish(company, j, opts.enforce);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_work_orders: %s\n", e.what());
    return 2;
  }
}
