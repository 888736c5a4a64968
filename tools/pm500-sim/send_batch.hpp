// SendBatch: the T->O datagrams produced in one event-loop turn, by every meter, leave in a few
// sendmmsg(2) calls instead of one sendto(2) each.
//
// sendmmsg works on one socket, and every meter has its own (bound to its address and Class 1
// port). A datagram therefore leaves through the first queued meter's socket with the same
// port, with its own meter's address as source in an IP_PKTINFO control message: the receiver
// sees the same source address and port as from the meter's socket, and a multicast datagram
// leaves through the interface of that address, as IP_MULTICAST_IF would pick it.
//
//   auto room = batch.reserve();              // write the datagram into room
//   batch.commit(fd, source, port, dest, n, &stats.packets_sent);
//   batch.flush();                            // at the end of the turn; also when full
//
// Storage is fixed at construction: queuing and sending allocate nothing.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace pm500::sim::detail {

class SendBatch {
 public:
  static constexpr std::size_t kMaxMessages = 256;
  static constexpr std::size_t kMaxDatagram = 1280;  // > the largest Class 1 datagram of a profile (511 + headers)

  SendBatch();
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Room for the next datagram (flushes first when the batch is full).
  std::span<std::uint8_t> reserve();
  // Queues the first `len` bytes of reserve()'s room, sent from `source` (host order) and `port`
  // through `fd` (a socket bound to source:port) to `dest`; `sent` is incremented once it left.
  void commit(int fd, std::uint32_t source, std::uint16_t port, const sockaddr_in& dest, std::size_t len,
              std::uint64_t* sent);
  // Sends everything queued; a datagram the kernel refuses is dropped (counted nowhere, as a
  // failed sendto was before).
  void flush();

  std::size_t queued() const { return count_; }
  // sendmmsg calls made and datagrams sent since construction.
  std::uint64_t calls() const { return calls_; }
  std::uint64_t sent() const { return sent_; }

 private:
  struct Message {
    sockaddr_in dest{};
    iovec iov{};
    alignas(cmsghdr) std::array<unsigned char, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    std::uint64_t* sent = nullptr;
    int fd = -1;
    std::array<std::uint8_t, kMaxDatagram> bytes{};
  };
  // The socket that sends for a port this turn: the first one queued with it.
  int sender_for(int fd, std::uint16_t port);

  std::unique_ptr<Message[]> messages_;
  std::unique_ptr<mmsghdr[]> headers_;
  std::size_t count_ = 0;
  std::array<std::uint16_t, 4> ports_{};
  std::array<int, 4> port_fds_{};
  std::size_t port_count_ = 0;
  std::uint64_t calls_ = 0;
  std::uint64_t sent_ = 0;
};

}  // namespace pm500::sim::detail
