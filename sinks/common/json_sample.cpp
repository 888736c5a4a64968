#include "sinks/common/json_sample.hpp"

#include <charconv>

#include "pm500/json_text.hpp"

namespace pm500::json {
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

void append_device_identity(std::string& out, std::uint32_t device, const DeviceMeta* meta) {
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
  out += ",\"sequence\":";
  append_integer(out, s.sequence);
  out += ",\"flags\":";
  append_integer(out, s.flags);
  out += ",\"values\":{";
  const auto names = meta ? meta->field_names(s.assembly) : std::span<const std::string>{};
  const std::size_t n = s.count < kMaxSampleValues ? s.count : kMaxSampleValues;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    if (i < names.size() && !names[i].empty()) {
      append_string(out, names[i]);
    } else {
      out += "\"value_";
      append_integer(out, static_cast<std::int64_t>(i));
      out += '"';
    }
    out += ':';
    append_number(out, s.values[i]);
  }
  out += '}';
}

}  // namespace

void append_sample(std::string& out, const Sample& s, const DeviceMeta* meta) {
  out += '{';
  append_device_identity(out, s.device, meta);
  out += ',';
  append_sample_members(out, s, meta);
  out += '}';
}

void append_sample_body(std::string& out, const Sample& s, const DeviceMeta* meta) {
  out += '{';
  append_sample_members(out, s, meta);
  out += '}';
}

}  // namespace pm500::json
