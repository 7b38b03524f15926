#include "daemon/feed.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace vermas {

FeedWriter::FeedWriter(std::filesystem::path file, std::uint64_t max_bytes, int keep)
    : file_(std::move(file)), max_bytes_(max_bytes), keep_(keep < 0 ? 0 : keep) {}

FeedWriter::~FeedWriter() { close_file(); }

void FeedWriter::set_limits(std::uint64_t max_bytes, int keep) {
  max_bytes_ = max_bytes;
  keep_ = keep < 0 ? 0 : keep;
}

bool FeedWriter::error(const std::string& what, int err) {
  last_error_ = "feed " + file_.string() + ": " + what + ": " + std::strerror(err);
  return false;
}

void FeedWriter::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool FeedWriter::open_file() {
  close_file();
  if (file_.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file_.parent_path(), ec);
  }
  int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error("open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return error("fstat", err);
  }
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  return true;
}

bool FeedWriter::rotate() {
  // feed.jsonl.(keep-1) -> .keep, ..., feed.jsonl -> .1; rename() replaces the oldest.
  auto numbered = [&](int i) { return file_.string() + "." + std::to_string(i); };
  close_file();
  if (keep_ == 0) {
    if (::unlink(file_.c_str()) != 0 && errno != ENOENT) return error("unlink for rotation", errno);
    return open_file();
  }
  for (int i = keep_ - 1; i >= 1; --i)
    if (::rename(numbered(i).c_str(), numbered(i + 1).c_str()) != 0 && errno != ENOENT)
      return error("rotate " + numbered(i), errno);
  if (::rename(file_.c_str(), numbered(1).c_str()) != 0 && errno != ENOENT) return error("rotate", errno);
  return open_file();
}

bool FeedWriter::append(const nlohmann::json& event_json) {
  std::string line;
  try {
    line = event_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {  // bad_alloc and the like: still never throw
    last_error_ = std::string("feed: serialising an event: ") + e.what();
    return false;
  }
  line += '\n';

  // One stat per append: gone or replaced (logrotate, rm) means reopen; it also gives the size.
  struct stat st {};
  bool same = fd_ >= 0 && ::stat(file_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
  if (!same) {
    if (!open_file()) return false;
    if (::fstat(fd_, &st) != 0) return error("fstat", errno);
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  // An empty file is never rotated, so a line longer than max_bytes is still written.
  if (max_bytes_ > 0 && size > 0 && size + line.size() > max_bytes_ && !rotate()) return false;

  ssize_t n;
  do n = ::write(fd_, line.data(), line.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return error("write", errno);
  if (static_cast<std::size_t>(n) != line.size()) {
    // Short write (disk full): end the fragment so the next line still parses on its own.
    [[maybe_unused]] ssize_t ignored = ::write(fd_, "\n", 1);
    last_error_ = "feed " + file_.string() + ": short write (" + std::to_string(n) + " of " +
                  std::to_string(line.size()) + " bytes)";
    return false;
  }
  return true;
}

}  // namespace vermas
