#include "simulator.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "control.hpp"
#include "device/profile.hpp"
#include "pm500/open_files.hpp"
#include "event_loop.hpp"
#include "log/log.hpp"
#include "meter.hpp"
#include "send_batch.hpp"

namespace pm500::sim {

using detail::Token;

MeterStats& MeterStats::operator+=(const MeterStats& o) {
  sessions += o.sessions;
  connections += o.connections;
  owners += o.owners;
  listeners += o.listeners;
  packets_sent += o.packets_sent;
  forward_open_ok += o.forward_open_ok;
  forward_open_refused += o.forward_open_refused;
  forward_close += o.forward_close;
  heartbeats_received += o.heartbeats_received;
  timeouts += o.timeouts;
  return *this;
}

Options Options::range(std::string_view first_address, std::size_t count, const MeterOptions& base) {
  Options o;
  o.meters.reserve(count);
  in_addr a{};
  const std::string first(first_address);
  const bool parsed = inet_pton(AF_INET, first.c_str(), &a) == 1;
  for (std::size_t i = 0; i < count; ++i) {
    MeterOptions m = base;
    if (parsed) {
      in_addr next{htonl(ntohl(a.s_addr) + static_cast<std::uint32_t>(i))};
      char buf[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &next, buf, sizeof buf);
      m.address = buf;
    } else {
      m.address = first;
    }
    m.seed = base.seed + i;
    if (base.serial != 0) m.serial = base.serial + static_cast<std::uint32_t>(i);
    o.meters.push_back(std::move(m));
  }
  return o;
}

struct Simulator::Impl {
  struct ControlClient {
    int fd = -1;
    std::uint16_t gen = 0;
    std::string rx;
  };

  mutable std::mutex mu;  // held by the loop thread while it handles events, and by command()/stats()
  detail::EventLoop loop;
  detail::SendBatch batch;  // the T->O datagrams of one turn, every meter's
  std::list<device::Profile> profiles;  // loaded profile files; FeederModel keeps references
  std::vector<std::unique_ptr<detail::Meter>> meters;
  std::shared_ptr<spdlog::logger> log;
  int control_fd = -1;
  std::uint16_t control_port = 0;
  std::vector<ControlClient> control_clients;
  std::atomic<bool> stopping{false};
  std::thread thread;

  ~Impl() { shutdown(); }

  void shutdown() {
    if (thread.joinable()) {
      stopping = true;
      loop.wake();
      thread.join();
    }
    std::lock_guard lock(mu);
    for (auto& m : meters) m->close_all();
    for (auto& c : control_clients)
      if (c.fd >= 0) ::close(c.fd);
    control_clients.clear();
    if (control_fd >= 0) ::close(control_fd);
    control_fd = -1;
  }

  pm500::expected<void, std::string> open_control(std::uint16_t port) {
    control_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(control_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(control_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(control_fd, 16) != 0) {
      return pm500::unexpected("control port 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    }
    socklen_t len = sizeof a;
    getsockname(control_fd, reinterpret_cast<sockaddr*>(&a), &len);
    control_port = ntohs(a.sin_port);
    loop.add(control_fd, EPOLLIN, {Token::control_listen});
    return {};
  }

  void on_control_listen() {
    for (;;) {
      int fd = ::accept4(control_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      std::size_t slot = 0;
      while (slot < control_clients.size() && control_clients[slot].fd >= 0) ++slot;
      if (slot >= 0xFFFF) {
        ::close(fd);
        return;
      }
      if (slot == control_clients.size()) control_clients.emplace_back();
      auto& c = control_clients[slot];
      c.fd = fd;
      ++c.gen;
      c.rx.clear();
      loop.add(fd, EPOLLIN | EPOLLRDHUP, {Token::control_client, 0, static_cast<std::uint16_t>(slot), c.gen});
    }
  }

  void on_control_client(std::uint16_t slot, std::uint16_t gen) {
    if (slot >= control_clients.size()) return;
    auto& c = control_clients[slot];
    if (c.fd < 0 || c.gen != gen) return;
    char buf[1024];
    bool closed = false;
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        closed = true;  // still run what arrived: `echo "fault clear" > /dev/tcp/...` closes at once
        break;
      }
      if (n < 0) break;
      c.rx.append(buf, static_cast<std::size_t>(n));
      if (c.rx.size() > 64 * 1024) c.rx.clear();  // not a line protocol client
    }
    std::size_t nl;
    while ((nl = c.rx.find('\n')) != std::string::npos) {
      std::string reply = detail::execute(std::string_view(c.rx).substr(0, nl), meters) + "\n";
      c.rx.erase(0, nl + 1);
      // Replies are short; a control client that does not read them loses them.
      if (!closed) {
        [[maybe_unused]] auto sent = ::send(c.fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
    if (closed) {
      loop.remove(c.fd);
      ::close(c.fd);
      c.fd = -1;
      c.rx.clear();
    }
  }

  static constexpr std::size_t kProducePerTurn = 4096;

  void run() {
    std::vector<detail::EventLoop::Ready> ready;
    ready.reserve(256);
    while (!stopping.load()) {
      loop.wait(ready);
      std::lock_guard lock(mu);
      const std::int64_t now = detail::monotonic_ns();
      for (const auto& r : ready) {
        const Token t = r.token;
        if (t.kind == Token::control_listen) {
          on_control_listen();
          continue;
        }
        if (t.kind == Token::control_client) {
          on_control_client(t.slot, t.gen);
          continue;
        }
        if (t.meter >= meters.size()) continue;
        auto& m = *meters[t.meter];
        switch (t.kind) {
          case Token::tcp_listen:
            m.on_tcp_listen();
            break;
          case Token::tcp_client:
            m.on_tcp_client(t.slot, t.gen, r.events);
            break;
          case Token::udp_io:
            m.on_udp_io(now);
            break;
          case Token::udp_list:
            m.on_udp_list();
            break;
          default:
            break;
        }
      }
      // At most kProducePerTurn datagrams per turn: with thousands of meters, or a loaded host
      // where a turn runs late, the datagrams due would otherwise hold the loop for hundreds of
      // milliseconds, and the meters' TCP requests (sessions, Forward Opens, an originator's
      // session checks) would wait unanswered past its time-outs. What is left goes out in the
      // next turns, a fraction of a millisecond later; each stream keeps its rate, because its
      // next deadline follows the previous one, not the send.
      Token t;
      std::size_t produced = 0;
      while (produced < kProducePerTurn && loop.pop_due(now, t)) {
        if (t.meter >= meters.size()) continue;
        if (t.kind == Token::produce) {
          meters[t.meter]->on_produce(t.slot, t.gen, now, batch);
          ++produced;
        }
        if (t.kind == Token::supervise) meters[t.meter]->on_supervise(t.slot, t.gen, now);
      }
      batch.flush();
      loop.arm();
    }
  }
};

Simulator::Simulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Simulator::~Simulator() {
  stop();
}

void Simulator::stop() {
  if (impl_) impl_->shutdown();
}

namespace {

bool is_private(std::uint32_t host_order) {
  return (host_order >> 24) == 10 || (host_order >> 20) == 0xAC1 || (host_order >> 16) == 0xC0A8;
}

// True when this process runs in a named network namespace (`ip netns add NAME`, a file under
// /run/netns), i.e. not in the host's or a container's own one, where the simulator stays on
// loopback.
bool in_own_netns() {
  struct stat self{};
  if (::stat("/proc/self/ns/net", &self) != 0) return false;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    struct stat named{};
    if (::stat(entry.path().c_str(), &named) == 0 && named.st_ino == self.st_ino && named.st_dev == self.st_dev)
      return true;
  }
  return false;
}

pm500::expected<void, std::string> check(const MeterOptions& m, bool private_ok) {
  in_addr a{};
  if (inet_pton(AF_INET, m.address.c_str(), &a) != 1)
    return pm500::unexpected("'" + m.address + "' is not an IPv4 address");
  // The simulator is a test device: it must never answer on a real network.
  const std::uint32_t host = ntohl(a.s_addr);
  if ((host >> 24) != 127 && !(private_ok && is_private(host))) {
    return pm500::unexpected(m.address + " is not a loopback address (127.0.0.0/8)" +
                             (is_private(host) ? "; a private address needs private_netns (--private-netns) and a "
                                                 "network namespace of the simulator's own"
                                               : ""));
  }
  for (const auto* h : {&m.t_o_header, &m.o_t_header})
    if (!h->empty() && *h != "none" && *h != "run_idle")
      return pm500::unexpected(m.address + ": real-time header \"" + *h + "\" is not \"none\" or \"run_idle\"");
  if (m.serial != 0 && (m.serial < 940'000'000u || m.serial > 950'000'000u)) {
    return pm500::unexpected(m.address + ": serial " + std::to_string(m.serial) + " is outside 940000000..950000000");
  }
  if (m.max_connections == 0 || m.max_connections > 1024) {
    return pm500::unexpected(m.address + ": max_connections must be 1..1024");
  }
  if (m.tcp_port == 0 || m.udp_port == 0) return pm500::unexpected(m.address + ": ports must not be 0");
  return {};
}

// Each meter holds three sockets and a connection per originator (a gateway's session, its
// probe or a reconnect overlapping the old one, a `check`): five per meter, and the usual soft
// limit of 1024 runs out at about 200 meters. Out of descriptors, a meter could no longer accept
// connections: they would wait unanswered in its backlog, and the gateway would report meters
// that do not answer. So the soft limit is raised to the hard limit, and too low a hard limit
// is an error at start.
pm500::expected<void, std::string> raise_fd_limit(std::size_t meters) {
  const auto [limit, hard] = raise_open_files_limit();
  const std::uint64_t want = static_cast<std::uint64_t>(meters) * 5 + 256;
  if (limit == 0 || limit >= want) return {};  // 0: unreadable, then let the meters try
  return pm500::unexpected(std::to_string(meters) + " meters need " + std::to_string(want) +
                           " open files, the limit is " + std::to_string(limit) +
                           ": raise it (`ulimit -n " + std::to_string(want) + "`) or simulate fewer meters");
}

}  // namespace

pm500::expected<std::unique_ptr<Simulator>, std::string> Simulator::start(Options options) {
  if (options.meters.empty()) return pm500::unexpected(std::string("no meters to simulate"));
  auto impl = std::make_unique<Impl>();
  impl->log = pm500::log::get("sim");
  if (auto r = impl->loop.init(); !r) return pm500::unexpected(r.error());
  if (auto r = raise_fd_limit(options.meters.size()); !r) return pm500::unexpected(r.error());

  const bool private_ok = options.private_netns && in_own_netns();
  std::map<std::string, const device::Profile*> loaded;
  impl->meters.reserve(options.meters.size());
  for (std::size_t i = 0; i < options.meters.size(); ++i) {
    auto& m = options.meters[i];
    if (auto r = check(m, private_ok); !r) return pm500::unexpected(r.error());
    const device::Profile* profile = nullptr;
    if (m.profile_path.empty()) {
      profile = &device::builtin_profile();
    } else if (auto it = loaded.find(m.profile_path); it != loaded.end()) {
      profile = it->second;
    } else {
      auto p = device::load_profile_file(m.profile_path);
      if (!p) {
        std::string msg = "profile " + m.profile_path + ":";
        for (const auto& e : p.error()) msg += "\n  " + e.str();
        return pm500::unexpected(msg);
      }
      impl->profiles.push_back(std::move(*p));
      profile = loaded[m.profile_path] = &impl->profiles.back();
    }
    const auto& codes = profile->identity.product_codes;
    if (m.product_code == 0 && !codes.empty()) m.product_code = *std::max_element(codes.begin(), codes.end());
    if (!codes.empty() && std::find(codes.begin(), codes.end(), m.product_code) == codes.end()) {
      return pm500::unexpected(m.address + ": product code " + std::to_string(m.product_code) + " is not one of " +
                               profile->name + "'s (identity.product_codes in " + profile->source + ")");
    }
    auto meter =
        std::make_unique<detail::Meter>(static_cast<std::uint32_t>(i), std::move(m), *profile, impl->loop, impl->log);
    if (auto r = meter->open(); !r) return pm500::unexpected(r.error());
    impl->meters.push_back(std::move(meter));
  }
  if (options.control_port != 0) {
    if (auto r = impl->open_control(options.control_port); !r) return pm500::unexpected(r.error());
  }
  impl->thread = std::thread([p = impl.get()] { p->run(); });
  return std::unique_ptr<Simulator>(new Simulator(std::move(impl)));
}

std::string Simulator::command(std::string_view line) {
  std::lock_guard lock(impl_->mu);
  return detail::execute(line, impl_->meters);
}

MeterStats Simulator::stats(std::size_t meter) const {
  std::lock_guard lock(impl_->mu);
  if (meter >= impl_->meters.size()) return {};
  return impl_->meters[meter]->stats();
}

std::size_t Simulator::meter_count() const {
  return impl_->meters.size();
}

std::uint16_t Simulator::control_port() const {
  return impl_->control_port;
}

}  // namespace pm500::sim
