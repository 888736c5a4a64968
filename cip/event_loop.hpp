// The scanner's event loop: one epoll instance over every TCP session and the UDP socket, an
// eventfd so another thread can wake it (stop()), and a TimerQueue. Level-triggered: a handler
// may stop reading early (fairness between a busy UDP socket and the sessions) and is called
// again on the next turn.
//
// Each registration carries a 64-bit tag chosen by the owner (kind, device, generation), so an
// event for a socket that was closed and whose number was reused within the same epoll_wait
// batch is recognised as stale by the owner and ignored.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>
#include <string>

#include "cip/timer_queue.hpp"
#include "pm500/expected.hpp"

namespace cip {

class EventLoop {
 public:
  static constexpr std::uint64_t wake_tag = UINT64_MAX;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  pm500::expected<void, std::string> open(std::size_t timer_reserve);

  // epoll_ctl wrappers; they return errno (0 on success).
  int add(int fd, std::uint32_t events, std::uint64_t tag);
  int modify(int fd, std::uint32_t events, std::uint64_t tag);
  void remove(int fd);

  // Waits at most until the earliest timer (or `max_wait_ms`), fills `out`; returns the number
  // of events. Wake-ups from wake() are consumed here and reported as an event with wake_tag.
  int wait(std::span<epoll_event> out, std::int64_t now_ns, int max_wait_ms);

  // Thread-safe: makes a concurrent wait() return.
  void wake();

  TimerQueue& timers() { return timers_; }

  static std::int64_t monotonic_ns();
  static std::int64_t realtime_ns();

 private:
  int epfd_ = -1;
  int wakefd_ = -1;
  TimerQueue timers_;
};

}  // namespace cip
