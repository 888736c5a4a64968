#include "device/decode.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace pm500::device {

namespace detail {

namespace {

// One unaligned load, byte-swapped only on a big-endian host: the compiler turns this into a
// single mov on x86, where the byte-by-byte shift loop it replaced cost ~40 instructions per
// element on the per-datagram path.
template <class U>
U load_le(const std::uint8_t* p) noexcept {
  U v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = std::byteswap(v);
  return v;
}

template <class U>
void store_le(U v, std::uint8_t* p) noexcept {
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Rounds and saturates, so the model can never wrap a value into a plausible-looking one.
template <class I>
I saturate(double v) noexcept {
  if (std::isnan(v)) return 0;
  const double r = std::nearbyint(v);
  if (r <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (r >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(r);
}

}  // namespace

// Inlined into decode()'s element loop (one switch and one load per element).
[[gnu::always_inline]] inline double read_le(WireType t, const std::uint8_t* at) noexcept {
  switch (t) {
    case WireType::SINT:
      return static_cast<std::int8_t>(at[0]);
    case WireType::USINT:
      return at[0];
    case WireType::INT:
      return static_cast<std::int16_t>(load_le<std::uint16_t>(at));
    case WireType::UINT:
      return load_le<std::uint16_t>(at);
    case WireType::DINT:
      return static_cast<std::int32_t>(load_le<std::uint32_t>(at));
    case WireType::UDINT:
      return load_le<std::uint32_t>(at);
    case WireType::LINT:
      return static_cast<double>(static_cast<std::int64_t>(load_le<std::uint64_t>(at)));
    case WireType::ULINT:
      return static_cast<double>(load_le<std::uint64_t>(at));
    case WireType::REAL:
      return std::bit_cast<float>(load_le<std::uint32_t>(at));
    case WireType::LREAL:
      return std::bit_cast<double>(load_le<std::uint64_t>(at));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

double read_element(WireType t, const std::uint8_t* at) noexcept {
  return read_le(t, at);
}

void write_element(WireType t, double v, std::uint8_t* at) noexcept {
  switch (t) {
    case WireType::SINT:
      at[0] = static_cast<std::uint8_t>(saturate<std::int8_t>(v));
      return;
    case WireType::USINT:
      at[0] = saturate<std::uint8_t>(v);
      return;
    case WireType::INT:
      store_le(static_cast<std::uint16_t>(saturate<std::int16_t>(v)), at);
      return;
    case WireType::UINT:
      store_le(saturate<std::uint16_t>(v), at);
      return;
    case WireType::DINT:
      store_le(static_cast<std::uint32_t>(saturate<std::int32_t>(v)), at);
      return;
    case WireType::UDINT:
      store_le(saturate<std::uint32_t>(v), at);
      return;
    case WireType::LINT:
      store_le(static_cast<std::uint64_t>(saturate<std::int64_t>(v)), at);
      return;
    case WireType::ULINT:
      store_le(saturate<std::uint64_t>(v), at);
      return;
    case WireType::REAL:
      store_le(std::bit_cast<std::uint32_t>(static_cast<float>(v)), at);
      return;
    case WireType::LREAL:
      store_le(std::bit_cast<std::uint64_t>(v), at);
      return;
  }
}

}  // namespace detail

std::string describe(const DecodeError& e) {
  const std::string a = "assembly " + std::to_string(e.assembly);
  switch (e.code) {
    case DecodeErrc::unknown_assembly:
      return a + ": not described by the device profile";
    case DecodeErrc::size_mismatch:
      return a + ": " + std::to_string(e.seen_bytes) + " bytes received, the profile describes " +
             std::to_string(e.expected_bytes) +
             " (profile does not match the meter: check it against the manual's Appendix A)";
  }
  return a + ": decode error";
}

pm500::expected<void, DecodeError> decode(const Assembly& a, std::span<const std::uint8_t> bytes,
                                          pm500::Sample& out, std::size_t part) noexcept {
  // Strict equality: a longer payload means elements the profile does not know, and reading a
  // prefix of it would silently publish values under the wrong names.
  if (bytes.size() != a.size_bytes)
    return pm500::unexpected(
        DecodeError{DecodeErrc::size_mismatch, a.instance, a.size_bytes, static_cast<std::uint32_t>(bytes.size())});
  const Assembly* v = a.part(part);
  if (!v)
    return pm500::unexpected(
        DecodeError{DecodeErrc::unknown_assembly, a.instance, 0, static_cast<std::uint32_t>(bytes.size())});
  const std::size_t n = v->elements.size();  // <= kMaxSampleValues: a larger assembly has parts
  if (a.plain_real) {
    // The same values as the loop below (x 1.0 changes no double, NaN included), without a
    // switch and two loads of the element per value. Part p's floats start at its first element.
    const std::uint8_t* at = bytes.data() + v->elements.front().offset;
#pragma GCC unroll 4
    for (std::size_t i = 0; i < n; ++i) out.values[i] = std::bit_cast<float>(detail::load_le<std::uint32_t>(at + 4 * i));
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const Element& e = v->elements[i];
      out.values[i] = detail::read_le(e.type, bytes.data() + e.offset) * e.scale;
    }
  }
  for (std::size_t i = n; i < kMaxSampleValues; ++i) out.values[i] = 0;
  out.count = static_cast<std::uint8_t>(n);
  out.assembly = a.instance;
  out.part = static_cast<std::uint8_t>(part);
  return {};
}

pm500::expected<void, DecodeError> decode(const Profile& p, std::uint16_t assembly, std::span<const std::uint8_t> bytes,
                                          pm500::Sample& out, std::size_t part) noexcept {
  const Assembly* a = p.assembly(assembly);
  if (!a)
    return pm500::unexpected(
        DecodeError{DecodeErrc::unknown_assembly, assembly, 0, static_cast<std::uint32_t>(bytes.size())});
  return decode(*a, bytes, out, part);
}

}  // namespace pm500::device
