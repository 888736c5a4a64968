// The scanner's TCP side, one session per device: RegisterSession, ListIdentity and the
// identity check, Get_Attribute_Single of every assembly's size (attribute 4), Forward Open
// (with Sockaddr Info 0x8001 when T->O data must come to a port other than 2222) and the
// listen-only fallback, explicit polling of attribute 3, Forward Close, UnRegisterSession.
//
// One request is outstanding per session at a time (its kind and a counter travel in the
// sender context, which the target echoes: CIP Vol 2, 2-3 "Encapsulation Message"); only the
// Forward Closes of a shutdown go out together.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cip/attributes.hpp"
#include "cip/io_path.hpp"
#include "cip/scanner_engine.hpp"
#include "cip/send_data.hpp"
#include "cip/status.hpp"

namespace cip::detail {

namespace {

// Frames larger than this are not something a PowerMonitor 500 sends: a broken stream.
constexpr std::size_t max_frame = 65'535 + encap_header_size;

std::uint64_t ctx_value(const SenderContext& c) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t{c[i]} << (8 * i);
  return v;
}

Req ctx_kind(const SenderContext& c) { return static_cast<Req>(c[0]); }

bool is_multicast(std::uint32_t addr) { return (addr >> 28) == 0xE; }

}  // namespace

SenderContext Engine::new_context(Device& d, Req kind) {
  SenderContext c{};
  c[0] = static_cast<std::uint8_t>(kind);
  c[1] = static_cast<std::uint8_t>(d.cursor);
  const std::uint32_t n = ++d.ctx_counter;
  for (std::size_t i = 0; i < 4; ++i) c[2 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  c[6] = 'P';
  c[7] = '5';
  return c;
}

// ---- socket I/O -------------------------------------------------------------------------

bool Engine::send_bytes(Device& d, bytes_view b) {
  if (d.fd < 0) return false;
  std::size_t done = 0;
  if (d.tx_off >= d.tx.size()) {
    d.tx.clear();
    d.tx_off = 0;
    const ssize_t n = ::send(d.fd, b.data(), b.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    done = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (done == b.size()) return true;
  }
  // The socket buffer is full (a slow or silent device): keep the rest and wait for EPOLLOUT.
  d.tx.insert(d.tx.end(), b.begin() + static_cast<std::ptrdiff_t>(done), b.end());
  if (!d.want_write) {
    d.want_write = true;
    loop_.modify(d.fd, EPOLLIN | EPOLLOUT, tcp_tag(d));
  }
  return true;
}

void Engine::flush_tx(Device& d, std::int64_t now) {
  while (d.tx_off < d.tx.size()) {
    const ssize_t n = ::send(d.fd, d.tx.data() + d.tx_off, d.tx.size() - d.tx_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      Fault f;
      f.kind = Fault::Kind::connection_lost;
      f.sys_errno = errno;
      f.text = "TCP session to " + d.endpoint + " failed while sending: " + std::strerror(errno);
      return fail(d, std::move(f), now);
    }
    d.tx_off += static_cast<std::size_t>(n);
  }
  d.tx.clear();
  d.tx_off = 0;
  d.want_write = false;
  loop_.modify(d.fd, EPOLLIN, tcp_tag(d));
}

void Engine::on_tcp_event(Device& d, std::uint32_t events, std::int64_t now) {
  if (d.step == Step::connecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(d.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) == 0) return on_connected(d, now);
    if (err == 0) err = ECONNREFUSED;
    const Fault::Kind k = classify_connect_errno(err);
    Fault f;
    f.kind = k;
    f.sys_errno = err;
    if (k == Fault::Kind::connect_refused) {
      f.text = d.endpoint +
               " refused the TCP connection (ECONNREFUSED): the host is up but nothing listens on the "
               "EtherNet/IP port";
    } else if (k == Fault::Kind::unreachable) {
      f.text = d.endpoint + " unreachable (" + std::strerror(err) + "): check the address, routing and the link";
    } else if (k == Fault::Kind::connect_timeout) {
      f.text = "TCP connection to " + d.endpoint + " timed out in the kernel (ETIMEDOUT)";
    } else {
      f.text = "connect to " + d.endpoint + ": " + std::strerror(err);
    }
    return fail(d, std::move(f), now);
  }
  const std::uint32_t gen = d.fd_gen;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_tcp(d, now);
  if (d.fd < 0 || gen != d.fd_gen) return;
  if (events & EPOLLOUT) flush_tx(d, now);
}

void Engine::on_connected(Device& d, std::int64_t now) {
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ::getsockname(d.fd, reinterpret_cast<sockaddr*>(&local), &len);
  d.local_addr = ntohl(local.sin_addr.s_addr);
  loop_.modify(d.fd, EPOLLIN, tcp_tag(d));
  for (auto k : {Fault::Kind::connect_refused, Fault::Kind::connect_timeout, Fault::Kind::unreachable}) clear(d, k);
  send_register(d, now);
}

void Engine::read_tcp(Device& d, std::int64_t now) {
  const std::uint32_t gen = d.fd_gen;
  for (;;) {
    if (d.rx.size() - d.rx_len < kInitialRx / 2) {
      if (d.rx.size() >= max_frame) {
        Fault f;
        f.kind = Fault::Kind::protocol_error;
        f.text = "encapsulation stream from " + d.endpoint + " is not framed (a frame above 64 KiB)";
        return fail(d, std::move(f), now);
      }
      d.rx.resize(std::min(max_frame, d.rx.size() * 2));
    }
    const ssize_t n = ::recv(d.fd, d.rx.data() + d.rx_len, d.rx.size() - d.rx_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      Fault f;
      f.kind = Fault::Kind::connection_lost;
      f.sys_errno = n == 0 ? 0 : errno;
      f.text = n == 0 ? d.endpoint + " closed the TCP session"
                      : "TCP session to " + d.endpoint + " failed: " + std::strerror(errno);
      return fail(d, std::move(f), now);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    d.rx_len += static_cast<std::size_t>(n);
    std::size_t off = 0;
    for (;;) {
      const bytes_view buffered(d.rx.data() + off, d.rx_len - off);
      const std::size_t need = frame_size_needed(buffered);
      if (buffered.size() < need) break;
      auto frame = decode_frame(buffered);
      if (!frame) {
        Fault f;
        f.kind = Fault::Kind::protocol_error;
        f.text = "malformed encapsulation frame from " + d.endpoint + ": " + to_string(frame.error());
        return fail(d, std::move(f), now);
      }
      handle_frame(d, *frame, now);
      if (d.fd < 0 || gen != d.fd_gen) return;  // the frame ended the session
      off += need;
    }
    if (off > 0) {
      std::memmove(d.rx.data(), d.rx.data() + off, d.rx_len - off);
      d.rx_len -= off;
    }
  }
}

// ---- requests ---------------------------------------------------------------------------

void Engine::send_register(Device& d, std::int64_t now) {
  d.step = Step::registering;
  d.pending = Req::register_session;
  const SenderContext ctx = new_context(d, Req::register_session);
  d.pending_ctx = ctx_value(ctx);
  Writer w(out_);
  encode_register_session(w, ctx);
  if (!send_bytes(d, w.written())) {
    Fault f;
    f.kind = Fault::Kind::connection_lost;
    f.sys_errno = errno;
    f.text = "TCP session to " + d.endpoint + " failed while sending RegisterSession";
    return fail(d, std::move(f), now);
  }
  arm_device_timer(d, now + std::int64_t{opt_.request_timeout_ms} * 1'000'000);
}

void Engine::send_list_identity(Device& d, std::int64_t now) {
  d.step = Step::listing;
  set_state(d, DeviceState::identifying);
  d.pending = Req::list_identity;
  const SenderContext ctx = new_context(d, Req::list_identity);
  d.pending_ctx = ctx_value(ctx);
  Writer w(out_);
  encode_list_identity_request(w, ctx);
  if (!send_bytes(d, w.written())) {
    Fault f;
    f.kind = Fault::Kind::connection_lost;
    f.sys_errno = errno;
    f.text = "TCP session to " + d.endpoint + " failed while sending ListIdentity";
    return fail(d, std::move(f), now);
  }
  arm_device_timer(d, now + std::int64_t{opt_.request_timeout_ms} * 1'000'000);
}

namespace {

// A Get_Attribute_Single of the assembly object in SendRRData.
bytes_view encode_assembly_read(Writer& w, std::uint32_t session, const SenderContext& ctx, std::uint16_t instance,
                                std::uint8_t attribute) {
  auto m = begin_send_rr_data(w, session, ctx);
  encode_get_attribute_single(w, object_class::assembly, instance, attribute);
  end_send_rr_data(w, m);
  return w.written();
}

}  // namespace

void Engine::next_size(Device& d, std::int64_t now) {
  if (d.cursor >= d.conns.size()) {
    const bool any = std::any_of(d.conns.begin(), d.conns.end(), [](const Conn& c) { return c.usable; });
    if (!any && !d.conns.empty()) {
      // Every assembly failed (each raised its fault already): nothing to scan on this session.
      teardown(d, true);
      return schedule_reconnect(d, now);
    }
    d.cursor = 0;
    if (d.path == Mode::explicit_poll) return start_running(d, now);
    return next_open(d, now);
  }
  d.step = Step::sizing;
  set_state(d, DeviceState::opening);
  d.pending = Req::size;
  const SenderContext ctx = new_context(d, Req::size);
  d.pending_ctx = ctx_value(ctx);
  Writer w(out_);
  // Attribute 4 (size in bytes) of the assembly instance (CIP Vol 1, chapter 5, Assembly
  // Object instance attributes): the meter's manual disagrees with itself on assembly 100.
  send_bytes(d, encode_assembly_read(w, d.session, ctx, d.conns[d.cursor].assembly, 4));
  arm_device_timer(d, now + std::int64_t{opt_.request_timeout_ms} * 1'000'000);
}

namespace {

Path connection_path(const Device& d, const Conn& c, Mode path) {
  IoPathSpec spec;
  if (d.spec.electronic_key) {
    // Key format 4 (CIP Vol 1, C-1.4.2 "Electronic Key Segment"): the meter refuses the open
    // with 0x0114/0x0115 itself when it is not the product expected. Revision 0.0 = any.
    ElectronicKey k;
    k.vendor = d.spec.identity.vendor;
    k.device_type = d.spec.identity.device_type;
    k.product_code = d.spec.product_code != 0 ? d.spec.product_code
                     : d.identity                ? d.identity->product_code
                                                 : 0;
    spec.key = k;
  }
  spec.config_instance = d.spec.config_instance;
  spec.o_t_point = path == Mode::input_only ? d.spec.input_only_point : d.spec.listen_only_point;
  spec.t_o_point = c.assembly;
  return io_connection_path(spec);
}

}  // namespace

void Engine::next_open(Device& d, std::int64_t now) {
  while (d.cursor < d.conns.size() && (!d.conns[d.cursor].usable || d.conns[d.cursor].open)) ++d.cursor;
  if (d.cursor >= d.conns.size()) return start_running(d, now);
  Conn& c = d.conns[d.cursor];
  d.step = Step::opening;
  set_state(d, DeviceState::opening);
  d.pending = Req::forward_open;
  const SenderContext ctx = new_context(d, Req::forward_open);
  d.pending_ctx = ctx_value(ctx);

  ForwardOpen fo;
  const Ticks t = ticks_for(std::chrono::milliseconds(opt_.request_timeout_ms));
  fo.priority_tick = t.priority_tick;
  fo.timeout_ticks = t.timeout_ticks;
  // A point-to-point T->O id is the consumer's choice (CIP Vol 1, chapter 3, Forward_Open); for
  // multicast the target picks its own and the reply says which.
  do {
    c.t_o_id = ++next_t_o_id_;
  } while (c.t_o_id == 0);
  c.serial = ++next_serial_;
  fo.t_o_connection_id = c.t_o_id;
  fo.connection_serial = c.serial;
  fo.originator_vendor = opt_.originator_vendor;
  fo.originator_serial = opt_.originator_serial;
  fo.timeout_multiplier = d.spec.timeout_multiplier;
  // O->T carries only heartbeats, which feed the meter's watchdog: their own, longer RPI
  // (cip/README.md, "O->T heartbeat RPI") rather than one heartbeat per datagram received.
  fo.o_t_rpi_us = d.spec.heartbeat_rpi_us;
  fo.t_o_rpi_us = d.spec.rpi_us;
  // O->T is a heartbeat: the 2-byte sequence count and no data (the meter consumes nothing).
  // A device that wants a 32-bit run/idle header on O->T gets it in every heartbeat (run).
  fo.o_t_params = {.size = static_cast<std::uint16_t>(d.spec.o_t_run_idle_header ? 6 : 2),
                   .type = ConnectionType::point_to_point};
  const std::uint32_t t_o_size = std::uint32_t{c.size} + 2 + (d.spec.run_idle_header ? 4 : 0);
  fo.large = t_o_size > 511;  // 9-bit size field in the 16-bit network parameters
  fo.t_o_params = {.size = static_cast<std::uint16_t>(t_o_size),
                   .type = d.spec.multicast ? ConnectionType::multicast : ConnectionType::point_to_point};
  fo.path = connection_path(d, c, d.path);

  Writer w(out_);
  auto m = begin_send_rr_data(w, d.session, ctx);
  encode(w, fo);
  const std::uint16_t port = udp_port();
  if (port != udp_io_port) {
    // Sockaddr Info T->O (CIP Vol 2, 2-6.3.3 "Sockaddr Info Items"): deliver T->O to this port.
    // Address 0: the address this Forward Open came from.
    const SockAddrItem item{ItemType::sockaddr_t_o, SockAddr{.family = AF_INET, .port = port, .address = 0}};
    end_send_rr_data(w, m, std::span<const SockAddrItem>(&item, 1));
  } else {
    end_send_rr_data(w, m);
  }
  if (!w.ok()) {
    Fault f;
    f.kind = Fault::Kind::protocol_error;
    f.assembly = c.assembly;
    f.text = "cannot encode the Forward Open for assembly " + std::to_string(c.assembly) + ": " + to_string(w.error());
    return fail(d, std::move(f), now);
  }
  send_bytes(d, w.written());
  arm_device_timer(d, now + std::int64_t{opt_.request_timeout_ms} * 1'000'000);
}

void Engine::start_running(Device& d, std::int64_t now) {
  release_setup(d);  // set up: the next device in line may start
  d.step = Step::running;
  d.pending = Req::none;
  disarm_device_timer(d);  // no request outstanding
  if (d.path == Mode::explicit_poll) {
    ++d.poll_gen;
    loop_.timers().push(now, timer_token(TimerKind::poll, d.index, 0, d.poll_gen));
    return;
  }
  const bool any_open = std::any_of(d.conns.begin(), d.conns.end(), [](const Conn& c) { return c.open; });
  if (!any_open && !d.conns.empty()) {
    teardown(d, true);
    return schedule_reconnect(d, now);
  }
  if (d.conns.empty()) mark_running(d);  // identity-only device
  arm_session_check(d, now);
}

// ---- the session while Class 1 data flows ----------------------------------------------------
//
// After the Forward Opens the session carries nothing, so a device whose explicit-message side
// hangs (or a path that drops TCP 44818 but not UDP 2222) would go unnoticed until the next
// reconnect needs it, and adapters close sessions idle past their encapsulation inactivity
// timeout (TCP/IP Interface attribute 13, 120 s by default). So every session_check_ms one
// Get_Attribute_Single of Identity attribute 1 (vendor id: an unconnected explicit request every
// CIP device answers, unlike NOP, which has no reply, or ListIdentity, which needs no session)
// goes out. Unanswered within request_timeout_ms: fault session_unanswered, and a new TCP
// connection and session are set up with backoff while the I/O connections stay open -- their
// data is as valid as before (a listen-only connection depends on the owner, not on our
// session). A registered session clears the fault.

void Engine::arm_session_check(Device& d, std::int64_t now) {
  const bool class1 = d.path != Mode::explicit_poll &&
                      std::any_of(d.conns.begin(), d.conns.end(), [](const Conn& c) { return c.open; });
  if (opt_.session_check_ms == 0 || !class1 || d.step != Step::running) return;
  arm_device_timer(d, now + std::int64_t{opt_.session_check_ms} * 1'000'000);
}

void Engine::send_session_check(Device& d, std::int64_t now) {
  const bool class1 = d.path != Mode::explicit_poll &&
                      std::any_of(d.conns.begin(), d.conns.end(), [](const Conn& c) { return c.open; });
  if (!class1 || d.fd < 0 || d.session == 0) return;
  d.pending = Req::session_check;
  const SenderContext ctx = new_context(d, Req::session_check);
  d.pending_ctx = ctx_value(ctx);
  Writer w(out_);
  auto m = begin_send_rr_data(w, d.session, ctx);
  encode_get_attribute_single(w, object_class::identity, 1, 1);
  end_send_rr_data(w, m);
  if (!w.ok() || !send_bytes(d, w.written())) {
    Fault f;
    f.sys_errno = errno;
    f.text = "the TCP session to " + d.endpoint + " failed while sending the session check: " + std::strerror(errno);
    return session_down(d, std::move(f), now);
  }
  arm_device_timer(d, now + std::int64_t{opt_.request_timeout_ms} * 1'000'000);
}

std::string Engine::io_summary(const Device& d) const {
  std::string list;
  std::size_t n = 0;
  for (const auto& c : d.conns) {
    if (!c.open) continue;
    list += (n++ ? ", " : "") + std::to_string(c.assembly);
  }
  return "Class 1 data for assembl" + std::string(n == 1 ? "y " : "ies ") + list + " (" + to_string(d.path) +
         ") keeps arriving";
}

void Engine::session_down(Device& d, Fault f, std::int64_t now) {
  // Backoff with jitter, but never longer than a healthy session's check interval: the fault
  // clears at most that long after the device answers again.
  std::chrono::milliseconds delay = d.backoff.next();
  if (opt_.session_check_ms > 0) delay = std::min(delay, std::chrono::milliseconds(opt_.session_check_ms));
  const auto delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
  f.kind = Fault::Kind::session_unanswered;
  f.assembly = 0;
  f.text = "EtherNet/IP session with " + d.endpoint + " not answering: " + f.text + ", while " + io_summary(d) +
           ". The meter's explicit-message side (TCP " + std::to_string(d.spec.port) +
           ") stopped answering, or the network drops that port only; data keeps flowing on the open I/O "
           "connections, and a new session is registered (next try in " +
           std::to_string(delay_ms) + " ms)";
  raise(d, std::move(f));
  close_session(d);
  d.resession = true;
  d.step = Step::running;  // data flows; the device timer is the next try
  arm_device_timer(d, now + std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count());
}

void Engine::reopen_session(Device& d, std::int64_t now) {
  close_session(d);
  d.resession = true;
  d.step = Step::connecting;  // the public state stays running: data flows
  open_tcp(d, now);
}

void Engine::on_resession_timer(Device& d, std::int64_t now) {
  switch (d.step) {
    case Step::running:
      return reopen_session(d, now);  // the wait after a failed try is over
    case Step::connecting: {
      Fault f;
      f.sys_errno = ETIMEDOUT;
      f.text = "a new TCP connection was not accepted within " + std::to_string(opt_.connect_timeout_ms) + " ms";
      return session_down(d, std::move(f), now);
    }
    case Step::registering: {
      bump(counters_[d.index].timeouts);
      Fault f;
      f.text = "RegisterSession on a new TCP connection unanswered after " + std::to_string(opt_.request_timeout_ms) +
               " ms";
      return session_down(d, std::move(f), now);
    }
    default:
      return;
  }
}

void Engine::session_restored(Device& d, std::int64_t now) {
  d.resession = false;
  d.step = Step::running;
  d.pending = Req::none;
  disarm_device_timer(d);
  d.backoff.reset();
  arm_session_check(d, now);
}

void Engine::next_read(Device& d, std::int64_t now) {
  while (d.cursor < d.conns.size() && !d.conns[d.cursor].usable) ++d.cursor;
  if (d.cursor >= d.conns.size()) {
    // Round done: the next one starts an interval after this one started (not after it ended).
    d.pending = Req::none;
    disarm_device_timer(d);
    ++d.poll_gen;
    const std::int64_t next =
        std::max(now, d.poll_round_start + std::int64_t{d.spec.poll_interval_ms} * 1'000'000);
    loop_.timers().push(next, timer_token(TimerKind::poll, d.index, 0, d.poll_gen));
    return;
  }
  d.pending = Req::read;
  const SenderContext ctx = new_context(d, Req::read);
  d.pending_ctx = ctx_value(ctx);
  Writer w(out_);
  send_bytes(d, encode_assembly_read(w, d.session, ctx, d.conns[d.cursor].assembly, 3));
  arm_device_timer(d, now + std::int64_t{opt_.request_timeout_ms} * 1'000'000);
}

bool Engine::send_forward_close(Device& d, Conn& c, Req kind) {
  ForwardClose fc;
  const Ticks t = ticks_for(std::chrono::milliseconds(opt_.request_timeout_ms));
  fc.priority_tick = t.priority_tick;
  fc.timeout_ticks = t.timeout_ticks;
  fc.connection_serial = c.serial;
  fc.originator_vendor = opt_.originator_vendor;
  fc.originator_serial = opt_.originator_serial;
  fc.path = connection_path(d, c, d.path);
  Writer w(out_);
  auto m = begin_send_rr_data(w, d.session, new_context(d, kind));
  encode(w, fc);
  end_send_rr_data(w, m);
  return w.ok() && send_bytes(d, w.written());
}

void Engine::send_unregister(Device& d) {
  Writer w(out_);
  encode_unregister_session(w, d.session);
  if (w.ok()) send_bytes(d, w.written());
  d.session = 0;
}

// ---- replies ----------------------------------------------------------------------------

void Engine::handle_frame(Device& d, const Frame& f, std::int64_t now) {
  const EncapHeader& h = f.header;
  if (d.step == Step::closing) {
    if (h.command != Command::send_rr_data || ctx_kind(h.context) != Req::forward_close) return;
    if (d.closing_pending > 0 && --d.closing_pending == 0) finish_device(d);
    return;
  }
  if (d.pending == Req::none || ctx_value(h.context) != d.pending_ctx) return;  // stale or unsolicited

  if (h.command == Command::register_session) {
    if (h.status != encap_status::success || h.session == 0) {
      Fault fl;
      fl.kind = Fault::Kind::session_error;
      fl.encap_status = h.status;
      fl.text = "RegisterSession refused by " + d.endpoint + ": " + describe_encap_status(h.status) + " (" +
                std::string(encap_status_text(h.status)) + ")";
      return fail(d, std::move(fl), now);
    }
    d.session = h.session;
    clear(d, Fault::Kind::session_unanswered);  // the device answers its session again
    if (d.resession) return session_restored(d, now);
    return send_list_identity(d, now);
  }
  if (h.command == Command::list_identity) return on_identity_reply(d, f, now);
  if (h.command != Command::send_rr_data) return;

  if (h.status != encap_status::success) {
    Fault fl;
    fl.kind = Fault::Kind::session_error;
    fl.encap_status = h.status;
    fl.text = "encapsulation error from " + d.endpoint + ": " + describe_encap_status(h.status) + " (" +
              std::string(encap_status_text(h.status)) + ")";
    if (h.status == encap_status::invalid_session) {
      // The target forgot the session (it restarted or dropped it): register a new one on the
      // same TCP connection and open everything again (DESIGN.md "Supervision").
      fl.text += "; registering a new session";
      raise(d, std::move(fl));
      for (auto& c : d.conns) close_conn(d, c);
      d.session = 0;
      ++d.attempt;
      d.data_seen = false;
      return send_register(d, now);
    }
    return fail(d, std::move(fl), now);
  }

  auto sd = decode_send_data(f.payload);
  pm500::expected<MrResponse, Error> rsp = pm500::unexpected(Error{});
  if (sd) {
    if (auto msg = unconnected_message(*sd)) rsp = decode_response(*msg);
    else rsp = pm500::unexpected(msg.error());
  } else {
    rsp = pm500::unexpected(sd.error());
  }
  if (!rsp) {
    Fault fl;
    fl.kind = Fault::Kind::protocol_error;
    fl.text = "malformed SendRRData reply from " + d.endpoint + ": " + to_string(rsp.error());
    return fail(d, std::move(fl), now);
  }
  switch (d.pending) {
    case Req::size: return on_size_reply(d, *rsp, now);
    case Req::forward_open: return on_open_reply(d, *rsp, *sd, now);
    case Req::read: return on_read_reply(d, *rsp, now);
    case Req::session_check:
      // Any reply proves the session works, even an error status (a device without attribute 1).
      d.pending = Req::none;
      clear(d, Fault::Kind::session_unanswered);
      return arm_session_check(d, now);
    default: return;
  }
}

void Engine::on_identity_reply(Device& d, const Frame& f, std::int64_t now) {
  auto item = f.header.status == encap_status::success ? decode_list_identity_reply(f.payload)
                                                        : pm500::expected<ListIdentityItem, Error>(
                                                              pm500::unexpected(Error{Errc::bad_value, 0, "status"}));
  if (!item) {
    Fault fl;
    fl.kind = Fault::Kind::no_identity_reply;
    fl.encap_status = f.header.status;
    fl.text = f.header.status != encap_status::success
                  ? "ListIdentity refused by " + d.endpoint + ": " + describe_encap_status(f.header.status)
                  : "unreadable ListIdentity reply from " + d.endpoint + ": " + to_string(item.error());
    return fail(d, std::move(fl), now);
  }
  Identity id = to_identity(item->identity);
  clear(d, Fault::Kind::no_identity_reply);
  d.identity = id;
  publish(d);
  events_.on_identity(d.index, id);
  if (auto why = identity_mismatch(item->identity, d.spec.identity, d.spec.product_code, d.spec.profile)) {
    Fault fl;
    fl.kind = Fault::Kind::wrong_identity;
    fl.text = *why;
    raise(d, std::move(fl));
    return enter_wrong_device(d, now);
  }
  clear(d, Fault::Kind::wrong_identity);
  d.cursor = 0;
  next_size(d, now);
}

void Engine::on_size_reply(Device& d, const MrResponse& r, std::int64_t now) {
  Conn& c = d.conns[d.cursor];
  if (r.answers(service::get_attribute_single) && r.ok() && r.data.size() >= 2) {
    c.size = static_cast<std::uint16_t>(r.data[0] | (r.data[1] << 8));
    c.usable = true;
    events_.on_assembly_size(d.index, c.assembly, c.size);
  } else {
    Fault fl;
    fl.kind = is_path_error(r.general_status, r.extended_status()) ? Fault::Kind::path_error
                                                                   : Fault::Kind::explicit_read_failed;
    fl.general = r.general_status;
    fl.extended = r.extended_status();
    fl.assembly = c.assembly;
    fl.text = "assembly " + std::to_string(c.assembly) + " on " + d.endpoint +
              ": reading its size (attribute 4) failed: " +
              (r.ok() ? std::string("reply too short")
                      : describe_failure(r.general_status) + " (" + std::string(general_status_text(r.general_status)) + ")") +
              (fl.kind == Fault::Kind::path_error ? "; the device has no such assembly: check the assembly list" : "");
    raise(d, std::move(fl));
  }
  ++d.cursor;
  next_size(d, now);
}

void Engine::on_open_reply(Device& d, const MrResponse& r, const SendData& sd, std::int64_t now) {
  Conn& c = d.conns[d.cursor];
  auto res = decode_forward_open_response(r);
  if (!res) {
    Fault fl;
    fl.kind = Fault::Kind::protocol_error;
    fl.assembly = c.assembly;
    fl.text = "malformed Forward Open reply from " + d.endpoint + ": " + to_string(res.error());
    return fail(d, std::move(fl), now);
  }
  if (const auto* refused = std::get_if<ConnectionFailure>(&*res)) {
    bump(counters_[d.index].fo_fail);
    return on_refused(d, c, *refused, now);
  }
  const auto& ok = std::get<ForwardOpenReply>(*res);
  c.o_t_id = ok.o_t_connection_id;
  c.t_o_id = ok.t_o_connection_id;
  // Heartbeats follow the target's O->T API, which its watchdog is based on, not what we asked.
  c.o_t_api_us = ok.o_t_api_us != 0 ? ok.o_t_api_us : d.spec.heartbeat_rpi_us;
  c.t_o_api_us = ok.t_o_api_us;
  c.t_o_port = 0;
  c.timeout_ns = io_timeout_ns(std::max(d.spec.rpi_us, ok.t_o_api_us), d.spec.timeout_multiplier);
  c.o_t_dest = d.addr;
  c.o_t_dest.sin_port = htons(d.spec.udp_port);
  c.group = 0;
  for (std::size_t i = 0; i < sd.cpf.count; ++i) {
    const CpfItem& item = sd.cpf.items[i];
    if (item.type != ItemType::sockaddr_o_t && item.type != ItemType::sockaddr_t_o) continue;
    auto sa = decode_sockaddr(item.data);
    if (!sa) continue;
    if (item.type == ItemType::sockaddr_t_o) c.t_o_port = sa->port;
    if (item.type == ItemType::sockaddr_o_t) {
      // Where the target consumes O->T (CIP Vol 2, Forward_Open reply Sockaddr Info O->T).
      if (sa->address != 0) c.o_t_dest.sin_addr.s_addr = htonl(sa->address);
      if (sa->port != 0) c.o_t_dest.sin_port = htons(sa->port);
    } else if (is_multicast(sa->address)) {
      // The group the target produces T->O on: join it (CIP Vol 2, 3-5.3 "Multicast").
      const std::uint32_t iface = local_addr_ != 0 ? local_addr_ : d.local_addr;
      if (int err = join_group(sa->address, iface); err != 0) {
        Fault fl;
        fl.kind = Fault::Kind::socket_error;
        fl.sys_errno = err;
        fl.assembly = c.assembly;
        char g[INET_ADDRSTRLEN];
        in_addr ga{htonl(sa->address)};
        ::inet_ntop(AF_INET, &ga, g, sizeof g);
        fl.text = "cannot join multicast group " + std::string(g) + " for assembly " + std::to_string(c.assembly) +
                  ": " + std::strerror(err);
        send_forward_close(d, c, Req::forward_close);
        return fail(d, std::move(fl), now);
      }
      c.group = sa->address;
      c.group_iface = iface;
    }
  }
  // Where T->O arrives is the target's word (CIP Vol 2, Sockaddr Info in the Forward_Open
  // reply): multicast goes to the port of its T->O item (2222 when it names none), whatever
  // port we asked for; point-to-point goes where we asked, so another port there is a warning.
  const std::uint16_t ours = bound_udp_port_.load(std::memory_order_relaxed);
  const auto endpoint_port = [&](std::uint32_t addr, std::uint16_t port) {
    char a[INET_ADDRSTRLEN];
    in_addr ia{htonl(addr)};
    ::inet_ntop(AF_INET, &ia, a, sizeof a);
    return std::string(a) + ":" + std::to_string(port);
  };
  if (c.group != 0) {
    const std::uint16_t port = c.t_o_port != 0 ? c.t_o_port : udp_io_port;
    if (port != ours) {
      if (std::string why = receive_on(port); !why.empty()) {
        Fault fl;
        fl.kind = Fault::Kind::socket_error;
        fl.assembly = c.assembly;
        fl.text = "assembly " + std::to_string(c.assembly) + " on " + d.endpoint + " produces T->O multicast to " +
                  endpoint_port(c.group, port) + " (its Forward Open reply, Sockaddr Info 0x8001), but the gateway " +
                  "listens on UDP port " + std::to_string(ours) + " ([scanner] udp_port) and cannot also listen on " +
                  std::to_string(port) + ": " + why + "; set [scanner] udp_port = " + std::to_string(port) +
                  " (with local_address = \"0.0.0.0\"), or free UDP port " + std::to_string(port) + " on this host";
        leave_group(c.group, c.group_iface);
        c.group = 0;
        send_forward_close(d, c, Req::forward_close);
        return fail(d, std::move(fl), now);
      }
    }
  } else if (c.t_o_port != 0 && c.t_o_port != ours) {
    const std::string why = receive_on(c.t_o_port);
    Fault fl;
    fl.kind = Fault::Kind::protocol_error;
    fl.assembly = c.assembly;
    fl.text = "assembly " + std::to_string(c.assembly) + " on " + d.endpoint +
              ": point-to-point T->O, the gateway asked for it on UDP port " + std::to_string(ours) +
              " but the device's Forward Open reply says it sends to port " + std::to_string(c.t_o_port) +
              " (Sockaddr Info 0x8001); " +
              (why.empty() ? "listening on both" : "cannot also listen there (" + why + ")") +
              "; set [scanner] udp_port = " + std::to_string(c.t_o_port) + " to match the device";
    raise(d, std::move(fl));
  }
  if (!register_conn(d, d.cursor)) {
    Fault fl;
    fl.kind = Fault::Kind::protocol_error;
    fl.assembly = c.assembly;
    fl.text = "T->O connection id " + std::to_string(c.t_o_id) + " from " + d.endpoint + " is already in use";
    if (c.group != 0) leave_group(c.group, c.group_iface);
    c.group = 0;
    send_forward_close(d, c, Req::forward_close);
    return fail(d, std::move(fl), now);
  }
  bump(counters_[d.index].fo_ok);
  c.last_rx_ns = now;
  c.have_seq = false;
  c.encap_seq = 0;
  c.next_heartbeat_ns = now;
  // First heartbeat at once: the target's inactivity timer started with its reply.
  loop_.timers().push(now, timer_token(TimerKind::heartbeat, d.index, static_cast<std::uint8_t>(d.cursor), c.gen));
  events_.on_connection(d.index, c.assembly, c.t_o_id);
  ++d.cursor;
  publish(d);  // the connection's ids and addresses, for snapshot()
  next_open(d, now);
}

void Engine::switch_path(Device& d, Mode m, std::string reason, std::int64_t now) {
  for (auto& c : d.conns) {
    if (!c.open) continue;
    send_forward_close(d, c, Req::forward_close);
    close_conn(d, c);
  }
  d.path = m;
  d.fallback_active = m != d.spec.mode;
  // The owner may come back: a fallback is temporary (see the poll timer in scanner_engine.cpp).
  if (d.fallback_active) d.fallback_retry_at = now + std::int64_t{opt_.reconnect_max_ms} * 1'000'000;
  d.path_reason = std::move(reason);
  publish(d);
  events_.on_state(d.index, status_of(d));
}

void Engine::on_refused(Device& d, Conn& c, const ConnectionFailure& f, std::int64_t now) {
  if (auto a = adapt_size(f, c.assembly, c.size, d.spec.run_idle_header, d.spec.o_t_run_idle_header)) {
    // The device named the size it wants, and it is ours with a run/idle header added or taken
    // away: retry at once in that format, for every connection of this device from now on.
    bool& header = a->t_o ? d.spec.run_idle_header : d.spec.o_t_run_idle_header;
    if (!d.format_tried[a->t_o ? 0 : 1]) {
      d.format_tried[a->t_o ? 0 : 1] = true;
      header = a->run_idle_header;
      d.format_note = d.format_note.empty() ? std::move(a->note) : d.format_note + "; " + a->note;
      publish(d);
      events_.on_state(d.index, status_of(d));
      return next_open(d, now);
    }
  }
  if (f.general_status == 0x01 && f.extended_status && (*f.extended_status == 0x0127 || *f.extended_status == 0x0128)) {
    Fault fl;
    fl.kind = Fault::Kind::forward_open_refused;
    fl.general = f.general_status;
    fl.extended = *f.extended_status;
    fl.assembly = c.assembly;
    fl.text = d.endpoint + ": " + size_refusal_text(f, c.assembly, c.size, d.spec.run_idle_header,
                                                    d.spec.o_t_run_idle_header, d.spec.profile);
    return fail(d, std::move(fl), now);
  }
  RefusalDecision dec = decide_refusal(d.path, d.spec.fallback, f, c.assembly, d.spec.poll_interval_ms);
  switch (dec.action) {
    case RefusalDecision::Action::use_input_only:
      switch_path(d, Mode::input_only, std::move(dec.reason), now);
      d.cursor = 0;
      return next_open(d, now);
    case RefusalDecision::Action::use_explicit:
      switch_path(d, Mode::explicit_poll, std::move(dec.reason), now);
      d.cursor = 0;
      return start_running(d, now);
    case RefusalDecision::Action::fail:
      break;
  }
  Fault fl;
  fl.kind = dec.kind;
  fl.general = f.general_status;
  fl.extended = f.extended_status.value_or(0);
  fl.assembly = c.assembly;
  fl.text = d.endpoint + ": " + dec.reason;
  fail(d, std::move(fl), now);
}

void Engine::on_read_reply(Device& d, const MrResponse& r, std::int64_t now) {
  Conn& c = d.conns[d.cursor];
  if (r.answers(service::get_attribute_single) && r.ok()) {
    const std::int64_t real = EventLoop::realtime_ns();
    Counters& k = counters_[d.index];
    bump(k.packets);
    k.last_packet_ns.store(real, std::memory_order_relaxed);
    events_.on_data(d.index, c.assembly, r.data, real, ++c.read_seq, true);
    mark_running(d);
    if (d.faults.active_on(Fault::Kind::explicit_read_failed, c.assembly)) clear(d, Fault::Kind::explicit_read_failed);
  } else {
    Fault fl;
    fl.kind = is_path_error(r.general_status, r.extended_status()) ? Fault::Kind::path_error
                                                                   : Fault::Kind::explicit_read_failed;
    fl.general = r.general_status;
    fl.extended = r.extended_status();
    fl.assembly = c.assembly;
    fl.text = "explicit read of assembly " + std::to_string(c.assembly) + " (attribute 3) on " + d.endpoint +
              " failed: " + describe_failure(r.general_status) + " (" +
              std::string(general_status_text(r.general_status)) + ")";
    raise(d, std::move(fl));
  }
  ++d.cursor;
  next_read(d, now);
}

}  // namespace cip::detail
