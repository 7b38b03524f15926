#pragma once
// Alert severities (spec §3 [alerts], §6 alert.*): info < warning < critical. A pure rule
// shared by the config (min_severity), the daemon (which alerts run [alerts] command,
// alert.list's severity filter) and the client (co alert list --severity).
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vermas::alerts {

enum class Severity { info = 0, warning = 1, critical = 2 };

// Lowest first; the names as the config, the protocol and the log spell them.
inline constexpr std::array<std::string_view, 3> kSeverityNames = {"info", "warning", "critical"};

std::optional<Severity> parse_severity(std::string_view name);  // exact, lowercase
std::string_view to_string(Severity s);
// `s` is `min` or above it.
inline bool at_least(Severity s, Severity min) { return static_cast<int>(s) >= static_cast<int>(min); }
// The names of `min` and every severity above it, lowest first ("warning" -> warning, critical).
std::vector<std::string> names_at_least(Severity min);

}  // namespace vermas::alerts
