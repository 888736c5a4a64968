// The scanner's UDP side: one socket for every device (and one more per port a target's reply
// names for T->O, see receive_on). Class 1 datagrams are received in
// batches (recvmmsg) into buffers allocated once, stamped by the kernel (SO_TIMESTAMPNS),
// decoded in place (cip::decode_io) and demultiplexed by (connection id, source address)
// through ConnTable; nothing on this path allocates, logs or takes a lock. O->T heartbeats (at
// the O->T API, apart from the T->O RPI) and the I/O timeout check share one timer per connection.
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "cip/io.hpp"
#include "cip/scanner_engine.hpp"

namespace cip::detail {

int Engine::new_rx_socket(std::string& err) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::string("UDP socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);  // the drop count on every datagram
  ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &one, sizeof one);
  set_rcvbuf(fd);
  return fd;
}

void Engine::set_rcvbuf(int fd) const {
  int rcvbuf = static_cast<int>(rcvbuf_bytes_);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int granted = 0;
  socklen_t glen = sizeof granted;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &glen);
  if (opt_.receive_buffer_bytes == 0 && static_cast<std::uint32_t>(granted) / 2 < rcvbuf_bytes_) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  }
}

std::uint32_t Engine::receive_buffer_want() const {
  std::uint64_t want = opt_.receive_buffer_bytes;
  if (want == 0) {
    want = class1_rate() * receive_buffer_datagram_bytes * opt_.receive_buffer_ms / 1000;
    want = std::clamp<std::uint64_t>(want, std::uint64_t{1} << 20, std::uint64_t{1} << 30);
  }
  return static_cast<std::uint32_t>(want);
}

void Engine::note_receive_buffer(int fd) {
  int granted = 0;
  socklen_t glen = sizeof granted;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &glen);
  recv_.wanted.store(rcvbuf_bytes_, std::memory_order_relaxed);
  recv_.granted.store(static_cast<std::uint32_t>(granted / 2), std::memory_order_relaxed);
}

void Engine::resize_receive_buffers() {
  // Devices added (or removed, or another RPI) by a reload change what arrives per second: the
  // buffers follow, so the stall they absorb stays receive_buffer_ms. Setting SO_RCVBUF on an
  // open socket keeps what it holds queued.
  const std::uint32_t want = receive_buffer_want();
  if (want == rcvbuf_bytes_ || udp_fd_ < 0) return;
  rcvbuf_bytes_ = want;
  for (const auto& rs : rx_socks_)
    if (rs.fd >= 0) set_rcvbuf(rs.fd);
  note_receive_buffer(udp_fd_);
}

pm500::expected<void, std::string> Engine::open_udp() {
  // Room for receive_buffer_ms of what every device produces, so a stall of the scanner thread
  // that long (a loaded host) loses nothing. The kernel caps SO_RCVBUF at net.core.rmem_max;
  // SO_RCVBUFFORCE passes the cap with CAP_NET_ADMIN. The kernel reports twice what it granted
  // (the other half is its bookkeeping).
  rcvbuf_bytes_ = receive_buffer_want();
  std::string why;
  udp_fd_ = new_rx_socket(why);
  if (udp_fd_ < 0) return pm500::unexpected(why);
  note_receive_buffer(udp_fd_);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(opt_.udp_port);
  a.sin_addr.s_addr = htonl(local_addr_);
  if (::bind(udp_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    std::string msg = "bind UDP " + opt_.local_address + ":" + std::to_string(opt_.udp_port) + ": " + std::strerror(err);
    if (err == EADDRINUSE) {
      msg += " (another EtherNet/IP endpoint owns this port on this address; choose another udp_port: "
             "Forward Opens then name it in a Sockaddr Info 0x8001 item)";
    }
    return pm500::unexpected(msg);
  }
  socklen_t len = sizeof a;
  ::getsockname(udp_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  bound_udp_port_.store(ntohs(a.sin_port), std::memory_order_relaxed);
  rx_socks_[0] = {udp_fd_, ntohs(a.sin_port), 0};
  if (int e = loop_.add(udp_fd_, EPOLLIN, std::uint64_t{static_cast<std::uint8_t>(TagKind::udp)} << 56); e != 0) {
    return pm500::unexpected(std::string("epoll_ctl(UDP): ") + std::strerror(e));
  }

  rx_slots_ = std::make_unique<RxSlot[]>(rx_batch);
  rx_msgs_ = std::make_unique<mmsghdr[]>(rx_batch);
  rx_iov_ = std::make_unique<iovec[]>(rx_batch);
  for (std::size_t i = 0; i < rx_batch; ++i) {
    rx_iov_[i] = {rx_slots_[i].data.data(), rx_slots_[i].data.size()};
    msghdr& h = rx_msgs_[i].msg_hdr;
    h.msg_name = &rx_slots_[i].from;
    h.msg_iov = &rx_iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = rx_slots_[i].control.data();
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_controllen = rx_slots_[i].control.size();
  }
  rx_used_ = 0;
  return {};
}

std::string Engine::receive_on(std::uint16_t port) {
  std::size_t free = max_rx_sockets;
  for (std::size_t i = 0; i < max_rx_sockets; ++i) {
    if (rx_socks_[i].fd >= 0 && rx_socks_[i].port == port) return {};
    if (rx_socks_[i].fd < 0 && free == max_rx_sockets) free = i;
  }
  if (free == max_rx_sockets) {
    return "already receiving on " + std::to_string(max_rx_sockets) + " UDP ports, the most this scanner binds";
  }
  std::string err;
  const int fd = new_rx_socket(err);
  if (fd < 0) return err;
  // SO_REUSEADDR: the port may be taken on a unicast address of this host by another EtherNet/IP
  // endpoint (a simulated meter on 127.0.0.2:2222); unicast to that address stays its own, while
  // multicast to the port reaches every socket bound to it. A socket on 0.0.0.0 without
  // SO_REUSEADDR (another scanner's) still refuses the bind.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(local_addr_);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    ::close(fd);
    return "bind UDP " + opt_.local_address + ":" + std::to_string(port) + ": " + std::strerror(e);
  }
  if (int e = loop_.add(fd, EPOLLIN, (std::uint64_t{static_cast<std::uint8_t>(TagKind::udp)} << 56) | free); e != 0) {
    ::close(fd);
    return std::string("epoll_ctl(UDP): ") + std::strerror(e);
  }
  rx_socks_[free] = {fd, port, 0};
  return {};
}

void Engine::on_udp_readable(std::size_t sock) {
  // Bounded per turn so the TCP sessions and timers are served between bursts; epoll is
  // level-triggered, so what is left is read on the next turn.
  std::int64_t mono = 0;
  std::uint64_t got = 0;
  for (int turn = 0; turn < 8; ++turn) {
    const int n = read_udp_batch(sock, mono);
    if (n <= 0) break;
    got += static_cast<std::uint64_t>(n);
    if (static_cast<std::size_t>(n) < rx_batch) break;
  }
  if (mono == 0) return;
  // Batching (ARCHITECTURE.md, "Batched receive"): at a high arrival rate the next read waits
  // until about hold_target_batch datagrams are queued, never longer than receive_hold_us, so
  // one recvmmsg returns a batch rather than the one or two datagrams that arrived since the
  // last wake-up. Below hold_min_rate a datagram is read as soon as it arrives.
  rate_window_count_ += got;
  if (rate_window_start_ == 0) rate_window_start_ = mono;
  if (const std::int64_t span = mono - rate_window_start_; span >= 20'000'000) {
    rate_per_s_ = rate_window_count_ * 1'000'000'000 / static_cast<std::uint64_t>(span);
    rate_window_start_ = mono;
    rate_window_count_ = 0;
  }
  read_not_before_ = 0;
  if (opt_.receive_hold_us > 0 && rate_per_s_ >= hold_min_rate) {
    const std::int64_t hold = std::min<std::int64_t>(std::int64_t{opt_.receive_hold_us} * 1000,
                                                     static_cast<std::int64_t>(hold_target_batch * 1'000'000'000 / rate_per_s_));
    read_not_before_ = mono + hold;
  }
}

void Engine::drain_udp(int max_batches) {
  std::int64_t mono = 0;
  for (std::size_t s = 0; s < max_rx_sockets; ++s) {
    if (rx_socks_[s].fd < 0) continue;
    for (int i = 0; i < max_batches; ++i) {
      const int n = read_udp_batch(s, mono);
      if (n <= 0 || static_cast<std::size_t>(n) < rx_batch) break;
    }
  }
}

int Engine::read_udp_batch(std::size_t sock, std::int64_t& mono) {
  // The kernel rewrites the lengths and flags of the headers it filled, and only those: a batch
  // of one datagram resets one header, not rx_batch.
  for (std::size_t i = 0; i < rx_used_; ++i) {
    msghdr& h = rx_msgs_[i].msg_hdr;
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_controllen = rx_slots_[i].control.size();
    h.msg_flags = 0;
  }
  const int n = ::recvmmsg(rx_socks_[sock].fd, rx_msgs_.get(), static_cast<unsigned>(rx_batch), MSG_DONTWAIT, nullptr);
  bump(recv_.calls);
  rx_used_ = n > 0 ? static_cast<std::size_t>(n) : 0;
  if (n <= 0) return n;
  mono = EventLoop::monotonic_ns();
  const std::int64_t real_now = EventLoop::realtime_ns();
  add(recv_.datagrams, static_cast<std::uint64_t>(n));
  std::uint64_t delay_sum = 0;
  bool have_ovfl = false;
  std::uint32_t ovfl = 0;
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    msghdr& h = rx_msgs_[k].msg_hdr;
    std::int64_t real = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        real = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
      } else if (c->cmsg_type == SO_RXQ_OVFL) {
        // The socket's drop count when this datagram was queued (absent while it is 0).
        std::memcpy(&ovfl, CMSG_DATA(c), sizeof ovfl);
        have_ovfl = true;
      }
    }
    if (real == 0) real = real_now;
    const std::int64_t delay = real_now > real ? real_now - real : 0;
    delay_sum += static_cast<std::uint64_t>(delay);
    if (delay > delay_max_window_) delay_max_window_ = delay;
    if (h.msg_flags & MSG_TRUNC) {  // larger than any assembly: not ours
      bump(rejects_.oversized);
      continue;
    }
    on_datagram(bytes_view(rx_slots_[k].data.data(), rx_msgs_[k].msg_len), ntohl(rx_slots_[k].from.sin_addr.s_addr),
                mono, real);
  }
  add(recv_.delay_sum, delay_sum);
  if (have_ovfl) note_drops(ovfl, rx_socks_[sock].last_ovfl);
  return n;
}

void Engine::note_drops(std::uint32_t kernel_count, std::uint32_t& last) {
  // The kernel's count is 32 bits and only grows; values read earlier (a datagram queued before
  // an SO_MEMINFO read) are older, not smaller counts, so only a step forward is taken.
  const auto step = static_cast<std::int32_t>(kernel_count - last);
  if (step <= 0) return;
  last = kernel_count;
  add(recv_.drops, std::uint64_t{static_cast<std::uint32_t>(step)});
  last_drop_ns_ = EventLoop::monotonic_ns();
}

void Engine::update_overload(std::int64_t now) {
  const bool over = last_drop_ns_ != 0 && now - last_drop_ns_ < overload_hold_ns;
  if (over == overloaded_) return;
  overloaded_ = over;
  // O(connections), at the start and the end of an overload only.
  for (auto& d : devices_) {
    for (auto& c : d.conns) {
      if (over && c.open) {
        stretch_timeout(c);
      } else if (!over && c.stretched) {
        c.timeout_ns = c.base_timeout_ns;
        c.stretched = false;
      }
    }
  }
}

void Engine::stretch_timeout(Conn& c) {
  if (c.stretched) return;
  c.base_timeout_ns = c.timeout_ns;
  c.timeout_ns *= overload_timeout_factor;
  c.stretched = true;
}

void Engine::receive_housekeeping(std::int64_t now) {
  if (now < housekeeping_at_) return;
  housekeeping_at_ = now + 250'000'000;
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) {
    recv_.cpu_ns.store(static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<std::uint64_t>(ts.tv_nsec),
                       std::memory_order_relaxed);
  }
  // Drops after the last datagram read carry no SO_RXQ_OVFL yet: the kernel's count directly.
  for (auto& rs : rx_socks_) {
    if (rs.fd < 0) continue;
    std::uint32_t mem[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof mem;
    if (::getsockopt(rs.fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof(std::uint32_t)) {
      note_drops(mem[SK_MEMINFO_DROPS], rs.last_ovfl);
    }
  }
  if (now >= delay_window_end_) {
    recv_.delay_max.store(delay_max_window_, std::memory_order_relaxed);
    delay_max_window_ = 0;
    delay_window_end_ = now + 1'000'000'000;
  }
}

std::uint64_t Engine::class1_rate() const {
  std::uint64_t per_s = 0;
  for (const auto& d : devices_) {
    if (d.spec.mode == Mode::explicit_poll || d.spec.rpi_us == 0) continue;
    per_s += d.conns.size() * 1'000'000 / d.spec.rpi_us;
  }
  return per_s;
}

ReceiveStats Engine::receive_stats() const {
  ReceiveStats r;
  r.kernel_drops = recv_.drops.load(std::memory_order_relaxed);
  r.receive_calls = recv_.calls.load(std::memory_order_relaxed);
  r.datagrams = recv_.datagrams.load(std::memory_order_relaxed);
  r.delay_ns_sum = recv_.delay_sum.load(std::memory_order_relaxed);
  r.delay_ns_max = recv_.delay_max.load(std::memory_order_relaxed);
  r.cpu_ns = recv_.cpu_ns.load(std::memory_order_relaxed);
  r.buffer_wanted = recv_.wanted.load(std::memory_order_relaxed);
  r.buffer_granted = recv_.granted.load(std::memory_order_relaxed);
  return r;
}

void Engine::on_datagram(bytes_view dg, std::uint32_t src, std::int64_t mono, std::int64_t real) {
  auto io = decode_io(dg, false);
  if (!io) {
    bump(io.error().code == Errc::truncated ? rejects_.truncated : rejects_.malformed);
    return;
  }
  const std::uint32_t slot = table_.find(io->connection_id, src);
  if (slot == ConnTable::npos) {
    // One of our ids from another address (a spoofer, or a meter whose address changed), or an
    // id we do not have open: a closed connection's last datagrams, someone else's group.
    bump(open_ids_.find(io->connection_id, 0) != ConnTable::npos ? rejects_.wrong_source
                                                                  : rejects_.unknown_connection);
    return;
  }
  Device& d = devices_[slot >> 8];
  Conn& c = d.conns[slot & 0xFF];
  if (d.spec.run_idle_header) {
    io = decode_io(dg, true);
    if (!io) {
      bump(io.error().code == Errc::truncated ? rejects_.truncated : rejects_.malformed);
      return;
    }
  }
  c.last_rx_ns = mono;  // alive, whether or not the data is new
  Counters& k = counters_[d.index];
  // CIP Vol 1, 3-4.4 (Class 1 sequence count): a count that is not newer carries no new data.
  if (c.have_seq && !seq_newer(io->cip_sequence, c.last_seq)) {
    bump(k.stale);
    return;
  }
  c.have_seq = true;
  c.last_seq = io->cip_sequence;
  if (!io->running()) return;  // idle: the producer says its data is not valid
  bump(k.packets);
  k.last_packet_ns.store(real, std::memory_order_relaxed);
  events_.on_data(d.index, c.assembly, io->data, real, io->cip_sequence, false);
  if (!d.data_seen) mark_running(d);  // once per connect: the only allocating branch
}

void Engine::on_heartbeat_timer(Device& d, std::uint8_t ci, std::int64_t now) {
  Conn& c = d.conns[ci];
  if (io_timed_out(c.last_rx_ns, now, c.timeout_ns)) {
    Fault f;
    f.kind = Fault::Kind::io_timeout;
    f.assembly = c.assembly;
    f.text = "no Class 1 data for assembly " + std::to_string(c.assembly) + " from " + d.endpoint + " for " +
             std::to_string(c.timeout_ns / 1'000'000) + " ms (RPI " + std::to_string(d.spec.rpi_us / 1000) +
             " ms x 4 x 2^" + std::to_string(d.spec.timeout_multiplier) +
             "): the device stopped producing, the connection was dropped (a listen-only connection "
             "ends with its owner), or multicast does not reach this host";
    bump(counters_[d.index].timeouts);
    return fail(d, std::move(f), now);
  }
  // One timer per connection serves both duties: it fires when the next heartbeat is due or
  // when the I/O timeout would expire if nothing arrives meanwhile, whichever is first, so a
  // heartbeat interval longer than the I/O timeout does not delay noticing lost data.
  if (now >= c.next_heartbeat_ns) {
    send_heartbeat(d, c);
    c.next_heartbeat_ns = now + std::int64_t{c.o_t_api_us} * 1000;
  }
  const std::int64_t at = std::min(c.next_heartbeat_ns, c.last_rx_ns + c.timeout_ns);
  loop_.timers().push(at, timer_token(TimerKind::heartbeat, d.index, ci, c.gen));
}

void Engine::send_heartbeat(Device& d, Conn& c) {
  // The O->T heartbeat: sequenced address + a connected data item holding only the sequence
  // count (CIP Vol 2, 3-2 "Class 0/1 over UDP"); the meter times the connection out without it.
  IoPacket hb;
  hb.connection_id = c.o_t_id;
  hb.encap_sequence = ++c.encap_seq;
  hb.cip_sequence = 0;  // no data, so never new data
  if (d.spec.o_t_run_idle_header) {
    hb.has_run_idle = true;
    hb.run_idle = 1;  // run
  }
  Writer w(out_);
  encode(w, hb);
  if (w.ok()) {
    ::sendto(udp_fd_, w.written().data(), w.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&c.o_t_dest),
             sizeof c.o_t_dest);
    bump(counters_[d.index].heartbeats);
  }
}

bool Engine::register_conn(Device& d, std::size_t i) {
  Conn& c = d.conns[i];
  if (!table_.insert(c.t_o_id, ntohl(d.addr.sin_addr.s_addr), (d.index << 8) | static_cast<std::uint32_t>(i))) {
    return false;
  }
  c.open = true;
  c.stretched = false;  // timeout_ns was just negotiated
  if (overloaded_) stretch_timeout(c);
  count_id(c.t_o_id, true);
  Counters& k = counters_[d.index];
  k.conns_open.store(k.conns_open.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return true;
}

void Engine::close_conn(Device& d, Conn& c) {
  if (!c.open) return;
  table_.erase(c.t_o_id, ntohl(d.addr.sin_addr.s_addr));
  count_id(c.t_o_id, false);
  if (c.group != 0) leave_group(c.group, c.group_iface);
  c.group = 0;
  c.open = false;
  ++c.gen;
  Counters& k = counters_[d.index];
  const auto n = k.conns_open.load(std::memory_order_relaxed);
  k.conns_open.store(n > 0 ? n - 1 : 0, std::memory_order_relaxed);
}

void Engine::count_id(std::uint32_t id, bool add) {
  // A multicast id is the target's choice, so two meters may share one: count the users. The
  // table is sized for every connection at start, so nothing here allocates.
  const std::uint32_t n = open_ids_.find(id, 0);
  if (n != ConnTable::npos) open_ids_.erase(id, 0);
  const std::uint32_t now = add ? (n == ConnTable::npos ? 1 : n + 1) : (n == ConnTable::npos || n <= 1 ? 0 : n - 1);
  if (now > 0) open_ids_.insert(id, 0, now);
}

RejectedDatagrams Engine::rejected_datagrams() const {
  RejectedDatagrams r;
  r.unknown_connection = rejects_.unknown_connection.load(std::memory_order_relaxed);
  r.wrong_source = rejects_.wrong_source.load(std::memory_order_relaxed);
  r.truncated = rejects_.truncated.load(std::memory_order_relaxed);
  r.malformed = rejects_.malformed.load(std::memory_order_relaxed);
  r.oversized = rejects_.oversized.load(std::memory_order_relaxed);
  return r;
}

int Engine::join_group(std::uint32_t group, std::uint32_t iface) {
  for (auto& m : memberships_) {
    if (m.group == group && m.iface == iface && m.refs > 0) {
      ++m.refs;
      return 0;
    }
  }
  ip_mreq req{};
  req.imr_multiaddr.s_addr = htonl(group);
  req.imr_interface.s_addr = htonl(iface);
  for (std::size_t h = 0;; ++h) {
    if (h == helpers_.size()) {
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return errno;
      helpers_.push_back({fd, 0, false});
    }
    Helper& hp = helpers_[h];
    if (hp.full) continue;
    if (::setsockopt(hp.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &req, sizeof req) == 0) {
      ++hp.count;
      for (auto& m : memberships_) {
        if (m.refs == 0) {
          m = {group, iface, 1, h};
          return 0;
        }
      }
      memberships_.push_back({group, iface, 1, h});
      return 0;
    }
    if (errno != ENOBUFS) return errno;
    hp.full = true;  // this socket reached net.ipv4.igmp_max_memberships
  }
}

void Engine::leave_group(std::uint32_t group, std::uint32_t iface) {
  for (auto& m : memberships_) {
    if (m.group != group || m.iface != iface || m.refs == 0) continue;
    if (--m.refs > 0) return;
    ip_mreq req{};
    req.imr_multiaddr.s_addr = htonl(group);
    req.imr_interface.s_addr = htonl(iface);
    Helper& hp = helpers_[m.helper];
    ::setsockopt(hp.fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &req, sizeof req);
    --hp.count;
    hp.full = false;
    return;
  }
}

}  // namespace cip::detail
