#pragma once
// R/.work/feed.jsonl: every event as one compact JSON line, rotated by size. A best-effort
// mirror of the events table (the database is the truth): write errors never throw, they
// make append()/flush() return false and are kept in last_error(). Not thread-safe; one owner.
//
// Lines can be gathered (add) and written together (flush): the events one group commit
// makes durable go out in one stat and one write instead of two syscalls each, which were
// a tenth of a wo.create's system calls.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace vermas {

class FeedWriter {
 public:
  // max_bytes 0 = never rotate; keep = rotated files kept (feed.jsonl.1 .. .keep).
  FeedWriter(std::filesystem::path file, std::uint64_t max_bytes, int keep);
  ~FeedWriter();
  FeedWriter(const FeedWriter&) = delete;
  FeedWriter& operator=(const FeedWriter&) = delete;

  // One line, one write(2) on an O_APPEND fd. Rotates first when the line would push the
  // file over max_bytes; reopens when the file was deleted or moved by someone else.
  bool append(const nlohmann::json& event_json);
  // Gathers a line for the next flush(); false if it cannot be serialised (out of memory).
  bool add(const nlohmann::json& event_json);
  // The gathered lines in one write(2), rotating first as append() does; nothing gathered
  // stays behind. `written` (if given) is how many of them are whole in the file.
  bool flush(std::size_t* written = nullptr);
  bool gathered() const { return lines_ > 0; }
  // After a crash: ends a torn last line (a write cut short) so the next line parses on its
  // own, and returns the id of the last whole event in the feed (its rotated files too);
  // nullopt when there is none. The journal appends what the store has after it.
  std::optional<std::int64_t> recover();
  void set_limits(std::uint64_t max_bytes, int keep);
  std::filesystem::path path() const { return file_; }
  const std::string& last_error() const { return last_error_; }

 private:
  bool open_file();
  void close_file();
  bool rotate();
  std::filesystem::path numbered(int i) const;
  bool error(const std::string& what, int err);

  std::filesystem::path file_;
  std::uint64_t max_bytes_;
  int keep_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::string last_error_;
  std::string pending_;    // gathered lines, each ending in '\n'
  std::size_t lines_ = 0;  // how many
};

}  // namespace vermas
