#pragma once
// co doctor's verdicts as pure rules (tests/unit/test_doctor_rules.cpp): versions, modes,
// socket path length, free space, the exit code and the two renderings. cmd_doctor.cpp
// gathers the facts (files, processes, the daemon) and hands them here.
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vermas::client::doctor {

enum class Status { ok, warn, fail, skip };
const char* to_string(Status s);

struct Check {
  std::string name;
  Status status = Status::ok;
  std::string detail;
  std::string fix;  // what to do, for warn and fail
};

// The first "X.Y" or "X.Y.Z" in a version banner ("git version 2.39.5", "tmux 3.3a").
std::optional<std::array<int, 3>> parse_version(std::string_view banner);
bool at_least(const std::array<int, 3>& have, const std::array<int, 3>& want);

// A program's version against its minimum: fail when older or unreadable.
Check version_check(const std::string& name, const std::string& banner, const std::array<int, 3>& minimum,
                    const std::string& fix);

// The socket: readable and writable by its owner only (others are refused by SO_PEERCRED
// anyway, but a looser mode is a mistake to fix). "" when fine, else what is wrong.
std::string socket_mode_problem(mode_t mode);
// .work/ holds the socket, the database and agents' assignment files: never world-writable.
std::string work_dir_mode_problem(mode_t mode);

constexpr std::size_t kMaxSocketPath = 107;  // sockaddr_un's sun_path, less its NUL
constexpr std::uint64_t kLowDiskBytes = 1ull << 30;
Check disk_check(std::uint64_t free_bytes, const std::string& where);

// 1 when any check failed; warnings alone exit 0.
int exit_code(const std::vector<Check>& checks);
// One line per check: "✔ name: detail", "! name: detail" / "✘ name: detail" with "  fix: ...".
std::string render(const std::vector<Check>& checks);
nlohmann::json to_json(const std::vector<Check>& checks);

}  // namespace vermas::client::doctor
