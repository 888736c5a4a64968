// Counts the C library's printf-family formatting calls (snprintf, vsnprintf, sprintf,
// vsprintf and their _FORTIFY_SOURCE variants) made by one thread. A test executable that
// links format_counter.cpp defines those functions itself: they take precedence over the C
// library's for the whole program (libraries included), count, and forward to the C library.
//
//   pm500::test::watch_formatting();          // this thread
//   const long before = pm500::test::formatting_calls();
//   ...                                       // the per-sample path
//   CHECK(pm500::test::formatting_calls() == before);
#pragma once

#include <thread>

namespace pm500::test {

// Calls from this thread (or `id`) are counted from now on; calls from other threads are not.
void watch_formatting(std::thread::id id = std::this_thread::get_id());
// Calls counted so far.
long formatting_calls();

}  // namespace pm500::test
