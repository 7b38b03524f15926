// co doctor on the real daemon: a healthy company passes; each planted fault (a stale pid
// file, an orphan assignment file, a missing agent binary, a world-writable .work/) is
// found, with its fix, exit 1 (or a warning, exit 0), and --json is one document.
#include "tests/catch.hpp"

#include <sys/stat.h>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

using namespace it;

namespace {

json check_named(const json& doc, const std::string& prefix) {
  for (const auto& c : doc["checks"])
    if (c["name"].get<std::string>().rfind(prefix, 0) == 0) return c;
  return json();
}

}  // namespace

TEST_CASE("co doctor passes a healthy company and finds each planted fault", "[doctor]") {
  Settings s;
  Company c(s);
  c.start();
  c.add_factory("f");

  auto healthy = c.root.co({"doctor"}, 60s);
  INFO(healthy.out << healthy.err);
  CHECK(healthy.exit_code == 0);
  CHECK(contains(healthy.out, "\u2714 daemon: running"));
  CHECK(contains(healthy.out, "\u2714 database: integrity ok"));
  CHECK(contains(healthy.out, "\u2714 factory f:"));
  CHECK(contains(healthy.out, "fsck ok"));
  CHECK(contains(healthy.out, "\u2714 socket:"));
  CHECK_FALSE(contains(healthy.out, "\u2718"));
  auto js = c.root.co({"--json", "doctor", "--quick"}, 60s);
  REQUIRE(stdout_is_one_json_document(js));
  const json doc = parse_json(js.out);
  CHECK(doc["ok"] == true);
  for (const auto& check : doc["checks"]) {
    CHECK(check["name"].is_string());
    CHECK(check["status"].is_string());
  }
  CHECK(check_named(doc, "factory f")["detail"].get<std::string>().find("fsck") == std::string::npos);  // --quick

  // An orphan assignment file (no worker holds that work order), a world-writable .work/.
  write_file(c.root.path(".work/.assignment-f-workers-slot3"), R"({"agent": "f/workers/slot3", "work_order": "f-zzzzzz"})");
  REQUIRE(::chmod(c.root.path(".work").c_str(), 0777) == 0);
  auto faults = c.root.co({"--json", "doctor", "--quick"}, 60s);
  CHECK(faults.exit_code == 1);
  const json found = parse_json(faults.out);
  CHECK(found["ok"] == false);
  const json orphan = check_named(found, "assignment files");
  CHECK(orphan["status"] == "fail");
  CHECK(contains(orphan["detail"].get<std::string>(), ".assignment-f-workers-slot3"));
  CHECK(contains(orphan["fix"].get<std::string>(), "rm "));
  const json layout = check_named(found, "root layout");
  CHECK(layout["status"] == "fail");
  CHECK(contains(layout["detail"].get<std::string>(), "world-writable"));
  CHECK(layout["fix"] == "chmod o-w " + c.root.path(".work"));
  REQUIRE(::chmod(c.root.path(".work").c_str(), 0755) == 0);
  fs::remove(c.root.path(".work/.assignment-f-workers-slot3"));

  // A missing agent binary: named, with the sections that run it.
  c.root.write_config(config_text(s) + "\n");
  c.root.replace_in_config("[agents.worker]\ncommand = ", "[agents.worker]\ncommand = [\"no-such-agent\"]\n# was: ");
  auto missing = c.root.co({"doctor", "--quick"}, 60s);
  INFO(missing.out);
  CHECK(missing.exit_code == 1);
  CHECK(contains(missing.out, "\u2718 agent command no-such-agent: not found in PATH (for agents.worker)"));

  // Stopped, with a stale pid file: a warning with its fix; the database is read offline.
  c.root.write_config(config_text(s));
  c.root.stop();
  write_file(c.root.path(".work/operations.pid"), "999999\n");
  auto stopped = c.root.co({"doctor", "--quick"}, 60s);
  INFO(stopped.out << stopped.err);
  CHECK(stopped.exit_code == 0);  // warnings alone
  CHECK(contains(stopped.out, "! daemon: not running; stale pid file"));
  CHECK(contains(stopped.out, "fix: remove it, or just start the daemon"));
  CHECK(contains(stopped.out, "\u2714 database: integrity ok"));
  CHECK(contains(stopped.out, "\u2714 factory f:"));

  // Its help is its own, and a typo is a usage error.
  CHECK(contains(c.root.co({"doctor", "--help"}).out, "--quick"));
}
