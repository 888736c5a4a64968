// Golden messages, assembled by hand from the CIP specification field by field (CIP Vol 2
// chapter 2 for encapsulation and CPF, Vol 1 chapter 3 for the Connection Manager, Vol 1
// appendix C for EPATH). The codec tests compare encoder output with them byte for byte, and
// fuzz/corpus/ holds copies as seeds (seeds_test.cpp keeps the two equal).
//
// The cast of values used throughout: session 0x11223344, sender context 01..08, originator
// vendor 0xBEEF, originator serial 42, connection serial 7, T->O connection id 0x12345678,
// O->T connection id 0x20000001, RPI 100 ms, the meter's identity (vendor 1, device type 0x92,
// product code 4, revision 2.3, serial 945000123, "PowerMonitor 500").
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace golden {

using bytes = std::span<const std::uint8_t>;

inline constexpr std::uint8_t register_session_request[] = {
    0x65, 0x00,                                      // command: RegisterSession
    0x04, 0x00,                                      // length: 4
    0x00, 0x00, 0x00, 0x00,                          // session handle: none yet
    0x00, 0x00, 0x00, 0x00,                          // status: success
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // sender context
    0x00, 0x00, 0x00, 0x00,                          // options
    0x01, 0x00,                                      // protocol version 1
    0x00, 0x00,                                      // option flags
};

inline constexpr std::uint8_t register_session_reply[] = {
    0x65, 0x00, 0x04, 0x00,                          // RegisterSession, length 4
    0x44, 0x33, 0x22, 0x11,                          // session handle 0x11223344
    0x00, 0x00, 0x00, 0x00,                          // status
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // context echoed
    0x00, 0x00, 0x00, 0x00,                          // options
    0x01, 0x00, 0x00, 0x00,                          // version 1, flags 0
};

inline constexpr std::uint8_t unregister_session[] = {
    0x66, 0x00, 0x00, 0x00,                          // UnRegisterSession, length 0
    0x44, 0x33, 0x22, 0x11,                          // session
    0x00, 0x00, 0x00, 0x00,                          // status
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // context
    0x00, 0x00, 0x00, 0x00,                          // options
};

inline constexpr std::uint8_t list_identity_request[] = {
    0x63, 0x00, 0x00, 0x00,                          // ListIdentity, length 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // session, status
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // context
    0x00, 0x00, 0x00, 0x00,                          // options
};

inline constexpr std::uint8_t list_identity_reply[] = {
    0x63, 0x00, 0x38, 0x00,                          // ListIdentity, length 56
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // session, status
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // context
    0x00, 0x00, 0x00, 0x00,                          // options
    0x01, 0x00,                                      // CPF item count 1
    0x0C, 0x00, 0x32, 0x00,                          // item 0x000C CIP Identity, length 50
    0x01, 0x00,                                      // encapsulation protocol version 1
    0x00, 0x02,                                      // sin_family AF_INET (big-endian)
    0xAF, 0x12,                                      // sin_port 44818 (big-endian)
    0x7F, 0x00, 0x00, 0x01,                          // sin_addr 127.0.0.1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // sin_zero
    0x01, 0x00,                                      // vendor 1 (Rockwell)
    0x92, 0x00,                                      // device type 0x92
    0x04, 0x00,                                      // product code 4 (1420-V1-ENT)
    0x02, 0x03,                                      // revision 2.3
    0x30, 0x00,                                      // status word
    0xBB, 0x8E, 0x53, 0x38,                          // serial 945000123
    0x10,                                            // product name length 16
    'P', 'o', 'w', 'e', 'r', 'M', 'o', 'n', 'i', 't', 'o', 'r', ' ', '5', '0', '0',
    0x03,                                            // state 3: operational
};

inline constexpr std::uint8_t list_services_reply[] = {
    0x04, 0x00, 0x1A, 0x00,                          // ListServices, length 26
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // session, status
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // context
    0x00, 0x00, 0x00, 0x00,                          // options
    0x01, 0x00,                                      // item count 1
    0x00, 0x01, 0x14, 0x00,                          // item 0x0100 communications, length 20
    0x01, 0x00,                                      // version 1
    0x20, 0x01,                                      // flags: CIP over TCP (bit 5), class 0/1 UDP (bit 8)
    'C', 'o', 'm', 'm', 'u', 'n', 'i', 'c', 'a', 't', 'i', 'o', 'n', 's', 0, 0,
};

// Forward Open, listen-only to assembly 101 via heartbeat point 99, as a message router request.
inline constexpr std::uint8_t forward_open_request[] = {
    0x54,                                            // service Forward_Open
    0x02, 0x20, 0x06, 0x24, 0x01,                    // path 2 words: class 6, instance 1
    0x0A,                                            // priority/tick: 2^10 ms ticks
    0x05,                                            // 5 ticks
    0x00, 0x00, 0x00, 0x00,                          // O->T connection id (target picks)
    0x78, 0x56, 0x34, 0x12,                          // T->O connection id 0x12345678
    0x07, 0x00,                                      // connection serial 7
    0xEF, 0xBE,                                      // originator vendor 0xBEEF
    0x2A, 0x00, 0x00, 0x00,                          // originator serial 42
    0x01,                                            // timeout multiplier 1 (x8)
    0x00, 0x00, 0x00,                                // reserved
    0xA0, 0x86, 0x01, 0x00,                          // O->T RPI 100000 us
    0x02, 0x48,                                      // O->T params: p2p, scheduled, fixed, size 2
    0xA0, 0x86, 0x01, 0x00,                          // T->O RPI 100000 us
    0x32, 0x28,                                      // T->O params: multicast, scheduled, fixed, size 50
    0x01,                                            // transport: class 1, cyclic, client
    0x04,                                            // connection path 4 words
    0x20, 0x04,                                      //   class 0x04 assembly
    0x24, 0x01,                                      //   instance 1 (configuration)
    0x2C, 0x63,                                      //   connection point 99 (O->T, listen-only)
    0x2C, 0x65,                                      //   connection point 101 (T->O)
};

// The same as a Large Forward Open: 32-bit network parameters.
inline constexpr std::uint8_t large_forward_open_request[] = {
    0x5B, 0x02, 0x20, 0x06, 0x24, 0x01,              // Large_Forward_Open to class 6 instance 1
    0x0A, 0x05,                                      // priority/tick, ticks
    0x00, 0x00, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12,  // O->T id, T->O id
    0x07, 0x00, 0xEF, 0xBE, 0x2A, 0x00, 0x00, 0x00,  // serial, vendor, originator serial
    0x01, 0x00, 0x00, 0x00,                          // multiplier, reserved
    0xA0, 0x86, 0x01, 0x00,                          // O->T RPI
    0x02, 0x00, 0x00, 0x48,                          // O->T params: size 2, p2p (bit 30), scheduled (bit 27)
    0xA0, 0x86, 0x01, 0x00,                          // T->O RPI
    0x32, 0x00, 0x00, 0x28,                          // T->O params: size 50, multicast (bit 29), scheduled
    0x01, 0x04,                                      // transport, path words
    0x20, 0x04, 0x24, 0x01, 0x2C, 0x63, 0x2C, 0x65,  // path
};

inline constexpr std::uint8_t forward_open_reply[] = {
    0xD4, 0x00,                                      // reply to Forward_Open, reserved
    0x00, 0x00,                                      // general status success, no additional
    0x01, 0x00, 0x00, 0x20,                          // O->T connection id 0x20000001
    0x78, 0x56, 0x34, 0x12,                          // T->O connection id 0x12345678
    0x07, 0x00, 0xEF, 0xBE,                          // connection serial, originator vendor
    0x2A, 0x00, 0x00, 0x00,                          // originator serial
    0xA0, 0x86, 0x01, 0x00,                          // O->T API 100000 us
    0xA0, 0x86, 0x01, 0x00,                          // T->O API 100000 us
    0x00, 0x00,                                      // application reply size 0, reserved
};

// Listen-only without an owner: general 0x01, extended 0x0119.
inline constexpr std::uint8_t forward_open_failure_0119[] = {
    0xD4, 0x00,                                      // reply to Forward_Open
    0x01, 0x01,                                      // general 0x01, 1 additional word
    0x19, 0x01,                                      // extended status 0x0119
    0x07, 0x00, 0xEF, 0xBE,                          // connection serial, originator vendor
    0x2A, 0x00, 0x00, 0x00,                          // originator serial
    0x00, 0x00,                                      // remaining path size 0, reserved
};

// Wrong T->O size: general 0x01, extended 0x0128, then the size the target wants (74).
inline constexpr std::uint8_t forward_open_failure_0128[] = {
    0xD4, 0x00, 0x01, 0x02,                          // reply, general 0x01, 2 additional words
    0x28, 0x01,                                      // extended status 0x0128
    0x4A, 0x00,                                      // wanted size 74
    0x07, 0x00, 0xEF, 0xBE, 0x2A, 0x00, 0x00, 0x00,  // serial, vendor, originator serial
    0x00, 0x00,                                      // remaining path size, reserved
};

inline constexpr std::uint8_t forward_close_request[] = {
    0x4E, 0x02, 0x20, 0x06, 0x24, 0x01,              // Forward_Close to class 6 instance 1
    0x0A, 0x05,                                      // priority/tick, ticks
    0x07, 0x00, 0xEF, 0xBE,                          // connection serial, originator vendor
    0x2A, 0x00, 0x00, 0x00,                          // originator serial
    0x04, 0x00,                                      // path 4 words, reserved
    0x20, 0x04, 0x24, 0x01, 0x2C, 0x63, 0x2C, 0x65,  // same path as the open
};

inline constexpr std::uint8_t forward_close_reply[] = {
    0xCE, 0x00, 0x00, 0x00,                          // reply to Forward_Close, success
    0x07, 0x00, 0xEF, 0xBE, 0x2A, 0x00, 0x00, 0x00,  // serial, vendor, originator serial
    0x00, 0x00,                                      // application reply size 0, reserved
};

// Get_Attribute_Single assembly 101 attribute 4 (size) and its reply.
inline constexpr std::uint8_t get_attribute_single_request[] = {
    0x0E,                                            // service Get_Attribute_Single
    0x03,                                            // path 3 words
    0x20, 0x04,                                      // class 4
    0x24, 0x65,                                      // instance 101
    0x30, 0x04,                                      // attribute 4
};
inline constexpr std::uint8_t get_attribute_single_reply[] = {
    0x8E, 0x00, 0x00, 0x00,                          // reply, reserved, success, no additional
    0x30, 0x00,                                      // UINT 48
};
// A failed read: object does not exist.
inline constexpr std::uint8_t get_attribute_single_error[] = {
    0x8E, 0x00, 0x16, 0x00,                          // reply, general 0x16
};

inline constexpr std::uint8_t get_attributes_all_request[] = {
    0x01, 0x02, 0x20, 0x01, 0x24, 0x01,              // Get_Attributes_All identity instance 1
};
inline constexpr std::uint8_t get_attributes_all_identity_reply[] = {
    0x81, 0x00, 0x00, 0x00,                          // reply, success
    0x01, 0x00, 0x92, 0x00, 0x04, 0x00,              // vendor 1, device type 0x92, product code 4
    0x02, 0x03,                                      // revision 2.3
    0x30, 0x00,                                      // status
    0xBB, 0x8E, 0x53, 0x38,                          // serial 945000123
    0x10, 'P', 'o', 'w', 'e', 'r', 'M', 'o', 'n', 'i', 't', 'o', 'r', ' ', '5', '0', '0',
};

// Unconnected_Send of a Get_Attribute_Single through backplane slot 0.
inline constexpr std::uint8_t unconnected_send_request[] = {
    0x52, 0x02, 0x20, 0x06, 0x24, 0x01,              // Unconnected_Send to class 6 instance 1
    0x0A, 0x05,                                      // priority/tick, ticks
    0x08, 0x00,                                      // embedded request: 8 bytes
    0x0E, 0x03, 0x20, 0x04, 0x24, 0x65, 0x30, 0x04,  // Get_Attribute_Single 4/101/4
    0x01, 0x00,                                      // route path 1 word, reserved
    0x01, 0x00,                                      // port 1 (backplane), slot 0
};

// SendRRData carrying forward_open_request (framing around a message router request).
inline constexpr std::uint8_t send_rr_data_head[] = {
    0x6F, 0x00, 0x42, 0x00,                          // SendRRData, length 66
    0x44, 0x33, 0x22, 0x11,                          // session
    0x00, 0x00, 0x00, 0x00,                          // status
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // context
    0x00, 0x00, 0x00, 0x00,                          // options
    0x00, 0x00, 0x00, 0x00,                          // interface handle 0 (CIP)
    0x00, 0x00,                                      // timeout 0
    0x02, 0x00,                                      // item count 2
    0x00, 0x00, 0x00, 0x00,                          // null address item
    0xB2, 0x00, 0x32, 0x00,                          // unconnected data item, length 50
};

// SendUnitData (class 3) carrying get_attribute_single_request.
inline constexpr std::uint8_t send_unit_data[] = {
    0x70, 0x00, 0x1E, 0x00,                          // SendUnitData, length 30
    0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, 0x00,  // session, status
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // context
    0x00, 0x00, 0x00, 0x00,                          // options
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,              // interface handle, timeout
    0x02, 0x00,                                      // item count 2
    0xA1, 0x00, 0x04, 0x00,                          // connected address, length 4
    0x01, 0x00, 0x00, 0x20,                          //   connection id 0x20000001
    0xB1, 0x00, 0x0A, 0x00,                          // connected data, length 10
    0x05, 0x00,                                      //   sequence count 5
    0x0E, 0x03, 0x20, 0x04, 0x24, 0x65, 0x30, 0x04,  //   Get_Attribute_Single 4/101/4
};

// Class 1 T->O datagram: two REALs, no run/idle header.
inline constexpr std::uint8_t class1_datagram[] = {
    0x02, 0x00,                                      // item count 2
    0x02, 0x80, 0x08, 0x00,                          // sequenced address item, length 8
    0x78, 0x56, 0x34, 0x12,                          //   connection id 0x12345678
    0x01, 0x00, 0x00, 0x00,                          //   encapsulation sequence 1
    0xB1, 0x00, 0x0A, 0x00,                          // connected data item, length 10
    0x01, 0x00,                                      //   CIP sequence count 1
    0x00, 0x80, 0x66, 0x43,                          //   230.5f
    0x00, 0x40, 0x67, 0x43,                          //   231.25f
};

// Class 1 O->T heartbeat with a run/idle header and no data.
inline constexpr std::uint8_t class1_heartbeat_run_idle[] = {
    0x02, 0x00,                                      // item count 2
    0x02, 0x80, 0x08, 0x00,                          // sequenced address, length 8
    0x01, 0x00, 0x00, 0x20,                          //   connection id 0x20000001
    0xFF, 0xFF, 0xFF, 0xFF,                          //   encapsulation sequence 2^32-1
    0xB1, 0x00, 0x06, 0x00,                          // connected data, length 6
    0xFF, 0xFF,                                      //   CIP sequence count 65535
    0x01, 0x00, 0x00, 0x00,                          //   run/idle: run
};

// EPATH with every segment kind the codec knows.
inline constexpr std::uint8_t epath_all_kinds[] = {
    0x34, 0x04,                                      // electronic key, format 4
    0x01, 0x00, 0x92, 0x00, 0x04, 0x00,              //   vendor 1, device type 0x92, product 4
    0x82, 0x03,                                      //   major 2 + compatibility bit, minor 3
    0x01, 0x03,                                      // port 1, slot 3
    0x12, 0x09,                                      // port 2, extended link address, 9 bytes
    '1', '0', '.', '0', '.', '0', '.', '1', '5',     //   "10.0.0.15"
    0x00,                                            //   pad to even
    0x0F, 0x12, 0x00, 0x05,                          // port 18 (extended id), link 5
    0x21, 0x00, 0x34, 0x12,                          // class 0x1234 (16-bit)
    0x26, 0x00, 0x78, 0x56, 0x34, 0x12,              // instance 0x12345678 (32-bit)
    0x28, 0x02,                                      // member 2
    0x2D, 0x00, 0x00, 0x01,                          // connection point 256 (16-bit)
    0x30, 0x03,                                      // attribute 3
    0x80, 0x02, 0xAA, 0xBB, 0xCC, 0xDD,              // simple data, 2 words
};

}  // namespace golden
