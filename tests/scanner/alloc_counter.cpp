// Replaced global allocation functions for scanner_noalloc_test: count what the watched thread
// allocates.
#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

std::atomic<std::thread::id> watched{};
std::atomic<long> allocations{0};

void* operator new(std::size_t n) {
  if (std::this_thread::get_id() == watched.load(std::memory_order_relaxed)) ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
