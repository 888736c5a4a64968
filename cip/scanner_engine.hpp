// The scanner thread's state: devices, their Class 1 connections, the UDP socket, the epoll
// loop. Everything here runs on the scanner thread except snapshot(), request_stop() and
// udp_port(), which take the status mutex or touch atomics only.
//
// Split by concern: scanner_engine.cpp (loop, devices' lifecycle, faults, status),
// scanner_session.cpp (TCP: session, identity, sizes, Forward Open/Close, explicit reads),
// scanner_io.cpp (UDP: Class 1 receive, demultiplexing, heartbeats, I/O timeouts, multicast).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cip/backoff.hpp"
#include "cip/conn_table.hpp"
#include "cip/encap.hpp"
#include "cip/event_loop.hpp"
#include "cip/scanner.hpp"
#include "cip/scanner_policy.hpp"
#include "cip/send_data.hpp"

namespace cip::detail {

// What the device is doing, finer than the public DeviceState.
enum class Step : std::uint8_t {
  idle,         // before the first connect
  connecting,   // TCP connect in flight
  registering,  // RegisterSession sent
  listing,      // ListIdentity sent
  sizing,       // Get_Attribute_Single attribute 4 of assembly `cursor`
  opening,      // Forward Open for assembly `cursor`
  running,      // Class 1 connections open, or polling
  closing,      // stop(): Forward Closes in flight
  backoff,
  wrong_device,
  stopped,
};

// Kinds of explicit request; the kind travels in the sender context and is checked on reply.
enum class Req : std::uint8_t {
  none,
  register_session,
  list_identity,
  size,
  forward_open,
  read,
  forward_close,
  session_check,  // Get_Attribute_Single of Identity attribute 1 while Class 1 data flows
};

// Relaxed atomics written by the scanner thread only, read by snapshot().
struct Counters {
  std::atomic<std::uint64_t> packets{0}, stale{0}, timeouts{0}, reconnects{0}, fo_ok{0}, fo_fail{0}, heartbeats{0};
  std::atomic<std::int64_t> last_packet_ns{0};
  std::atomic<std::uint32_t> conns_open{0};
};
template <class T>
inline void add(std::atomic<T>& a, T n) {
  // One writer: a plain load and store, no locked read-modify-write on the datagram path.
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
template <class T>
inline void bump(std::atomic<T>& a) {
  add(a, T{1});
}

// One assembly of a device: its Class 1 connection, or its explicit reads.
struct Conn {
  std::uint16_t assembly = 0;
  std::uint16_t size = 0;        // attribute 4, read at connect
  bool usable = false;           // the size was read: the assembly exists
  bool open = false;             // Class 1 connection established
  bool have_seq = false;
  std::uint16_t last_seq = 0;
  std::uint16_t read_seq = 0;    // explicit reads delivered
  std::uint16_t gen = 0;         // bumped on close: stale heartbeat timers die
  std::uint16_t serial = 0;      // connection serial number (Forward Open / Close)
  std::uint32_t o_t_id = 0;
  std::uint32_t t_o_id = 0;
  std::uint32_t o_t_api_us = 0;
  std::uint32_t t_o_api_us = 0;  // as the Forward Open reply granted it
  std::uint16_t t_o_port = 0;    // the reply's Sockaddr Info T->O port, 0 = none
  std::int64_t next_heartbeat_ns = 0;  // monotonic: when the next O->T heartbeat is due
  std::int64_t timeout_ns = 0;
  std::int64_t last_rx_ns = 0;   // monotonic: any datagram of this connection, new or not
  // While our own socket drops datagrams, timeout_ns is stretched (Engine::update_overload);
  // base_timeout_ns keeps the negotiated value meanwhile.
  std::int64_t base_timeout_ns = 0;
  bool stretched = false;
  std::uint32_t encap_seq = 0;   // O->T heartbeats sent
  std::uint32_t group = 0;       // multicast group joined for T->O (host order), 0 = none
  std::uint32_t group_iface = 0;
  sockaddr_in o_t_dest{};
};

// A device's TCP receive buffer to start with: the explicit session's frames (replies to
// register, Forward Open/Close and attribute reads) are a few hundred bytes; read_tcp doubles it
// when less than half of it is free (a larger frame, up to 64 KiB).
inline constexpr std::size_t kInitialRx = 512;

struct Device {
  std::uint32_t index = 0;
  DeviceSpec spec;
  DeviceSpec configured;         // the spec as given (spec adapts: run/idle headers); reconfigure compares it
  bool removed = false;          // taken out by reconfigure(): stopped for good, its index not reused
  sockaddr_in addr{};
  std::string endpoint;          // "127.0.0.5:44818"
  Step step = Step::idle;
  DeviceState state = DeviceState::stopped;
  Mode path = Mode::listen_only;
  bool fallback_active = false;
  std::int64_t fallback_retry_at = 0;  // on an explicit fallback: when to try the configured path again
  std::string path_reason;
  // A real-time format adopted after a size refusal (DeviceStatus::format_note); each direction
  // (T->O, O->T) is adapted at most once, so two devices' disagreement cannot loop.
  std::string format_note;
  bool format_tried[2] = {false, false};
  std::optional<Identity> identity;

  int fd = -1;
  std::uint32_t fd_gen = 0;      // in the epoll tag: events of a closed socket are ignored
  // The device timer (connect, request, backoff, wait). At most one heap entry is tracked per
  // device: re-arming to a later deadline (every request of a poll round) moves timer_due and
  // lets the queued entry re-queue itself when it comes due, so the heap does not fill with
  // dead entries at the request rate.
  bool timer_armed = false;
  std::int64_t timer_due = 0;
  bool timer_queued = false;
  std::int64_t queued_at = 0;
  std::uint16_t poll_gen = 0;
  std::uint32_t session = 0;
  std::uint32_t local_addr = 0;  // TCP source address (host order): the multicast interface
  bool want_write = false;

  std::vector<std::uint8_t> rx;  // reused; grows to the largest frame seen
  std::size_t rx_len = 0;
  std::vector<std::uint8_t> tx;  // bytes the socket did not take yet
  std::size_t tx_off = 0;

  std::vector<Conn> conns;       // one per spec.assemblies entry
  std::size_t cursor = 0;
  Req pending = Req::none;
  std::uint64_t pending_ctx = 0;
  std::uint32_t ctx_counter = 0;
  std::size_t closing_pending = 0;
  std::int64_t poll_round_start = 0;
  bool data_seen = false;        // since the last (re)connect: the device is "running"
  // The session stopped answering while Class 1 data flows: the I/O connections stay open and
  // a new TCP connection and session are being set up (step connecting/registering), or the
  // next try waits (step running, no socket).
  bool resession = false;

  Backoff backoff{std::chrono::milliseconds(500), std::chrono::milliseconds(30'000), 0};
  // In backoff: when the backoff ends (a full connect attempt), and the probes meanwhile
  // (ScannerOptions::probe_interval_ms). `probe_down`: the last connect or probe was not
  // accepted, so the next accepted probe means the device is back. `probing` ends when a probe
  // is accepted while the device was not down: it accepts TCP, the backoff paces it.
  std::int64_t backoff_due = 0;
  bool probing = false;
  bool probe_down = false;
  int probe_fd = -1;
  std::uint32_t probe_gen = 0;   // in the probe's epoll tag: events of a closed probe are ignored
  std::uint32_t attempt = 0;     // connection attempts so far (faults remember theirs)
  // ScannerOptions::max_setups: this device's set-up holds a slot (from its TCP connect to the
  // end of its Forward Opens), or waits in Engine::setup_queue_ for one.
  bool setup_slot = false;
  bool setup_queued = false;
  FaultBook faults;
};

class Engine {
 public:
  Engine(ScannerOptions options, std::vector<DeviceSpec> devices, ScannerEvents& events);
  ~Engine();

  pm500::expected<void, std::string> prepare();
  void run();
  // Any thread: checks and resolves the specs, then hands them to the scanner thread.
  pm500::expected<void, std::string> reconfigure(std::vector<std::optional<DeviceSpec>> devices);
  void request_stop();
  std::vector<DeviceStatus> snapshot() const;
  std::uint16_t udp_port() const { return bound_udp_port_.load(std::memory_order_relaxed); }
  RejectedDatagrams rejected_datagrams() const;
  ReceiveStats receive_stats() const;
  SetupStats setup_stats() const;
  // Turns of the event loop so far (relaxed; any thread). An idle loop still turns at least
  // once a second, so a count that stops moving means the thread is stuck.
  std::uint64_t loop_turns() const { return loop_turns_.load(std::memory_order_relaxed); }

 private:
  // Tags and tokens.
  enum class TagKind : std::uint8_t { udp = 1, tcp = 2, probe = 3 };
  enum class TimerKind : std::uint8_t { device = 1, heartbeat = 2, poll = 3, shutdown = 4 };
  static std::uint64_t tcp_tag(const Device& d) {
    return (std::uint64_t{static_cast<std::uint8_t>(TagKind::tcp)} << 56) | (std::uint64_t{d.fd_gen & 0xFFFFFF} << 32) |
           d.index;
  }
  static std::uint64_t probe_tag(const Device& d) {
    return (std::uint64_t{static_cast<std::uint8_t>(TagKind::probe)} << 56) |
           (std::uint64_t{d.probe_gen & 0xFFFFFF} << 32) | d.index;
  }
  static std::uint64_t timer_token(TimerKind k, std::uint32_t device, std::uint8_t conn, std::uint16_t gen) {
    return (std::uint64_t{static_cast<std::uint8_t>(k)} << 56) | (std::uint64_t{conn} << 48) |
           (std::uint64_t{gen} << 32) | device;
  }

  // A device checked and resolved off the scanner thread (reconfigure), or nullopt: removed.
  struct Change {
    std::optional<DeviceSpec> spec;
    sockaddr_in addr{};
  };
  // Validates a spec and resolves its host (getaddrinfo may block: never on the scanner thread).
  static pm500::expected<sockaddr_in, std::string> check_spec(const DeviceSpec& s, const std::string& who);
  // Sets up device `d` (index kept) for `spec`: closed, step idle, nothing of the last spec left
  // but the generations that tell stale timers and epoll events apart.
  void init_device(Device& d, DeviceSpec spec, const sockaddr_in& addr, std::uint64_t seed);
  // Scanner thread, at the top of a turn: applies the last reconfigure().
  void apply_changes(std::int64_t now);
  // Grows the connection tables to hold every assembly of every device, keeping what is open.
  void size_tables();

  // scanner_engine.cpp: lifecycle, faults, status.
  void on_timer(std::uint64_t token, std::int64_t deadline, std::int64_t now);
  void arm_device_timer(Device& d, std::int64_t deadline);
  static void disarm_device_timer(Device& d) { d.timer_armed = false; }
  void begin_connect(Device& d, std::int64_t now);
  // At a device timer: the connect completed or the reply arrived while the loop was late
  // (handled now): true, the timeout does not count.
  bool answered_meanwhile(Device& d, std::int64_t now);
  // Set-up slots (ScannerOptions::max_setups): returned when a set-up ends either way;
  // admit_setups() starts the devices that wait, in order, as slots come free (at the end of
  // a loop turn, never inside another device's transition).
  void release_setup(Device& d);
  void admit_setups(std::int64_t now);
  void open_tcp(Device& d, std::int64_t now);
  void teardown(Device& d, bool send_closes);
  void close_session(Device& d);
  void fail(Device& d, Fault f, std::int64_t now);
  // `down`: the device did not accept the TCP connection (the attempt failed at connect).
  void schedule_reconnect(Device& d, std::int64_t now, bool down = false);
  void on_backoff_timer(Device& d, std::int64_t now);
  void start_probe(Device& d, std::int64_t now);
  void on_probe_event(Device& d, std::uint32_t events, std::int64_t now);
  void close_probe(Device& d);
  void enter_wrong_device(Device& d, std::int64_t now);
  void raise(Device& d, Fault f);
  void clear(Device& d, Fault::Kind k);
  void mark_running(Device& d);
  void set_state(Device& d, DeviceState s);
  void publish(const Device& d);
  DeviceStatus status_of(const Device& d) const;
  void begin_shutdown(std::int64_t now);
  void finish_device(Device& d);
  bool all_stopped() const;

  // scanner_session.cpp: TCP.
  void on_tcp_event(Device& d, std::uint32_t events, std::int64_t now);
  void on_connected(Device& d, std::int64_t now);
  bool send_bytes(Device& d, bytes_view b);
  void flush_tx(Device& d, std::int64_t now);
  void read_tcp(Device& d, std::int64_t now);
  void handle_frame(Device& d, const Frame& f, std::int64_t now);
  SenderContext new_context(Device& d, Req kind);
  void send_register(Device& d, std::int64_t now);
  void send_list_identity(Device& d, std::int64_t now);
  void next_size(Device& d, std::int64_t now);
  void next_open(Device& d, std::int64_t now);
  void start_running(Device& d, std::int64_t now);
  void send_read(Device& d, std::int64_t now);
  void next_read(Device& d, std::int64_t now);
  bool send_forward_close(Device& d, Conn& c, Req kind);
  void send_unregister(Device& d);
  void on_identity_reply(Device& d, const Frame& f, std::int64_t now);
  void on_size_reply(Device& d, const MrResponse& r, std::int64_t now);
  void on_open_reply(Device& d, const MrResponse& r, const SendData& sd, std::int64_t now);
  void on_read_reply(Device& d, const MrResponse& r, std::int64_t now);
  void on_refused(Device& d, Conn& c, const ConnectionFailure& f, std::int64_t now);
  // The session check and its recovery while Class 1 data flows.
  void arm_session_check(Device& d, std::int64_t now);
  void send_session_check(Device& d, std::int64_t now);
  void on_resession_timer(Device& d, std::int64_t now);
  void session_down(Device& d, Fault f, std::int64_t now);
  void reopen_session(Device& d, std::int64_t now);
  void session_restored(Device& d, std::int64_t now);
  std::string io_summary(const Device& d) const;
  void switch_path(Device& d, Mode m, std::string reason, std::int64_t now);

  // scanner_io.cpp: UDP.
  pm500::expected<void, std::string> open_udp();
  void on_udp_readable(std::size_t sock);
  // Reads until the sockets are empty (or `max_batches` batches each): before timers judge
  // silence after the loop was late, so data queued meanwhile counts.
  void drain_udp(int max_batches);
  // One recvmmsg on rx_socks_[sock]: datagrams handled, or <= 0.
  int read_udp_batch(std::size_t sock, std::int64_t& mono);
  void note_drops(std::uint32_t kernel_count, std::uint32_t& last);
  // Receives T->O on `port` too (a target's reply names where it produces: CIP Vol 2 Sockaddr
  // Info T->O): "" when a socket already does or one was bound, else why not.
  std::string receive_on(std::uint16_t port);
  int new_rx_socket(std::string& err);  // nonblocking, timestamps, drop counts, receive buffer
  void receive_housekeeping(std::int64_t now);  // every 250 ms: CPU, SO_MEMINFO drops, delay max
  void update_overload(std::int64_t now);       // stretches or restores the I/O timeouts
  void stretch_timeout(Conn& c);
  std::uint64_t class1_rate() const;            // datagrams/s the devices produce together
  std::uint32_t receive_buffer_want() const;    // SO_RCVBUF for them (Options::receive_buffer_*)
  void set_rcvbuf(int fd) const;                // SO_RCVBUF = rcvbuf_bytes_ (forced past rmem_max if allowed)
  void note_receive_buffer(int fd);             // ReceiveStats' wanted and granted, from fd
  void resize_receive_buffers();                // every receive socket to receive_buffer_want()
  void on_datagram(bytes_view dg, std::uint32_t src, std::int64_t mono, std::int64_t real);
  void on_heartbeat_timer(Device& d, std::uint8_t conn, std::int64_t now);  // heartbeat and I/O timeout
  void send_heartbeat(Device& d, Conn& c);
  bool register_conn(Device& d, std::size_t i);
  void close_conn(Device& d, Conn& c);
  void count_id(std::uint32_t t_o_id, bool add);
  int join_group(std::uint32_t group, std::uint32_t iface);
  void leave_group(std::uint32_t group, std::uint32_t iface);

  ScannerOptions opt_;
  ScannerEvents& events_;
  std::vector<Device> devices_;
  // One per device, never moved (snapshot() reads them from other threads); grown under mu_.
  std::deque<Counters> counters_;
  SplitMix64 seeder_{0};  // backoff seeds of devices added later
  // reconfigure() -> the scanner thread.
  std::mutex changes_mu_;
  std::optional<std::vector<Change>> changes_;
  std::atomic<bool> changes_pending_{false};
  EventLoop loop_;
  ConnTable table_;
  // T->O connection ids open from any source (key: id and address 0; value: how many), so a
  // datagram that misses table_ is told apart: wrong source or unknown id. Sized with table_.
  ConnTable open_ids_;
  int udp_fd_ = -1;
  std::atomic<std::uint16_t> bound_udp_port_{0};
  std::uint32_t local_addr_ = 0;  // host order, 0 = any
  std::uint32_t next_t_o_id_ = 0;
  std::uint16_t next_serial_ = 0;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::uint64_t> loop_turns_{0};
  std::uint32_t setups_in_flight_ = 0;
  std::deque<std::uint32_t> setup_queue_;  // device indexes; entries whose device left are skipped
  std::atomic<std::uint32_t> setups_in_flight_pub_{0};
  std::atomic<std::uint32_t> setups_waiting_pub_{0};
  std::atomic<std::uint32_t> setups_peak_{0};
  std::atomic<std::uint64_t> setups_started_{0};
  bool shutting_down_ = false;
  std::int64_t shutdown_deadline_ = 0;

  // Multicast memberships. Linux caps memberships per socket (net.ipv4.igmp_max_memberships,
  // 20 by default), so groups are joined on helper sockets that never receive; the bound UDP
  // socket gets the datagrams anyway because IP_MULTICAST_ALL (on by default, set explicitly)
  // delivers every group joined on the host to a socket bound to INADDR_ANY and the port.
  struct Membership {
    std::uint32_t group = 0, iface = 0, refs = 0;
    std::size_t helper = 0;
  };
  struct Helper {
    int fd = -1;
    std::size_t count = 0;
    bool full = false;
  };
  std::vector<Membership> memberships_;
  std::vector<Helper> helpers_;

  // Receive path: reused buffers for recvmmsg, with room for SO_TIMESTAMPNS and SO_RXQ_OVFL.
  static constexpr std::size_t rx_batch = 64;
  static constexpr std::size_t rx_size = 2048;  // > any PowerMonitor 500 assembly + headers
  struct RxSlot {
    std::array<std::uint8_t, rx_size> data{};
    sockaddr_in from{};
    alignas(cmsghdr) std::array<char, 64> control{};
  };
  std::unique_ptr<RxSlot[]> rx_slots_;
  std::unique_ptr<struct mmsghdr[]> rx_msgs_;
  std::unique_ptr<struct iovec[]> rx_iov_;
  std::size_t rx_used_ = 0;  // headers the last recvmmsg filled (their lengths need a reset)
  // Datagrams thrown away, by reason: written by the scanner thread only, read by any.
  struct Rejects {
    std::atomic<std::uint64_t> unknown_connection{0}, wrong_source{0}, truncated{0}, malformed{0}, oversized{0};
  } rejects_;
  // Receive counters (scanner thread writes, any thread reads) and the batching state.
  struct Receive {
    std::atomic<std::uint64_t> drops{0}, calls{0}, datagrams{0}, delay_sum{0}, cpu_ns{0};
    std::atomic<std::int64_t> delay_max{0};
    std::atomic<std::uint32_t> wanted{0}, granted{0};
  } recv_;
  // Receive sockets: [0] is udp_fd_ (bound to udp_port, also sends heartbeats); the others are
  // bound when a target's Forward Open reply says it produces T->O on another port (a real
  // adapter produces multicast on 2222 whatever port the originator asked for). All are in the
  // one event loop and share the receive buffers; they stay open until the scanner stops.
  struct RxSocket {
    int fd = -1;
    std::uint16_t port = 0;
    std::uint32_t last_ovfl = 0;  // the kernel's 32-bit drop count as last seen
  };
  static constexpr std::size_t max_rx_sockets = 5;
  std::array<RxSocket, max_rx_sockets> rx_socks_{};
  std::uint32_t rcvbuf_bytes_ = 0;  // SO_RCVBUF asked for every receive socket
  std::int64_t delay_max_window_ = 0;  // longest receive delay in the current second
  std::int64_t delay_window_end_ = 0;
  std::int64_t housekeeping_at_ = 0;
  // Batching: the arrival rate over windows of >= 20 ms, and when the next read may happen.
  std::int64_t rate_window_start_ = 0;
  std::uint64_t rate_window_count_ = 0;
  std::uint64_t rate_per_s_ = 0;
  std::int64_t read_not_before_ = 0;
  static constexpr std::uint64_t hold_target_batch = 48;  // datagrams a held read aims at
  static constexpr std::uint64_t hold_min_rate = 2000;    // below this, no hold: nothing to batch
  static constexpr std::int64_t late_timer_ns = 10'000'000;  // timers this late: drain the socket first
  // Overload: the kernel dropped datagrams on our socket within the last overload_hold_ns. A
  // connection's silence may then be our own loss, not the device's, so I/O timeouts are
  // overload_timeout_factor times longer meanwhile (a dead device is still noticed, later),
  // rather than tearing connections down and adding reconnects to an overloaded scanner.
  std::int64_t last_drop_ns_ = 0;
  bool overloaded_ = false;
  static constexpr std::int64_t overload_hold_ns = 2'000'000'000;
  static constexpr std::int64_t overload_timeout_factor = 4;

  std::array<std::uint8_t, 1024> out_{};  // every request and heartbeat is encoded here

  mutable std::mutex mu_;
  std::vector<DeviceStatus> published_;  // strings and state; counters come from counters_
};

}  // namespace cip::detail
