#pragma once
// Restoring a backup, with the daemon stopped: `co restore FILE` runs
// `vermas-operations --restore FILE`, which holds the pid file's lock throughout, so no
// daemon can start (or be running) meanwhile. Nothing is changed until the whole archive
// has been checked: the manifest, every file's size and SHA-256, the database's
// quick_check and its highest event id. The state it replaces is kept under
// .work/pre-restore-<stamp>/ in the root's layout. The next start re-adopts the agents
// that still run and marks the others lost, as after any restart.
#include <filesystem>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "common/paths.hpp"

namespace vermas::backup {

class RestoreError : public std::runtime_error {
 public:
  // kind: "running" (the daemon holds the root), "invalid" (the archive failed a check:
  // nothing changed), "io" (reading or moving files failed)
  RestoreError(std::string kind, const std::string& message)
      : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

// {restored, created_at, highest_event_id, checkpoint_event_id, schema_version, files,
// pre_restore_dir, moved_aside}
nlohmann::json restore_backup(const Paths& paths, const std::filesystem::path& archive);

}  // namespace vermas::backup
