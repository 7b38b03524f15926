#include "client/doctor_rules.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace vermas::client::doctor {

const char* to_string(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::warn: return "warn";
    case Status::fail: return "fail";
    case Status::skip: return "skip";
  }
  return "?";
}

std::optional<std::array<int, 3>> parse_version(std::string_view banner) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < banner.size(); ++i) {
    if (!digit(banner[i]) || (i > 0 && (digit(banner[i - 1]) || banner[i - 1] == '.'))) continue;
    std::array<int, 3> v{0, 0, 0};
    std::size_t j = i;
    int parts = 0;
    while (parts < 3 && j < banner.size() && digit(banner[j])) {
      int n = 0;
      while (j < banner.size() && digit(banner[j]) && n < 100000) n = n * 10 + (banner[j++] - '0');
      v[static_cast<std::size_t>(parts++)] = n;
      if (j + 1 < banner.size() && banner[j] == '.' && digit(banner[j + 1])) ++j;
      else break;
    }
    if (parts >= 2) return v;
  }
  return std::nullopt;
}

bool at_least(const std::array<int, 3>& have, const std::array<int, 3>& want) { return have >= want; }

namespace {
std::string dotted(const std::array<int, 3>& v) {
  return std::to_string(v[0]) + "." + std::to_string(v[1]) + (v[2] ? "." + std::to_string(v[2]) : "");
}
}  // namespace

Check version_check(const std::string& name, const std::string& banner, const std::array<int, 3>& minimum,
                    const std::string& fix) {
  Check c{name, Status::ok, "", ""};
  const auto v = parse_version(banner);
  if (!v) {
    c.status = Status::fail;
    c.detail = banner.empty() ? "not found" : "cannot read its version from '" + banner + "'";
    c.fix = fix;
  } else if (!at_least(*v, minimum)) {
    c.status = Status::fail;
    c.detail = dotted(*v) + " is older than " + dotted(minimum);
    c.fix = fix;
  } else {
    c.detail = dotted(*v) + " (>= " + dotted(minimum) + ")";
  }
  return c;
}

std::string socket_mode_problem(mode_t mode) {
  if ((mode & 0777) == 0600) return {};
  char buf[64];
  std::snprintf(buf, sizeof buf, "mode %04o, not 0600", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string work_dir_mode_problem(mode_t mode) {
  if (!(mode & S_IWOTH)) return {};
  char buf[64];
  std::snprintf(buf, sizeof buf, "world-writable (mode %04o)", static_cast<unsigned>(mode & 07777));
  return buf;
}

Check disk_check(std::uint64_t free_bytes, const std::string& where) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GiB free", static_cast<double>(free_bytes) / static_cast<double>(1ull << 30));
  Check c{"disk space", Status::ok, std::string(buf) + " on " + where, ""};
  if (free_bytes < kLowDiskBytes) {
    c.status = Status::warn;
    c.fix = "free space on that filesystem: the event log, logs and worktrees grow there (co events archive, co backup "
            "to another disk)";
  }
  return c;
}

int exit_code(const std::vector<Check>& checks) {
  for (const Check& c : checks)
    if (c.status == Status::fail) return 1;
  return 0;
}

std::string render(const std::vector<Check>& checks) {
  std::string out;
  int failed = 0, warned = 0;
  for (const Check& c : checks) {
    const char* mark = c.status == Status::ok     ? "\u2714"
                       : c.status == Status::fail ? "\u2718"
                       : c.status == Status::warn ? "!"
                                                  : "-";
    out += std::string(mark) + " " + c.name + (c.detail.empty() ? "" : ": " + c.detail) + "\n";
    if (!c.fix.empty() && (c.status == Status::fail || c.status == Status::warn)) out += "    fix: " + c.fix + "\n";
    failed += c.status == Status::fail;
    warned += c.status == Status::warn;
  }
  out += failed ? std::to_string(failed) + " problem(s)" : std::string("no problems");
  if (warned) out += ", " + std::to_string(warned) + " warning(s)";
  return out + "\n";
}

nlohmann::json to_json(const std::vector<Check>& checks) {
  nlohmann::json list = nlohmann::json::array();
  int failed = 0, warned = 0;
  for (const Check& c : checks) {
    list.push_back({{"name", c.name},
                    {"status", to_string(c.status)},
                    {"detail", c.detail},
                    {"fix", c.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.fix)}});
    failed += c.status == Status::fail;
    warned += c.status == Status::warn;
  }
  return {{"ok", failed == 0}, {"failed", failed}, {"warnings", warned}, {"checks", list}};
}

}  // namespace vermas::client::doctor
