#include "client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace pm500::sim::test {
namespace {

sockaddr_in addr_of(const std::string& address, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) throw std::runtime_error("bad address " + address);
  return a;
}

bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

Mr copy(const cip::MrResponse& r) {
  Mr m;
  m.service = r.service;
  m.general = r.general_status;
  for (std::size_t i = 0; i < r.additional_count(); ++i) m.additional.push_back(r.additional(i));
  m.data.assign(r.data.begin(), r.data.end());
  return m;
}

}  // namespace

std::uint32_t ipv4(const std::string& dotted) {
  return ntohl(addr_of(dotted, 0).sin_addr.s_addr);
}

Client::Client(const std::string& address, std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto a = addr_of(address, port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<Bytes> Client::read_frame(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::size_t need = cip::frame_size_needed(rx_);
    if (rx_.size() >= need) {
      Bytes frame(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(need));
      rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(need));
      return frame;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(fd_, left)) return std::nullopt;
    std::uint8_t buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    rx_.insert(rx_.end(), buf, buf + n);
  }
}

std::optional<Bytes> Client::roundtrip(cip::bytes_view frame, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return std::nullopt;
  if (::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) return std::nullopt;
  return read_frame(timeout);
}

std::uint32_t Client::register_session() {
  std::array<std::uint8_t, 64> buf{};
  cip::Writer w(buf);
  cip::encode_register_session(w, {});
  auto rep = roundtrip(w.written());
  if (!rep) return 0;
  auto f = cip::decode_frame(*rep);
  if (!f || f->header.status != 0) return 0;
  session_ = f->header.session;
  return session_;
}

void Client::unregister_session() {
  std::array<std::uint8_t, 64> buf{};
  cip::Writer w(buf);
  cip::encode_unregister_session(w, session_);
  ::send(fd_, w.written().data(), w.size(), MSG_NOSIGNAL);
}

std::optional<cip::ListIdentityItem> Client::list_identity(Bytes& storage, std::chrono::milliseconds timeout) {
  std::array<std::uint8_t, 64> buf{};
  cip::Writer w(buf);
  cip::encode_list_identity_request(w);
  auto rep = roundtrip(w.written(), timeout);
  if (!rep) return std::nullopt;
  storage = std::move(*rep);
  auto f = cip::decode_frame(storage);
  if (!f) return std::nullopt;
  auto item = cip::decode_list_identity_reply(f->payload);
  if (!item) return std::nullopt;
  return *item;
}

std::optional<cip::ServiceInfo> Client::list_services() {
  std::array<std::uint8_t, 64> buf{};
  cip::Writer w(buf);
  cip::encode_list_services_request(w);
  auto rep = roundtrip(w.written());
  if (!rep) return std::nullopt;
  auto f = cip::decode_frame(*rep);
  if (!f) return std::nullopt;
  auto s = cip::decode_list_services_reply(f->payload);
  if (!s) return std::nullopt;
  return *s;
}

std::optional<Mr> Client::exchange(cip::bytes_view frame, std::uint32_t* encap_status,
                                   std::optional<cip::SockAddr>* t_o, std::optional<cip::SockAddr>* o_t) {
  auto rep = roundtrip(frame);
  if (!rep) return std::nullopt;
  auto f = cip::decode_frame(*rep);
  if (!f) return std::nullopt;
  if (encap_status) *encap_status = f->header.status;
  if (f->header.status != 0) return Mr{};
  auto sd = cip::decode_send_data(f->payload);
  if (!sd) return std::nullopt;
  if (t_o)
    if (const auto* i = sd->cpf.find(cip::ItemType::sockaddr_t_o))
      if (auto a = cip::decode_sockaddr(i->data)) *t_o = *a;
  if (o_t)
    if (const auto* i = sd->cpf.find(cip::ItemType::sockaddr_o_t))
      if (auto a = cip::decode_sockaddr(i->data)) *o_t = *a;
  auto msg = cip::unconnected_message(*sd);
  if (!msg) return std::nullopt;
  auto mr = cip::decode_response(*msg);
  if (!mr) return std::nullopt;
  return copy(*mr);
}

std::optional<Mr> Client::get_attribute_single(std::uint32_t cls, std::uint32_t instance, std::uint32_t attribute) {
  return request([&](cip::Writer& w) { cip::encode_get_attribute_single(w, cls, instance, attribute); });
}

std::optional<Mr> Client::get_attributes_all(std::uint32_t cls, std::uint32_t instance) {
  return request([&](cip::Writer& w) { cip::encode_get_attributes_all(w, cls, instance); });
}

FoResult Client::forward_open(const FoSpec& s) {
  cip::ForwardOpen fo;
  fo.t_o_connection_id = s.t_o_id;
  fo.connection_serial = s.serial;
  fo.originator_vendor = s.vendor;
  fo.originator_serial = s.originator_serial;
  fo.timeout_multiplier = s.multiplier;
  fo.o_t_rpi_us = fo.t_o_rpi_us = s.rpi_us;
  fo.o_t_params = {.size = s.o_t_size, .type = cip::ConnectionType::point_to_point};
  fo.t_o_params = {.size = s.t_o_size,
                   .type = s.multicast ? cip::ConnectionType::multicast : cip::ConnectionType::point_to_point};
  fo.transport = cip::decode_transport(s.transport);
  fo.path = cip::io_connection_path(
      {.config_instance = s.config_instance, .o_t_point = s.o_t_point, .t_o_point = s.t_o_point});
  std::array<std::uint8_t, 1024> buf{};
  cip::Writer w(buf);
  auto m = cip::begin_send_rr_data(w, session_);
  cip::encode(w, fo);
  cip::SockAddrItem extra[1];
  std::size_t n = 0;
  if (s.t_o_sockaddr) extra[n++] = {cip::ItemType::sockaddr_t_o, *s.t_o_sockaddr};
  cip::end_send_rr_data(w, m, std::span<const cip::SockAddrItem>(extra, n));

  FoResult r;
  auto mr = exchange(w.written(), nullptr, &r.t_o_addr, &r.o_t_addr);
  if (!mr) return r;
  r.mr = *mr;
  cip::MrResponse view{mr->service, mr->general, {}, mr->data};
  std::vector<std::uint8_t> add;
  for (auto a : mr->additional) {
    add.push_back(static_cast<std::uint8_t>(a));
    add.push_back(static_cast<std::uint8_t>(a >> 8));
  }
  view.additional_status = add;
  auto res = cip::decode_forward_open_response(view);
  if (!res) return r;
  if (const auto* ok = std::get_if<cip::ForwardOpenReply>(&*res)) {
    r.ok = true;
    r.o_t_id = ok->o_t_connection_id;
    r.t_o_id = ok->t_o_connection_id;
    r.t_o_api_us = ok->t_o_api_us;
    r.o_t_api_us = ok->o_t_api_us;
  } else {
    r.wanted_size = std::get<cip::ConnectionFailure>(*res).wanted_size;
  }
  return r;
}

std::optional<Mr> Client::forward_close(std::uint16_t serial, std::uint16_t vendor, std::uint32_t originator_serial) {
  cip::ForwardClose fc;
  fc.connection_serial = serial;
  fc.originator_vendor = vendor;
  fc.originator_serial = originator_serial;
  fc.path = cip::io_connection_path({.config_instance = 1, .o_t_point = 98, .t_o_point = 101});
  return request([&](cip::Writer& w) { cip::encode(w, fc); });
}

Bytes heartbeat(std::uint32_t o_t_id, std::uint32_t sequence) {
  Bytes out(64);
  cip::Writer w(out);
  cip::IoPacket p;
  p.connection_id = o_t_id;
  p.encap_sequence = sequence;
  p.cip_sequence = static_cast<std::uint16_t>(sequence);
  cip::encode(w, p);
  out.resize(w.size());
  return out;
}

Udp::Udp(const std::string& address, std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = addr_of(address, port);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("udp bind " + address);
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
}

Udp::~Udp() {
  if (fd_ >= 0) ::close(fd_);
}

bool Udp::join(std::uint32_t group) {
  ip_mreq m{};
  m.imr_multiaddr.s_addr = htonl(group);
  m.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
  return setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0;
}

std::optional<Io> Udp::recv(std::chrono::milliseconds timeout) {
  if (!wait_readable(fd_, timeout)) return std::nullopt;
  std::uint8_t buf[2048];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return std::nullopt;
  auto p = cip::decode_io(cip::bytes_view(buf, static_cast<std::size_t>(n)), false);
  if (!p) return std::nullopt;
  return Io{p->connection_id, p->encap_sequence, p->cip_sequence, Bytes(p->data.begin(), p->data.end())};
}

std::vector<Io> Udp::collect(std::chrono::milliseconds window) {
  std::vector<Io> out;
  auto end = std::chrono::steady_clock::now() + window;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    if (auto io = recv(left)) out.push_back(std::move(*io));
  }
}

void Udp::drain() {
  std::uint8_t buf[2048];
  while (::recv(fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

bool Udp::send_raw(cip::bytes_view bytes, const std::string& to, std::uint16_t port) {
  auto a = addr_of(to, port);
  return ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
         static_cast<ssize_t>(bytes.size());
}

bool Udp::send_heartbeat(std::uint32_t o_t_id, std::uint32_t sequence, const std::string& to, std::uint16_t port) {
  auto b = heartbeat(o_t_id, sequence);
  return send_raw(b, to, port);
}

}  // namespace pm500::sim::test
