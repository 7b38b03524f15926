#pragma once
// Splits a byte stream into newline-terminated lines (spec §6 framing), bounded: a line
// over `max_line` bytes is reported once as too long and its bytes are dropped up to its
// newline, so an endless line never grows the buffer past max_line plus one read.
// Pure and socket-free, so the framing has unit tests and a fuzz target of its own.
#include <cstddef>
#include <string>
#include <string_view>

namespace vermas {

class LineFramer {
 public:
  struct Frame {
    enum class Kind { none, line, too_long } kind = Kind::none;
    std::string_view text;  // the line without '\n'; valid until the next append()
  };

  explicit LineFramer(std::size_t max_line) : max_line_(max_line) {}

  // Adds bytes read from the peer. Call next() until it returns Kind::none first.
  void append(std::string_view bytes);
  // The next complete line, or the news that a line is too long, or none.
  Frame next();
  // A line has begun and not ended (including the tail of a too-long line being dropped):
  // what a per-line read timeout watches.
  bool partial() const { return discarding_ || start_ < buffer_.size(); }
  std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  void compact();

  std::size_t max_line_;
  std::string buffer_;
  std::size_t start_ = 0;    // first byte of buffer_ not yet handed out
  std::size_t scanned_ = 0;  // bytes of buffer_ before this are known to hold no newline
  bool discarding_ = false;  // inside a too-long line: drop bytes up to its newline
};

}  // namespace vermas
