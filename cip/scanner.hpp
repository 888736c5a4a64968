// cip::Scanner -- the originator side: scans PowerMonitor 500 meters over EtherNet/IP from one
// thread (an epoll loop over every TCP session and one UDP socket; see cip/README.md).
//
//   struct Sink : cip::ScannerEvents {
//     void on_data(std::uint32_t dev, std::uint16_t assembly, std::span<const std::uint8_t> data,
//                  std::int64_t recv_ns, std::uint16_t seq, bool explicit_read) noexcept override {
//       ring.push(decode(dev, assembly, data, recv_ns));          // hot path: no allocation here
//     }
//     void on_state(std::uint32_t dev, const cip::DeviceStatus& s) override { log(s.path_reason); }
//     void on_fault(std::uint32_t dev, const cip::Fault& f) override { health.raise(dev, f); }
//     void on_fault_cleared(std::uint32_t dev, cip::Fault::Kind k) override { health.clear(dev, k); }
//   } sink;
//   cip::DeviceSpec meter{.host = "10.1.2.3", .assemblies = {101, 102}};
//   cip::Scanner scanner({.udp_port = 2222}, {meter}, sink);
//   if (auto r = scanner.start(); !r) die(r.error());
//   ...
//   scanner.stop();   // Forward Close, UnRegisterSession, close: bounded by shutdown_timeout_ms
//
// Every callback runs on the scanner thread. on_data must not block or allocate; the others are
// rare (transitions, faults) and may log.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cip/connection_params.hpp"
#include "pm500/expected.hpp"

namespace cip {

// How a device is read (DESIGN.md, "Connections to the meter").
enum class Mode : std::uint8_t {
  listen_only,    // Class 1, heartbeat point 99: never competes with the plant PLC (default)
  input_only,     // Class 1, heartbeat point 98: the gateway becomes an owner
  explicit_poll,  // Get_Attribute_Single (0x0E) of assembly attribute 3 every poll_interval_ms
};
// What to do when listen-only is refused with 0x01/0x0119 (no owner on the meter).
enum class Fallback : std::uint8_t { input_only, explicit_poll, none };

const char* to_string(Mode m);      // "listen-only", "input-only", "explicit"
const char* to_string(Fallback f);  // "input-only", "explicit", "none"

// What the identity check accepts (ListIdentity), from the device's profile ([identity]); the
// defaults are the PowerMonitor 500's (1420-UM001, Identity object; pm500-facts.md).
struct ExpectedIdentity {
  bool operator==(const ExpectedIdentity&) const = default;
  std::string device = "PowerMonitor 500";  // for messages: "expected a PowerMonitor 500 (...)"
  std::uint16_t vendor = 1;                  // Rockwell Automation
  std::uint16_t device_type = 0x92;
  std::vector<std::uint16_t> product_codes{4, 5, 6, 7, 8, 9};  // 1420-V1-ENT .. 1420-V2A-ENT; empty = any
  std::string product_name;                  // glob pattern (fnmatch: * ? [..]); "" = any name
};

struct DeviceSpec {
  std::string host;                       // IPv4 address or name (resolved once, at start())
  std::uint16_t port = 44818;             // encapsulation (TCP)
  std::uint16_t udp_port = 2222;          // the device's Class 1 port for O->T heartbeats; a
                                          // Sockaddr Info 0x8000 in the Forward Open reply wins
  Mode mode = Mode::listen_only;
  Fallback fallback = Fallback::explicit_poll;
  bool multicast = true;                  // T->O connection type asked for
  std::uint32_t rpi_us = 100'000;         // T->O: how often the meter produces
  // O->T RPI of the heartbeat (heartbeat_rpi_min_us .. heartbeat_rpi_max_us). Heartbeats go out
  // every O->T API the reply names (normally this value); the meter drops the connection after
  // O->T API x 4 x 2^timeout_multiplier without one.
  std::uint32_t heartbeat_rpi_us = heartbeat_rpi_default_us;
  std::uint8_t timeout_multiplier = 1;    // connection timeout = RPI x 4 x 2^multiplier, both directions
  std::uint32_t poll_interval_ms = 1000;  // explicit_poll (and the explicit fallback)
  std::vector<std::uint16_t> assemblies{};        // e.g. {101, 102, 107}; at most 255
  ExpectedIdentity identity{};
  std::uint16_t product_code = 0;         // 0: any of identity.product_codes
  bool electronic_key = false;            // electronic key segment (vendor, type, product) in the path
  std::uint32_t config_instance = 1;      // configuration instance in the connection path (unknown
                                          // for the meter: a profile assumption)
  std::uint32_t input_only_point = 98;    // O->T connection point of an input-only connection
  std::uint32_t listen_only_point = 99;   // O->T connection point of a listen-only connection
  bool run_idle_header = false;           // T->O data carries a 32-bit run/idle header
  bool o_t_run_idle_header = false;       // O->T heartbeats carry a 32-bit run/idle header (run)
  // Where these values come from, for the message of a size refusal that no known header
  // explains: "etc/profiles/x.toml" ("" = not said).
  std::string profile;

  bool operator==(const DeviceSpec&) const = default;
};

struct ScannerOptions {
  std::string local_address = "0.0.0.0";  // UDP bind address (and TCP source when not 0.0.0.0)
  std::uint16_t udp_port = 2222;          // T->O data arrives here; 0 = any free port. Not 2222:
                                          // Forward Opens carry Sockaddr Info 0x8001 naming it
  std::uint32_t connect_timeout_ms = 3000;
  std::uint32_t request_timeout_ms = 3000;   // each explicit request (session, identity, FO, read)
  std::uint32_t reconnect_initial_ms = 500;
  std::uint32_t reconnect_max_ms = 30'000;
  // While a device waits in backoff, a nonblocking TCP connect to its EtherNet/IP port every
  // probe_interval_ms tells when it accepts connections again: once a probe succeeds after the
  // device did not accept (a refused, timed out or unreachable connect or probe), it is
  // reconnected at once and its backoff starts over. A device that accepts TCP but fails later
  // (a refused Forward Open, a silent session) is not probed further: the backoff paces it.
  // 0 = no probes (backoff only). See cip/README.md, "Back as soon as the device is back".
  std::uint32_t probe_interval_ms = 1000;
  std::uint32_t shutdown_timeout_ms = 2000;  // stop(): longest wait for Forward Close replies
  // Connection set-ups in flight at once: a device between its TCP connect and the end of its
  // Forward Opens (or first explicit read) holds one; the others wait their turn in order,
  // shown as `connecting`, with no timer running. Thousands of set-ups at once make the
  // replies queue behind each other past request_timeout_ms, and every device that times out
  // goes to backoff and tries again into the same crowd (cip/README.md, "Bring-up"). 0 = no
  // limit.
  std::uint32_t max_setups = 64;
  // While Class 1 data flows the session carries no request of its own, so a session that stops
  // answering would go unnoticed (and adapters close sessions idle for their encapsulation
  // inactivity timeout, 120 s by default). Every session_check_ms one Get_Attribute_Single of
  // Identity attribute 1 goes out on it, answered within request_timeout_ms or the fault
  // session_unanswered is raised and a new session is registered; the I/O connections stay
  // open meanwhile. 0 = no check.
  std::uint32_t session_check_ms = 10'000;
  std::uint16_t originator_vendor = 0xFFFE;  // ours, in Forward Open/Close
  std::uint32_t originator_serial = 0x504D3500;
  std::uint64_t jitter_seed = 0;             // 0: random
  // SO_RCVBUF of the Class 1 socket. 0: sized from the devices, receive_buffer_ms of the
  // datagrams they produce together (assemblies / RPI), at receive_buffer_datagram_bytes of
  // kernel memory each; the kernel caps it at net.core.rmem_max (ReceiveStats says so).
  std::uint32_t receive_buffer_bytes = 0;
  std::uint32_t receive_buffer_ms = 500;
  // Batched receive: when datagrams arrive faster than 2,000 per second, the
  // loop waits up to receive_hold_us after a read before the next one, so each recvmmsg returns
  // a batch instead of one or two datagrams (ARCHITECTURE.md, "Batched receive"). 0 = read
  // as soon as epoll reports data. Bounds the added time to the ring.
  std::uint32_t receive_hold_us = 1800;
};

// What the kernel costs each queued datagram against SO_RCVBUF (its skb truesize: payload plus
// the buffer head: 832 bytes measured on loopback for datagrams up to ~200 bytes, 1,280 at 250).
inline constexpr std::uint32_t receive_buffer_datagram_bytes = 1280;

enum class DeviceState : std::uint8_t {
  connecting,    // TCP connect, RegisterSession
  identifying,   // ListIdentity and the identity check
  opening,       // assembly sizes, Forward Opens (or the first explicit read)
  running,       // data flowing
  backoff,       // waiting to reconnect after a fault
  wrong_device,  // another device answers at this address; re-checked every reconnect_max_ms
  stopped,
};
const char* to_string(DeviceState s);

struct Fault {
  enum class Kind : std::uint8_t {
    connect_refused,       // ECONNREFUSED: host up, nothing on the port
    connect_timeout,       // no SYN-ACK within connect_timeout_ms
    unreachable,           // EHOSTUNREACH / ENETUNREACH / EADDRNOTAVAIL
    connection_lost,       // the device closed or reset the TCP session
    no_identity_reply,     // ListIdentity unanswered (or unparsable)
    wrong_identity,        // another device answers at this address
    forward_open_refused,  // a Forward Open failed (general/extended status), no usable fallback
    io_timeout,            // no T->O data for RPI x 4 x 2^multiplier
    session_error,         // encapsulation status (e.g. 0x0064 invalid session handle)
    request_timeout,       // an explicit request went unanswered
    path_error,            // 0x04/0x05/0x16/0x26, or 0x01 with 0x0117/0x0311/0x0312/0x0315
    explicit_read_failed,  // Get_Attribute_Single answered with an error status
    protocol_error,        // a reply that does not decode
    socket_error,          // a local error (socket(), multicast join, ...)
    session_unanswered,    // the session stopped answering while Class 1 data keeps flowing: the I/O
                           // connections stay open and a new session is registered, with backoff
  };
  static constexpr std::size_t kind_count = 15;

  Kind kind = Kind::socket_error;
  std::uint8_t general = 0;       // CIP general status, when one was received
  std::uint16_t extended = 0;     // CIP extended status (first additional word)
  std::uint32_t encap_status = 0; // encapsulation status, when that is the cause
  int sys_errno = 0;              // errno, when the cause is a socket error
  std::uint16_t assembly = 0;     // the assembly concerned, 0 = the whole device
  std::string text;               // the cause in words, with the status names of cip/status.hpp
};
const char* to_string(Fault::Kind k);  // "connect_refused", ...

// Identity as a device reported it (ListIdentity), owning its product name.
struct Identity {
  std::uint16_t vendor = 0;
  std::uint16_t device_type = 0;
  std::uint16_t product_code = 0;
  std::uint8_t revision_major = 0;
  std::uint8_t revision_minor = 0;
  std::uint16_t status = 0;
  std::uint32_t serial = 0;
  std::string product_name;
};

// One open Class 1 connection as its Forward Open reply set it up (for commissioning and
// diagnostics; the data path never reads this).
struct ConnectionInfo {
  std::uint16_t assembly = 0;
  std::uint32_t o_t_id = 0;       // O->T connection id (the heartbeats)
  std::uint32_t t_o_id = 0;       // T->O connection id (the data)
  std::uint32_t o_t_api_us = 0;   // actual packet intervals the target granted
  std::uint32_t t_o_api_us = 0;
  std::uint32_t t_o_group = 0;    // multicast group the target produces to (host order); 0 = point-to-point
  std::uint16_t t_o_port = 0;     // UDP port its reply says it produces to (Sockaddr Info T->O); 0 = not said
  std::uint32_t o_t_address = 0;  // where the heartbeats go (host order)
  std::uint16_t o_t_port = 0;
};

struct DeviceStatus {
  std::uint32_t device = 0;            // index into the DeviceSpec vector
  std::string endpoint;                // "10.1.2.3:44818"
  DeviceState state = DeviceState::connecting;
  Mode configured = Mode::listen_only;
  Mode path_in_use = Mode::listen_only;
  bool fallback_active = false;        // path_in_use differs from configured because of a refusal
  std::string path_reason;             // why path_in_use: "listen-only as configured", or
                                       // "listen-only refused 0x01/0x0119 ...: fell back to explicit";
                                       // followed by format_note when there is one
  // A real-time format the device asked for in a size refusal and now gets, e.g. "T->O with a
  // 32-bit run/idle header: the device refused 50 bytes 0x01/0x0128 and asked for 54"; "" = as
  // the profile says.
  std::string format_note;
  std::optional<Identity> identity;
  std::uint32_t connections_open = 0;
  std::uint64_t packets = 0;           // payloads delivered (Class 1 and explicit)
  std::uint64_t stale_packets = 0;     // Class 1 datagrams whose sequence count was not newer
  std::uint64_t timeouts = 0;          // I/O and request timeouts
  std::uint64_t reconnects = 0;
  std::uint64_t forward_opens = 0;     // accepted
  std::uint64_t forward_open_failures = 0;
  std::uint64_t heartbeats = 0;        // O->T datagrams sent
  std::int64_t last_packet_ns = 0;     // CLOCK_REALTIME of the last payload, 0 = none yet
  std::vector<ConnectionInfo> connections;  // open Class 1 connections, as of the last transition
                                            // or Forward Open
};

// Datagrams on the Class 1 UDP port that the scanner threw away, by reason. Scanner-wide, not
// per device: none of them can be trusted to name one. A steady rise of unknown_connection or
// wrong_source is someone else's traffic (another scanner's multicast group, a device that
// lost its connection, a spoofer); truncated, malformed and oversized are not Class 1 packets.
struct RejectedDatagrams {
  std::uint64_t unknown_connection = 0;  // no open connection has this T->O connection id (also the
                                         // last datagrams of a connection that was just closed)
  std::uint64_t wrong_source = 0;        // the id is one of ours, but the datagram came from another address
  std::uint64_t truncated = 0;           // ends inside a field of the CPF items
  std::uint64_t malformed = 0;           // not CPF 0x8002 + 0x00B1: item types, lengths or counts wrong
  std::uint64_t oversized = 0;           // larger than the receive buffer (2048 bytes): no meter sends that
  std::uint64_t total() const { return unknown_connection + wrong_source + truncated + malformed + oversized; }
};

// The Class 1 receive socket (one for every device): how batched the reads are, what the kernel
// dropped and the scanner thread's CPU. Relaxed counters, readable from any thread.
struct ReceiveStats {
  std::uint64_t kernel_drops = 0;     // datagrams the kernel dropped on the socket (receive buffer
                                      // full): SO_RXQ_OVFL on every batch, SO_MEMINFO in between,
                                      // so it equals the kernel's own count (/proc/net/udp "drops")
  std::uint64_t receive_calls = 0;    // recvmmsg calls
  std::uint64_t datagrams = 0;        // datagrams they returned (every datagram, rejected or not)
  std::uint64_t delay_ns_sum = 0;     // kernel receive time -> handed to on_data, summed over datagrams
  std::int64_t delay_ns_max = 0;      // the longest of those in the last completed second
  std::uint64_t cpu_ns = 0;           // scanner thread CPU time (user + system), sampled every 250 ms
  std::uint32_t buffer_wanted = 0;    // SO_RCVBUF asked for (bytes)
  std::uint32_t buffer_granted = 0;   // what the kernel granted of it (its getsockopt value / 2);
                                      // below buffer_wanted: net.core.rmem_max capped it
};

// Connection set-ups (ScannerOptions::max_setups): in flight now, waiting for a slot, and the
// most ever in flight at once. Relaxed counters, readable from any thread.
struct SetupStats {
  std::uint32_t in_flight = 0;
  std::uint32_t waiting = 0;
  std::uint32_t peak = 0;
  std::uint64_t started = 0;  // set-ups begun (TCP connects of a full set-up) since start
};

class ScannerEvents {
 public:
  virtual ~ScannerEvents() = default;
  // Hot path, scanner thread, no allocation: one assembly payload. `data` is valid during the
  // call only. recv_time_ns is CLOCK_REALTIME (the kernel's receive timestamp for Class 1).
  // `sequence`: the CIP sequence count (Class 1), or a per-assembly read counter (explicit).
  virtual void on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
                       std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept = 0;
  // On state or path transitions only.
  virtual void on_state(std::uint32_t device, const DeviceStatus& status) = 0;
  // Once per distinct fault (kind and codes) until it is cleared; not once per retry.
  virtual void on_fault(std::uint32_t device, const Fault& f) = 0;
  virtual void on_fault_cleared(std::uint32_t device, Fault::Kind k) = 0;
  virtual void on_identity(std::uint32_t /*device*/, const Identity& /*id*/) {}
  // A Class 1 connection for `assembly` was opened (Forward Open accepted): the data that
  // follows for it comes on T->O connection `t_o_id`, whose sequence count is its own.
  virtual void on_connection(std::uint32_t /*device*/, std::uint16_t /*assembly*/, std::uint32_t /*t_o_id*/) {}
  // Attribute 4 of each assembly, read at every connect (the app compares it with the profile).
  virtual void on_assembly_size(std::uint32_t /*device*/, std::uint16_t /*assembly*/, std::uint16_t /*bytes*/) {}
  // Scanner thread, after each turn of the event loop: the end of a batch of on_data() calls
  // (at most a few hundred datagrams). A durable pipeline writes its journal here, with one
  // system call per batch rather than one per sample.
  virtual void on_batch_end() noexcept {}
};

namespace detail {
class Engine;
}

class Scanner {
 public:
  Scanner(ScannerOptions options, std::vector<DeviceSpec> devices, ScannerEvents& events);
  ~Scanner();  // stop()
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Resolves hosts, binds the UDP socket, starts the scanner thread. An error names the cause
  // ("bind 0.0.0.0:2222: Address already in use").
  pm500::expected<void, std::string> start();
  // Forward Close every connection, UnRegisterSession, close; returns within about
  // shutdown_timeout_ms. Idempotent; every device ends in DeviceState::stopped.
  void stop();
  // Thread-safe: a new device list, applied by the scanner thread at its next turn without
  // stopping it. devices[i] is the device at index i: the same spec as running (as configured,
  // before any adaptation) leaves it untouched, connections, session and counters included;
  // another spec closes its connections (Forward Close) and session and opens it again with
  // the new one; nullopt, or an index past the end of the list, removes it (Forward Close,
  // UnRegisterSession; it stays `stopped` and its index is not reused); an index past the
  // running devices adds one, opened at once. Specs are checked and host names resolved here,
  // on the calling thread: an error names the device and changes nothing. Before start() the
  // list replaces the constructor's.
  pm500::expected<void, std::string> reconfigure(std::vector<std::optional<DeviceSpec>> devices);
  // Thread-safe copy of every device's status and counters.
  std::vector<DeviceStatus> snapshot() const;
  // The UDP port actually bound (useful with udp_port = 0); 0 before start().
  std::uint16_t udp_port() const;
  // Thread-safe: datagrams thrown away since construction, by reason (relaxed counters).
  RejectedDatagrams rejected_datagrams() const;
  // Thread-safe: the receive socket's counters (zero before start()).
  ReceiveStats receive_stats() const;
  // Thread-safe: connection set-ups in flight and waiting (zero before start()).
  SetupStats setup_stats() const;
  // Thread-safe: turns of the scanner thread's event loop so far. It turns at least once a
  // second while running, idle or not: a service watchdog takes a count that stops moving for
  // a stuck thread.
  std::uint64_t loop_turns() const;

 private:
  std::unique_ptr<detail::Engine> engine_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace cip
