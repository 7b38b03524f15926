#include "common/alert_severity.hpp"

namespace vermas::alerts {

std::optional<Severity> parse_severity(std::string_view name) {
  for (std::size_t i = 0; i < kSeverityNames.size(); ++i)
    if (kSeverityNames[i] == name) return static_cast<Severity>(i);
  return std::nullopt;
}

std::string_view to_string(Severity s) { return kSeverityNames.at(static_cast<std::size_t>(s)); }

std::vector<std::string> names_at_least(Severity min) {
  std::vector<std::string> out;
  for (std::size_t i = static_cast<std::size_t>(min); i < kSeverityNames.size(); ++i)
    out.emplace_back(kSeverityNames[i]);
  return out;
}

}  // namespace vermas::alerts
