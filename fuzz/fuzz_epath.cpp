// EPATH decoder: any bytes either decode or yield an error; what decodes re-encodes to a
// canonical form that decodes to itself, and encoded_size() predicts it.
#include "cip/epath.hpp"
#include "cip/io_path.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::Scratch s;
  auto path = cip::decode_path({data, size});
  if (!path) return 0;
  (void)cip::parse_io_connection_path(*path);

  cip::Writer w1(s.a);
  cip::encode_path(w1, path->view());
  FUZZ_CHECK(w1.ok());
  FUZZ_CHECK(w1.size() == cip::encoded_size(path->view()));
  FUZZ_CHECK(w1.size() <= size);  // canonical forms are never longer

  auto again = cip::decode_path(w1.written());
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->size == path->size);
  cip::Writer w2(s.b);
  cip::encode_path(w2, again->view());
  FUZZ_CHECK(w2.ok());
  FUZZ_CHECK(fuzz::same(w1.written(), w2.written()));
  return 0;
}
