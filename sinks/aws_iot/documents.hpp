// Samples packed into documents for AWS IoT: one JSON document per device per batch (split when
// it would exceed the payload limit, 128 KB on AWS IoT), because a connection may publish at
// most 100 messages/s -- one message per sample would cap a gateway at 100 samples/s.
//
//   {"thing":"gw-1","device":"mcc-1","site":"plant","asset":"feeder 1","samples":[{"time":..},..]}
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"
#include "sinks/common/json_sample.hpp"

namespace pm500::sinks::aws_iot {

struct Document {
  std::uint32_t device = 0;
  std::size_t samples = 0;
  std::string payload;
};

// Appends to `out` (cleared first). Devices in order of first appearance, each device's samples
// in source order; no document exceeds max_bytes unless a single sample does.
void pack_documents(std::span<const Sample> batch, const Catalog& catalog, std::string_view thing,
                    std::size_t max_bytes, std::vector<Document>& out);
// The same with the sink's encoder, which keeps each device's identity and keys rendered.
void pack_documents(std::span<const Sample> batch, const Catalog& catalog, std::string_view thing,
                    std::size_t max_bytes, std::vector<Document>& out, json::Encoder& encoder);

}  // namespace pm500::sinks::aws_iot
