#pragma once
// The work-order model of spec §5, shared by the daemon (which enforces it) and the client
// (which validates input before any call): statuses, types, priorities, id syntax and the
// one transition table that every change of status goes through.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vermas::wo {

enum class Status { open, assigned, in_progress, review, needs_approval, blocked, failed, done, canceled };

inline constexpr std::array<Status, 9> kStatuses = {Status::open,           Status::assigned, Status::in_progress,
                                                    Status::review,         Status::needs_approval,
                                                    Status::blocked,        Status::failed,   Status::done,
                                                    Status::canceled};
inline constexpr std::array<std::string_view, 9> kStatusNames = {
    "open", "assigned", "in_progress", "review", "needs_approval", "blocked", "failed", "done", "canceled"};
inline constexpr std::array<std::string_view, 4> kTypes = {"bug", "feature", "task", "chore"};
inline constexpr int kMinPriority = 0;  // highest
inline constexpr int kMaxPriority = 4;
inline constexpr int kDefaultPriority = 2;

const char* to_string(Status s);
std::optional<Status> parse_status(std::string_view text);
bool valid_type(std::string_view text);

// The table of spec §5. Terminal statuses allow nothing.
bool transition_allowed(Status from, Status to);
std::vector<Status> allowed_from(Status from);
bool terminal(Status s);
// A worker in a slot holds the work order in these statuses; any other status frees the
// slot (review, done, canceled, failed, open).
bool held_by_worker(Status s);

// `<prefix>-<6+ lowercase alphanumerics>`, prefix [a-z0-9]{1,16}.
bool valid_id(std::string_view id);
bool valid_prefix(std::string_view prefix);
// A fresh id from `random_bits` (the caller owns the randomness: the reducer never draws).
std::string make_id(const std::string& prefix, unsigned long long random_bits, int length = 6);

// A work order as the daemon's core holds it: spec §5's fields and the counters the API shows.
// JSON only at the edges (to_json for an answer, from_json for a stored idempotent answer).
struct WorkOrder {
  std::string id;
  std::string title;
  std::string description;
  std::string type;
  std::int64_t priority = kDefaultPriority;
  // As stored. A record imported from a sync branch may name a status this build does not
  // know; status() is the typed view, nullopt then.
  std::string status_text = "open";
  std::optional<std::string> factory;
  std::optional<std::string> assignee;
  std::string created_at;
  std::string updated_at;
  nlohmann::json artifacts = nlohmann::json::array();  // free-form (paths, links): as recorded
  std::int64_t transitions = 0;
  std::int64_t review_cycles = 0;

  std::optional<Status> status() const { return parse_status(status_text); }
  bool in_factory(const std::optional<std::string>& f) const { return factory == f; }
};

// The API's shape (spec §5 plus transitions and review_cycles); the keys are fixed: stored
// idempotent answers are compared byte for byte by rebuild-projections.
nlohmann::json to_json(const WorkOrder& w);
std::optional<WorkOrder> from_json(const nlohmann::json& j);

}  // namespace vermas::wo
