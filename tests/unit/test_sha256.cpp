// SHA-256 (daemon/backup/sha256.hpp) against the FIPS 180-4 examples, lengths at the padding's
// edges (55/56 bytes: one block or two; 63/64/65; 119/120) computed with Python's hashlib, and
// the same digest whatever pieces the input comes in.
#include <string>

#include "daemon/backup/sha256.hpp"
#include "tests/catch.hpp"

namespace {

std::string sha256_of(const std::string& s) {
  vermas::Sha256 d;
  d.update(s);
  return d.hex();
}

// Bytes (i*7+3) mod 256, as the hashlib figures were made.
std::string sha_pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 3) % 256);
  return s;
}

}  // namespace

TEST_CASE("sha256: the FIPS 180-4 examples", "[sha256]") {
  CHECK(sha256_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopq"
                  "rstnopqrstu") == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(sha256_of(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: lengths at the edges of the padding", "[sha256]") {
  CHECK(sha256_of(sha_pattern(55)) == "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b");
  CHECK(sha256_of(sha_pattern(56)) == "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27");
  CHECK(sha256_of(sha_pattern(63)) == "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055");
  CHECK(sha256_of(sha_pattern(64)) == "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241");
  CHECK(sha256_of(sha_pattern(65)) == "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e");
  CHECK(sha256_of(sha_pattern(119)) == "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e");
  CHECK(sha256_of(sha_pattern(120)) == "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5");
}

TEST_CASE("sha256: the digest does not depend on how the input is cut", "[sha256]") {
  const std::string input = sha_pattern(1000);
  const std::string whole = sha256_of(input);
  for (std::size_t piece : {1u, 3u, 63u, 64u, 65u, 200u}) {
    vermas::Sha256 d;
    for (std::size_t at = 0; at < input.size(); at += piece) d.update(input.substr(at, piece));
    CHECK(d.hex() == whole);
  }
}
