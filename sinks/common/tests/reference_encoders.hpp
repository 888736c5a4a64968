// The encoders as they were before the constant parts were cached (commit 574d628), plus the
// quality mark of a kSampleSuspect sample (tag quality=suspect, JSON "quality":"suspect"): kept
// as the oracle that the cached encoders must match byte for byte
// (encoders_test.cpp, fuzz/fuzz_encoders.cpp) and as the "before" row of
// bench/influxdb_encoder_bench.cpp. Numbers go through std::to_chars, as they did then.
// Not linked into the gateway.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"
#include "sinks/common/line_protocol.hpp"

namespace pm500::reference {

pm500::expected<void, lp::EncodeError> lp_append_sample(std::string& out, const Sample& s, const DeviceMeta& meta,
                                                        const lp::Options& opt);

void json_append_sample(std::string& out, const Sample& s, const DeviceMeta* meta);
void json_append_sample_body(std::string& out, const Sample& s, const DeviceMeta* meta);
void json_append_device_identity(std::string& out, std::uint32_t device, const DeviceMeta* meta);

}  // namespace pm500::reference
