#include "sinks/common/json_sample.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "pm500/json_text.hpp"
#include "pm500/number_text.hpp"

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

namespace {

// "2024-05-01T" for a day number.
void append_date(std::string& out, std::int64_t days) {
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  put_digits(out, y, 4);
  out += '-';
  put_digits(out, m, 2);
  out += '-';
  put_digits(out, d, 2);
  out += 'T';
}

}  // namespace

void append_iso8601_ms(std::string& out, std::int64_t unix_ns) {
  const std::int64_t ms = floor_div(unix_ns, 1'000'000);
  const std::int64_t secs = floor_div(ms, 1000);
  const std::int64_t days = floor_div(secs, 86400);
  const std::int64_t sod = secs - days * 86400;
  append_date(out, days);
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
  if (s.part > 0 || (meta && meta->has_parts(s.assembly))) {
    out += ",\"part\":";
    append_integer(out, s.part);
  }
  out += ",\"sequence\":";
  append_integer(out, s.sequence);
  out += ",\"flags\":";
  append_integer(out, s.flags);
  if (s.flags & kSampleSuspect) out += kSuspectMember;
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

// ---- Encoder ----

namespace {

// Bytes readable past any key's start in Parts::keys and writable past any position in a
// document being written: keys up to this length are copied with one fixed-size memcpy.
constexpr std::size_t kCopyPad = 32;
constexpr std::uint32_t kMaxCachedDevices = 1u << 16;
constexpr std::string_view kBodyHead = "{\"time\":\"";

inline void copy_key(char* to, const char* from, std::size_t n) {
  if (n <= kCopyPad) std::memcpy(to, from, kCopyPad);
  else std::memcpy(to, from, n);
}

inline char* put(char* o, std::string_view s) {
  std::memcpy(o, s.data(), s.size());
  return o + s.size();
}

// Text followed by kCopyPad readable bytes, copied with fixed-size copies.
struct Padded {
  std::string text;  // the text, then kCopyPad bytes
  std::size_t len = 0;

  void assign(std::string_view s) {
    text.assign(s);
    len = s.size();
    text.append(kCopyPad, '\0');
  }
  char* put_to(char* o) const {
    copy_key(o, text.data(), len);
    return o + len;
  }
};

inline char* put2(char* o, unsigned v) {  // v < 100, two digits
  o[0] = static_cast<char>('0' + v / 10);
  o[1] = static_cast<char>('0' + v % 10);
  return o + 2;
}

}  // namespace

struct Encoder::Parts {
  const DeviceMeta* meta = nullptr;  // built from
  std::uint16_t assembly = 0;        // built for
  std::uint8_t part = 0;
  std::string identity;              // "device":..,"site":..,"asset":.. (no braces)
  Padded head;                       // {<identity>,"time":"
  Padded mid;                        // ,"assembly":101,"sequence": (,"part":1 before "sequence" for a
                                     // multi-part assembly)
  // "key": for value 0, ,"key": for the next ones, one after the other, then kCopyPad bytes.
  std::string keys;
  std::array<std::uint32_t, kMaxSampleValues + 1> key_at{};
  std::size_t room = 0;  // bytes a document may need to be written
};

struct Encoder::Device {
  const DeviceMeta* meta = nullptr;
  // Per assembly 100..108, then any other: per part (Sample::part; most assemblies have one).
  std::array<std::vector<std::unique_ptr<Parts>>, 10> slots;
};

namespace {

void build(Encoder::Parts& p, std::uint32_t device, std::uint16_t assembly, std::uint8_t part, const DeviceMeta* meta) {
  p.meta = meta;
  p.assembly = assembly;
  p.part = part;
  p.identity.clear();
  append_device_identity(p.identity, device, meta);
  std::string t = "{";
  t += p.identity;
  t += ",\"time\":\"";
  p.head.assign(t);
  t = ",\"assembly\":";
  append_integer(t, assembly);
  if (part > 0 || (meta && meta->has_parts(assembly))) {
    t += ",\"part\":";
    append_integer(t, part);
  }
  t += ",\"sequence\":";
  p.mid.assign(t);
  p.keys.clear();
  const auto names = meta ? meta->field_names(assembly, part) : std::span<const std::string>{};
  for (std::size_t i = 0; i < kMaxSampleValues; ++i) {
    p.key_at[i] = static_cast<std::uint32_t>(p.keys.size());
    if (i) p.keys += ',';
    if (i < names.size() && !names[i].empty()) {
      append_string(p.keys, names[i]);
    } else {
      p.keys += "\"value_";
      append_integer(p.keys, static_cast<std::int64_t>(std::size_t{part} * kMaxSampleValues + i));
      p.keys += '"';
    }
    p.keys += ':';
  }
  p.key_at[kMaxSampleValues] = static_cast<std::uint32_t>(p.keys.size());
  p.keys.append(kCopyPad, '\0');
  // head, a date of up to 24 characters and the time, ","time_ms":, 20 digits, mid, 5 digits,
  // ,"flags":, 5 digits, ,"quality":"suspect", ,"values":{, keys and numbers with their copy slack, }}, slack.
  p.room = p.head.len + 24 + 13 + 12 + 20 + p.mid.len + 5 + 9 + 5 + kSuspectMember.size() + 11 + p.key_at[kMaxSampleValues] +
           kMaxSampleValues * (kNumberTextRoom + kCopyPad) + 2 + 2 * kCopyPad;
}

}  // namespace

Encoder::Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;
Encoder::~Encoder() = default;

const Encoder::Parts& Encoder::parts(std::uint32_t device, std::uint16_t assembly, std::uint8_t part,
                                     const DeviceMeta* meta) {
  if (device >= kMaxCachedDevices) {  // not a configured device: no cache for it
    if (!spare_) spare_ = std::make_unique<Parts>();
    build(*spare_, device, assembly, part, meta);
    return *spare_;
  }
  if (device >= devices_.size()) devices_.resize(device + 1);
  auto& d = devices_[device];
  if (!d) d = std::make_unique<Device>();
  if (d->meta != meta) {
    for (auto& slot : d->slots) slot.clear();
    d->meta = meta;
  }
  const bool known = assembly >= 100 && assembly <= 108;
  auto& parts = d->slots[known ? assembly - 100u : 9u];
  if (part >= parts.size()) parts.resize(part + 1u);
  auto& slot = parts[part];
  if (!slot) slot = std::make_unique<Parts>();
  if (slot->keys.empty() || slot->assembly != assembly) build(*slot, device, assembly, part, meta);
  return *slot;
}

void Encoder::write(std::string& out, const Sample& s, const Parts& p, bool identity) {
  const std::int64_t ms = floor_div(s.source_time_ns, 1'000'000);
  const std::int64_t secs = floor_div(ms, 1000);
  const std::int64_t days = floor_div(secs, 86400);
  const auto sod = static_cast<unsigned>(secs - days * 86400);
  if (date_len_ == 0 || days != day_) {
    std::string date;  // short enough for the string's own buffer: no allocation
    append_date(date, days);
    date_len_ = std::min(date.size(), date_.size());
    std::memcpy(date_.data(), date.data(), date_len_);
    day_ = days;
  }
  const std::size_t mark = out.size();
  out.resize_and_overwrite(mark + p.room, [&](char* buf, std::size_t) -> std::size_t {
    char* o = buf + mark;
    o = identity ? p.head.put_to(o) : put(o, kBodyHead);
    std::memcpy(o, date_.data(), date_.size());  // the date, padded
    o += date_len_;
    o = put2(o, sod / 3600);
    *o++ = ':';
    o = put2(o, sod / 60 % 60);
    *o++ = ':';
    o = put2(o, sod % 60);
    *o++ = '.';
    const auto milli = static_cast<unsigned>(ms - secs * 1000);
    *o++ = static_cast<char>('0' + milli / 100);
    o = put2(o, milli % 100);
    o = put(o, "Z\",\"time_ms\":");
    o = write_integer(o, ms);
    o = p.mid.put_to(o);
    o = write_integer(o, s.sequence);
    o = put(o, ",\"flags\":");
    o = write_integer(o, s.flags);
    if (s.flags & kSampleSuspect) [[unlikely]]
      o = put(o, kSuspectMember);
    o = put(o, ",\"values\":{");
    const char* keys = p.keys.data();
    const std::size_t n = s.count < kMaxSampleValues ? s.count : kMaxSampleValues;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t len = p.key_at[i + 1] - p.key_at[i];
      copy_key(o, keys + p.key_at[i], len);
      o += len;
      const double v = s.values[i];
      if (std::isfinite(v)) {
        o = write_measured(o, v);
      } else {
        std::memcpy(o, "null", 4);  // JSON has no NaN or infinity
        o += 4;
      }
    }
    *o++ = '}';
    *o++ = '}';
    return static_cast<std::size_t>(o - buf);
  });
}

void Encoder::append_sample(std::string& out, const Sample& s, const DeviceMeta* meta) {
  write(out, s, parts(s.device, s.assembly, s.part, meta), true);
}

void Encoder::append_sample_body(std::string& out, const Sample& s, const DeviceMeta* meta) {
  write(out, s, parts(s.device, s.assembly, s.part, meta), false);
}

void Encoder::append_device_identity(std::string& out, std::uint32_t device, const DeviceMeta* meta) {
  out += parts(device, 100, 0, meta).identity;
}

}  // namespace pm500::json
