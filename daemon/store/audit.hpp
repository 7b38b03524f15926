#pragma once
// The audit export (spec §6 audit.export; the runbook's audit export, which silently stopped
// at 10,000): every event whose time is in [since, until), in id order, archived days
// included, a page at a time. The cursor is the last event id of a page, so memory stays
// bounded whatever the range, and a page of archived events costs a seek, not a re-read:
// archive files are in id order, so the first line after the cursor is found by bisection.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/store.hpp"

namespace vermas::audit {

struct Page {
  nlohmann::json events = nlohmann::json::array();  // oldest first
  std::optional<std::int64_t> next_after_id;        // none: the range is done
};

inline constexpr int kMaxPage = 5000;

// `since` inclusive, `until` exclusive (RFC 3339 UTC, as events store them).
Page page(const Store& store, const std::filesystem::path& archive_dir, const std::string& since,
          const std::string& until, std::int64_t after_id, int limit);

}  // namespace vermas::audit
