#pragma once
// R/.work/operations.pid, held with flock for the daemon's lifetime: a second daemon on
// the same root fails to lock it; a daemon killed with -9 releases it with its death.
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>

namespace vermas {

class PidFile {
 public:
  // Locks and writes our pid. On failure returns nullopt and sets `error`.
  static std::optional<PidFile> acquire(const std::filesystem::path& file, std::string& error);
  // The pid recorded by whoever holds the lock; nullopt when nobody holds it.
  static std::optional<pid_t> holder(const std::filesystem::path& file);

  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  ~PidFile();
  void release();  // unlinks the file while still holding the lock, then closes

 private:
  PidFile(std::filesystem::path file, int fd) : file_(std::move(file)), fd_(fd) {}
  std::filesystem::path file_;
  int fd_ = -1;
};

}  // namespace vermas
