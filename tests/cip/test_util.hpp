// Helpers shared by the cip/ tests: hex dumps for readable failures, encoding into a scratch
// buffer, and the truncation sweep.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "cip/bytes.hpp"

namespace cip_test {

inline std::string hex(std::span<const std::uint8_t> b) {
  std::string s;
  char buf[4];
  for (std::size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02X", b[i]);
    if (i) s += ' ';
    s += buf;
  }
  return s;
}

// Runs `f(Writer&)` on a fresh 2 KB buffer; the encoding must succeed.
template <class F>
std::vector<std::uint8_t> encoded(F f) {
  std::array<std::uint8_t, 2048> buf{};
  cip::Writer w(buf);
  f(w);
  if (!w.ok()) FAIL("encode failed: " << cip::to_string(w.error()));
  auto out = w.written();
  return {out.begin(), out.end()};
}

// Every strict prefix of a valid, self-delimiting message must decode to an error value.
template <class Decode>
void rejects_every_truncation(std::span<const std::uint8_t> msg, Decode decode) {
  REQUIRE(decode(msg));  // the whole message is valid
  for (std::size_t n = 0; n < msg.size(); ++n) {
    // A copy of exactly n bytes, so ASan catches any read past the prefix.
    std::vector<std::uint8_t> prefix(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = decode(std::span<const std::uint8_t>(prefix));
    CHECK_MESSAGE(!r, "a prefix of " << n << " of " << msg.size() << " bytes was accepted");
  }
}

// An encoder must report buffer_too_small, never write past, for every short buffer.
template <class F>
void fails_cleanly_on_short_buffers(std::size_t full_size, F f) {
  for (std::size_t n = 0; n < full_size; ++n) {
    std::vector<std::uint8_t> buf(n);
    cip::Writer w(buf);
    f(w);
    CHECK_MESSAGE(!w.ok(), "encode fit in " << n << " of " << full_size << " bytes");
    if (!w.ok()) CHECK(w.error().code == cip::Errc::buffer_too_small);
  }
}

}  // namespace cip_test
