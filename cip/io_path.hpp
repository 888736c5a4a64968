// The connection path of a Class 1 connection to an assembly (CIP Vol 1, Forward_Open
// "Connection Path", and Vol 1 chapter 5 "Assembly Object"):
//   [electronic key 0x34] class 0x04, instance = configuration, connection point = O->T,
//   connection point = T->O
// A device without outputs (the PowerMonitor 500) takes a heartbeat point for O->T: data-less
// consumed points that say which kind of connection the originator wants.
#pragma once

#include <cstdint>
#include <optional>

#include "cip/epath.hpp"

namespace cip {

// PowerMonitor 500 heartbeat points (1420-UM001, appendix on EtherNet/IP assemblies).
inline constexpr std::uint16_t pm500_heartbeat_input_only = 98;
inline constexpr std::uint16_t pm500_heartbeat_listen_only = 99;

struct IoPathSpec {
  std::optional<ElectronicKey> key{};
  std::uint32_t config_instance = 0;   // device specific; unknown for the meter (a profile value)
  std::uint32_t o_t_point = 0;         // heartbeat 98 / 99, or an output assembly
  std::uint32_t t_o_point = 0;         // the produced assembly, e.g. 101
};

Path io_connection_path(const IoPathSpec& spec);

// The reverse, for a target: the parts of a decoded connection path, or Errc::unsupported when
// the path is not [key] class 4, instance, point, point.
pm500::expected<IoPathSpec, Error> parse_io_connection_path(const Path& path);

}  // namespace cip
