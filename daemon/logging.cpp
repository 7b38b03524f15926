#include "daemon/logging.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace vermas {

void setup_logging(const std::filesystem::path& log_file, const std::string& level,
                   double max_mb, int keep, bool to_stderr) {
  std::vector<spdlog::sink_ptr> sinks;
  auto max_bytes = static_cast<std::size_t>(std::max(1.0, max_mb * 1024 * 1024));
  sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      log_file.string(), max_bytes, static_cast<std::size_t>(std::max(1, keep))));
  if (to_stderr) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  // Synchronous on purpose: an async pool thread would not survive fork() for children.
  auto logger = std::make_shared<spdlog::logger>("operations", sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  logger->flush_on(spdlog::level::info);  // `co operations logs -f` sees lines at once
  spdlog::set_default_logger(logger);
  set_log_level(level);
}

bool set_log_level(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  spdlog::set_level(lvl);
  return true;
}

}  // namespace vermas
