// fuzz_framer: vermas::LineFramer (daemon/rpc/line_framer.hpp) fed a byte stream in chunks.
//
// Input layout: byte 0 picks max_line (0..47); byte 1 picks how many chunk sizes follow
// (1..8); those bytes are the chunk sizes (0..64, cycled; 0 is an empty append()); the
// rest is the stream. After each append() the harness calls next() until it returns none,
// as the connection's reader does.
//
// Invariants (a violation prints what and where, then __builtin_trap()):
//  - Right after an append(), buffered() <= max_line + that chunk's size (bounded memory,
//    whatever the peer sends); after draining, buffered() <= max_line.
//  - Every line returned holds no '\n' and is at most max_line bytes.
//  - The frames equal a reference splitter's: for each '\n'-terminated line of the whole
//    stream, in order, the line itself if it is <= max_line, else exactly one too_long;
//    and one too_long for an unterminated tail longer than max_line. So no line is lost,
//    split, merged or reordered, whatever the chunking, and too-long lines are reported
//    exactly once each.
//  - partial() is true exactly when the stream so far ends inside a line (some bytes
//    after the last '\n'), and buffered() is then that line's length, or 0 once it is
//    past max_line and being dropped.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/rpc/line_framer.hpp"

namespace {

using Kind = vermas::LineFramer::Frame::Kind;

struct Frame {
  Kind kind;
  std::string text;
  bool operator==(const Frame& o) const { return kind == o.kind && text == o.text; }
};

std::string show(const std::vector<Frame>& frames, std::size_t around) {
  std::string out;
  const std::size_t from = around > 3 ? around - 3 : 0;
  for (std::size_t i = from; i < frames.size() && i < around + 3; ++i) {
    out += "    [" + std::to_string(i) + "] ";
    out += frames[i].kind == Kind::line ? "line \"" + frames[i].text.substr(0, 80) + "\"" : "too_long";
    out += "\n";
  }
  return out;
}

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\nfuzz_framer: INVARIANT VIOLATED: %s\n%s\n", what, detail.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max_line = data[0] % 48;
  const std::size_t n_sizes = 1 + data[1] % 8;
  if (size < 2 + n_sizes) return 0;
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < n_sizes; ++i) sizes.push_back(data[2 + i] % 65);
  if (std::all_of(sizes.begin(), sizes.end(), [](std::size_t s) { return s == 0; })) sizes[0] = 1;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2 + n_sizes, size - 2 - n_sizes);

  // The reference: split the whole stream at '\n'.
  std::vector<Frame> expected;
  std::size_t start = 0;
  for (std::size_t nl; (nl = stream.find('\n', start)) != std::string_view::npos; start = nl + 1) {
    const std::string_view line = stream.substr(start, nl - start);
    if (line.size() <= max_line) expected.push_back({Kind::line, std::string(line)});
    else expected.push_back({Kind::too_long, {}});
  }
  if (stream.size() - start > max_line) expected.push_back({Kind::too_long, {}});

  vermas::LineFramer framer(max_line);
  std::vector<Frame> got;
  std::size_t pos = 0, turn = 0;
  std::size_t line_start = 0;  // where the line being received began in the stream
  while (pos < stream.size()) {
    const std::size_t chunk = std::min(sizes[turn++ % sizes.size()], stream.size() - pos);
    framer.append(stream.substr(pos, chunk));
    pos += chunk;
    if (framer.buffered() > max_line + chunk)
      violated("buffered() past max_line + chunk after append()",
               "  buffered " + std::to_string(framer.buffered()) + ", max_line " + std::to_string(max_line) +
                   ", chunk " + std::to_string(chunk));
    for (int guard = 0;; ++guard) {
      auto f = framer.next();
      if (f.kind == Kind::none) break;
      if (guard > 100000) violated("next() never returns none", "");
      if (f.kind == Kind::line) {
        if (f.text.find('\n') != std::string_view::npos) violated("a line holds a newline", std::string(f.text));
        if (f.text.size() > max_line)
          violated("a line longer than max_line", "  " + std::to_string(f.text.size()) + " > " + std::to_string(max_line));
      }
      got.push_back({f.kind, std::string(f.text)});
      const std::size_t i = got.size() - 1;
      if (i >= expected.size() || !(got[i] == expected[i]))
        violated("frames differ from the reference splitter",
                 "  max_line " + std::to_string(max_line) + ", after " + std::to_string(pos) + " bytes, frame " +
                     std::to_string(i) + "\n  got:\n" + show(got, i) + "  expected:\n" + show(expected, i));
    }
    const std::size_t last_nl = stream.substr(0, pos).rfind('\n');
    line_start = last_nl == std::string_view::npos ? 0 : last_nl + 1;
    const std::size_t current = pos - line_start;  // bytes of the line being received
    if (framer.partial() != (current > 0))
      violated("partial() is wrong", "  partial " + std::to_string(framer.partial()) + ", bytes in the current line " +
                                         std::to_string(current));
    const std::size_t want_buffered = current > max_line ? 0 : current;
    if (framer.buffered() != want_buffered)
      violated("buffered() after draining is wrong",
               "  buffered " + std::to_string(framer.buffered()) + ", expected " + std::to_string(want_buffered) +
                   " (current line " + std::to_string(current) + ", max_line " + std::to_string(max_line) + ")");
  }
  if (got.size() != expected.size())
    violated("frame count differs from the reference splitter",
             "  got " + std::to_string(got.size()) + ", expected " + std::to_string(expected.size()) + "\n  expected:\n" +
                 show(expected, got.size()));
  return 0;
}
