// The pre-cache encoders, verbatim but for names (see reference_encoders.hpp).
#include "sinks/common/tests/reference_encoders.hpp"

#include <charconv>
#include <cmath>
#include <span>
#include <string_view>

namespace pm500::reference {
namespace {

// pm500::to_chars_measured as it was: std::to_chars at the value's own precision.
std::to_chars_result old_to_chars_measured(char* first, char* last, double v) {
  const auto f = static_cast<float>(v);
  if (static_cast<double>(f) == v) return std::to_chars(first, last, f);
  return std::to_chars(first, last, v);
}

}  // namespace

// ---- line protocol (sinks/common/line_protocol.cpp) ----
namespace lp_old {
using namespace pm500::lp;
namespace {

bool has_newline(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Escapes every character of `special` (and the backslash) with a backslash.
void append_escaped(std::string& out, std::string_view s, std::string_view special) {
  for (char c : s) {
    if (c == '\\' || special.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
}

}  // namespace

void append_measurement(std::string& out, std::string_view s) { append_escaped(out, s, ", "); }
void append_key(std::string& out, std::string_view s) { append_escaped(out, s, ",= "); }

void append_string_value(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_float(std::string& out, double v) {
  char buf[32];
  auto r = old_to_chars_measured(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
  out += 'i';
}

pm500::expected<void, EncodeError> lp_append_sample(std::string& out, const Sample& s, const DeviceMeta& meta,
                                                 const Options& opt) {
  const std::size_t mark = out.size();
  auto fail = [&](EncodeError e) {
    out.resize(mark);
    return pm500::unexpected(e);
  };
  if (opt.measurement.empty()) return fail(EncodeError::empty_name);
  if (has_newline(opt.measurement) || has_newline(meta.name) || has_newline(meta.site) || has_newline(meta.asset))
    return fail(EncodeError::newline_in_name);

  append_measurement(out, opt.measurement);
  // Tags sorted by key (InfluxDB's preferred order); an empty tag value is not allowed. The
  // fixed tags are in order already; the extra tags (sorted by the caller) are merged in.
  const std::string_view tags[4][2] = {{"asset", meta.asset},
                                       {"device", opt.device_tag ? std::string_view(meta.name) : std::string_view()},
                                       {"quality", (s.flags & kSampleSuspect) ? "suspect" : std::string_view()},
                                       {"site", meta.site}};
  auto put = [&](std::string_view k, std::string_view v) {
    if (k.empty() || v.empty()) return;
    out += ',';
    append_key(out, k);
    out += '=';
    append_key(out, v);
  };
  std::size_t e = 0;
  for (const auto& t : tags) {
    for (; e < opt.extra_tags.size() && std::string_view(opt.extra_tags[e].first) < t[0]; ++e) {
      if (has_newline(opt.extra_tags[e].first) || has_newline(opt.extra_tags[e].second))
        return fail(EncodeError::newline_in_name);
      put(opt.extra_tags[e].first, opt.extra_tags[e].second);
    }
    put(t[0], t[1]);
  }
  for (; e < opt.extra_tags.size(); ++e) {
    if (has_newline(opt.extra_tags[e].first) || has_newline(opt.extra_tags[e].second))
      return fail(EncodeError::newline_in_name);
    put(opt.extra_tags[e].first, opt.extra_tags[e].second);
  }

  const auto names = meta.field_names(s.assembly, s.part);
  bool any = false;
  const std::size_t n = s.count < kMaxSampleValues ? s.count : kMaxSampleValues;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(s.values[i])) continue;  // no NaN/Inf in line protocol: leave the field out
    out += any ? ',' : ' ';
    if (i < names.size()) {
      if (names[i].empty()) return fail(EncodeError::empty_name);
      if (has_newline(names[i])) return fail(EncodeError::newline_in_name);
      append_key(out, names[i]);
    } else {
      out += "value_";
      char buf[8];
      auto r = std::to_chars(buf, buf + sizeof buf, std::size_t{s.part} * kMaxSampleValues + i);
      out.append(buf, r.ptr);
    }
    out += '=';
    append_float(out, s.values[i]);
    any = true;
  }
  if (!any) return fail(EncodeError::no_fields);
  if (opt.sequence_field) {
    out += ",sequence=";
    append_integer(out, s.sequence);
  }
  out += ' ';
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, lp::timestamp(s.source_time_ns, opt.precision));
  out.append(buf, r.ptr);
  out += '\n';
  return {};
}

}  // namespace lp_old

pm500::expected<void, lp::EncodeError> lp_append_sample(std::string& out, const Sample& s, const DeviceMeta& meta,
                                                        const lp::Options& opt) {
  return lp_old::lp_append_sample(out, s, meta, opt);
}

// ---- JSON text helpers (include/pm500/json_text.hpp) and documents (sinks/common/json_sample.cpp) ----
namespace json_old {
namespace detail {
// Length of the valid UTF-8 sequence starting at s[i] (s[i] >= 0x80), or 0 when it is not one:
// overlong forms, surrogates and code points above U+10FFFF are rejected, as RFC 3629 requires.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1Fu; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0Fu; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07u; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}
}  // namespace detail

// The inside of a JSON string: control characters as \u00XX (so a line stays one line), and
// bytes that are not UTF-8 (a meter's identity, a broker's error text may carry any) as U+FFFD,
// so the document is always valid JSON and valid UTF-8.
void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = detail::utf8_sequence(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

// A JSON string literal with quotes (see append_escaped).
void append_string(std::string& out, std::string_view s) {
  out += '"';
  append_escaped(out, s);
  out += '"';
}

// Shortest text at the value's own precision (number_text.hpp); JSON has no NaN or infinity: null.
void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto r = old_to_chars_measured(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

namespace {

// Days since 1970-01-01 to a civil date (H. Hinnant's days_from_civil inverse): no locale, no
// libc time zone lookup, no allocation.
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

void put_digits(std::string& out, std::int64_t v, int width) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  for (int pad = width - static_cast<int>(r.ptr - buf); pad > 0; --pad) out += '0';
  out.append(buf, r.ptr);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

void append_iso8601_ms(std::string& out, std::int64_t unix_ns) {
  const std::int64_t ms = floor_div(unix_ns, 1'000'000);
  const std::int64_t secs = floor_div(ms, 1000);
  const std::int64_t days = floor_div(secs, 86400);
  const std::int64_t sod = secs - days * 86400;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  put_digits(out, y, 4);
  out += '-';
  put_digits(out, m, 2);
  out += '-';
  put_digits(out, d, 2);
  out += 'T';
  put_digits(out, sod / 3600, 2);
  out += ':';
  put_digits(out, sod / 60 % 60, 2);
  out += ':';
  put_digits(out, sod % 60, 2);
  out += '.';
  put_digits(out, ms - secs * 1000, 3);
  out += 'Z';
}

void json_append_device_identity(std::string& out, std::uint32_t device, const DeviceMeta* meta) {
  out += "\"device\":";
  if (meta) {
    append_string(out, meta->name);
    out += ",\"site\":";
    append_string(out, meta->site);
    out += ",\"asset\":";
    append_string(out, meta->asset);
  } else {
    out += "\"#";
    append_integer(out, device);
    out += '"';
  }
}

namespace {

// Members from "time" to the end of "values", shared by the full and the body form.
void append_sample_members(std::string& out, const Sample& s, const DeviceMeta* meta) {
  out += "\"time\":\"";
  append_iso8601_ms(out, s.source_time_ns);
  out += "\",\"time_ms\":";
  append_integer(out, floor_div(s.source_time_ns, 1'000'000));
  out += ",\"assembly\":";
  append_integer(out, s.assembly);
  if (s.part > 0 || (meta && meta->field_names(s.assembly).size() > kMaxSampleValues)) {
    out += ",\"part\":";
    append_integer(out, s.part);
  }
  out += ",\"sequence\":";
  append_integer(out, s.sequence);
  out += ",\"flags\":";
  append_integer(out, s.flags);
  if (s.flags & kSampleSuspect) out += ",\"quality\":\"suspect\"";
  out += ",\"values\":{";
  const auto names = meta ? meta->field_names(s.assembly, s.part) : std::span<const std::string>{};
  const std::size_t n = s.count < kMaxSampleValues ? s.count : kMaxSampleValues;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    if (i < names.size() && !names[i].empty()) {
      append_string(out, names[i]);
    } else {
      out += "\"value_";
      append_integer(out, static_cast<std::int64_t>(std::size_t{s.part} * kMaxSampleValues + i));
      out += '"';
    }
    out += ':';
    append_number(out, s.values[i]);
  }
  out += '}';
}

}  // namespace

void json_append_sample(std::string& out, const Sample& s, const DeviceMeta* meta) {
  out += '{';
  json_append_device_identity(out, s.device, meta);
  out += ',';
  append_sample_members(out, s, meta);
  out += '}';
}

void json_append_sample_body(std::string& out, const Sample& s, const DeviceMeta* meta) {
  out += '{';
  append_sample_members(out, s, meta);
  out += '}';
}

}  // namespace json_old

void json_append_sample(std::string& out, const Sample& s, const DeviceMeta* meta) {
  json_old::json_append_sample(out, s, meta);
}
void json_append_sample_body(std::string& out, const Sample& s, const DeviceMeta* meta) {
  json_old::json_append_sample_body(out, s, meta);
}
void json_append_device_identity(std::string& out, std::uint32_t device, const DeviceMeta* meta) {
  json_old::json_append_device_identity(out, device, meta);
}

}  // namespace pm500::reference
