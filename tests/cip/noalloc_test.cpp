// Decoding a Class 1 datagram, and encoding any message into a caller's buffer, must not touch
// the heap or format text: the scanner does it for every packet of thousands of connections.
// Counted by replacing the global allocation functions and the printf family in this test
// executable only.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "cip/cip.hpp"
#include "golden.hpp"
#include "support/format_counter.hpp"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("the I/O path and the encoders do not allocate or format") {
  std::array<std::uint8_t, 512> buf{};
  pm500::test::watch_formatting();
  const long formatted = pm500::test::formatting_calls();
  long before = allocations.load();
  std::uint16_t last = 0;
  int fresh = 0;
  for (int i = 0; i < 1000; ++i) {
    auto io = cip::decode_io(golden::class1_datagram, false);
    if (io && cip::seq_newer(io->cip_sequence, last)) {
      last = io->cip_sequence;
      ++fresh;
    }
    auto bad = cip::decode_io(std::span(golden::class1_datagram).first(11), false);
    (void)bad;
  }
  {
    cip::Writer w(buf);
    cip::IoPacket p{.connection_id = 1, .cip_sequence = 2};
    cip::encode(w, p);
    std::size_t io_end = w.size();
    auto m = cip::begin_send_rr_data(w, 1);
    cip::ForwardOpen fo;
    fo.path = cip::io_connection_path({.config_instance = 1, .o_t_point = 99, .t_o_point = 101});
    cip::encode(w, fo);
    cip::end_send_rr_data(w, m);
    auto frame = cip::decode_frame(w.written().subspan(io_end));
    auto sd = cip::decode_send_data(frame->payload);
    auto mr = cip::decode_request(*cip::unconnected_message(*sd));
    auto back = cip::decode_forward_open(*mr);
    CHECK(back.has_value());
  }
  long after = allocations.load();
  CHECK(fresh == 1);
  CHECK(after - before == 0);
  CHECK(pm500::test::formatting_calls() == formatted);
}
