#pragma once
// How agents and their fields read in human output: the tables of `co status`, `co agent
// list` and `co worker list`, and the detail of `co agent show`. Every accessor tolerates a
// missing or null field ("-"), so an older or newer daemon never crashes the client.
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace vermas::client {

using json = nlohmann::json;

// A field as text: strings as they are, numbers and booleans printed, null or missing "-".
std::string field(const json& obj, const char* key, const std::string& missing = "-");
// obj[key] without a copy (json::value() copies: a deep copy of 200 agents), null when absent.
const json& member(const json& obj, const char* key);
// A count such as restart_count; 0 when missing.
long long count_of(const json& obj, const char* key);
// "12s ago" for an RFC 3339 time, "-" for null or unreadable.
std::string age_since(const json& rfc3339);
// "3m" for a number of seconds, "-" for null.
std::string duration_text(const json& seconds);
// "$1.25"
std::string money(double dollars);
// An agent's cpu_percent as "3.2%", "-" for null (no live process).
std::string cpu_text(const json& percent);
// rss_bytes as "14.1M" (powers of 1024, like top), "-" for null.
std::string bytes_text(const json& bytes);

// "running", or "backoff (exit)" / "failed (start_limit)": the reason when not running.
std::string agent_status(const json& agent);
// One line after an action: "myproject/supervisor: running, pid 1234".
std::string agent_summary(const json& agent);

enum class Col { id, role, status, pid, cpu, rss, uptime, restarts, heartbeat, work_order, spend, activity };
// A table of agents with the given columns; `empty_text` when there are none.
void print_agents(std::ostream& out, const json& agents, std::initializer_list<Col> cols,
                  const std::string& indent = "", const std::string& empty_text = "no agents");
// Every field of one agent, one per line.
void print_agent_detail(std::ostream& out, const json& agent);

}  // namespace vermas::client
