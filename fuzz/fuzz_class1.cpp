// Class 1 datagram decoder, with and without run/idle header. A datagram of exactly two items
// that decodes must re-encode to the same bytes.
#include "cip/io.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::Scratch s;
  for (bool run_idle : {false, true}) {
    auto p = cip::decode_io({data, size}, run_idle);
    if (!p) {
      FUZZ_CHECK(p.error().offset <= size);
      continue;
    }
    FUZZ_CHECK(p->data.empty() || (p->data.data() >= data && p->data.data() + p->data.size() <= data + size));
    bool two_items = size >= 2 && data[0] == 2 && data[1] == 0;
    if (!two_items) continue;
    cip::Writer w(s.a);
    cip::encode(w, *p);
    FUZZ_CHECK(w.ok());
    FUZZ_CHECK(fuzz::same(w.written(), {data, size}));
  }
  return 0;
}
