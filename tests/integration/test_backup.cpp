// co backup, co restore, co verify-db (issue 13) against the real daemon: a backup under a
// write load holds exactly the writes up to its manifest's highest event id; a restore
// refuses while the daemon runs and refuses a tampered archive without changing anything;
// verify-db is clean after a restore (daemon stopped and running) and finds planted faults.
#include <atomic>
#include <map>
#include <thread>

#include "tests/integration/company.hpp"

using namespace it;

namespace {

json backup_json(const Company& c, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"backup"};
  args.insert(args.end(), extra.begin(), extra.end());
  return c.co_json(args);
}

// `co --json verify-db`: its document and exit code.
std::pair<json, int> verify_db(const Company& c) {
  auto r = c.root.co({"--json", "verify-db"}, 60s);
  INFO("co verify-db: exit " << r.exit_code << " " << r.out << r.err);
  auto j = parse_json(r.out);
  REQUIRE(j.is_object());
  return {j, r.exit_code};
}

bool has_finding(const json& report, const std::string& kind, const std::string& needle) {
  for (const auto& f : report["findings"])
    if (f.value("kind", "") == kind && contains(f.value("detail", ""), needle)) return true;
  return false;
}

std::vector<std::string> backups_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(dir, ec))
    if (d.path().extension() == ".gz") out.push_back(d.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void sqlite(const Company& c, const std::string& sql) {
  auto r = run({"sqlite3", c.root.db_file(), sql});
  INFO("sqlite3 " << sql << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("a backup under a write load holds every write up to its highest event id, and restores clean",
          "[backup]") {
  REQUIRE(in_path("tar"));
  Settings s;
  Company c(s);
  c.start();
  for (int i = 0; i < 5; ++i) c.result("wo.create", {{"title", "before " + std::to_string(i)}});

  // Pipelined creates on a connection of their own, acknowledged ids collected, while the
  // backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::vector<std::string> ids;
  std::thread writer([&] {
    RawClient w(c.root.socket_path());
    long next = 1;
    while (!stop) {
      std::string batch;
      for (int i = 0; i < 20; ++i, ++next)
        batch += request_line(next, "wo.create", {{"title", "load " + std::to_string(next)}}) + "\n";
      w.send(batch);
      for (int i = 0; i < 20; ++i) {
        auto line = w.read_line(10s);
        if (!line) return;
        auto r = parse_json(*line);
        if (r.contains("result")) {
          ids.push_back(r["result"]["id"].get<std::string>());
          ++acked;
        }
      }
    }
  });
  REQUIRE(eventually([&] { return acked >= 100; }));
  const int acked_before = acked;
  json b = backup_json(c);
  const int acked_after = acked;
  REQUIRE(eventually([&] { return acked >= acked_after + 100; }));
  stop = true;
  writer.join();
  INFO("backup: " << b.dump());
  CHECK(acked_after > acked_before);  // writes went on while the backup ran
  const long long highest = b["highest_event_id"].get<long long>();
  REQUIRE(highest > 0);
  REQUIRE(file_exists(b["file"].get<std::string>()));
  CHECK(b["file"].get<std::string>().rfind(c.root.path("backups/vermas-backup-"), 0) == 0);
  std::set<std::string> paths;
  for (const auto& f : b["files"]) paths.insert(f["path"].get<std::string>());
  CHECK(paths.count(".work/operations.db"));
  CHECK(paths.count(".vermas/config.toml"));
  CHECK(c.events("db.backed_up").size() == 1);

  // Which event created each acknowledged work order, in the daemon that acknowledged it.
  std::map<std::string, long long> created_by;
  for (const auto& e : c.events("wo.created")) created_by[e["subject"].get<std::string>()] = id_of(e);
  long long inside = 0, outside = 0;
  for (const auto& id : ids) (created_by.at(id) <= highest ? inside : outside)++;
  CHECK(inside > 0);
  CHECK(outside > 0);  // the load went on past the snapshot

  c.root.stop();
  {
    auto [report, code] = verify_db(c);
    CHECK(code == 0);
    CHECK(report["daemon"] == "stopped");
  }
  auto r = c.root.co({"--json", "restore", b["file"].get<std::string>()}, 60s);
  INFO("co restore: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json restored = parse_json(r.out);
  CHECK(restored["highest_event_id"] == highest);
  const std::string pre = restored["pre_restore_dir"].get<std::string>();
  CHECK(file_exists(pre + "/.work/operations.db"));
  CHECK(file_exists(pre + "/.vermas/config.toml"));
  {
    auto [report, code] = verify_db(c);
    INFO(report.dump());
    CHECK(code == 0);
    CHECK(report["ok"] == true);
    CHECK(report["checked"]["highest_event_id"] == highest);
  }

  c.start();
  for (const auto& id : ids) {
    auto got = c.call("wo.show", {{"id", id}});
    INFO(id << " created by event " << created_by.at(id) << ", snapshot up to " << highest << ": " << got.dump());
    if (created_by.at(id) <= highest) CHECK(got.contains("result"));
    else CHECK(error_code(got) == -32001);
  }
  auto [report, code] = verify_db(c);
  INFO(report.dump());
  CHECK(code == 0);
  CHECK(report["daemon"] == "running");
}

TEST_CASE("restore is refused while the daemon runs, and a tampered archive changes nothing", "[backup]") {
  REQUIRE(in_path("tar"));
  Company c(Settings{});
  c.start();
  c.result("wo.create", {{"title", "kept"}});
  const std::string file = c.root.path("mine.tar.gz");
  json b = backup_json(c, {"-o", file});
  REQUIRE(b["file"] == file);

  auto refused = c.root.co({"restore", file}, 30s);
  CHECK(refused.exit_code == 1);
  CHECK(contains(refused.err, "co operations stop"));
  // The tool holds the pid file's lock itself, whatever co asked first.
  auto direct = run({daemon_bin(), "--company-root", c.root.dir(), "--restore", file}, {}, 30s);
  CHECK(direct.exit_code == 1);
  CHECK(parse_json(direct.out)["error"]["kind"] == "running");

  // A second backup to the same file is refused: a backup never overwrites.
  auto again = c.root.co({"backup", "-o", file}, 30s);
  CHECK(again.exit_code == 1);

  c.root.stop();
  // The same archive with one byte of the config changed: the manifest no longer matches.
  // (A file of another size is refused as well, on its size.)
  const std::string work = c.root.path("tamper");
  fs::create_directories(work);
  REQUIRE(run({"tar", "-xzf", file, "-C", work}).exit_code == 0);
  std::string config = read_file(work + "/.vermas/config.toml");
  config[0] = '#';  // the same size, another digest
  write_file(work + "/.vermas/config.toml", config);
  const std::string tampered = c.root.path("tampered.tar.gz");
  std::vector<std::string> argv{"tar", "-czf", tampered, "-C", work, "manifest.json"};
  for (const auto& f : b["files"]) argv.push_back(f["path"].get<std::string>());
  REQUIRE(run(argv).exit_code == 0);

  const std::string db_before = read_file(c.root.db_file());
  const std::string config_before = c.root.read_config();
  auto bad = c.root.co({"restore", tampered}, 30s);
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  CHECK(contains(bad.err, "sha256 mismatch"));
  CHECK(read_file(c.root.db_file()) == db_before);
  CHECK(c.root.read_config() == config_before);
  bool pre_restore = false;
  for (const auto& d : fs::directory_iterator(c.root.path(".work")))
    if (d.path().filename().string().rfind("pre-restore-", 0) == 0 || d.path().filename().string().rfind("restore-", 0) == 0)
      pre_restore = true;
  CHECK_FALSE(pre_restore);

  // Not a backup at all.
  write_file(c.root.path("junk.tar.gz"), "not gzip\n");
  auto junk = c.root.co({"restore", c.root.path("junk.tar.gz")}, 30s);
  CHECK(junk.exit_code == 1);
  CHECK(read_file(c.root.db_file()) == db_before);
}

TEST_CASE("verify-db finds a changed projection row, an illegal transition and drifted event counts", "[backup]") {
  REQUIRE(in_path("sqlite3"));
  Company c(Settings{});
  c.start();
  const std::string a = c.result("wo.create", {{"title", "a"}})["id"];
  const std::string b = c.result("wo.create", {{"title", "b"}})["id"];
  {
    auto [report, code] = verify_db(c);
    INFO(report.dump());
    CHECK(code == 0);
    CHECK(report["daemon"] == "running");
  }
  c.root.stop();

  sqlite(c, "UPDATE work_orders SET title = 'planted' WHERE id = '" + a + "'");
  {
    auto [report, code] = verify_db(c);
    INFO(report.dump());
    CHECK(code == 1);
    CHECK(report["ok"] == false);
    CHECK(has_finding(report, "projection", "work_orders row " + a));
  }
  auto human = c.root.co({"verify-db"}, 60s);
  CHECK(human.exit_code == 1);
  CHECK(contains(human.out, "projection"));

  sqlite(c, "UPDATE work_orders SET title = 'a' WHERE id = '" + a + "'");
  sqlite(c, "INSERT INTO events(ts, event_type, actor, subject, data) VALUES('2030-01-01T00:00:00.000Z', "
            "'wo.transitioned', 'operator', '" + b + "', '{\"from\":\"open\",\"to\":\"done\",\"reason\":\"x\"}')");
  {
    auto [report, code] = verify_db(c);
    INFO(report.dump());
    CHECK(code == 1);
    CHECK(has_finding(report, "transition", b + " open -> done"));
    // The event the sqlite3 shell inserted was counted by the log's trigger.
    CHECK_FALSE(has_finding(report, "event_counts", ""));
  }
  // events.stats' counts drifting from the log (only a hand edit can do it).
  sqlite(c, "UPDATE event_counts SET n = n + 5 WHERE event_type = 'wo.created'");
  {
    auto [report, code] = verify_db(c);
    INFO(report.dump());
    CHECK(code == 1);
    CHECK(has_finding(report, "event_counts", "wo.created: event_counts says 7, the log holds 2"));
  }
  // The daemon's own db.verify sees it too.
  c.start();
  auto [report, code] = verify_db(c);
  INFO(report.dump());
  CHECK(code == 1);
  CHECK(report["daemon"] == "running");
  CHECK(has_finding(report, "transition", b + " open -> done"));
  CHECK(has_finding(report, "event_counts", "wo.created"));
}

TEST_CASE("backups rotate: the newest [backup] keep stay in [backup] dir", "[backup]") {
  REQUIRE(in_path("tar"));
  Company c(Settings{});
  c.root.append_config("\n[backup]\ndir = \"saved\"\nkeep = 2\n");
  c.start();
  std::vector<std::string> made;
  json last;
  for (int i = 0; i < 3; ++i) {
    c.result("wo.create", {{"title", "n" + std::to_string(i)}});
    last = backup_json(c);
    made.push_back(fs::path(last["file"].get<std::string>()).filename().string());
  }
  CHECK(fs::path(last["file"].get<std::string>()).parent_path() == fs::path(c.root.path("saved")));
  CHECK(backups_in(c.root.path("saved")) == std::vector<std::string>{made[1], made[2]});
  REQUIRE(last["removed"].size() == 1);
  CHECK(last["removed"][0] == made[0]);
  // Only the archives: no staging or partial file is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& d : fs::directory_iterator(c.root.path("saved"))) ++entries;
  CHECK(entries == 2);
}
