#pragma once
// The work-order model of spec §5, shared by the daemon (which enforces it) and the client
// (which validates input before any call): statuses, types, priorities, id syntax and the
// one transition table that every change of status goes through.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace vermas::wo
