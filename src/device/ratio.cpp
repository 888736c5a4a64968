#include "device/ratio.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace pm500::device {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

// what = "CT" or "PT"; unit = "A" or "V".
pm500::expected<Ratio, std::string> parse_ratio(std::string_view text, const char* what, const char* unit,
                                                const char* example, bool ct) {
  const std::string quoted = std::string(what) + " \"" + std::string(text) + "\"";
  std::string_view t = trim(text);
  if (t.empty()) return Ratio{};
  Ratio r;
  const auto sep = t.find_first_of(":/");
  if (sep == std::string_view::npos) {
    if (!parse_number(t, r.primary))
      return pm500::unexpected(quoted + ": not a ratio; write primary:secondary (\"" + example +
                               "\") or a plain ratio (\"80\")");
    r.secondary = 1;
    r.pair = false;
  } else {
    if (!parse_number(t.substr(0, sep), r.primary) || !parse_number(t.substr(sep + 1), r.secondary))
      return pm500::unexpected(quoted + ": not a ratio; write primary:secondary (\"" + example +
                               "\") or a plain ratio (\"80\")");
    r.pair = true;
    if (r.primary <= 0) return pm500::unexpected(quoted + ": primary must be greater than 0 " + unit);
    if (ct && r.secondary != 1 && r.secondary != 5)
      return pm500::unexpected(quoted +
                               ": secondary must be 1 A or 5 A (the PowerMonitor 500 has 1 A / 5 A "
                               "current inputs), not " +
                               num(r.secondary) + " A");
    if (r.secondary <= 0) return pm500::unexpected(quoted + ": secondary must be greater than 0 " + unit);
  }
  if (r.primary <= 0) return pm500::unexpected(quoted + ": ratio must be greater than 0");
  const double v = r.value();
  if (v < kMinRatio || v > kMaxRatio)
    return pm500::unexpected(quoted + ": ratio " + num(v) + " is outside the meter's range 1..9999" +
                             (v < kMinRatio ? " (primary smaller than secondary? write primary first)" : ""));
  return r;
}

}  // namespace

std::string Ratio::str() const {
  return pair ? num(primary) + ":" + num(secondary) : num(value());
}

pm500::expected<Ratio, std::string> parse_ct(std::string_view text) {
  return parse_ratio(text, "CT", "A", "400:5", true);
}

pm500::expected<Ratio, std::string> parse_pt(std::string_view text) {
  return parse_ratio(text, "PT", "V", "480:120", false);
}

}  // namespace pm500::device
