#include "client/follow.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace vermas::client {

namespace fs = std::filesystem;

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// pread until the buffer is full or EOF; -1 on error.
ssize_t read_at(int fd, char* buf, std::size_t size, std::uint64_t offset) {
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

// Reads from `pos` to the end, handing out complete lines; the rest waits in `partial`.
void drain(int fd, std::uint64_t& pos, std::string& partial, const std::function<void(const std::string&)>& on_line) {
  char buf[65536];
  for (;;) {
    ssize_t n = read_at(fd, buf, sizeof buf, pos);
    if (n <= 0) return;
    pos += static_cast<std::uint64_t>(n);
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
      on_line(partial.substr(start, nl - start));
    partial.erase(0, start);
  }
}

}  // namespace

std::optional<Tail> last_lines(const fs::path& file, int n) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::nullopt;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // Read backwards until n + 1 newlines are in hand (the last one ends the last line).
  std::string data;
  std::uint64_t start = size;
  const auto wanted = static_cast<std::size_t>(std::max(n, 0)) + 1;
  std::size_t newlines = 0;
  while (start > 0 && newlines < wanted) {
    std::uint64_t chunk = std::min<std::uint64_t>(start, 65536);
    std::string buf(chunk, '\0');
    ssize_t got = read_at(fd.get(), buf.data(), chunk, start - chunk);
    if (got != static_cast<ssize_t>(chunk)) return std::nullopt;
    newlines += static_cast<std::size_t>(std::count(buf.begin(), buf.end(), '\n'));
    data.insert(0, buf);
    start -= chunk;
  }
  Tail tail;
  auto last_nl = data.rfind('\n');
  if (last_nl == std::string::npos) {  // no complete line yet
    tail.end = start;
    return tail;
  }
  tail.end = start + last_nl + 1;
  data.resize(last_nl + 1);
  std::size_t from = 0;
  for (std::size_t nl; (nl = data.find('\n', from)) != std::string::npos; from = nl + 1)
    tail.lines.push_back(data.substr(from, nl - from));
  // The first piece may be the end of a line that began before `start`; keep only n.
  if (tail.lines.size() > static_cast<std::size_t>(std::max(n, 0)))
    tail.lines.erase(tail.lines.begin(), tail.lines.end() - std::max(n, 0));
  return tail;
}

void follow_file(const fs::path& file, std::uint64_t offset, const std::function<void(const std::string&)>& on_line) {
  Fd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  bool watching = false;
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  auto watch = [&] {
    if (watching || inotify.get() < 0) return;
    // The directory, not the file: it also reports the file being created or renamed.
    watching = ::inotify_add_watch(
                   inotify.get(), dir.c_str(),
                   IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB) >= 0;
  };

  Fd fd;
  struct stat opened {};
  std::uint64_t pos = offset;
  bool first_open = true;
  std::string partial;
  for (;;) {
    watch();
    if (fd.get() < 0) {
      fd.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.get() >= 0) {
        ::fstat(fd.get(), &opened);
        if (!first_open) pos = 0;  // a new file: from its start
        first_open = false;
      } else {
        first_open = false;  // it appeared later: read it all
        pos = 0;
      }
    }
    if (fd.get() >= 0) {
      struct stat now {};
      if (::fstat(fd.get(), &now) == 0 && static_cast<std::uint64_t>(now.st_size) < pos) {
        pos = 0;  // truncated: start over
        partial.clear();
      }
      drain(fd.get(), pos, partial, on_line);
      struct stat named {};
      bool replaced =
          ::stat(file.c_str(), &named) != 0 || named.st_ino != opened.st_ino || named.st_dev != opened.st_dev;
      if (replaced) {
        // Rotated or removed: what was written to the old file is already read.
        if (!partial.empty()) on_line(partial);
        partial.clear();
        fd.reset();
        if (::access(file.c_str(), F_OK) == 0) continue;  // the new file is there: read it now
      }
    }
    // Wait for a change: inotify when we have it, else a short poll.
    if (watching) {
      pollfd p{inotify.get(), POLLIN, 0};
      if (::poll(&p, 1, 1000) > 0) {
        alignas(inotify_event) char buf[4096];
        while (::read(inotify.get(), buf, sizeof buf) > 0) {
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace vermas::client
