#include "cip/status.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace cip {
namespace {

template <class Code>
struct Entry {
  Code code;
  StatusText text;
};

// CIP Vol 2, 2-3 "Encapsulation Message", status codes.
constexpr Entry<std::uint32_t> encap_table[] = {
    {0x0000, {"success", "the command was carried out"}},
    {0x0001, {"invalid or unsupported command", "the target does not implement this encapsulation command"}},
    {0x0002, {"insufficient memory", "the target has no resources to handle the command now; retry later"}},
    {0x0003, {"incorrect data", "the command's data was malformed; an originator bug or a corrupted stream"}},
    {0x0064, {"invalid session handle", "the session is unknown to the target (it restarted or dropped it); register a new session"}},
    {0x0065, {"invalid length", "the header's length disagrees with the data sent"}},
    {0x0069, {"unsupported protocol revision", "the target does not speak encapsulation protocol version 1 as requested"}},
    {0x006A, {"encapsulated service not allowed", "the target refuses this CIP service on this port"}},
};

// CIP Vol 1, Appendix B "Status Codes", general status codes.
constexpr Entry<std::uint8_t> general_table[] = {
    {0x00, {"success", "the service succeeded"}},
    {0x01, {"connection failure", "a connection-related service failed; the extended status says why"}},
    {0x02, {"resource unavailable", "the target lacks a resource (memory, connection slots) to perform the service"}},
    {0x03, {"invalid parameter value", "a request parameter is out of range or inconsistent"}},
    {0x04, {"path segment error", "the target could not parse a path segment (bad type or syntax)"}},
    {0x05, {"path destination unknown", "the path names a class, instance or attribute the target does not have"}},
    {0x06, {"partial transfer", "only part of the expected data was transferred"}},
    {0x07, {"connection lost", "the messaging connection was lost"}},
    {0x08, {"service not supported", "the object does not implement the requested service"}},
    {0x09, {"invalid attribute value", "the attribute data is invalid"}},
    {0x0A, {"attribute list error", "an attribute in a list request has a non-zero status"}},
    {0x0B, {"already in requested mode/state", "the object is already in the mode or state requested"}},
    {0x0C, {"object state conflict", "the object cannot perform the service in its current state"}},
    {0x0D, {"object already exists", "the instance to create exists already"}},
    {0x0E, {"attribute not settable", "a set was requested on a read-only attribute"}},
    {0x0F, {"privilege violation", "the requester lacks permission for this service"}},
    {0x10, {"device state conflict", "the device's current mode or state forbids the service"}},
    {0x11, {"reply data too large", "the reply would exceed the buffer available for it"}},
    {0x12, {"fragmentation of a primitive value", "the service would split a primitive value (e.g. half a REAL)"}},
    {0x13, {"not enough data", "the request carried less data than the service needs"}},
    {0x14, {"attribute not supported", "the attribute named in the request does not exist"}},
    {0x15, {"too much data", "the request carried more data than the service expects"}},
    {0x16, {"object does not exist", "the object (instance) named in the path does not exist"}},
    {0x17, {"service fragmentation sequence not in progress", "a fragment arrived with no fragmented transfer under way"}},
    {0x18, {"no stored attribute data", "the attribute data was never saved to non-volatile storage"}},
    {0x19, {"store operation failure", "saving the attribute data failed"}},
    {0x1A, {"routing failure, request packet too large", "a bridge could not forward the request: too large for the next network"}},
    {0x1B, {"routing failure, response packet too large", "a bridge could not return the reply: too large for the network back"}},
    {0x1C, {"missing attribute list entry data", "a list service is missing data for an attribute"}},
    {0x1D, {"invalid attribute value list", "a list service returns a list containing invalid attribute values"}},
    {0x1E, {"embedded service error", "a service embedded in this one (e.g. in a multiple service packet) failed"}},
    {0x1F, {"vendor specific error", "a vendor specific error; the additional status may say more"}},
    {0x20, {"invalid parameter", "a parameter of the request is invalid for this service"}},
    {0x21, {"write-once value or medium already written", "the value or medium can be written only once and already was"}},
    {0x22, {"invalid reply received", "an invalid reply came back (e.g. reply service does not match the request)"}},
    {0x23, {"buffer overflow", "the message is larger than the receiving buffer"}},
    {0x24, {"message format error", "the format of the received message is not supported"}},
    {0x25, {"key failure in path", "the electronic key in the path does not match the target"}},
    {0x26, {"path size invalid", "the path size does not match the path, or the path is too long for the request"}},
    {0x27, {"unexpected attribute in list", "a set request lists an attribute that cannot be set this way"}},
    {0x28, {"invalid member id", "the member named in the request does not exist"}},
    {0x29, {"member not settable", "a set was requested on a read-only member"}},
    {0x2A, {"group 2 only server general failure", "a DeviceNet group 2 only server failed the request"}},
};

// CIP Vol 1, chapter 3, Connection Manager error codes (extended status under general 0x01).
constexpr Entry<std::uint16_t> extended_table[] = {
    {0x0100, {"connection in use or duplicate forward open", "a connection with this triad already exists; close it or wait for it to time out"}},
    {0x0103, {"transport class and trigger combination not supported", "the target does not support the requested transport class/trigger"}},
    {0x0106, {"ownership conflict", "another originator owns the connection point; use input-only or listen-only"}},
    {0x0107, {"target connection not found", "the Forward Close or reconnect named a connection the target does not have"}},
    {0x0108, {"invalid network connection parameter", "a network parameter (type, priority, size) is not acceptable"}},
    {0x0109, {"invalid connection size", "the requested connection size does not match the target's"}},
    {0x0110, {"target for connection not configured", "the target application is not configured for this connection"}},
    {0x0111, {"RPI not supported", "the requested packet interval is outside what the target supports"}},
    {0x0112, {"RPI value not acceptable", "the requested packet interval cannot be honoured; try another RPI"}},
    {0x0113, {"out of connections", "the connection manager has no free connection slots"}},
    {0x0114, {"vendor id or product code mismatch", "the electronic key's vendor or product code is not this device's"}},
    {0x0115, {"device type mismatch", "the electronic key's device type is not this device's"}},
    {0x0116, {"revision mismatch", "the electronic key's revision is not compatible with this device"}},
    {0x0117, {"invalid produced or consumed application path", "a connection point in the path does not exist on the target"}},
    {0x0118, {"invalid or inconsistent configuration application path", "the configuration instance in the path is wrong"}},
    {0x0119, {"non-listen-only connection not opened", "listen-only needs an owner producing this point (e.g. a PLC's input-only connection), and there is none"}},
    {0x011A, {"target object out of connections", "the assembly or object serves no further connections"}},
    {0x011B, {"RPI smaller than production inhibit time", "the requested RPI is below the target's production inhibit time"}},
    {0x011C, {"transport class not supported", "the target does not support the requested transport class"}},
    {0x011D, {"production trigger not supported", "the target does not support the requested production trigger"}},
    {0x011E, {"direction not supported", "the target does not support the requested transport direction"}},
    {0x011F, {"invalid O->T fixed/variable flag", "the O->T fixed/variable setting is not acceptable"}},
    {0x0120, {"invalid T->O fixed/variable flag", "the T->O fixed/variable setting is not acceptable"}},
    {0x0121, {"invalid O->T priority", "the O->T priority is not acceptable"}},
    {0x0122, {"invalid T->O priority", "the T->O priority is not acceptable"}},
    {0x0123, {"invalid O->T connection type", "the O->T connection type (p2p/multicast/null) is not acceptable"}},
    {0x0124, {"invalid T->O connection type", "the T->O connection type (p2p/multicast) is not acceptable; try the other one"}},
    {0x0125, {"invalid O->T redundant owner flag", "the redundant owner setting is not acceptable"}},
    {0x0126, {"invalid configuration size", "the configuration data size is not what the target expects"}},
    {0x0127, {"invalid O->T size", "the O->T size is wrong; the target reports the size it wants"}},
    {0x0128, {"invalid T->O size", "the T->O size is wrong; the target reports the size it wants"}},
    {0x0129, {"invalid configuration application path", "the configuration path does not exist on the target"}},
    {0x012A, {"invalid consuming application path", "the consumed (O->T) connection point does not exist"}},
    {0x012B, {"invalid producing application path", "the produced (T->O) connection point does not exist"}},
    {0x012C, {"configuration symbol does not exist", "the symbolic configuration path names nothing"}},
    {0x012D, {"consuming symbol does not exist", "the symbolic consuming path names nothing"}},
    {0x012E, {"producing symbol does not exist", "the symbolic producing path names nothing"}},
    {0x012F, {"inconsistent application path combination", "the configuration, consuming and producing paths do not fit together"}},
    {0x0130, {"inconsistent consume data format", "the consumed data format does not match"}},
    {0x0131, {"inconsistent produce data format", "the produced data format does not match"}},
    {0x0132, {"null forward open not supported", "the target does not support a null Forward Open"}},
    {0x0133, {"connection timeout multiplier not acceptable", "the timeout multiplier is out of the target's range"}},
    {0x0203, {"connection timed out", "no packet arrived within the connection timeout (RPI x 4 x 2^multiplier)"}},
    {0x0204, {"unconnected request timed out", "the target or a bridge did not answer the unconnected request in time"}},
    {0x0205, {"parameter error in unconnected request", "a parameter of the unconnected request (e.g. ticks) is invalid"}},
    {0x0206, {"message too large for unconnected send", "the embedded message exceeds what unconnected send can carry"}},
    {0x0207, {"unconnected acknowledge without reply", "the request was acknowledged but no reply followed"}},
    {0x0301, {"no buffer memory available", "the target or a bridge has no buffer memory for the connection"}},
    {0x0302, {"network bandwidth not available for data", "a network on the path lacks the bandwidth for this connection"}},
    {0x0303, {"no consumed connection id filter available", "a receiver has no filter left for another connection id"}},
    {0x0304, {"not configured to send scheduled priority data", "the device is not configured for scheduled priority"}},
    {0x0305, {"schedule signature mismatch", "the network schedule does not match the device's"}},
    {0x0306, {"schedule signature validation not possible", "the schedule signature cannot be validated"}},
    {0x0311, {"port not available", "a port segment in the path names a port the device does not have (check the slot/route)"}},
    {0x0312, {"link address not valid", "the link address (slot or IP) in a port segment is not valid (check the slot/route)"}},
    {0x0315, {"invalid segment in connection path", "the connection path holds a segment the target does not accept"}},
    {0x0316, {"error in forward close connection path", "the Forward Close path does not match the connection's"}},
    {0x0317, {"scheduling not specified", "scheduled priority was requested without a schedule"}},
    {0x0318, {"link address to self invalid", "the route points back at the device itself"}},
    {0x0319, {"secondary resources unavailable", "a redundant partner lacks resources for the connection"}},
    {0x031A, {"rack connection already established", "a rack connection to this chassis already exists"}},
    {0x031B, {"module connection already established", "a direct connection to this module already exists"}},
    {0x031C, {"miscellaneous", "an unspecified connection error"}},
    {0x031D, {"redundant connection mismatch", "the redundant connection parameters do not match"}},
    {0x031E, {"no more user configurable link consumer resources", "all user configurable link consumers are in use"}},
    {0x031F, {"no user configurable link consumer resources configured", "no user configurable link consumers exist"}},
    {0x0800, {"network link offline", "a network link on the path is offline"}},
    {0x0810, {"no target application data available", "the target application has no data to produce yet"}},
    {0x0811, {"no originator application data available", "the originator application has no data to produce yet"}},
    {0x0812, {"node address changed since network was scheduled", "the device's node address changed since scheduling"}},
    {0x0813, {"not configured for off-subnet multicast", "multicast T->O across subnets is not configured; use point-to-point or one subnet"}},
    {0x0814, {"invalid produce/consume data format", "the produce/consume data format is not valid"}},
};

template <class Code, std::size_t N>
std::optional<StatusText> lookup(const Entry<Code> (&table)[N], Code code) {
  auto it = std::find_if(std::begin(table), std::end(table), [code](const auto& e) { return e.code == code; });
  if (it == std::end(table)) return std::nullopt;
  return it->text;
}

std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}

}  // namespace

std::optional<StatusText> encap_status_info(std::uint32_t s) { return lookup(encap_table, s); }
std::optional<StatusText> general_status_info(std::uint8_t s) { return lookup(general_table, s); }
std::optional<StatusText> extended_status_info(std::uint16_t s) { return lookup(extended_table, s); }

std::string_view encap_status_name(std::uint32_t s) {
  auto t = encap_status_info(s);
  return t ? t->name : "unknown encapsulation status";
}
std::string_view general_status_name(std::uint8_t s) {
  auto t = general_status_info(s);
  return t ? t->name : "unknown general status";
}
std::string_view extended_status_name(std::uint16_t s) {
  auto t = extended_status_info(s);
  return t ? t->name : "unknown extended status";
}
std::string_view encap_status_text(std::uint32_t s) {
  auto t = encap_status_info(s);
  return t ? t->meaning : "";
}
std::string_view general_status_text(std::uint8_t s) {
  auto t = general_status_info(s);
  return t ? t->meaning : "";
}
std::string_view extended_status_text(std::uint16_t s) {
  auto t = extended_status_info(s);
  return t ? t->meaning : "";
}

std::string describe_failure(std::uint8_t general, std::optional<std::uint16_t> extended) {
  std::string s = hex(general, 2);
  if (extended) s += "/" + hex(*extended, 4);
  s += ' ';
  // Extended codes are defined per general status; the table is the one for 0x01.
  if (general == 0x01 && extended && extended_status_info(*extended)) {
    s += extended_status_name(*extended);
  } else {
    s += general_status_name(general);
  }
  return s;
}

std::string describe_encap_status(std::uint32_t status) {
  return hex(status, 4) + " " + std::string(encap_status_name(status));
}

}  // namespace cip
