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

namespace {

// Runs decode.py with `args` after the module folder, stdin from `input`.
RunResult run_decoder(const std::string& input, const std::string& args = "") {
  const fs::path& module = python_module_dir();
  TempDir tmp;
  write_file(tmp / "in.txt", input);
  const fs::path script = source_dir() / "sinks" / "sparkplug" / "tests" / "decode.py";
  // Debian's interpreter, where python3-protobuf installs (a python3 earlier on PATH, e.g.
  // pyenv's, does not see it).
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  auto r = run({"/bin/sh", "-c",
                python + " '" + script.string() + "' '" + module.string() + "' " + args + " < '" +
                    (tmp / "in.txt").string() + "'"});
  if (r.code != 0) {
    if (r.output.find("No module named 'google'") != std::string::npos)
      throw std::runtime_error("python3's protobuf module is missing: apt-get install python3-protobuf "
                               "(scripts/packages.txt [test])");
    throw std::runtime_error("decode.py failed: " + r.output);
  }
  return r;
}

std::vector<std::string> client_args(const Mosquitto& b, const Pki& pki) {
  return {"-h", "localhost", "-p", std::to_string(b.port()), "--cafile", pki.ca_crt().string()};
}

}  // namespace

std::string rebirth_command() {
  auto r = run_decoder("", "--rebirth-command");
  std::string bytes;
  for (std::size_t i = 0; i + 1 < r.output.size() && r.output[i] != '\n'; i += 2)
    bytes += static_cast<char>(std::stoi(r.output.substr(i, 2), nullptr, 16));
  return bytes;
}

SparkplugSubscriber::SparkplugSubscriber(const Mosquitto& broker, const Pki& pki, std::vector<std::string> auth,
                                         const std::string& client_id)
    : broker_(broker), pki_(pki) {
  std::vector<std::string> argv{which("mosquitto_sub").value_or("mosquitto_sub")};
  for (auto& a : client_args(broker, pki)) argv.push_back(a);
  for (auto& a : auth) argv.push_back(a);
  argv.insert(argv.end(), {"-q", "1", "-c", "-i", client_id, "-F", "%t %x", "-t", "spBv1.0/#", "-t", "pm500-test/ready"});
  proc_ = std::make_unique<Process>(argv);
}

bool SparkplugSubscriber::ready(const std::vector<std::string>& pub_auth, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        mosquitto_pub(broker_, pki_, "pm500-test/ready", "ready", pub_auth);
        return proc_->log().find("pm500-test/ready 7265616479") != std::string::npos;
      },
      timeout);
}

namespace {
// What the edge node published: Sparkplug topics, without the commands and STATE hosts send.
bool from_edge_node(const std::string& line) {
  if (!line.starts_with("spBv1.0/") || line.starts_with("spBv1.0/STATE/")) return false;
  const auto topic = line.substr(0, line.find(' '));
  return topic.find("/NCMD/") == std::string::npos && topic.find("/DCMD/") == std::string::npos;
}

// The log up to its last complete line: mosquitto_sub may be writing the next one.
std::string complete_lines(const std::string& log) {
  const auto end = log.rfind('\n');
  return end == std::string::npos ? std::string() : log.substr(0, end + 1);
}
}  // namespace

std::size_t SparkplugSubscriber::count() const {
  std::size_t n = 0;
  std::istringstream in(complete_lines(proc_->log()));
  for (std::string l; std::getline(in, l);)
    if (from_edge_node(l)) ++n;
  return n;
}

std::vector<DecodedMessage> SparkplugSubscriber::messages() const {
  std::string lines;
  std::istringstream in(complete_lines(proc_->log()));
  for (std::string l; std::getline(in, l);)
    if (from_edge_node(l)) lines += l + "\n";
  return decode_lines(lines);
}

RunResult publish_bytes(const Mosquitto& broker, const Pki& pki, const std::string& topic, const std::string& bytes,
                        const std::vector<std::string>& auth, bool retain) {
  TempDir tmp;
  write_file(tmp / "payload", bytes);
  std::vector<std::string> argv{which("mosquitto_pub").value_or("mosquitto_pub")};
  for (auto& a : client_args(broker, pki)) argv.push_back(a);
  for (auto& a : auth) argv.push_back(a);
  argv.insert(argv.end(), {"-q", "1", "-t", topic, "-f", (tmp / "payload").string()});
  if (retain) argv.push_back("-r");
  return run(argv, 10s);
}

std::vector<DecodedMessage> decode_lines(const std::string& lines) {
  auto r = run_decoder(lines);
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
