// EventLoop: epoll over every socket of every simulated meter, plus one timerfd driven by a
// min-heap of deadlines, so thousands of connections producing at their own RPI cost one
// timerfd and no thread each. Timers cannot be cancelled: their owner bumps a generation
// number and ignores stale ones, which keeps the heap a plain vector (no allocation once it has
// grown to the number of live timers).
//
// Production timers are paced: they live in a heap of their own, and the loop wakes for them at
// most once per kProduceSlackNs, so every datagram due in that time leaves in one turn (and one
// sendmmsg, see send_batch.hpp) instead of one wake-up each. A datagram leaves at most that late;
// its stream's rate stays exact because the next deadline follows the previous one, not the
// send. Every other timer (inactivity checks) keeps its exact deadline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/epoll.h>

#include "pm500/expected.hpp"

namespace pm500::sim::detail {

// What an epoll event or a timer is about, packed into 64 bits: kind | meter | slot | generation.
struct Token {
  enum Kind : std::uint8_t {
    wake,
    timer,
    tcp_listen,
    tcp_client,
    udp_io,
    udp_list,
    control_listen,
    control_client,
    produce,    // timer: a T->O stream's next datagram
    supervise,  // timer: a connection's O->T inactivity check
  };
  Kind kind = wake;
  std::uint32_t meter = 0;  // 24 bits
  std::uint16_t slot = 0;
  std::uint16_t gen = 0;

  std::uint64_t pack() const {
    return (std::uint64_t{kind} << 56) | (std::uint64_t{meter & 0xFFFFFFu} << 32) | (std::uint64_t{slot} << 16) | gen;
  }
  static Token unpack(std::uint64_t v) {
    return {static_cast<Kind>(v >> 56), static_cast<std::uint32_t>((v >> 32) & 0xFFFFFFu),
            static_cast<std::uint16_t>(v >> 16), static_cast<std::uint16_t>(v)};
  }
};

std::int64_t monotonic_ns();

class EventLoop {
 public:
  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  pm500::expected<void, std::string> init();

  bool add(int fd, std::uint32_t events, Token t);
  bool modify(int fd, std::uint32_t events, Token t);
  void remove(int fd);

  void schedule(std::int64_t deadline_ns, Token t);

  // How late a production timer may fire so that it shares a turn with others.
  static constexpr std::int64_t kProduceSlackNs = 500'000;

  // Wakes a wait() from another thread.
  void wake();

  struct Ready {
    Token token;
    std::uint32_t events = 0;
  };
  // Blocks until a socket is ready or a timer is due; fills `ready` (reused, never shrunk).
  void wait(std::vector<Ready>& ready);
  // Pops the next timer due at `now_ns`, if any.
  bool pop_due(std::int64_t now_ns, Token& out);
  // Arms the timerfd for the earliest deadline, production timers no earlier than
  // kProduceSlackNs after the last turn that produced (call after handling events and timers).
  void arm();

 private:
  struct Entry {
    std::int64_t deadline = 0;
    std::uint64_t token = 0;
  };
  // Min-heap on the deadline: the std heap functions build a max-heap, so this is reversed.
  static bool later(const Entry& a, const Entry& b) { return a.deadline > b.deadline; }
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int timer_fd_ = -1;
  static bool pop_from(std::vector<Entry>& heap, std::int64_t now_ns, Token& out);
  std::vector<Entry> heap_;          // inactivity checks and every other exact timer
  std::vector<Entry> produce_heap_;  // production timers, paced
  std::int64_t last_produce_turn_ = 0;
  std::int64_t armed_ = -1;
  std::vector<epoll_event> events_;
};

}  // namespace pm500::sim::detail
