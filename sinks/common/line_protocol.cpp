#include "sinks/common/line_protocol.hpp"

#include "pm500/number_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace pm500::lp {
namespace {

bool has_newline(std::string_view s) {
  for (char c : s)
    if (c == '\n' || c == '\r') return true;
  return false;
}

// Escapes every character of `special` (and the backslash) with a backslash.
void append_escaped(std::string& out, std::string_view s, std::string_view special) {
  std::size_t plain = 0;  // most names need no escaping: copy them in one piece
  while (plain < s.size() && s[plain] != '\\' && special.find(s[plain]) == std::string_view::npos) ++plain;
  out.append(s.substr(0, plain));
  for (char c : s.substr(plain)) {
    if (c == '\\' || special.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
}

// Bytes readable past any key's start in Parts::keys, and writable past any position in a line
// being written: keys of up to this length are copied with one fixed-size memcpy.
constexpr std::size_t kCopyPad = 32;

}  // namespace

// The constant text of a line for one (device, assembly, part) and what is wrong with it, if
// anything.
struct Encoder::Parts {
  const DeviceMeta* meta = nullptr;  // built from
  std::uint16_t assembly = 0;        // built for
  std::uint8_t part = 0;
  std::optional<EncodeError> head_error;  // the line cannot be written at all
  std::string head;                       // measurement and tags, escaped, then kCopyPad bytes
  std::size_t head_len = 0;
  std::string head_suspect;  // the same with quality=suspect among the tags (kSampleSuspect)
  std::size_t head_suspect_len = 0;
  // ",key=" for value index 0..17, escaped, one after the other, then kCopyPad bytes of padding.
  std::string keys;
  std::array<std::uint32_t, kMaxSampleValues + 1> key_at{};  // key i is keys[key_at[i], key_at[i + 1])
  // An error a finite value at index i raises (its name is empty or has a newline).
  std::array<std::optional<EncodeError>, kMaxSampleValues> key_error{};
  std::size_t room = 0;  // bytes a line may need to be written (18 values, the widest numbers)
};

struct Encoder::Device {
  const DeviceMeta* meta = nullptr;
  // Per assembly 100..108, then any other: per part (Sample::part; most assemblies have one).
  std::array<std::vector<std::unique_ptr<Parts>>, 10> slots;
};

namespace {

constexpr std::uint32_t kMaxCachedDevices = 1u << 16;

// The measurement and the tag set (sorted by key, as InfluxDB prefers; an empty tag value is
// left out), or why they cannot be written. `suspect` adds the tag quality=suspect.
std::optional<EncodeError> build_head(std::string& out, const DeviceMeta& meta, const Options& opt, bool suspect) {
  // The checks and the order of append_sample before this cache (same errors, same bytes).
  if (opt.measurement.empty()) return EncodeError::empty_name;
  if (has_newline(opt.measurement) || has_newline(meta.name) || has_newline(meta.site) || has_newline(meta.asset))
    return EncodeError::newline_in_name;
  std::optional<EncodeError> error;
  append_measurement(out, opt.measurement);
  // The fixed tags are in order already; the extra tags (sorted by the caller) are merged in.
  const std::string_view tags[4][2] = {{"asset", meta.asset},
                                       {"device", opt.device_tag ? std::string_view(meta.name) : std::string_view()},
                                       {kQualityTag, suspect ? kSuspectTagValue : std::string_view()},
                                       {"site", meta.site}};
  auto put = [&](std::string_view k, std::string_view v) {
    if (k.empty() || v.empty()) return;
    out += ',';
    append_key(out, k);
    out += '=';
    append_key(out, v);
  };
  auto bad = [](const std::pair<std::string, std::string>& t) { return has_newline(t.first) || has_newline(t.second); };
  std::size_t e = 0;
  for (const auto& t : tags) {
    for (; e < opt.extra_tags.size() && std::string_view(opt.extra_tags[e].first) < t[0]; ++e) {
      if (bad(opt.extra_tags[e])) error = EncodeError::newline_in_name;
      put(opt.extra_tags[e].first, opt.extra_tags[e].second);
    }
    put(t[0], t[1]);
  }
  for (; e < opt.extra_tags.size(); ++e) {
    if (bad(opt.extra_tags[e])) error = EncodeError::newline_in_name;
    put(opt.extra_tags[e].first, opt.extra_tags[e].second);
  }
  return error;
}

void build(Encoder::Parts& p, std::uint16_t assembly, std::uint8_t part, const DeviceMeta& meta, const Options& opt) {
  p.meta = &meta;
  p.assembly = assembly;
  p.part = part;
  p.head.clear();
  p.head_suspect.clear();
  p.keys.clear();
  p.key_error.fill(std::nullopt);
  p.head_error = build_head(p.head, meta, opt, false);
  if (!p.head_error) build_head(p.head_suspect, meta, opt, true);
  const auto names = meta.field_names(assembly, part);
  for (std::size_t i = 0; i < kMaxSampleValues; ++i) {
    p.key_at[i] = static_cast<std::uint32_t>(p.keys.size());
    p.keys += ',';  // the first value's ',' becomes ' ' when the line is written
    if (i < names.size()) {
      if (names[i].empty()) p.key_error[i] = EncodeError::empty_name;
      else if (has_newline(names[i])) p.key_error[i] = EncodeError::newline_in_name;
      else append_key(p.keys, names[i]);
    } else {
      p.keys += "value_";
      char buf[8];
      auto r = std::to_chars(buf, buf + sizeof buf, std::size_t{part} * kMaxSampleValues + i);
      p.keys.append(buf, r.ptr);
    }
    p.keys += '=';
  }
  p.key_at[kMaxSampleValues] = static_cast<std::uint32_t>(p.keys.size());
  p.keys.append(kCopyPad, '\0');
  p.head_len = p.head.size();
  p.head.append(kCopyPad, '\0');
  p.head_suspect_len = p.head_suspect.size();
  p.head_suspect.append(kCopyPad, '\0');
  // head, keys and per value a number with its copy slack, ",sequence=65535i", ' ', a 20-character
  // timestamp, '\n', and slack for the fixed-size copies of the last key and integers.
  p.room = std::max(p.head_len, p.head_suspect_len) + p.key_at[kMaxSampleValues] + kMaxSampleValues * (kNumberTextRoom + kCopyPad) + 16 + 1 + 20 +
           1 + 2 * kCopyPad;
}

// Copies n bytes from `from` (kCopyPad readable) to `to` (kCopyPad writable).
inline void copy_key(char* to, const char* from, std::size_t n) {
  if (n <= kCopyPad) std::memcpy(to, from, kCopyPad);
  else std::memcpy(to, from, n);
}

pm500::expected<void, EncodeError> write_line(std::string& out, const Sample& s, const Encoder::Parts& p,
                                              const Options& opt) {
  if (p.head_error) return pm500::unexpected(*p.head_error);
  const std::size_t mark = out.size();
  std::optional<EncodeError> error;
  out.resize_and_overwrite(mark + p.room, [&](char* buf, std::size_t) -> std::size_t {
    char* o = buf + mark;
    const bool suspect = (s.flags & kSampleSuspect) != 0;  // with the tag quality=suspect
    const std::size_t head_len = suspect ? p.head_suspect_len : p.head_len;
    copy_key(o, (suspect ? p.head_suspect : p.head).data(), head_len);
    o += head_len;
    char* first = nullptr;  // the first field's separator
    const char* keys = p.keys.data();
    const std::size_t n = s.count < kMaxSampleValues ? s.count : kMaxSampleValues;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = s.values[i];
      if (!std::isfinite(v)) continue;  // no NaN/Inf in line protocol: leave the field out
      if (p.key_error[i]) {
        error = p.key_error[i];
        return mark;
      }
      const std::size_t len = p.key_at[i + 1] - p.key_at[i];
      copy_key(o, keys + p.key_at[i], len);
      if (!first) first = o;
      o = write_measured(o + len, v);
    }
    if (!first) {
      error = EncodeError::no_fields;
      return mark;
    }
    *first = ' ';
    if (opt.sequence_field) {
      std::memcpy(o, ",sequence=", 10);
      o = write_integer(o + 10, s.sequence);
      *o++ = 'i';
    }
    *o++ = ' ';
    o = write_integer(o, timestamp(s.source_time_ns, opt.precision));
    *o++ = '\n';
    return static_cast<std::size_t>(o - buf);
  });
  if (error) return pm500::unexpected(*error);
  return {};
}

}  // namespace

std::optional<Precision> parse_precision(std::string_view s) {
  if (s == "ns") return Precision::ns;
  if (s == "us") return Precision::us;
  if (s == "ms") return Precision::ms;
  if (s == "s") return Precision::s;
  return std::nullopt;
}

std::string_view to_string(Precision p) {
  switch (p) {
    case Precision::ns: return "ns";
    case Precision::us: return "us";
    case Precision::ms: return "ms";
    case Precision::s: return "s";
  }
  return "ns";
}

std::string_view to_string(EncodeError e) {
  switch (e) {
    case EncodeError::newline_in_name: return "a measurement, tag or field name contains a newline";
    case EncodeError::empty_name: return "an empty measurement or field name";
    case EncodeError::no_fields: return "no finite value to write";
  }
  return "encoding error";
}

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
  auto r = to_chars_measured(buf, buf + sizeof buf, v);  // shortest text at the value's precision
  out.append(buf, r.ptr);
}

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
  out += 'i';
}

std::int64_t timestamp(std::int64_t ns, Precision p) {
  switch (p) {
    case Precision::ns: return ns;
    case Precision::us: return ns / 1'000;
    case Precision::ms: return ns / 1'000'000;
    case Precision::s: return ns / 1'000'000'000;
  }
  return ns;
}

pm500::expected<void, EncodeError> append_sample(std::string& out, const Sample& s, const DeviceMeta& meta,
                                                 const Options& opt) {
  Encoder::Parts p;
  build(p, s.assembly, s.part, meta, opt);
  return write_line(out, s, p, opt);
}

Encoder::Encoder() = default;
Encoder::Encoder(Options opt) : opt_(std::move(opt)) {}
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;
Encoder::~Encoder() = default;

const Encoder::Parts& Encoder::parts(const Sample& s, const DeviceMeta& meta) {
  if (s.device >= kMaxCachedDevices) {  // not a configured device: no cache for it
    if (!spare_) spare_ = std::make_unique<Parts>();
    build(*spare_, s.assembly, s.part, meta, opt_);
    return *spare_;
  }
  if (s.device >= devices_.size()) devices_.resize(s.device + 1);
  auto& d = devices_[s.device];
  if (!d) d = std::make_unique<Device>();
  if (d->meta != &meta) {
    for (auto& slot : d->slots) slot.clear();
    d->meta = &meta;
  }
  const bool known = s.assembly >= 100 && s.assembly <= 108;
  auto& parts = d->slots[known ? s.assembly - 100u : 9u];
  if (s.part >= parts.size()) parts.resize(s.part + 1u);
  auto& slot = parts[s.part];
  if (!slot) {
    slot = std::make_unique<Parts>();
    build(*slot, s.assembly, s.part, meta, opt_);
  }
  return *slot;
}

pm500::expected<void, EncodeError> Encoder::append(std::string& out, const Sample& s, const DeviceMeta& meta) {
  return write_line(out, s, parts(s, meta), opt_);
}

}  // namespace pm500::lp
