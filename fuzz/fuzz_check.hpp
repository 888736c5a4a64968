// A failed property in a fuzz target: print it and abort, so libFuzzer saves the input.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#define FUZZ_CHECK(cond)                                                             \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

namespace fuzz {

inline bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Scratch output for re-encoding; large enough for anything a 64 KB input decodes to.
struct Scratch {
  std::array<std::uint8_t, 1 << 17> a;
  std::array<std::uint8_t, 1 << 17> b;
};

}  // namespace fuzz
