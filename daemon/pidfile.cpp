#include "daemon/pidfile.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vermas {

namespace {
std::optional<pid_t> read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  char* end = nullptr;
  long v = std::strtol(buf, &end, 10);
  if (end == buf || v <= 0) return std::nullopt;
  return static_cast<pid_t>(v);
}
}  // namespace

std::optional<PidFile> PidFile::acquire(const std::filesystem::path& file, std::string& error) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + file.string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    auto pid = read_pid(fd);
    ::close(fd);
    if (err == EWOULDBLOCK)
      error = "another vermas-operations" + (pid ? " (pid " + std::to_string(*pid) + ")" : std::string()) +
              " is already running on this company root (lock held on " + file.string() + ")";
    else
      error = "cannot lock " + file.string() + ": " + std::strerror(err);
    return std::nullopt;
  }
  std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    error = "cannot write " + file.string() + ": " + std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  return PidFile(file, fd);
}

std::optional<pid_t> PidFile::holder(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<pid_t> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) pid = read_pid(fd).value_or(-1);
  ::close(fd);  // closing drops our shared lock if we got it
  return pid;
}

PidFile::PidFile(PidFile&& other) noexcept : file_(std::move(other.file_)), fd_(other.fd_) { other.fd_ = -1; }

PidFile::~PidFile() { release(); }

void PidFile::release() {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace vermas
