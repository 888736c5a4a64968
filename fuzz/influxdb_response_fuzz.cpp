// InfluxDB answers: any bytes as a Retry-After value, an HTTP-date, a JSON error body or a
// read-back answer either parse or yield "nothing concluded"; never a crash. What parses obeys
// its bounds: a wait within 0..kMaxRetryAfter, texts printable and bounded.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "sinks/influxdb/response.hpp"

namespace {

bool printable_only(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pm500::influx;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto w = parse_retry_after(in, 1'700'000'000)) {
    FUZZ_CHECK(w->count() >= 0);
    FUZZ_CHECK(*w <= kMaxRetryAfter);
  }
  if (auto d = parse_http_date(in)) {
    // Years are 2 or 4 digits (0000..9999), days 1..31.
    FUZZ_CHECK(*d >= -62'167'219'200 - 86400);
    FUZZ_CHECK(*d <= 253'402'300'800 + 31 * 86400);
  }

  const ErrorBody e = parse_error_body(in);
  FUZZ_CHECK(printable_only(e.code) && printable_only(e.message) && printable_only(e.raw));
  FUZZ_CHECK(e.raw.size() <= 303);
  FUZZ_CHECK(e.code.size() <= 1003);

  std::string err;
  (void)v1_query_has_rows(in, &err);
  FUZZ_CHECK(printable_only(err));
  if (auto rp = v1_retention_policy(in, "", &err)) FUZZ_CHECK(printable_only(rp->name) && printable_only(rp->duration));
  (void)v1_retention_policy(in, "autogen");
  if (auto s = v2_bucket_retention_s(in, "b")) FUZZ_CHECK(*s >= 0);
  (void)v2_csv_has_rows(in);

  const std::string p = printable(in, 64);
  FUZZ_CHECK(p.size() <= 67);
  FUZZ_CHECK(printable_only(p));
  return 0;
}
