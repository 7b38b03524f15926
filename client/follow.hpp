#pragma once
// Reading and following log files on this machine, like `tail -n N` and `tail -F`: the
// daemon's log and the agents' output.log are plain files beside the socket, so `co` reads
// them directly instead of streaming them through the daemon.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vermas::client {

struct Tail {
  std::vector<std::string> lines;  // the last complete lines, oldest first
  std::uint64_t end = 0;           // the offset just after the last complete line
};

// The last `n` complete lines of `file`, read from its end (the file may be large); nullopt
// when it cannot be opened. A trailing partial line is left for follow_file to finish.
std::optional<Tail> last_lines(const std::filesystem::path& file, int n);

// Calls `on_line` for every complete line appended to `file` after `offset`, as it is written;
// never returns. Like `tail -F`: waits for the file to appear, starts over when it is
// truncated, and when it is replaced (rotation) finishes the old file and opens the new one.
// Wakes on inotify, with a short poll as the fallback.
[[noreturn]] void follow_file(const std::filesystem::path& file, std::uint64_t offset,
                              const std::function<void(const std::string&)>& on_line);

}  // namespace vermas::client
