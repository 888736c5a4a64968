#include "cip/event_loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace cip {

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) ::close(wakefd_);
  if (epfd_ >= 0) ::close(epfd_);
}

pm500::expected<void, std::string> EventLoop::open(std::size_t timer_reserve) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return pm500::unexpected(std::string("epoll_create1: ") + std::strerror(errno));
  wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) return pm500::unexpected(std::string("eventfd: ") + std::strerror(errno));
  if (int e = add(wakefd_, EPOLLIN, wake_tag); e != 0) {
    return pm500::unexpected(std::string("epoll_ctl(eventfd): ") + std::strerror(e));
  }
  timers_ = TimerQueue(timer_reserve);
  return {};
}

int EventLoop::add(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

int EventLoop::modify(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : errno;
}

void EventLoop::remove(int fd) { ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

int EventLoop::wait(std::span<epoll_event> out, std::int64_t now_ns, int max_wait_ms) {
  int timeout = max_wait_ms;
  if (auto d = timers_.next_deadline()) {
    // Rounded up: waking a little late costs at most a millisecond of heartbeat jitter, waking
    // early would spin until the deadline.
    const std::int64_t ms = *d <= now_ns ? 0 : (*d - now_ns + 999'999) / 1'000'000;
    if (ms < timeout) timeout = static_cast<int>(ms);
  }
  int n = ::epoll_wait(epfd_, out.data(), static_cast<int>(out.size()), timeout);
  if (n < 0) return 0;  // EINTR: the caller simply turns again
  for (int i = 0; i < n; ++i) {
    if (out[static_cast<std::size_t>(i)].data.u64 == wake_tag) {
      std::uint64_t v = 0;
      [[maybe_unused]] auto r = ::read(wakefd_, &v, sizeof v);
    }
  }
  return n;
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof one);
}

std::int64_t EventLoop::monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t EventLoop::realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace cip
