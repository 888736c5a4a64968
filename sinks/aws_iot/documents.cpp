#include "sinks/aws_iot/documents.hpp"

#include "pm500/json_text.hpp"
#include "sinks/common/json_sample.hpp"

namespace pm500::sinks::aws_iot {

namespace {

void open_document(Document& d, std::string_view thing, const Sample& s, const DeviceMeta* meta,
                   json::Encoder& encoder) {
  d.device = s.device;
  d.samples = 0;
  d.payload = "{\"thing\":";
  json::append_string(d.payload, thing);
  d.payload += ',';
  encoder.append_device_identity(d.payload, s.device, meta);
  d.payload += ",\"samples\":[";
}

}  // namespace

void pack_documents(std::span<const Sample> batch, const Catalog& catalog, std::string_view thing, std::size_t max_bytes,
                    std::vector<Document>& out) {
  json::Encoder encoder;
  pack_documents(batch, catalog, thing, max_bytes, out, encoder);
}

void pack_documents(std::span<const Sample> batch, const Catalog& catalog, std::string_view thing, std::size_t max_bytes,
                    std::vector<Document>& out, json::Encoder& encoder) {
  out.clear();
  std::vector<std::uint32_t> devices;  // in order of first appearance
  for (const Sample& s : batch) {
    bool known = false;
    for (auto d : devices) known = known || d == s.device;
    if (!known) devices.push_back(s.device);
  }
  std::string body;
  for (std::uint32_t device : devices) {
    const DeviceMeta* meta = catalog.device(device);
    Document cur;
    for (const Sample& s : batch) {
      if (s.device != device) continue;
      body.clear();
      encoder.append_sample_body(body, s, meta);
      if (cur.samples > 0 && cur.payload.size() + 1 + body.size() + 2 > max_bytes) {
        cur.payload += "]}";
        out.push_back(std::move(cur));
        cur = Document{};
      }
      if (cur.samples == 0) open_document(cur, thing, s, meta, encoder);
      else cur.payload += ',';
      cur.payload += body;
      ++cur.samples;
    }
    if (cur.samples > 0) {
      cur.payload += "]}";
      out.push_back(std::move(cur));
    }
  }
}

}  // namespace pm500::sinks::aws_iot
