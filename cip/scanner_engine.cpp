// The scanner thread: its loop, each device's lifecycle (connect -> session -> identity ->
// sizes -> Forward Open or polling -> running; any fault -> teardown -> backoff -> reconnect),
// fault bookkeeping and the published status.
#include "cip/scanner_engine.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "cip/status.hpp"

namespace cip::detail {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

const char* errno_name(int err) {
  switch (err) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTDOWN: return "EHOSTDOWN";
    case ENETDOWN: return "ENETDOWN";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    default: return "errno";
  }
}

std::size_t total_assemblies(const std::vector<DeviceSpec>& specs) {
  std::size_t n = 0;
  for (const auto& s : specs) n += s.assemblies.size();
  return n;
}

}  // namespace

Engine::Engine(ScannerOptions options, std::vector<DeviceSpec> devices, ScannerEvents& events)
    : opt_(std::move(options)),
      events_(events),
      table_(total_assemblies(devices) + 1),
      open_ids_(total_assemblies(devices) + 1) {
  devices_.resize(devices.size());
  published_.resize(devices.size());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    counters_.emplace_back();
    Device& d = devices_[i];
    d.index = static_cast<std::uint32_t>(i);
    init_device(d, std::move(devices[i]), sockaddr_in{}, 0);
    published_[i] = status_of(d);
  }
}

void Engine::init_device(Device& d, DeviceSpec spec, const sockaddr_in& addr, std::uint64_t seed) {
  // Generations survive: a timer or epoll event of the last spec's connections stays stale.
  std::uint16_t conn_gen = 0;
  for (const auto& c : d.conns) conn_gen = std::max<std::uint16_t>(conn_gen, static_cast<std::uint16_t>(c.gen + 1));
  d.spec = std::move(spec);
  d.configured = d.spec;
  d.addr = addr;
  d.step = Step::idle;
  d.path = d.spec.mode;
  d.fallback_active = false;
  d.fallback_retry_at = 0;
  d.path_reason = configured_reason(d.spec.mode, d.spec.poll_interval_ms);
  d.format_note.clear();
  d.format_tried[0] = d.format_tried[1] = false;
  d.identity.reset();
  d.state = DeviceState::connecting;
  d.rx.resize(kInitialRx);
  d.tx.reserve(256);
  d.conns.assign(d.spec.assemblies.size(), Conn{});
  for (std::size_t k = 0; k < d.conns.size(); ++k) {
    d.conns[k].assembly = d.spec.assemblies[k];
    d.conns[k].gen = conn_gen;
  }
  d.cursor = 0;
  d.pending = Req::none;
  d.data_seen = false;
  d.endpoint = d.spec.host + ":" + std::to_string(d.spec.port);
  d.backoff = Backoff(std::chrono::milliseconds(opt_.reconnect_initial_ms),
                      std::chrono::milliseconds(opt_.reconnect_max_ms), seed);
  d.probing = d.probe_down = false;
}

pm500::expected<sockaddr_in, std::string> Engine::check_spec(const DeviceSpec& s, const std::string& who) {
  if (s.assemblies.size() > 255) return pm500::unexpected(who + ": more than 255 assemblies");
  if (s.rpi_us == 0) return pm500::unexpected(who + ": rpi_us must be above 0");
  if (s.timeout_multiplier > 7) return pm500::unexpected(who + ": timeout_multiplier above 7 is reserved");
  if (s.heartbeat_rpi_us < heartbeat_rpi_min_us || s.heartbeat_rpi_us > heartbeat_rpi_max_us) {
    return pm500::unexpected(who + ": heartbeat_rpi_us " + std::to_string(s.heartbeat_rpi_us) + " is outside " +
                             std::to_string(heartbeat_rpi_min_us) + ".." + std::to_string(heartbeat_rpi_max_us) +
                             " (what adapters accept as an O->T RPI)");
  }
  if (s.mode == Mode::explicit_poll && s.poll_interval_ms == 0) {
    return pm500::unexpected(who + ": poll_interval_ms must be above 0");
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(s.port);
  if (::inet_pton(AF_INET, s.host.c_str(), &a.sin_addr) != 1) {
    // A name: resolved once here, off the scanner thread (getaddrinfo blocks).
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(s.host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || res == nullptr) {
      return pm500::unexpected(who + ": cannot resolve \"" + s.host + "\": " + ::gai_strerror(rc));
    }
    a.sin_addr = reinterpret_cast<const sockaddr_in*>(res->ai_addr)->sin_addr;
    ::freeaddrinfo(res);
  }
  return a;
}

Engine::~Engine() {
  for (auto& d : devices_) {
    if (d.fd >= 0) ::close(d.fd);
    if (d.probe_fd >= 0) ::close(d.probe_fd);
  }
  for (auto& h : helpers_) {
    if (h.fd >= 0) ::close(h.fd);
  }
  if (udp_fd_ >= 0) ::close(udp_fd_);
  for (std::size_t i = 1; i < max_rx_sockets; ++i)
    if (rx_socks_[i].fd >= 0) ::close(rx_socks_[i].fd);
}

pm500::expected<void, std::string> Engine::prepare() {
  in_addr local{};
  if (::inet_pton(AF_INET, opt_.local_address.c_str(), &local) != 1) {
    return pm500::unexpected("local_address \"" + opt_.local_address + "\" is not an IPv4 address");
  }
  local_addr_ = ntohl(local.s_addr);
  std::uint64_t seed = opt_.jitter_seed;
  if (seed == 0) seed = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  SplitMix64 seeder(seed);
  next_t_o_id_ = static_cast<std::uint32_t>(seeder.next());
  next_serial_ = static_cast<std::uint16_t>(seeder.next());

  for (auto& d : devices_) {
    auto addr = check_spec(d.spec, "device " + std::to_string(d.index) + " (" + d.endpoint + ")");
    if (!addr) return pm500::unexpected(addr.error());
    d.addr = *addr;
    d.backoff = Backoff(std::chrono::milliseconds(opt_.reconnect_initial_ms),
                        std::chrono::milliseconds(opt_.reconnect_max_ms), seeder.next());
  }
  seeder_ = SplitMix64(seeder.next());
  std::size_t conns = 0;
  for (const auto& d : devices_) conns += d.conns.size();
  // Heap room for every timer that can be pending at once (heartbeats, device and poll timers,
  // stale entries waiting to expire), so steady state never grows it.
  const std::size_t timers = 4 * conns + 8 * devices_.size() + 64;
  if (auto r = loop_.open(timers); !r) return r;
  return open_udp();
}

pm500::expected<void, std::string> Engine::reconfigure(std::vector<std::optional<DeviceSpec>> devices) {
  std::vector<Change> changes(devices.size());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    if (!devices[i]) continue;
    auto addr = check_spec(*devices[i], "device " + std::to_string(i) + " (" + devices[i]->host + ":" +
                                            std::to_string(devices[i]->port) + ")");
    if (!addr) return pm500::unexpected(addr.error());
    changes[i] = Change{std::move(devices[i]), *addr};
  }
  {
    std::lock_guard lock(changes_mu_);
    changes_ = std::move(changes);
  }
  changes_pending_.store(true, std::memory_order_release);
  loop_.wake();
  return {};
}

void Engine::apply_changes(std::int64_t now) {
  std::vector<Change> changes;
  {
    std::lock_guard lock(changes_mu_);
    if (!changes_) return;
    changes = std::move(*changes_);
    changes_.reset();
    changes_pending_.store(false, std::memory_order_relaxed);
  }
  const std::size_t before = devices_.size();
  for (std::size_t i = 0; i < std::max(before, changes.size()); ++i) {
    Change* ch = i < changes.size() ? &changes[i] : nullptr;
    if (i >= before) {
      devices_.emplace_back();
      Device& d = devices_.back();
      d.index = static_cast<std::uint32_t>(i);
      {
        std::lock_guard lock(mu_);
        counters_.emplace_back();
        published_.emplace_back();
      }
      if (ch->spec) {
        init_device(d, std::move(*ch->spec), ch->addr, seeder_.next());
        publish(d);
        events_.on_state(d.index, status_of(d));
        arm_device_timer(d, now);
      } else {  // a hole: an index that never ran, kept so that later ones line up
        d.removed = true;
        d.step = Step::stopped;
        set_state(d, DeviceState::stopped);
      }
      continue;
    }
    Device& d = devices_[i];
    if (!ch || !ch->spec) {
      if (d.removed) continue;
      // Removed: Forward Close each connection on the session, UnRegisterSession, close.
      teardown(d, true);
      d.removed = true;
      d.step = Step::stopped;
      set_state(d, DeviceState::stopped);
      continue;
    }
    if (!d.removed && *ch->spec == d.configured) continue;  // unchanged: not touched
    // Changed (or back after a removal): closed as above, then opened with the new spec.
    teardown(d, true);
    d.removed = false;
    init_device(d, std::move(*ch->spec), ch->addr, seeder_.next());
    publish(d);
    events_.on_state(d.index, status_of(d));
    arm_device_timer(d, now);
  }
  size_tables();
  resize_receive_buffers();
}

void Engine::size_tables() {
  std::size_t want = 1;
  for (const auto& d : devices_) want += d.conns.size();
  if (table_.max_entries() >= want) return;
  ConnTable table(want), ids(want);
  for (const auto& d : devices_)
    for (std::size_t k = 0; k < d.conns.size(); ++k) {
      const Conn& c = d.conns[k];
      if (!c.open) continue;
      table.insert(c.t_o_id, ntohl(d.addr.sin_addr.s_addr), (d.index << 8) | static_cast<std::uint32_t>(k));
      const std::uint32_t n = ids.find(c.t_o_id, 0);
      if (n != ConnTable::npos) ids.erase(c.t_o_id, 0);
      ids.insert(c.t_o_id, 0, n == ConnTable::npos ? 1 : n + 1);
    }
  table_ = std::move(table);
  open_ids_ = std::move(ids);
}

void Engine::request_stop() {
  stop_requested_.store(true, std::memory_order_release);
  loop_.wake();
}

void Engine::run() {
  std::int64_t now = EventLoop::monotonic_ns();
  // Staggered first connects: a thousand SYNs in the same millisecond help nobody.
  const std::int64_t spread_ns =
      devices_.empty() ? 0 : std::min<std::int64_t>(2'000'000, 2'000'000'000 / static_cast<std::int64_t>(devices_.size()));
  for (auto& d : devices_) arm_device_timer(d, now + spread_ns * d.index);

  std::array<epoll_event, 256> events{};
  for (;;) {
    loop_turns_.fetch_add(1, std::memory_order_relaxed);
    now = EventLoop::monotonic_ns();
    // acquire: pairs with the release in request_stop().
    if (!shutting_down_ && stop_requested_.load(std::memory_order_acquire)) begin_shutdown(now);
    if (shutting_down_ && (all_stopped() || now >= shutdown_deadline_)) break;
    // acquire: pairs with the release in reconfigure().
    if (!shutting_down_ && changes_pending_.load(std::memory_order_acquire)) apply_changes(now);

    receive_housekeeping(now);
    // A loop that comes late to its timers (a stalled thread, a loaded host) first reads what
    // the socket queued meanwhile: a connection is not judged silent while its data waits in
    // our own receive buffer.
    bool drained = false;
    if (auto first = loop_.timers().next_deadline(); first && now - *first > late_timer_ns && udp_fd_ >= 0) {
      drain_udp(1024);
      drained = true;
      now = EventLoop::monotonic_ns();
    }
    update_overload(now);
    TimerQueue::Entry due;
    while (loop_.timers().pop_due(now, due)) on_timer(due.token, due.deadline_ns, now);

    if (read_not_before_ > now && !shutting_down_) {
      // Batched receive: let the socket gather a batch (see on_udp_readable), but no timer waits.
      std::int64_t until = read_not_before_;
      if (auto first = loop_.timers().next_deadline(); first && *first < until) until = *first;
      if (until > now) {
        const timespec ts{static_cast<time_t>(until / 1'000'000'000), static_cast<long>(until % 1'000'000'000)};
        ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      }
    }
    const int n = loop_.wait(events, EventLoop::monotonic_ns(), shutting_down_ ? 20 : 1000);
    now = EventLoop::monotonic_ns();
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events[static_cast<std::size_t>(i)];
      const std::uint64_t tag = ev.data.u64;
      if (tag == EventLoop::wake_tag) continue;
      const auto kind = static_cast<TagKind>(tag >> 56);
      if (kind == TagKind::udp) {
        if (const auto sock = static_cast<std::size_t>(tag & 0xFF); sock < max_rx_sockets && rx_socks_[sock].fd >= 0)
          on_udp_readable(sock);
      } else if (kind == TagKind::tcp) {
        const auto idx = static_cast<std::uint32_t>(tag);
        if (idx >= devices_.size()) continue;
        Device& d = devices_[idx];
        if (d.fd < 0 || tcp_tag(d) != tag) continue;  // closed since epoll_wait returned
        on_tcp_event(d, ev.events, now);
      } else if (kind == TagKind::probe) {
        const auto idx = static_cast<std::uint32_t>(tag);
        if (idx >= devices_.size()) continue;
        Device& d = devices_[idx];
        if (d.probe_fd < 0 || probe_tag(d) != tag) continue;  // closed since epoll_wait returned
        on_probe_event(d, ev.events, now);
      }
    }
    if (n > 0 || drained) events_.on_batch_end();
    if (!setup_queue_.empty() && !shutting_down_) admit_setups(EventLoop::monotonic_ns());
  }
  for (auto& d : devices_) {
    if (d.step != Step::stopped) finish_device(d);
  }
  for (std::size_t i = 1; i < max_rx_sockets; ++i) {
    if (rx_socks_[i].fd < 0) continue;
    loop_.remove(rx_socks_[i].fd);
    ::close(rx_socks_[i].fd);
    rx_socks_[i] = {};
  }
  if (udp_fd_ >= 0) {
    loop_.remove(udp_fd_);
    ::close(udp_fd_);
    udp_fd_ = -1;
    rx_socks_[0] = {};
  }
}

void Engine::arm_device_timer(Device& d, std::int64_t deadline) {
  d.timer_armed = true;
  d.timer_due = deadline;
  if (!d.timer_queued || deadline < d.queued_at) {
    loop_.timers().push(deadline, timer_token(TimerKind::device, d.index, 0, 0));
    d.timer_queued = true;
    d.queued_at = deadline;
  }
}

void Engine::on_timer(std::uint64_t token, std::int64_t deadline, std::int64_t now) {
  const auto kind = static_cast<TimerKind>(token >> 56);
  const auto conn = static_cast<std::uint8_t>(token >> 48);
  const auto gen = static_cast<std::uint16_t>(token >> 32);
  const auto idx = static_cast<std::uint32_t>(token);
  if (idx >= devices_.size()) return;
  Device& d = devices_[idx];
  if (shutting_down_) return;
  switch (kind) {
    case TimerKind::heartbeat:
      if (conn < d.conns.size() && d.conns[conn].gen == gen && d.conns[conn].open) on_heartbeat_timer(d, conn, now);
      return;
    case TimerKind::poll:
      if (gen != d.poll_gen || d.step != Step::running || d.path != Mode::explicit_poll) return;
      if (d.fallback_active && now >= d.fallback_retry_at) {
        // Polling because listen-only was refused (no owner). Every reconnect_max_ms, try the
        // configured path again between two polls, so the gateway goes back to sharing the
        // PLC's multicast data once the owner returns; if it is still refused, the fallback
        // resumes at once.
        teardown(d, true);
        begin_connect(d, now);
        return;
      }
      d.poll_round_start = now;
      d.cursor = 0;
      next_read(d, now);
      return;
    case TimerKind::device:
      break;
    case TimerKind::shutdown:
      return;
  }
  if (deadline == d.queued_at) d.timer_queued = false;  // the tracked entry (others are extra)
  if (!d.timer_armed) return;
  if (now < d.timer_due) {
    // Re-armed to a later deadline since this entry was queued.
    if (!d.timer_queued || d.timer_due < d.queued_at) {
      loop_.timers().push(d.timer_due, token);
      d.timer_queued = true;
      d.queued_at = d.timer_due;
    }
    return;
  }
  d.timer_armed = false;
  if (answered_meanwhile(d, now)) return;
  if (d.resession) return on_resession_timer(d, now);
  switch (d.step) {
    case Step::idle:
      begin_connect(d, now);
      return;
    case Step::backoff:
      return on_backoff_timer(d, now);
    case Step::wrong_device:
      bump(counters_[d.index].reconnects);
      begin_connect(d, now);
      return;
    case Step::connecting: {
      Fault f;
      f.kind = Fault::Kind::connect_timeout;
      f.sys_errno = ETIMEDOUT;
      f.text = "no answer to the TCP connection to " + d.endpoint + " within " +
               std::to_string(opt_.connect_timeout_ms) +
               " ms: the device is off, the address is wrong, or a firewall drops EtherNet/IP (TCP 44818)";
      fail(d, std::move(f), now);
      return;
    }
    case Step::registering:
    case Step::listing:
    case Step::sizing:
    case Step::opening:
    case Step::running: {
      if (d.step == Step::running && d.pending == Req::none) return send_session_check(d, now);  // due
      if (d.pending == Req::session_check) {
        bump(counters_[d.index].timeouts);
        Fault f;
        f.text = "Get_Attribute_Single (Identity attribute 1, the session check) to " + d.endpoint +
                 " unanswered after " + std::to_string(opt_.request_timeout_ms) + " ms";
        return session_down(d, std::move(f), now);
      }
      Fault f;
      static constexpr const char* names[] = {"",
                                              "RegisterSession",
                                              "ListIdentity",
                                              "Get_Attribute_Single (size)",
                                              "Forward Open",
                                              "Get_Attribute_Single (data)",
                                              "Forward Close",
                                              "Get_Attribute_Single (session check)"};
      const char* what = names[static_cast<std::size_t>(d.pending)];
      f.kind = d.pending == Req::list_identity ? Fault::Kind::no_identity_reply : Fault::Kind::request_timeout;
      if (d.cursor < d.conns.size() && (d.pending == Req::size || d.pending == Req::forward_open || d.pending == Req::read)) {
        f.assembly = d.conns[d.cursor].assembly;
      }
      f.text = std::string(what) + " to " + d.endpoint + (f.assembly ? " (assembly " + std::to_string(f.assembly) + ")" : "") +
               " unanswered after " + std::to_string(opt_.request_timeout_ms) +
               " ms: the device accepts TCP but does not answer EtherNet/IP requests";
      bump(counters_[d.index].timeouts);
      fail(d, std::move(f), now);
      return;
    }
    case Step::closing:
    case Step::stopped:
      return;
  }
}

// A loop that comes late to a device's timer (a busy or stalled thread) may find the connect
// done or the reply waiting in the socket: handled as if on time, not judged unanswered.
bool Engine::answered_meanwhile(Device& d, std::int64_t now) {
  if (d.fd < 0) return false;
  if (d.step == Step::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    if (::getsockopt(d.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
        ::getpeername(d.fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0)
      return false;  // still connecting (ENOTCONN) or failed: the timeout stands
    on_connected(d, now);
    return true;
  }
  if (d.pending == Req::none) return false;
  const std::uint32_t gen = d.fd_gen;
  const Req pending = d.pending;
  const std::uint64_t ctx = d.pending_ctx;
  read_tcp(d, now);
  return d.fd < 0 || gen != d.fd_gen || d.pending != pending || d.pending_ctx != ctx || d.timer_armed;
}

void Engine::begin_connect(Device& d, std::int64_t now) {
  teardown(d, false);
  if (opt_.max_setups > 0 && setups_in_flight_ >= opt_.max_setups) {
    // Every slot is taken: wait in line, no timer running (admit_setups() starts it).
    d.step = Step::idle;
    set_state(d, DeviceState::connecting);
    d.setup_queued = true;
    setup_queue_.push_back(d.index);
    setups_waiting_pub_.store(static_cast<std::uint32_t>(setup_queue_.size()), std::memory_order_relaxed);
    return;
  }
  d.setup_slot = true;
  ++setups_in_flight_;
  setups_in_flight_pub_.store(setups_in_flight_, std::memory_order_relaxed);
  if (setups_in_flight_ > setups_peak_.load(std::memory_order_relaxed))
    setups_peak_.store(setups_in_flight_, std::memory_order_relaxed);
  setups_started_.fetch_add(1, std::memory_order_relaxed);
  ++d.attempt;
  d.data_seen = false;
  if (d.path != d.spec.mode || d.fallback_active) {
    // Every reconnect tries the configured path again: an owner may have appeared meanwhile.
    d.path = d.spec.mode;
    d.fallback_active = false;
    d.path_reason = configured_reason(d.spec.mode, d.spec.poll_interval_ms);
  }
  for (auto& c : d.conns) {
    c.usable = false;
    c.size = 0;
  }
  d.step = Step::connecting;
  set_state(d, DeviceState::connecting);
  open_tcp(d, now);
}

// A nonblocking TCP connect to the device, watched by epoll, with the connect timeout armed.
void Engine::open_tcp(Device& d, std::int64_t now) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Fault f;
    f.kind = Fault::Kind::socket_error;
    f.sys_errno = errno;
    f.text = "socket() for " + d.endpoint + ": " + errno_text(errno);
    return fail(d, std::move(f), now);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
  if (local_addr_ != 0) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(local_addr_);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
      Fault f;
      f.kind = Fault::Kind::socket_error;
      f.sys_errno = errno;
      f.text = "bind to local_address " + opt_.local_address + " for " + d.endpoint + ": " + errno_text(errno);
      ::close(fd);
      return fail(d, std::move(f), now);
    }
  }
  d.fd = fd;
  ++d.fd_gen;
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&d.addr), sizeof d.addr);
  const int err = rc == 0 ? 0 : errno;
  if (rc != 0 && err != EINPROGRESS) {
    const Fault::Kind k = classify_connect_errno(err);
    Fault f;
    f.kind = k;
    f.sys_errno = err;
    f.text = (k == Fault::Kind::connect_refused ? d.endpoint + " refused the TCP connection (ECONNREFUSED): the host is up but nothing listens on the EtherNet/IP port"
              : k == Fault::Kind::unreachable
                  ? d.endpoint + " unreachable (" + errno_name(err) + ": " + errno_text(err) + "): check the address, routing and the link"
                  : "connect to " + d.endpoint + ": " + errno_text(err));
    return fail(d, std::move(f), now);
  }
  loop_.add(fd, EPOLLOUT | EPOLLIN, tcp_tag(d));
  arm_device_timer(d, now + std::int64_t{opt_.connect_timeout_ms} * 1'000'000);
}

void Engine::release_setup(Device& d) {
  d.setup_queued = false;  // its entry in setup_queue_ is skipped
  if (!d.setup_slot) return;
  d.setup_slot = false;
  --setups_in_flight_;
  setups_in_flight_pub_.store(setups_in_flight_, std::memory_order_relaxed);
}

void Engine::admit_setups(std::int64_t now) {
  while (!setup_queue_.empty() && (opt_.max_setups == 0 || setups_in_flight_ < opt_.max_setups)) {
    const std::uint32_t idx = setup_queue_.front();
    setup_queue_.pop_front();
    if (idx >= devices_.size() || !devices_[idx].setup_queued) continue;
    Device& d = devices_[idx];
    d.setup_queued = false;
    begin_connect(d, now);
  }
  setups_waiting_pub_.store(static_cast<std::uint32_t>(setup_queue_.size()), std::memory_order_relaxed);
}

SetupStats Engine::setup_stats() const {
  SetupStats s;
  s.in_flight = setups_in_flight_pub_.load(std::memory_order_relaxed);
  s.waiting = setups_waiting_pub_.load(std::memory_order_relaxed);
  s.peak = setups_peak_.load(std::memory_order_relaxed);
  s.started = setups_started_.load(std::memory_order_relaxed);
  return s;
}

void Engine::teardown(Device& d, bool send_closes) {
  release_setup(d);
  close_probe(d);
  for (auto& c : d.conns) {
    if (!c.open) continue;
    if (send_closes && d.session != 0 && d.fd >= 0) send_forward_close(d, c, Req::forward_close);
    close_conn(d, c);
  }
  close_session(d);
  ++d.poll_gen;
  d.closing_pending = 0;
  d.resession = false;
  counters_[d.index].conns_open.store(0, std::memory_order_relaxed);
}

// The TCP side only: UnRegisterSession, close. Class 1 connections are not touched (they
// outlive their session: CIP Vol 2, only Class 3 connections end with it).
void Engine::close_session(Device& d) {
  if (d.session != 0 && d.fd >= 0) send_unregister(d);
  if (d.fd >= 0) {
    loop_.remove(d.fd);
    ::close(d.fd);
    d.fd = -1;
  }
  ++d.fd_gen;
  disarm_device_timer(d);
  d.session = 0;
  d.rx_len = 0;
  d.tx.clear();
  d.tx_off = 0;
  d.want_write = false;
  d.pending = Req::none;
}

void Engine::fail(Device& d, Fault f, std::int64_t now) {
  // Setting up a new session while the I/O connections still deliver: a failure of the TCP
  // side is that session's trouble, not a reason to drop data that keeps arriving.
  if (d.resession && f.kind != Fault::Kind::io_timeout && !shutting_down_) return session_down(d, std::move(f), now);
  const bool down = d.step == Step::connecting;  // the device did not accept the TCP connection
  raise(d, std::move(f));
  teardown(d, true);
  if (shutting_down_) {
    finish_device(d);
    return;
  }
  schedule_reconnect(d, now, down);
}

void Engine::schedule_reconnect(Device& d, std::int64_t now, bool down) {
  d.step = Step::backoff;
  set_state(d, DeviceState::backoff);
  const auto delay = d.backoff.next();
  d.backoff_due = now + std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
  d.probe_down = down;
  d.probing = opt_.probe_interval_ms > 0;
  const std::int64_t probe_at = now + std::int64_t{opt_.probe_interval_ms} * 1'000'000;
  arm_device_timer(d, d.probing ? std::min(d.backoff_due, probe_at) : d.backoff_due);
  // After a failure past the TCP connect (connection lost, I/O timeout, refused Forward Open)
  // the first probe goes out at once: it tells a device that went away (refused, so the next
  // accepted probe brings it back) from one that is there and failing (accepted: the backoff
  // paces it, no further probes).
  if (d.probing && !down) start_probe(d, now);
}

// The device timer in backoff: the backoff is over (a full connect attempt), or the next probe
// is due (one still in flight got no answer within the interval: the device is not there).
void Engine::on_backoff_timer(Device& d, std::int64_t now) {
  if (d.probe_fd >= 0) {
    close_probe(d);
    d.probe_down = true;
  }
  if (now >= d.backoff_due || !d.probing) {
    bump(counters_[d.index].reconnects);
    return begin_connect(d, now);
  }
  start_probe(d, now);
}

// One probe: a nonblocking TCP connect to the device's EtherNet/IP port. No state change, no
// event, no fault, no allocation: the answer (on_probe_event) decides. The device timer is
// armed for the next probe (or the end of the backoff, if sooner).
void Engine::start_probe(Device& d, std::int64_t now) {
  const std::int64_t next = std::min(d.backoff_due, now + std::int64_t{opt_.probe_interval_ms} * 1'000'000);
  arm_device_timer(d, next);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;  // no socket now: the next probe, or the backoff, tries again
  // Closed with a reset, not a FIN: a probe a second per absent device must not pile up
  // TIME_WAIT sockets (and ephemeral ports) on the gateway.
  const linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  if (local_addr_ != 0) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(local_addr_);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
      ::close(fd);
      return;
    }
  }
  d.probe_fd = fd;
  ++d.probe_gen;
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&d.addr), sizeof d.addr);
  if (rc == 0) return on_probe_event(d, EPOLLOUT, now);
  if (errno != EINPROGRESS) {
    close_probe(d);
    d.probe_down = true;
    return;
  }
  loop_.add(fd, EPOLLOUT, probe_tag(d));
}

void Engine::on_probe_event(Device& d, std::uint32_t events, std::int64_t now) {
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(d.probe_fd, SOL_SOCKET, SO_ERROR, &err, &len);
  close_probe(d);
  if (err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) {
    d.probe_down = true;  // not accepted: the next probe (timer armed) asks again
    return;
  }
  if (!d.probe_down) {
    // Accepted, and it was accepting before: it fails past the connect, the backoff paces the
    // full attempts. The probes go on (the timer is armed for the next): a device that stops
    // accepting later (its listener outlived its I/O, then it rebooted) is marked down, and the
    // first probe it accepts after that brings it back at once.
    return;
  }
  // Back: reconnect now, and failures of this new attempt start the backoff over.
  d.backoff.reset();
  bump(counters_[d.index].reconnects);
  begin_connect(d, now);
}

void Engine::close_probe(Device& d) {
  if (d.probe_fd < 0) return;
  loop_.remove(d.probe_fd);
  ::close(d.probe_fd);
  d.probe_fd = -1;
  ++d.probe_gen;
}

void Engine::enter_wrong_device(Device& d, std::int64_t now) {
  teardown(d, false);
  d.step = Step::wrong_device;
  set_state(d, DeviceState::wrong_device);
  // Not scanned; looked at again now and then, since the address may be corrected on site.
  arm_device_timer(d, now + std::int64_t{opt_.reconnect_max_ms} * 1'000'000);
}

void Engine::raise(Device& d, Fault f) {
  if (f.kind == Fault::Kind::connect_refused || f.kind == Fault::Kind::connect_timeout ||
      f.kind == Fault::Kind::unreachable) {
    // One cause at a time: a refused connect that turns into a timeout is no longer refused.
    for (auto k : {Fault::Kind::connect_refused, Fault::Kind::connect_timeout, Fault::Kind::unreachable}) {
      if (k != f.kind) clear(d, k);
    }
  }
  if (d.faults.raise(f, d.attempt)) events_.on_fault(d.index, f);
}

void Engine::clear(Device& d, Fault::Kind k) {
  if (d.faults.clear(k)) events_.on_fault_cleared(d.index, k);
}

void Engine::mark_running(Device& d) {
  if (d.data_seen) return;
  d.data_seen = true;
  d.backoff.reset();
  const std::uint32_t mask = d.faults.clear_older_than(d.attempt);
  for (std::size_t i = 0; i < Fault::kind_count; ++i) {
    if (mask & (1u << i)) events_.on_fault_cleared(d.index, static_cast<Fault::Kind>(i));
  }
  set_state(d, DeviceState::running);
}

void Engine::set_state(Device& d, DeviceState s) {
  // The state shown follows the data: once a connection of this connect delivers, the device is
  // running while its other connections open (their Forward Open replies may come after the
  // first datagrams when the loop is busy), not `opening` again, with nothing left to move it on.
  if (d.data_seen && (s == DeviceState::opening || s == DeviceState::identifying)) s = DeviceState::running;
  if (d.state == s) return;
  d.state = s;
  publish(d);
  events_.on_state(d.index, status_of(d));
}

DeviceStatus Engine::status_of(const Device& d) const {
  DeviceStatus s;
  s.device = d.index;
  s.endpoint = d.endpoint;
  s.state = d.state;
  s.configured = d.spec.mode;
  s.path_in_use = d.path;
  s.fallback_active = d.fallback_active;
  s.path_reason = d.format_note.empty() ? d.path_reason : d.path_reason + "; " + d.format_note;
  s.format_note = d.format_note;
  s.identity = d.identity;
  const Counters& c = counters_[d.index];
  s.connections_open = c.conns_open.load(std::memory_order_relaxed);
  s.packets = c.packets.load(std::memory_order_relaxed);
  s.stale_packets = c.stale.load(std::memory_order_relaxed);
  s.timeouts = c.timeouts.load(std::memory_order_relaxed);
  s.reconnects = c.reconnects.load(std::memory_order_relaxed);
  s.forward_opens = c.fo_ok.load(std::memory_order_relaxed);
  s.forward_open_failures = c.fo_fail.load(std::memory_order_relaxed);
  s.heartbeats = c.heartbeats.load(std::memory_order_relaxed);
  s.last_packet_ns = c.last_packet_ns.load(std::memory_order_relaxed);
  for (const Conn& k : d.conns)
    if (k.open)
      s.connections.push_back({k.assembly, k.o_t_id, k.t_o_id, k.o_t_api_us, k.t_o_api_us, k.group, k.t_o_port,
                               ntohl(k.o_t_dest.sin_addr.s_addr), ntohs(k.o_t_dest.sin_port)});
  return s;
}

void Engine::publish(const Device& d) {
  DeviceStatus s = status_of(d);
  std::lock_guard lock(mu_);
  published_[d.index] = std::move(s);
}

std::vector<DeviceStatus> Engine::snapshot() const {
  std::vector<DeviceStatus> out;
  std::lock_guard lock(mu_);  // counters_ grows under it
  out = published_;
  for (auto& s : out) {
    const Counters& c = counters_[s.device];
    s.connections_open = c.conns_open.load(std::memory_order_relaxed);
    s.packets = c.packets.load(std::memory_order_relaxed);
    s.stale_packets = c.stale.load(std::memory_order_relaxed);
    s.timeouts = c.timeouts.load(std::memory_order_relaxed);
    s.reconnects = c.reconnects.load(std::memory_order_relaxed);
    s.forward_opens = c.fo_ok.load(std::memory_order_relaxed);
    s.forward_open_failures = c.fo_fail.load(std::memory_order_relaxed);
    s.heartbeats = c.heartbeats.load(std::memory_order_relaxed);
    s.last_packet_ns = c.last_packet_ns.load(std::memory_order_relaxed);
  }
  return out;
}

void Engine::begin_shutdown(std::int64_t now) {
  shutting_down_ = true;
  shutdown_deadline_ = now + std::int64_t{opt_.shutdown_timeout_ms} * 1'000'000;
  for (auto& d : devices_) {
    if (d.removed) continue;  // closed when it was removed
    disarm_device_timer(d);
    ++d.poll_gen;
    std::size_t sent = 0;
    if (d.fd >= 0 && d.session != 0) {
      for (auto& c : d.conns) {
        if (!c.open) continue;
        if (send_forward_close(d, c, Req::forward_close)) ++sent;
        close_conn(d, c);
      }
    }
    if (sent > 0) {
      d.closing_pending = sent;
      d.pending = Req::none;
      d.step = Step::closing;
    } else {
      finish_device(d);
    }
  }
}

void Engine::finish_device(Device& d) {
  teardown(d, false);  // UnRegisterSession, then close (CIP Vol 2, 2-4 "UnRegisterSession")
  d.step = Step::stopped;
  set_state(d, DeviceState::stopped);
}

bool Engine::all_stopped() const {
  return std::all_of(devices_.begin(), devices_.end(), [](const Device& d) { return d.step == Step::stopped; });
}

}  // namespace cip::detail
