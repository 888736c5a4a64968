#include "sinks/common/line_protocol.hpp"

#include "pm500/number_text.hpp"

#include <charconv>
#include <cmath>

namespace pm500::lp {
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
  const std::string_view tags[3][2] = {{"asset", meta.asset},
                                       {"device", opt.device_tag ? std::string_view(meta.name) : std::string_view()},
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

  const auto names = meta.field_names(s.assembly);
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
      auto r = std::to_chars(buf, buf + sizeof buf, i);
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
  auto r = std::to_chars(buf, buf + sizeof buf, timestamp(s.source_time_ns, opt.precision));
  out.append(buf, r.ptr);
  out += '\n';
  return {};
}

}  // namespace pm500::lp
