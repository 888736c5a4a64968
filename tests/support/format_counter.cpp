// Link into a test executable to count formatting calls (see format_counter.hpp). Only the
// C library's own declarations are used, so no fortified inline wrapper gets in the way.
#undef _FORTIFY_SOURCE
#include "support/format_counter.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace {

std::atomic<std::thread::id> g_watched{};
std::atomic<long> g_calls{0};

void count() noexcept {
  if (std::this_thread::get_id() == g_watched.load(std::memory_order_relaxed))
    g_calls.fetch_add(1, std::memory_order_relaxed);
}

using VsnprintfFn = int (*)(char*, std::size_t, const char*, va_list);
using VsprintfFn = int (*)(char*, const char*, va_list);

template <class Fn>
Fn next(const char* name) noexcept {
  void* f = ::dlsym(RTLD_NEXT, name);
  if (f == nullptr) std::abort();
  return reinterpret_cast<Fn>(f);
}

// Resolved on first use: static initialisers elsewhere may format before this file's run.
int real_vsnprintf(char* s, std::size_t n, const char* fmt, va_list ap) noexcept {
  static const VsnprintfFn f = next<VsnprintfFn>("vsnprintf");
  return f(s, n, fmt, ap);
}
int real_vsprintf(char* s, const char* fmt, va_list ap) noexcept {
  static const VsprintfFn f = next<VsprintfFn>("vsprintf");
  return f(s, fmt, ap);
}

}  // namespace

namespace pm500::test {

void watch_formatting(std::thread::id id) { g_watched.store(id, std::memory_order_relaxed); }
long formatting_calls() { return g_calls.load(std::memory_order_relaxed); }

}  // namespace pm500::test

// Only vsnprintf and vsprintf count; the others forward to them. The fortified variants' flag
// and object size are checks this counter does not repeat.
extern "C" {
int __vsnprintf_chk(char* s, std::size_t n, int flag, std::size_t slen, const char* fmt, va_list ap) noexcept;
int __snprintf_chk(char* s, std::size_t n, int flag, std::size_t slen, const char* fmt, ...) noexcept;
int __vsprintf_chk(char* s, int flag, std::size_t slen, const char* fmt, va_list ap) noexcept;
int __sprintf_chk(char* s, int flag, std::size_t slen, const char* fmt, ...) noexcept;

int vsnprintf(char* __restrict s, std::size_t n, const char* __restrict fmt, va_list ap) noexcept {
  count();
  return real_vsnprintf(s, n, fmt, ap);
}

int vsprintf(char* __restrict s, const char* __restrict fmt, va_list ap) noexcept {
  count();
  return real_vsprintf(s, fmt, ap);
}

int __vsnprintf_chk(char* s, std::size_t n, int, std::size_t, const char* fmt, va_list ap) noexcept {
  return vsnprintf(s, n, fmt, ap);
}

int __vsprintf_chk(char* s, int, std::size_t, const char* fmt, va_list ap) noexcept { return vsprintf(s, fmt, ap); }

int snprintf(char* __restrict s, std::size_t n, const char* __restrict fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  const int r = vsnprintf(s, n, fmt, ap);
  va_end(ap);
  return r;
}

int __snprintf_chk(char* s, std::size_t n, int, std::size_t, const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  const int r = vsnprintf(s, n, fmt, ap);
  va_end(ap);
  return r;
}

int sprintf(char* __restrict s, const char* __restrict fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  const int r = vsprintf(s, fmt, ap);
  va_end(ap);
  return r;
}

int __sprintf_chk(char* s, int, std::size_t, const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  const int r = vsprintf(s, fmt, ap);
  va_end(ap);
  return r;
}
}
