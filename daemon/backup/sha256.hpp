#pragma once
// SHA-256 (FIPS 180-4), for backup manifests. Written here rather than linked from
// libcrypto: none of the project's listed libraries has it, and libcrypto, mapped into the
// daemon for this one function, cost 0.47 MiB of every daemon's resident set (0.40 MiB of it
// anonymous: its relocated data), more than a tenth of the whole. The test vectors of FIPS
// 180-4 and a comparison with coreutils' sha256sum check it (tests/unit/test_sha256.cpp).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vermas {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest; the object is spent afterwards.
  std::array<std::uint8_t, 32> finish();
  // finish() as lowercase hex.
  std::string hex();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t used_ = 0;     // bytes in buf_
  std::uint64_t length_ = 0;  // bytes hashed
};

}  // namespace vermas
