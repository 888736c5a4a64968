// The text of a measured value: shortest digits that read back to the same number, at the
// precision the number actually has. A meter's REAL (float32) 64.12857 widened to double is
// 64.12857055664062; written as the double it would carry eight digits of noise into every
// line, document and chart, and bytes into every payload. A value that is exactly a float is
// therefore written as the shortest float text ("64.12857"), which reads back (as float, or
// parsed as double and narrowed) to the same value; anything else keeps double precision
// (integers beyond 2^24, energy counters scaled in double by CT x PT ratios).
//
// The text is byte for byte what std::to_chars(first, last, value) writes (shortest round trip,
// nearest to the value, ties to an even last digit; fixed or scientific, whichever is shorter,
// fixed on a tie; an integer's exact digits in fixed), but computed here with exact integer
// arithmetic in ~150-250 instructions instead of libstdc++'s ~600 per value: the encoders write
// 18 of them per sample. The method covers floats from 2^-40 (about 1e-12) and doubles from
// 2^-14 (about 6e-5) up to 2^64 in magnitude; other values (and NaN, infinities) go to
// std::to_chars. Checked against std::to_chars for every finite float once (2^31 values: all
// equal) and, in sinks/common/tests/number_text_test.cpp, for whole binades of floats, millions
// of random floats and doubles, integers, powers of two and ten and their neighbours.
#pragma once

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace pm500 {

namespace number_text_detail {

inline constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline constexpr std::uint64_t kPow10[20] = {1ull,
                                             10ull,
                                             100ull,
                                             1000ull,
                                             10000ull,
                                             100000ull,
                                             1000000ull,
                                             10000000ull,
                                             100000000ull,
                                             1000000000ull,
                                             10000000000ull,
                                             100000000000ull,
                                             1000000000000ull,
                                             10000000000000ull,
                                             100000000000000ull,
                                             1000000000000000ull,
                                             10000000000000000ull,
                                             100000000000000000ull,
                                             1000000000000000000ull,
                                             10000000000000000000ull};

// Number of decimal digits of d (d >= 1).
inline int decimal_length(std::uint64_t d) {
  const int t = (std::bit_width(d) * 1233) >> 12;  // floor(log10(2^bit_width)), 0..19
  return t - (d < kPow10[t]) + 1;
}

// Writes the decimal digits of d so that they end just before `end`.
inline void write_digits_backward(char* end, std::uint64_t d) {
  while (d >= 100) {
    const auto r = static_cast<unsigned>(d % 100);
    d /= 100;
    end -= 2;
    std::memcpy(end, kDigitPairs + 2 * r, 2);
  }
  if (d >= 10) {
    std::memcpy(end - 2, kDigitPairs + 2 * d, 2);
  } else {
    end[-1] = static_cast<char>('0' + d);
  }
}

template <class F>
struct Layout;
template <>
struct Layout<float> {
  using Bits = std::uint32_t;
  static constexpr int kMantissaBits = 23;
  static constexpr int kBias = 127;
};
template <>
struct Layout<double> {
  using Bits = std::uint64_t;
  static constexpr int kMantissaBits = 52;
  static constexpr int kBias = 1023;
};

// d without its trailing zeros (d > 0), x raised by their number. d / 10 when 10 divides d is
// d * 5^-1 (mod 2^64) rotated right by one bit, which is at most (2^64 - 1) / 10 exactly then:
// a multiplication and a rotation per zero instead of a division and a remainder.
inline std::uint64_t strip_zeros(std::uint64_t d, int& x) {
  for (;;) {
    const std::uint64_t q = std::rotr(d * 0xCCCCCCCCCCCCCCCDull, 1);
    if (q > 0x1999999999999999ull) return d;
    d = q;
    ++x;
  }
}

// X * p / 2^s as quotient and remainder for X = xv - below, xv, xv + 2 (1 <= s < bits of U; the
// products fit in U).
template <class U>
inline void scale_down(std::uint64_t xv, std::uint64_t below, std::uint64_t p, int s, std::uint64_t& ql,
                       std::uint64_t& qv, std::uint64_t& qu, bool& exact_l, bool& exact_u, bool& round_up, bool& tie) {
  const U nv = static_cast<U>(xv) * p;
  const U nl = nv - static_cast<U>(below) * p;
  const U nu = nv + static_cast<U>(2) * p;
  const U mask = (static_cast<U>(1) << s) - 1;
  const U half = static_cast<U>(1) << (s - 1);
  qv = static_cast<std::uint64_t>(nv >> s);
  ql = static_cast<std::uint64_t>(nl >> s);
  qu = static_cast<std::uint64_t>(nu >> s);
  exact_l = (nl & mask) == 0;
  exact_u = (nu & mask) == 0;
  const U rv = nv & mask;
  round_up = rv > half;
  tie = rv == half;
}

// The shortest decimal digits * 10^exp10 that reads back to v (finite, > 0) under round to
// nearest, ties to even; of several, the nearest to v, ties to an even last digit. False when v
// is outside the range covered (the caller then uses std::to_chars).
//
// v = m * 2^e; the values that read back to v are those strictly (m odd) or inclusively
// (m even) between the midpoints to its neighbours, L = (4m - 2) * 2^(e-2) (4m - 1 when v is a
// power of two: the gap below is half as wide) and U = (4m + 2) * 2^(e-2). With
// k = floor(e * log10(2)), 10^k <= 2^e < 10^(k+1), so that interval (2^e wide) holds at most one
// multiple of 10^(k+1), which is then the shortest, and at least one of 10^k, of which the
// nearest to v is the shortest. Everything is exact: X * 2^(e-2) / 10^k as an integer quotient
// and remainder.
template <class F>
inline bool shortest_digits(F v, std::uint64_t& digits, int& exp10) {
  using L = Layout<F>;
  const auto bits = std::bit_cast<typename L::Bits>(v);
  const auto fraction = static_cast<std::uint64_t>(bits & ((typename L::Bits(1) << L::kMantissaBits) - 1));
  const int biased = static_cast<int>(bits >> L::kMantissaBits);
  if (biased == 0) return false;  // subnormal: far outside the covered range
  const std::uint64_t m = fraction | (std::uint64_t(1) << L::kMantissaBits);
  const int e = biased - L::kBias - L::kMantissaBits;
  const bool include_bounds = (m & 1) == 0;
  const std::uint64_t below = 2 - std::uint64_t(fraction == 0 && biased > 1);  // half-gap below v, in 2^(e-2)
  const int k = (e * 315653) >> 20;                                   // floor(e * log10(2))
  const int t = e - 2;
  const std::uint64_t xv = 4 * m;

  // Quotient and remainder of X * 2^t / 10^k for X = xv - below, xv, xv + 2.
  std::uint64_t ql, qv, qu;
  bool exact_l, exact_u, round_up, tie;
  if (k <= 0) {
    if (-k > 19) return false;
    const std::uint64_t p = kPow10[-k];
    if (t >= 0) {  // e in 2..3 only: integers, no remainder
      qv = (xv * p) << t;
      ql = ((xv - below) * p) << t;
      qu = ((xv + 2) * p) << t;
      exact_l = exact_u = true;
      round_up = tie = false;
    } else if (sizeof(F) == 4 && -k <= 11) {
      // A float's (xv + 2) * p < 2^26 * 10^11 < 2^63: the common case in 64 bits.
      scale_down<std::uint64_t>(xv, below, p, -t, ql, qv, qu, exact_l, exact_u, round_up, tie);
    } else {
      scale_down<unsigned __int128>(xv, below, p, -t, ql, qv, qu, exact_l, exact_u, round_up, tie);
    }
  } else {
    if (k > 19 || t + std::bit_width(xv + 2) > 64) return false;
    const std::uint64_t p = kPow10[k];
    const std::uint64_t nv = xv << t, nl = (xv - below) << t, nu = (xv + 2) << t;
    qv = nv / p;
    ql = nl / p;
    qu = nu / p;
    const std::uint64_t rv = nv % p;
    exact_l = nl % p == 0;
    exact_u = nu % p == 0;
    round_up = rv > p - rv;
    tie = rv == p - rv;
  }
  // The allowed integers at 10^k: [lo, hi].
  const std::uint64_t lo = ql + ((exact_l && include_bounds) ? 0 : 1);
  if (exact_u && !include_bounds && qu == 0) return false;
  const std::uint64_t hi = qu - ((exact_u && !include_bounds) ? 1 : 0);
  if (lo > hi) return false;  // (only possible below a power of two) leave it to std::to_chars
  const std::uint64_t tens = hi / 10;
  if (tens * 10 >= lo) {  // a multiple of 10^(k+1): the shortest
    int x = k + 1;
    digits = strip_zeros(tens, x);
    exp10 = x;
    return true;
  }
  std::uint64_t d = qv + (round_up || (tie && (qv & 1)) ? 1 : 0);
  if (d < lo) d = lo;
  if (d > hi) d = hi;
  digits = d;
  exp10 = k;
  return true;
}

// shortest_digits() for the floats most measured values are (2^-13 <= v < 2^25, roughly 1.2e-4 to
// 3.3e7): the same method with every product in 64 bits, written out for speed. False outside
// that range.
inline bool shortest_float_digits(std::uint32_t bits, std::uint64_t& digits, int& exp10) {
  const int biased = static_cast<int>(bits >> 23);
  const int e = biased - 150;
  if (e < -36 || e > 1) return false;
  const std::uint32_t fraction = bits & 0x7FFFFFu;
  const std::uint64_t m = fraction | 0x800000u;
  const int k = (e * 315653) >> 20;  // -11..0
  const std::uint64_t p = kPow10[-k];
  const int s = 2 - e;  // 1..38: X * p / 2^s, with X * p < 2^26 * 10^11 < 2^63
  const std::uint64_t nv = (m * p) << 2;
  const std::uint64_t nu = nv + 2 * p;
  const std::uint64_t nl = nv - ((fraction == 0 && biased > 1) ? p : 2 * p);
  const std::uint64_t mask = (std::uint64_t(1) << s) - 1;
  const bool even = (m & 1) == 0;
  const std::uint64_t lo = (nl >> s) + ((even && (nl & mask) == 0) ? 0 : 1);
  const std::uint64_t hi = (nu >> s) - ((!even && (nu & mask) == 0) ? 1 : 0);
  if (lo > hi) return false;
  const std::uint64_t tens = hi / 10;
  if (tens * 10 >= lo) {
    int x = k + 1;
    digits = strip_zeros(tens, x);
    exp10 = x;
    return true;
  }
  const std::uint64_t qv = nv >> s, rv = nv & mask, half = std::uint64_t(1) << (s - 1);
  std::uint64_t d = qv + ((rv > half || (rv == half && (qv & 1))) ? 1 : 0);
  if (d < lo) d = lo;
  if (d > hi) d = hi;
  digits = d;
  exp10 = k;
  return true;
}

// The eight decimal digits of d < 10^8 (with leading zeros) as ASCII, the most significant in
// the lowest byte (first in memory on a little-endian machine), without a loop: split in two
// halves of four digits, each in two of two, each in two digits, lane by lane in one word.
inline std::uint64_t eight_digits(std::uint64_t d) {
  std::uint64_t x = (d / 10000) | ((d % 10000) << 32);
  const std::uint64_t hundreds = ((x * 5243) >> 19) & 0x0000007F0000007Full;  // n / 100 for n < 43699
  x = hundreds | ((x - hundreds * 100) << 16);
  const std::uint64_t tens = ((x * 103) >> 10) & 0x000F000F000F000Full;  // n / 10 for n < 179
  x = tens | ((x - tens * 10) << 8);
  return x | 0x3030303030303030ull;
}

// Writes digits * 10^exp10 as printf's %f or %e would, whichever is shorter (%f on a tie), which
// is std::to_chars' plain format. %f writes an integer's exact digits: `integer` is the value
// itself when x > 0 (then the value is an integer below 2^64; 1e+18 may be 999999984306749440).
// The general case; write_shortest() does the common ones inline. Needs 26 bytes at p.
[[gnu::noinline]] inline char* write_decimal(char* p, std::uint64_t digits, int x, std::uint64_t integer) {
  const int n = decimal_length(digits);
  const int sci = x + n - 1;  // |sci| < 100 in the covered range: two exponent digits
  const int sci_len = n + (n > 1 ? 1 : 0) + 4;
  const int fixed_len = x >= 0 ? n + x : (n + x > 0 ? n + 1 : 2 - x);
  if (fixed_len <= sci_len) {
    if (x >= 0) {  // ddd, or the integer's exact digits
      const std::uint64_t v = x > 0 ? integer : digits;
      const int len = decimal_length(v);
      write_digits_backward(p + len, v);
      return p + len;
    }
    const int a = n + x;
    if (a > 0) {  // ddd.ddd
      write_digits_backward(p + n, digits);
      for (int i = n; i > a; --i) p[i] = p[i - 1];
      p[a] = '.';
      return p + n + 1;
    }
    p[0] = '0';  // 0.000ddd
    p[1] = '.';
    for (int i = 0; i < -a; ++i) p[2 + i] = '0';
    write_digits_backward(p + 2 - x, digits);
    return p + 2 - x;
  }
  write_digits_backward(p + n + 1, digits);  // d.ddde+XX
  p[0] = p[1];
  char* q = p + 1;
  if (n > 1) {
    p[1] = '.';
    q = p + n + 1;
  }
  *q++ = 'e';
  *q++ = sci < 0 ? '-' : '+';
  std::memcpy(q, kDigitPairs + 2 * (sci < 0 ? -sci : sci), 2);
  return q + 2;
}

// The common case of write_decimal: up to 16 digits and no positive exponent (the digits of a
// meter's value, or a double with a fraction), written without loops: the digits right-aligned
// in 16 bytes by eight_digits(), copied out in fixed 16-byte pieces. Needs 40 bytes at p.
inline char* write_decimal_fraction(char* p, std::uint64_t digits, int x) {
  char buf[32];
  int n;
  if (digits < kPow10[8]) {
    const std::uint64_t w = eight_digits(digits);
    std::memcpy(buf + 8, &w, 8);
    n = 8 - std::countr_zero(w & 0x0F0F0F0F0F0F0F0Full) / 8;  // leading '0' bytes are the low ones
  } else {
    const std::uint64_t hi = eight_digits(digits / kPow10[8]), lo = eight_digits(digits % kPow10[8]);
    std::memcpy(buf, &hi, 8);
    std::memcpy(buf + 8, &lo, 8);
    n = 16 - std::countr_zero(hi & 0x0F0F0F0F0F0F0F0Full) / 8;
  }
  std::memset(buf + 16, '0', 16);
  const char* d = buf + 16 - n;
  const int a = n + x;  // digits before the point
  std::memcpy(p, d, 16);
  if (x == 0) return p + n;  // ddd
  if (a > 0) {               // ddd.ddd
    p[a] = '.';
    std::memcpy(p + a + 1, d + a, 16);
    return p + n + 1;
  }
  if (-a <= (n > 1 ? 3 : 2)) {  // 0.000ddd while not longer than d.ddde-XX
    std::memcpy(p, "0.000000", 8);
    std::memcpy(p + 2 - a, d, 16);
    return p + 2 - x;
  }
  // d.ddde-XX (the first digit is in place already)
  char* q = p + 1;
  if (n > 1) {
    p[1] = '.';
    std::memcpy(p + 2, d + 1, 16);
    q = p + n + 1;
  }
  const int sci = -(x + n - 1);
  std::memcpy(q, "e-", 2);
  std::memcpy(q + 2, kDigitPairs + 2 * sci, 2);
  return q + 4;
}

// The decimal digits of v, needs 32 bytes at p: the digits are built right-aligned in 24
// bytes, eight at a time, and copied out in one fixed-size piece.
inline char* write_unsigned(char* p, std::uint64_t v) {
  constexpr std::uint64_t kDigitMask = 0x0F0F0F0F0F0F0F0Full;
  char buf[48];
  int n;
  if (v < kPow10[8]) {
    const std::uint64_t w = eight_digits(v);
    std::memcpy(buf + 16, &w, 8);
    n = v == 0 ? 1 : 8 - std::countr_zero(w & kDigitMask) / 8;
  } else if (v < kPow10[16]) {
    const std::uint64_t hi = eight_digits(v / kPow10[8]), lo = eight_digits(v % kPow10[8]);
    std::memcpy(buf + 8, &hi, 8);
    std::memcpy(buf + 16, &lo, 8);
    n = 16 - std::countr_zero(hi & kDigitMask) / 8;
  } else {
    const std::uint64_t rest = v % kPow10[16];
    const std::uint64_t top = eight_digits(v / kPow10[16]), hi = eight_digits(rest / kPow10[8]),
                        lo = eight_digits(rest % kPow10[8]);
    std::memcpy(buf, &top, 8);
    std::memcpy(buf + 8, &hi, 8);
    std::memcpy(buf + 16, &lo, 8);
    n = 24 - std::countr_zero(top & kDigitMask) / 8;
  }
  std::memcpy(p, buf + 24 - n, 24);
  return p + n;
}

}  // namespace number_text_detail

// Room write_shortest and write_measured need at p (the text itself is at most 24 bytes).
inline constexpr int kNumberTextRoom = 48;

// std::to_chars(p, p + kNumberTextRoom, v).ptr for a finite v, faster; see the top of the file.
template <class F>
inline char* write_shortest(char* p, F v) {
  if (std::signbit(v)) {
    *p++ = '-';
    v = -v;
  }
  if (v == 0) {
    *p = '0';
    return p + 1;
  }
  std::uint64_t digits;
  int x;
  if constexpr (sizeof(F) == 4) {
    if (number_text_detail::shortest_float_digits(std::bit_cast<std::uint32_t>(v), digits, x)) {
      if (x <= 0) return number_text_detail::write_decimal_fraction(p, digits, x);  // at most 9 digits
      return number_text_detail::write_decimal(p, digits, x, static_cast<std::uint64_t>(v));  // an integer < 2^25
    }
  }
  if (!std::isfinite(v) || !number_text_detail::shortest_digits(v, digits, x))
    return std::to_chars(p, p + kNumberTextRoom - 1, v).ptr;
  if (x <= 0 && digits < number_text_detail::kPow10[16]) return number_text_detail::write_decimal_fraction(p, digits, x);
  // In the covered range a value with x > 0 is an integer below 2^64.
  return number_text_detail::write_decimal(p, digits, x, x > 0 ? static_cast<std::uint64_t>(v) : 0);
}

// std::to_chars(p, p + 32, v).ptr for an integer, faster: needs 32 bytes at p.
inline char* write_integer(char* p, std::int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return number_text_detail::write_unsigned(p, static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(v));
  }
  return number_text_detail::write_unsigned(p, static_cast<std::uint64_t>(v));
}

// The measured value's text (float text when v is exactly a float, else double); finite v only;
// needs kNumberTextRoom bytes at p.
inline char* write_measured(char* p, double v) {
  const auto f = static_cast<float>(v);
  if (static_cast<double>(f) == v) return write_shortest(p, f);
  return write_shortest(p, v);
}

// std::to_chars(first, last, v) at the value's own precision (see the top of the file).
inline std::to_chars_result to_chars_measured(char* first, char* last, double v) {
  const auto f = static_cast<float>(v);
  const bool as_float = static_cast<double>(f) == v;
  if (!std::isfinite(v)) return as_float ? std::to_chars(first, last, f) : std::to_chars(first, last, v);
  if (last - first >= kNumberTextRoom) return {write_measured(first, v), std::errc()};
  char buf[kNumberTextRoom];
  char* end = write_measured(buf, v);
  const auto len = end - buf;
  if (len > last - first) return {last, std::errc::value_too_large};
  std::memcpy(first, buf, static_cast<std::size_t>(len));
  return {first + len, std::errc()};
}

}  // namespace pm500
