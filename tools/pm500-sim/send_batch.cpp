#include "send_batch.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

namespace pm500::sim::detail {

SendBatch::SendBatch()
    : messages_(std::make_unique<Message[]>(kMaxMessages)), headers_(std::make_unique<mmsghdr[]>(kMaxMessages)) {}

SendBatch::~SendBatch() = default;

std::span<std::uint8_t> SendBatch::reserve() {
  if (count_ == kMaxMessages) flush();
  return messages_[count_].bytes;
}

int SendBatch::sender_for(int fd, std::uint16_t port) {
  for (std::size_t i = 0; i < port_count_; ++i)
    if (ports_[i] == port) return port_fds_[i];
  if (port_count_ == ports_.size()) return fd;  // unusual: many ports in one turn; send as is
  ports_[port_count_] = port;
  port_fds_[port_count_] = fd;
  ++port_count_;
  return fd;
}

void SendBatch::commit(int fd, std::uint32_t source, std::uint16_t port, const sockaddr_in& dest, std::size_t len,
                       std::uint64_t* sent) {
  if (fd < 0 || len == 0 || len > kMaxDatagram) return;
  Message& m = messages_[count_];
  m.dest = dest;
  m.iov = {m.bytes.data(), len};
  m.sent = sent;
  m.fd = sender_for(fd, port);
  in_pktinfo info{};
  info.ipi_spec_dst.s_addr = htonl(source);

  mmsghdr& h = headers_[count_];
  h = {};
  h.msg_hdr.msg_name = &m.dest;
  h.msg_hdr.msg_namelen = sizeof m.dest;
  h.msg_hdr.msg_iov = &m.iov;
  h.msg_hdr.msg_iovlen = 1;
  h.msg_hdr.msg_control = m.control.data();
  h.msg_hdr.msg_controllen = m.control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&h.msg_hdr);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  ++count_;
}

void SendBatch::flush() {
  std::size_t i = 0;
  while (i < count_) {
    // One call per run of datagrams leaving through the same socket (usually the whole batch).
    const int fd = messages_[i].fd;
    std::size_t end = i + 1;
    while (end < count_ && messages_[end].fd == fd) ++end;
    const int n = ::sendmmsg(fd, &headers_[i], static_cast<unsigned>(end - i), MSG_DONTWAIT);
    ++calls_;
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      ++i;  // the first datagram was refused (a full send buffer, an unreachable destination): drop it
      continue;
    }
    for (std::size_t k = i; k < i + static_cast<std::size_t>(n); ++k) ++*messages_[k].sent;
    sent_ += static_cast<std::uint64_t>(n);
    i += static_cast<std::size_t>(n);
  }
  count_ = 0;
  port_count_ = 0;
}

}  // namespace pm500::sim::detail
