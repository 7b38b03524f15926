// Alert severities, a pure rule: parsing, order, and "this severity and above".
#include "tests/catch.hpp"

#include "common/alert_severity.hpp"

namespace alert_severity_test {

using namespace vermas::alerts;

TEST_CASE("alert severities parse exactly and print back", "[alerts]") {
  CHECK(parse_severity("info") == Severity::info);
  CHECK(parse_severity("warning") == Severity::warning);
  CHECK(parse_severity("critical") == Severity::critical);
  for (const char* bad : {"", "Warning", "CRITICAL", "warn", "error", "info ", "fatal"}) {
    INFO(bad);
    CHECK_FALSE(parse_severity(bad).has_value());
  }
  for (auto name : kSeverityNames) CHECK(to_string(*parse_severity(name)) == name);
}

TEST_CASE("alert severities are ordered info, warning, critical", "[alerts]") {
  CHECK(at_least(Severity::critical, Severity::warning));
  CHECK(at_least(Severity::warning, Severity::warning));
  CHECK_FALSE(at_least(Severity::info, Severity::warning));
  CHECK(at_least(Severity::info, Severity::info));
  CHECK_FALSE(at_least(Severity::warning, Severity::critical));
  CHECK(names_at_least(Severity::info) == std::vector<std::string>{"info", "warning", "critical"});
  CHECK(names_at_least(Severity::warning) == std::vector<std::string>{"warning", "critical"});
  CHECK(names_at_least(Severity::critical) == std::vector<std::string>{"critical"});
}

}  // namespace alert_severity_test
