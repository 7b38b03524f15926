#include "daemon/reports/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace vermas {

namespace {

[[noreturn]] void atomic_fail(const std::string& what, const std::filesystem::path& file, int err) {
  throw std::runtime_error(what + " " + file.string() + ": " + std::strerror(err));
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view text, std::optional<mode_t> mode) {
  const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  // Hidden, one per file, and not *.prom: node_exporter never reads a half-written one, and a
  // crash leaves at most this one behind, truncated by the next write.
  const auto tmp = dir / ("." + file.filename().string() + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd < 0) atomic_fail("cannot create", tmp, errno);
  auto failed = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    atomic_fail(what, tmp, err);
  };
  if (mode && ::fchmod(fd, *mode) != 0) failed("cannot chmod");
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failed("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) failed("cannot fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    atomic_fail("cannot close", tmp, err);
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    atomic_fail("cannot rename onto", file, err);
  }
  // The rename itself is durable once the directory is.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace vermas
