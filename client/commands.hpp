#pragma once
// Command bodies, kept apart from the CLI11 wiring in main.cpp (CLI11 is slow to compile).
#include <optional>
#include <string>

#include "client/context.hpp"

namespace vermas::client {

struct InitOptions {
  std::optional<std::string> name;
};
int cmd_init(Context& ctx, const InitOptions& opts);

int cmd_operations_start(Context& ctx, bool foreground);
int cmd_operations_stop(Context& ctx, bool keep_agents);
int cmd_operations_status(Context& ctx);
int cmd_operations_logs(Context& ctx, bool follow, int lines);

int cmd_ping(Context& ctx);
int cmd_status(Context& ctx);
int cmd_health(Context& ctx);
int cmd_config_check(Context& ctx, const std::optional<std::string>& file);
int cmd_config_reload(Context& ctx);
int cmd_config_get(Context& ctx);

struct EventsTailOptions {
  bool follow = false;
  int lines = 20;
  std::optional<std::string> type;
};
int cmd_events_tail(Context& ctx, const EventsTailOptions& opts);
int cmd_events_stats(Context& ctx, const std::optional<std::string>& since);

// Low-level escape hatch for tool authors and debugging: `co call METHOD [JSON]`.
int cmd_call(Context& ctx, const std::string& method, const std::optional<std::string>& params);

}  // namespace vermas::client
