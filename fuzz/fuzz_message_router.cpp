// Message router requests and responses, and everything decoded from them: Forward Open /
// Large Forward Open / Forward Close requests and replies, Unconnected_Send, attribute paths,
// identity attributes. What decodes must re-encode to bytes that decode to the same thing.
#include "cip/attributes.hpp"
#include "cip/forward_open.hpp"
#include "cip/identity.hpp"
#include "cip/unconnected_send.hpp"
#include "fuzz_check.hpp"

namespace {

fuzz::Scratch s;

void forward_open(const cip::MrRequest& q) {
  auto fo = cip::decode_forward_open(q);
  if (!fo) return;
  cip::Writer w1(s.a);
  cip::encode(w1, *fo);
  if (!w1.ok()) {
    // Only a path the encoder cannot express may fail (e.g. a too long link address).
    FUZZ_CHECK(w1.error().code != cip::Errc::buffer_too_small);
    return;
  }
  auto q2 = cip::decode_request(w1.written());
  FUZZ_CHECK(q2.has_value());
  auto fo2 = cip::decode_forward_open(*q2);
  FUZZ_CHECK(fo2.has_value());
  FUZZ_CHECK(fo2->t_o_connection_id == fo->t_o_connection_id);
  FUZZ_CHECK(fo2->o_t_rpi_us == fo->o_t_rpi_us);
  FUZZ_CHECK(fo2->t_o_params.size == fo->t_o_params.size);
  FUZZ_CHECK(fo2->path.size == fo->path.size);
  cip::Writer w2(s.b);
  cip::encode(w2, *fo2);
  FUZZ_CHECK(w2.ok());
  FUZZ_CHECK(fuzz::same(w1.written(), w2.written()));
}

void forward_close(const cip::MrRequest& q) {
  auto fc = cip::decode_forward_close(q);
  if (!fc) return;
  cip::Writer w1(s.a);
  cip::encode(w1, *fc);
  if (!w1.ok()) return;
  auto q2 = cip::decode_request(w1.written());
  FUZZ_CHECK(q2.has_value());
  auto fc2 = cip::decode_forward_close(*q2);
  FUZZ_CHECK(fc2.has_value());
  FUZZ_CHECK(fc2->originator_serial == fc->originator_serial);
}

void responses(const cip::MrResponse& r) {
  if (auto fo = cip::decode_forward_open_response(r)) {
    cip::Writer w(s.a);
    bool large = r.answers(cip::service::large_forward_open);
    if (const auto* ok = std::get_if<cip::ForwardOpenReply>(&*fo)) {
      cip::encode_forward_open_reply(w, *ok, large);
      FUZZ_CHECK(w.ok());
      auto back = cip::decode_response(w.written());
      FUZZ_CHECK(back.has_value());
      auto fo2 = cip::decode_forward_open_response(*back);
      FUZZ_CHECK(fo2.has_value());
      FUZZ_CHECK(std::get<cip::ForwardOpenReply>(*fo2).t_o_connection_id == ok->t_o_connection_id);
    } else {
      const auto& f = std::get<cip::ConnectionFailure>(*fo);
      cip::encode_forward_open_failure(w, f, large);
      FUZZ_CHECK(w.ok());
      auto back = cip::decode_response(w.written());
      FUZZ_CHECK(back.has_value());
      auto fo2 = cip::decode_forward_open_response(*back);
      FUZZ_CHECK(fo2.has_value());
      const auto& f2 = std::get<cip::ConnectionFailure>(*fo2);
      FUZZ_CHECK(f2.general_status == f.general_status);
      FUZZ_CHECK(f2.extended_status == f.extended_status);
      FUZZ_CHECK(f2.wanted_size == f.wanted_size);
    }
  }
  (void)cip::decode_forward_close_response(r);
  (void)cip::decode_identity_info(r.data);
  (void)r.extended_status();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cip::bytes_view in{data, size};
  if (auto q = cip::decode_request(in)) {
    (void)cip::decode_attribute_address(q->path);
    forward_open(*q);
    forward_close(*q);
    if (auto u = cip::decode_unconnected_send(*q)) {
      if (auto inner = cip::decode_request(u->message)) (void)cip::decode_attribute_address(inner->path);
    }
  }
  if (auto r = cip::decode_response(in)) responses(*r);
  return 0;
}
