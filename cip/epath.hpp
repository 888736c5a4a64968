// EPATH: the padded segment paths of CIP (CIP Vol 1, Appendix C "Data Management", C-1
// "Segment Type"). Supported:
//   - logical segments ("Logical Segment"): class, instance, member, connection point, attribute, in 8-,
//     16- and (instance, connection point only) 32-bit formats; encode picks the smallest;
//   - the electronic key segment 0x34, key format 4 ("Electronic Key Segment");
//   - port segments ("Port Segment"), including extended link addresses and port numbers >= 15;
//   - simple data segments 0x80 ("Data Segment"), which carry configuration data in Forward Opens.
// Anything else decodes to Errc::unsupported. Path sizes are counted in 16-bit words by the
// message that holds the path, never by the path itself.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <variant>

#include "cip/bytes.hpp"

namespace cip {

enum class LogicalType : std::uint8_t {
  class_id = 0,
  instance = 1,
  member = 2,
  connection_point = 3,
  attribute = 4,
};

struct Logical {
  LogicalType type = LogicalType::class_id;
  std::uint32_t value = 0;
};

// Port segment: a hop to `port` (1 = backplane on Rockwell devices) and the link address there
// (a slot number, or an IP address as text). The link address is held inline so a route can be
// built and returned by value; longer link addresses decode to Errc::unsupported.
struct Port {
  static constexpr std::size_t max_link = 16;
  std::uint16_t port = 1;
  std::array<std::uint8_t, max_link> link{};
  std::uint8_t link_size = 0;

  static Port slot(std::uint16_t port, std::uint8_t slot);
  static Port address(std::uint16_t port, std::string_view text);  // e.g. "10.0.0.5"
  bytes_view link_view() const { return {link.data(), link_size}; }
};

// Electronic key (format 4): the target compares it with its identity before opening.
struct ElectronicKey {
  std::uint16_t vendor = 0;
  std::uint16_t device_type = 0;
  std::uint16_t product_code = 0;
  std::uint8_t major_revision = 0;  // 7 bits
  bool compatibility = false;       // bit 7 of the major revision byte
  std::uint8_t minor_revision = 0;
};

// Simple data segment: 16-bit words of data carried in the path.
struct SimpleData {
  bytes_view data{};  // even length
};

using Segment = std::variant<Logical, Port, ElectronicKey, SimpleData>;

// A decoded or hand-built path. Fixed capacity: connection paths hold at most a key, a few port
// hops and four logical segments.
inline constexpr std::size_t path_max_segments = 12;
struct Path {
  std::array<Segment, path_max_segments> segments{};
  std::size_t size = 0;

  // Appends; returns false when full.
  bool push(const Segment& s);
  std::span<const Segment> view() const { return {segments.data(), size}; }
};

inline Logical class_segment(std::uint32_t v) { return {LogicalType::class_id, v}; }
inline Logical instance_segment(std::uint32_t v) { return {LogicalType::instance, v}; }
inline Logical attribute_segment(std::uint32_t v) { return {LogicalType::attribute, v}; }
inline Logical connection_point_segment(std::uint32_t v) { return {LogicalType::connection_point, v}; }

// A route through a backplane (port 1) to `slot`, for Unconnected_Send or a Forward Open
// through a bridge.
Path backplane_route(std::uint8_t slot);

// class/instance[/attribute] as used by explicit requests. attribute 0 = none.
Path application_path(std::uint32_t class_id, std::uint32_t instance, std::uint32_t attribute = 0);

void encode(Writer& w, const Segment& s);
void encode_path(Writer& w, std::span<const Segment> path);
// Encoded size in bytes (always even).
std::size_t encoded_size(const Segment& s);
std::size_t encoded_size(std::span<const Segment> path);

pm500::expected<Path, Error> decode_path(bytes_view in);

}  // namespace cip
