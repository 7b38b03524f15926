#include "daemon/store/feed.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
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

std::filesystem::path FeedWriter::numbered(int i) const {
  return i == 0 ? file_ : std::filesystem::path(file_.string() + "." + std::to_string(i));
}

bool FeedWriter::rotate() {
  // feed.jsonl.(keep-1) -> .keep, ..., feed.jsonl -> .1; rename() replaces the oldest.
  close_file();
  if (keep_ == 0) {
    if (::unlink(file_.c_str()) != 0 && errno != ENOENT) return error("unlink for rotation", errno);
    return open_file();
  }
  for (int i = keep_ - 1; i >= 1; --i)
    if (::rename(numbered(i).c_str(), numbered(i + 1).c_str()) != 0 && errno != ENOENT)
      return error("rotate " + numbered(i).string(), errno);
  if (::rename(file_.c_str(), numbered(1).c_str()) != 0 && errno != ENOENT) return error("rotate", errno);
  return open_file();
}

bool FeedWriter::append(const nlohmann::json& event_json) {
  return add(event_json) && flush();
}

bool FeedWriter::add(const nlohmann::json& event_json) {
  const std::size_t before = pending_.size();
  try {
    pending_ += event_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    pending_ += '\n';
  } catch (const std::exception& e) {  // bad_alloc and the like: still never throw
    pending_.resize(before);
    last_error_ = std::string("feed: serialising an event: ") + e.what();
    return false;
  }
  ++lines_;
  return true;
}

bool FeedWriter::flush(std::size_t* written) {
  if (written) *written = 0;
  if (lines_ == 0) return true;
  std::string out;
  out.swap(pending_);
  const std::size_t lines = lines_;
  lines_ = 0;

  // One stat per write: gone or replaced (logrotate, rm) means reopen; it also gives the size.
  struct stat st {};
  bool same = fd_ >= 0 && ::stat(file_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
  if (!same) {
    if (!open_file()) return false;
    if (::fstat(fd_, &st) != 0) return error("fstat", errno);
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  // An empty file is never rotated, so a line longer than max_bytes is still written.
  if (max_bytes_ > 0 && size > 0 && size + out.size() > max_bytes_ && !rotate()) return false;

  ssize_t n;
  do n = ::write(fd_, out.data(), out.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return error("write", errno);
  if (static_cast<std::size_t>(n) != out.size()) {
    // Short write (disk full): end the fragment so the next line still parses on its own.
    const std::size_t whole = static_cast<std::size_t>(std::count(out.begin(), out.begin() + n, '\n'));
    if (n > 0 && out[static_cast<std::size_t>(n) - 1] != '\n') [[maybe_unused]] ssize_t ignored = ::write(fd_, "\n", 1);
    if (written) *written = whole;
    last_error_ = "feed " + file_.string() + ": short write (" + std::to_string(n) + " of " +
                  std::to_string(out.size()) + " bytes)";
    return false;
  }
  if (written) *written = lines;
  return true;
}

namespace {

// The id of the last line of `fd` (size bytes) that parses as an event, reading backwards
// in blocks; lines are at most ~1 MiB, so 8 MiB back without one means there is none.
std::optional<std::int64_t> last_event_id_in(int fd, off_t size) {
  constexpr off_t kBlock = 64 * 1024, kMaxBack = 8 << 20;
  std::string tail;     // the bytes from `pos` to the end of the file
  std::size_t end = 0;  // lines of `tail` from here on were tried already
  off_t pos = size;
  while (pos > 0 && size - pos < kMaxBack) {
    off_t n = std::min(kBlock, pos);
    pos -= n;
    std::string block(static_cast<std::size_t>(n), '\0');
    if (::pread(fd, block.data(), block.size(), pos) != n) return std::nullopt;
    tail.insert(0, block);
    end += static_cast<std::size_t>(n);
    for (;;) {
      std::size_t nl = end == 0 ? std::string::npos : tail.rfind('\n', end - 1);
      if (nl == std::string::npos && pos > 0) break;  // its start is further back
      std::size_t begin = nl == std::string::npos ? 0 : nl + 1;
      auto j = nlohmann::json::parse(tail.begin() + static_cast<std::ptrdiff_t>(begin),
                                     tail.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"].is_number_integer()) return j["id"].get<std::int64_t>();
      if (nl == std::string::npos) return std::nullopt;  // the file's first line
      end = nl;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> FeedWriter::recover() {
  for (int i = 0; i <= keep_; ++i) {  // the live file first, then .1 (newest) .. .keep
    int fd = ::open(numbered(i).c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    std::optional<std::int64_t> id;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      char last = '\n';
      if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
        // A line cut short by a crash: end it, so the line appended next parses on its own.
        if (::write(fd, "\n", 1) == 1) ++st.st_size;
      }
      id = last_event_id_in(fd, st.st_size);
    }
    ::close(fd);
    if (id) return id;
  }
  return std::nullopt;
}

}  // namespace vermas
