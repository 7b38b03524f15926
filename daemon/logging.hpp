#pragma once
// spdlog setup: R/logs/operations.log (rotated by size) and stderr (journald under systemd).
#include <filesystem>
#include <string>

namespace vermas {

// Throws spdlog::spdlog_ex when the log file cannot be opened.
void setup_logging(const std::filesystem::path& log_file, const std::string& level,
                   double max_mb, int keep, bool to_stderr);
// Parses a level name; false when unknown.
bool set_log_level(const std::string& level);

}  // namespace vermas
