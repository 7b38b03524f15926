// co doctor's pure rules (client/doctor_rules.*): versions, modes, free space, exit code.
#include "client/doctor_rules.hpp"
#include "tests/catch.hpp"

// Qualified, not `using namespace`: in a unity build a using-directive at file scope reaches
// the test files compiled after this one (their Status is the work orders').
namespace doctor = vermas::client::doctor;
using doctor::Check;
using DoctorStatus = doctor::Status;

TEST_CASE("doctor: versions are read from banners and compared", "[doctor]") {
  CHECK(doctor::parse_version("git version 2.39.5") == std::array<int, 3>{2, 39, 5});
  CHECK(doctor::parse_version("tmux 3.3a") == std::array<int, 3>{3, 3, 0});
  CHECK(doctor::parse_version("tmux next-3.4") == std::array<int, 3>{3, 4, 0});
  CHECK_FALSE(doctor::parse_version("no digits"));
  CHECK_FALSE(doctor::parse_version("build 7"));  // one number is not a version
  CHECK(doctor::version_check("git", "git version 2.39.5", {2, 20, 0}, "x").status == DoctorStatus::ok);
  const Check old = doctor::version_check("git", "git version 2.19.1", {2, 20, 0}, "upgrade git");
  CHECK(old.status == DoctorStatus::fail);
  CHECK(old.detail == "2.19.1 is older than 2.20");
  CHECK(old.fix == "upgrade git");
  CHECK(doctor::version_check("tmux", "", {3, 0, 0}, "x").detail == "not found");
}

TEST_CASE("doctor: the socket is 0600, .work/ is not world-writable", "[doctor]") {
  CHECK(doctor::socket_mode_problem(0140600).empty());
  CHECK(doctor::socket_mode_problem(0140660) == "mode 0660, not 0600");
  CHECK(doctor::socket_mode_problem(0140777) == "mode 0777, not 0600");
  CHECK(doctor::work_dir_mode_problem(040755).empty());
  CHECK(doctor::work_dir_mode_problem(040770).empty());
  CHECK(doctor::work_dir_mode_problem(040777) == "world-writable (mode 0777)");
}

TEST_CASE("doctor: under 1 GiB free is a warning, warnings alone exit 0, a failure exits 1", "[doctor]") {
  CHECK(doctor::disk_check(2ull << 30, "/").status == DoctorStatus::ok);
  CHECK(doctor::disk_check((1ull << 30) - 1, "/").status == DoctorStatus::warn);
  std::vector<Check> checks = {{"a", DoctorStatus::ok, "fine", ""}, {"b", DoctorStatus::warn, "meh", "do this"},
                               {"c", DoctorStatus::skip, "n/a", ""}};
  CHECK(doctor::exit_code(checks) == 0);
  CHECK(doctor::render(checks) == "\u2714 a: fine\n! b: meh\n    fix: do this\n- c: n/a\nno problems, 1 warning(s)\n");
  checks.push_back({"d", DoctorStatus::fail, "broken", "mend it"});
  CHECK(doctor::exit_code(checks) == 1);
  const auto j = doctor::to_json(checks);
  CHECK(j["ok"] == false);
  CHECK(j["checks"].size() == 4);
  CHECK(j["checks"][3]["name"] == "d");
  CHECK(j["checks"][3]["status"] == "fail");
  CHECK(j["checks"][0]["fix"].is_null());
}
