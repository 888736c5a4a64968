// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it. Linux keeps 15
// characters; a longer name is cut there.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace pm500 {

inline void name_this_thread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  ::pthread_setname_np(::pthread_self(), cut.c_str());
}

}  // namespace pm500
