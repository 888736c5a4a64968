#include "event_loop.hpp"

#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace pm500::sim::detail {
std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

EventLoop::~EventLoop() {
  for (int fd : {epoll_fd_, wake_fd_, timer_fd_})
    if (fd >= 0) ::close(fd);
}

pm500::expected<void, std::string> EventLoop::init() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0 || timer_fd_ < 0)
    return pm500::unexpected("event loop: " + std::string(std::strerror(errno)));
  if (!add(wake_fd_, EPOLLIN, {Token::wake}) || !add(timer_fd_, EPOLLIN, {Token::timer}))
    return pm500::unexpected("event loop: epoll_ctl: " + std::string(std::strerror(errno)));
  heap_.reserve(1024);
  produce_heap_.reserve(1024);
  events_.resize(256);
  return {};
}

bool EventLoop::add(int fd, std::uint32_t events, Token t) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = t.pack();
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, Token t) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = t.pack();
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::schedule(std::int64_t deadline_ns, Token t) {
  auto& heap = t.kind == Token::produce ? produce_heap_ : heap_;
  heap.push_back({deadline_ns, t.pack()});
  std::push_heap(heap.begin(), heap.end(), later);
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::wait(std::vector<Ready>& ready) {
  ready.clear();
  int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), -1);
  for (int i = 0; i < n; ++i) {
    Token t = Token::unpack(events_[static_cast<std::size_t>(i)].data.u64);
    if (t.kind == Token::wake || t.kind == Token::timer) {
      std::uint64_t drain = 0;
      [[maybe_unused]] auto r = ::read(t.kind == Token::wake ? wake_fd_ : timer_fd_, &drain, sizeof drain);
      if (t.kind == Token::timer) armed_ = -1;  // fired: the next arm() must set it again
      if (t.kind == Token::wake) ready.push_back({t, events_[static_cast<std::size_t>(i)].events});
      continue;
    }
    ready.push_back({t, events_[static_cast<std::size_t>(i)].events});
  }
}

bool EventLoop::pop_from(std::vector<Entry>& heap, std::int64_t now_ns, Token& out) {
  if (heap.empty() || heap.front().deadline > now_ns) return false;
  std::pop_heap(heap.begin(), heap.end(), later);
  out = Token::unpack(heap.back().token);
  heap.pop_back();
  return true;
}

bool EventLoop::pop_due(std::int64_t now_ns, Token& out) {
  if (pop_from(heap_, now_ns, out)) return true;
  if (!pop_from(produce_heap_, now_ns, out)) return false;
  last_produce_turn_ = now_ns;
  return true;
}

void EventLoop::arm() {
  std::int64_t next = heap_.empty() ? 0 : std::max<std::int64_t>(heap_.front().deadline, 1);
  if (!produce_heap_.empty()) {
    const std::int64_t produce = std::max(produce_heap_.front().deadline, last_produce_turn_ + kProduceSlackNs);
    if (next == 0 || produce < next) next = std::max<std::int64_t>(produce, 1);
  }
  if (next == armed_) return;
  itimerspec its{};
  its.it_value.tv_sec = next / 1'000'000'000;
  its.it_value.tv_nsec = next % 1'000'000'000;
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  armed_ = next;
}

}  // namespace pm500::sim::detail
