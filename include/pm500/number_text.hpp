// The text of a measured value: shortest digits that read back to the same number, at the
// precision the number actually has. A meter's REAL (float32) 64.12857 widened to double is
// 64.12857055664062; written as the double it would carry eight digits of noise into every
// line, document and chart, and bytes into every payload. A value that is exactly a float is
// therefore written as the shortest float text ("64.12857"), which reads back (as float, or
// parsed as double and narrowed) to the same value; anything else keeps double precision
// (integers beyond 2^24, values scaled in double by CT x PT ratios).
#pragma once

#include <charconv>

namespace pm500 {

inline std::to_chars_result to_chars_measured(char* first, char* last, double v) {
  const auto f = static_cast<float>(v);
  if (static_cast<double>(f) == v) return std::to_chars(first, last, f);
  return std::to_chars(first, last, v);
}

}  // namespace pm500
