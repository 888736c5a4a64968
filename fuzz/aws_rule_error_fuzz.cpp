// AWS IoT rule error messages: any bytes either parse or yield an error value; what parses gives
// an evidence line that stays one line and bounded, whatever the strings hold.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "sinks/aws_iot/rule_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = pm500::sinks::aws_iot::parse_rule_error(text);
  if (!e) {
    FUZZ_CHECK(!e.error().empty());
    return 0;
  }
  const std::string line = pm500::sinks::aws_iot::evidence(*e);
  FUZZ_CHECK(line.find('\n') == std::string::npos);
  // 128 + 256 bytes for rule and topic, ~900 per failure, plus the labels.
  FUZZ_CHECK(line.size() <= 512 + e->failures.size() * 1024);
  for (const auto& f : e->failures) (void)pm500::sinks::aws_iot::is_throughput_error(f);
  return 0;
}
