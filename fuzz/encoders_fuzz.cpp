// The sample encoders (sinks/common): for any names, options and values the cached encoders
// (lp::Encoder, json::Encoder) and the free functions write exactly what the encoders before the
// cache wrote (sinks/common/tests/reference_encoders.cpp), errors included, and every number's
// text is what std::to_chars writes (pm500/number_text.hpp).
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "pm500/number_text.hpp"
#include "sinks/common/json_sample.hpp"
#include "sinks/common/line_protocol.hpp"
#include "sinks/common/tests/reference_encoders.hpp"

namespace {

struct Reader {
  const std::uint8_t* p;
  std::size_t left;

  template <class T>
  T take() {
    T v{};
    const std::size_t n = left < sizeof(T) ? left : sizeof(T);
    std::memcpy(&v, p, n);
    p += n;
    left -= n;
    return v;
  }
  std::string text(std::size_t max) {
    std::size_t n = take<std::uint8_t>() % (max + 1);
    if (n > left) n = left;
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
    return s;
  }
};

template <class F>
void check_number(F v) {
  if (!std::isfinite(v)) return;
  char a[64], b[64];
  const std::string_view want(a, static_cast<std::size_t>(std::to_chars(a, a + sizeof a, v).ptr - a));
  const std::string_view got(b, static_cast<std::size_t>(pm500::write_shortest(b, v) - b));
  FUZZ_CHECK(want == got);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pm500;
  Reader in{data, size};

  lp::Options o;
  const auto flags = in.take<std::uint8_t>();
  o.precision = static_cast<lp::Precision>(flags & 3);
  o.sequence_field = flags & 4;
  o.device_tag = flags & 8;
  if (flags & 16) o.measurement = in.text(12);
  for (int t = 0; t < ((flags >> 5) & 3); ++t) o.extra_tags.emplace_back(in.text(6), in.text(6));

  Catalog cat;
  const int devices = 1 + in.take<std::uint8_t>() % 3;
  for (int d = 0; d < devices; ++d) {
    DeviceMeta m;
    m.name = in.text(10);
    m.site = in.text(6);
    m.asset = in.text(6);
    for (std::uint16_t a : {std::uint16_t{101}, std::uint16_t{102}, std::uint16_t{107}}) {
      const int n = in.take<std::uint8_t>() % 60;  // beyond 18: an assembly read in parts
      for (int i = 0; i < n; ++i) m.fields[a - 100].push_back(in.text(24));
    }
    cat.devices.push_back(std::move(m));
  }

  lp::Encoder lpe(o);
  json::Encoder je;
  std::string lw, lg, lf, jw, jg, jf;
  DeviceMeta unknown;
  while (in.left > 0) {
    // Each sample after some text, as in a batch. Short strings: with clang 14 and libstdc++ 12
    // every append copies the whole string (std::is_constant_evaluated() is true at run time in
    // basic_string::_M_replace), which makes long ones quadratic.
    for (std::string* t : {&lw, &lg, &lf, &jw, &jg, &jf}) t->assign("previous\n");
    Sample s;
    s.device = in.take<std::uint8_t>() % 5;  // 3 and 4 may be unknown to the catalog
    s.assembly = static_cast<std::uint16_t>(99 + in.take<std::uint8_t>() % 11);
    s.source_time_ns = in.take<std::int64_t>();
    s.sequence = in.take<std::uint16_t>();
    s.flags = in.take<std::uint16_t>();
    s.count = static_cast<std::uint8_t>(in.take<std::uint8_t>() % 20);
    s.part = static_cast<std::uint8_t>(in.take<std::uint8_t>() % 5);
    const auto kinds = in.take<std::uint32_t>();
    for (std::size_t i = 0; i < s.count && i < kMaxSampleValues; ++i) {
      switch ((kinds >> (2 * (i % 16))) & 3) {
        case 0: s.values[i] = static_cast<double>(std::bit_cast<float>(in.take<std::uint32_t>())); break;
        case 1: s.values[i] = std::bit_cast<double>(in.take<std::uint64_t>()); break;
        case 2: s.values[i] = static_cast<double>(in.take<std::int32_t>()) / 1000.0; break;
        default: s.values[i] = static_cast<double>(std::bit_cast<float>(in.take<std::uint32_t>())) * 320.0; break;
      }
      check_number(s.values[i]);
      check_number(static_cast<float>(s.values[i]));
    }
    const DeviceMeta* known = cat.device(s.device);
    if (!known) unknown.name = "device-" + std::to_string(s.device);  // as the sinks do
    const DeviceMeta& m = known ? *known : unknown;

    auto a = reference::lp_append_sample(lw, s, m, o);
    auto b = lpe.append(lg, s, m);
    auto c = lp::append_sample(lf, s, m, o);
    FUZZ_CHECK(a.has_value() == b.has_value() && a.has_value() == c.has_value());
    if (!a) FUZZ_CHECK(a.error() == b.error() && a.error() == c.error());
    FUZZ_CHECK(lg == lw && lf == lw);

    reference::json_append_sample(jw, s, known);
    je.append_sample(jg, s, known);
    json::append_sample(jf, s, known);
    reference::json_append_sample_body(jw, s, known);
    je.append_sample_body(jg, s, known);
    json::append_sample_body(jf, s, known);
    reference::json_append_device_identity(jw, s.device, known);
    je.append_device_identity(jg, s.device, known);
    json::append_device_identity(jf, s.device, known);
    FUZZ_CHECK(jg == jw && jf == jw);
  }
  return 0;
}
