#include "sinks/sparkplug/tests/decoded.hpp"

#include <simdjson.h>

#include <sstream>
#include <stdexcept>

#include "support/support.hpp"

namespace pm500::test::sparkplug {

namespace {

// protoc's Python module of the project's .proto, generated once per test process.
const fs::path& python_module_dir() {
  static TempDir dir;
  static bool made = false;
  if (!made) {
    auto protoc = which("protoc");
    if (!protoc) throw std::runtime_error("protoc is missing: apt-get install protobuf-compiler (scripts/packages.txt [test])");
    const fs::path proto_dir = source_dir() / "sinks" / "sparkplug";
    auto r = run({*protoc, "--python_out=" + dir.path().string(), "-I", proto_dir.string(),
                  (proto_dir / "sparkplug_b.proto").string()});
    if (r.code != 0) throw std::runtime_error("protoc failed: " + r.output);
    made = true;
  }
  return dir.path();
}

DecodedValue value_of(simdjson::dom::element field, simdjson::dom::element value) {
  DecodedValue v;
  if (field.is_null()) return v;
  v.field = std::string(std::string_view(field));
  if (value.is_bool()) {
    v.boolean = bool(value);
  } else if (value.is_uint64()) {
    v.integer = std::uint64_t(value);
    v.number = static_cast<double>(v.integer);
  } else if (value.is_int64()) {
    v.number = static_cast<double>(std::int64_t(value));
  } else if (value.is_double()) {
    v.number = double(value);
  } else if (value.is_string()) {
    v.text = std::string(std::string_view(value));
  }
  return v;
}

template <class T>
std::optional<T> opt_uint(simdjson::dom::element e) {
  if (e.is_null()) return std::nullopt;
  return static_cast<T>(std::uint64_t(e));
}

}  // namespace

std::string DecodedMessage::type() const {
  std::vector<std::string> parts;
  std::stringstream in(topic);
  for (std::string p; std::getline(in, p, '/');) parts.push_back(p);
  if (parts.size() < 4 || parts[0] != "spBv1.0") return "";
  return parts[2];
}

std::string DecodedMessage::device() const {
  std::vector<std::string> parts;
  std::stringstream in(topic);
  for (std::string p; std::getline(in, p, '/');) parts.push_back(p);
  return parts.size() >= 5 ? parts[4] : "";
}

const DecodedMetric* DecodedMessage::metric(const std::string& name) const {
  for (const auto& m : metrics)
    if (m.name && *m.name == name) return &m;
  return nullptr;
}

std::string hex_line(const std::string& topic, const std::string& payload) {
  static const char* digits = "0123456789abcdef";
  std::string out = topic + " ";
  for (unsigned char c : payload) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out + "\n";
}

std::vector<DecodedMessage> decode_lines(const std::string& lines) {
  const fs::path& module = python_module_dir();
  TempDir tmp;
  write_file(tmp / "in.txt", lines);
  const fs::path script = source_dir() / "sinks" / "sparkplug" / "tests" / "decode.py";
  // Debian's interpreter, where python3-protobuf installs (a python3 earlier on PATH, e.g.
  // pyenv's, does not see it).
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  auto r = run({"/bin/sh", "-c",
                python + " '" + script.string() + "' '" + module.string() + "' < '" + (tmp / "in.txt").string() + "'"});
  if (r.code != 0) {
    if (r.output.find("No module named 'google'") != std::string::npos)
      throw std::runtime_error("python3's protobuf module is missing: apt-get install python3-protobuf "
                               "(scripts/packages.txt [test])");
    throw std::runtime_error("decode.py failed: " + r.output);
  }
  std::vector<DecodedMessage> out;
  simdjson::dom::parser parser;
  std::stringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    simdjson::dom::element doc = parser.parse(line);
    DecodedMessage m;
    m.topic = std::string(std::string_view(doc["topic"]));
    if (auto raw = doc["raw"]; !raw.error()) {
      m.raw = std::string(std::string_view(raw.value()));
      out.push_back(std::move(m));
      continue;
    }
    m.timestamp = opt_uint<std::uint64_t>(doc["timestamp"]);
    m.seq = opt_uint<std::uint64_t>(doc["seq"]);
    for (simdjson::dom::element e : doc["metrics"].get_array()) {
      DecodedMetric x;
      if (!e["name"].is_null()) x.name = std::string(std::string_view(e["name"]));
      x.alias = opt_uint<std::uint64_t>(e["alias"]);
      x.timestamp = opt_uint<std::uint64_t>(e["timestamp"]);
      x.datatype = opt_uint<std::uint32_t>(e["datatype"]);
      x.historical = bool(e["is_historical"]);
      x.transient = bool(e["is_transient"]);
      x.is_null = bool(e["is_null"]);
      x.value = value_of(e["value_field"], e["value"]);
      for (auto [key, pv] : e["properties"].get_object()) {
        x.properties[std::string(key)] = value_of(pv["value_field"], pv["value"]);
        if (!pv["type"].is_null()) x.property_types[std::string(key)] = static_cast<std::uint32_t>(std::uint64_t(pv["type"]));
      }
      m.metrics.push_back(std::move(x));
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace pm500::test::sparkplug
