#include <string>
#include <vector>

#include "daemon/rpc/line_framer.hpp"
#include "tests/catch.hpp"

using vermas::LineFramer;
using Kind = LineFramer::Frame::Kind;

namespace {

// Everything the framer yields for `chunks` fed one after another: lines as text, a
// too-long line as "<too long>".
std::vector<std::string> frames(std::size_t max_line, const std::vector<std::string>& chunks) {
  LineFramer f(max_line);
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    f.append(c);
    for (auto fr = f.next(); fr.kind != Kind::none; fr = f.next())
      out.push_back(fr.kind == Kind::line ? std::string(fr.text) : "<too long>");
  }
  return out;
}

}  // namespace

TEST_CASE("line framer: lines split on newline, across and within reads", "[framer]") {
  using V = std::vector<std::string>;
  CHECK(frames(100, {"a\nb\n"}) == V{"a", "b"});
  CHECK(frames(100, {"a", "b", "c\n"}) == V{"abc"});
  CHECK(frames(100, {"ab\ncd", "\n\n"}) == V{"ab", "cd", ""});
  CHECK(frames(100, {"no newline"}).empty());
  CHECK(frames(100, {std::string("a\0b\n", 4)}) == V{std::string("a\0b", 3)});  // NUL is the decoder's business
}

TEST_CASE("line framer: a line of exactly max_line is a line, one byte more is too long, once", "[framer]") {
  using V = std::vector<std::string>;
  CHECK(frames(4, {"abcd\n"}) == V{"abcd"});
  CHECK(frames(4, {"abcde\nok\n"}) == V{"<too long>", "ok"});
  // Arriving in pieces: reported as soon as it passes the limit, its tail dropped up to the
  // newline, then framing resumes.
  CHECK(frames(4, {"abc", "de", "fgh", "ij\nok\n"}) == V{"<too long>", "ok"});
  CHECK(frames(4, {"abcdefgh", "ijkl", "\n", "ok\n"}) == V{"<too long>", "ok"});
}

TEST_CASE("line framer: partial() tells a begun line, and the buffer stays bounded", "[framer]") {
  LineFramer f(8);
  CHECK(!f.partial());
  f.append("ab");
  CHECK(f.next().kind == Kind::none);
  CHECK(f.partial());
  f.append("c\n");
  auto fr = f.next();
  REQUIRE(fr.kind == Kind::line);
  CHECK(fr.text == "abc");
  CHECK(f.next().kind == Kind::none);
  CHECK(!f.partial());
  // An endless line: never more than max_line plus one read is held.
  for (int i = 0; i < 1000; ++i) {
    f.append("0123456789");
    while (f.next().kind != Kind::none) {
    }
    CHECK(f.buffered() <= 8 + 10);
    CHECK(f.partial());  // still inside the dropped line
  }
  f.append("\n");
  CHECK(f.next().kind == Kind::none);
  CHECK(!f.partial());
}
