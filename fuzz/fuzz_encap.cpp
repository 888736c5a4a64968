// Encapsulation framing and the CPF-carrying commands: RegisterSession, ListIdentity,
// ListServices, SendRRData, SendUnitData. Headers must re-encode exactly; identity items must
// re-encode to bytes that decode to the same identity.
#include "cip/encap.hpp"
#include "cip/identity.hpp"
#include "cip/message_router.hpp"
#include "cip/send_data.hpp"
#include "fuzz_check.hpp"

namespace {

fuzz::Scratch s;

void identity(cip::bytes_view payload) {
  auto item = cip::decode_list_identity_reply(payload);
  if (!item) return;
  cip::Writer w1(s.a);
  cip::encode(w1, *item);
  FUZZ_CHECK(w1.ok());
  auto back = cip::decode_list_identity_item(w1.written());
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->identity.serial == item->identity.serial);
  FUZZ_CHECK(back->identity.product_name == item->identity.product_name);
  FUZZ_CHECK(back->address.port == item->address.port);
  FUZZ_CHECK(back->state == item->state);
}

void send_data(cip::bytes_view payload) {
  auto sd = cip::decode_send_data(payload);
  if (!sd) return;
  FUZZ_CHECK(sd->cpf.count <= cip::cpf_max_items);
  for (std::size_t i = 0; i < sd->cpf.count; ++i) {
    const auto& item = sd->cpf.items[i];
    if (item.type == cip::ItemType::sockaddr_o_t || item.type == cip::ItemType::sockaddr_t_o) {
      (void)cip::decode_sockaddr(item.data);
    }
  }
  if (auto m = cip::unconnected_message(*sd)) {
    (void)cip::decode_request(*m);
    (void)cip::decode_response(*m);
  }
  if (auto c = cip::connected_message(*sd)) (void)cip::decode_request(c->message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cip::bytes_view in{data, size};
  std::size_t need = cip::frame_size_needed(in);
  FUZZ_CHECK(need >= cip::encap_header_size);
  auto frame = cip::decode_frame(in);
  if (!frame) {
    FUZZ_CHECK(size < need || size < cip::encap_header_size);
    return 0;
  }
  FUZZ_CHECK(need == cip::encap_header_size + frame->payload.size());

  cip::Writer w(s.b);
  cip::encode(w, frame->header);
  FUZZ_CHECK(w.ok());
  FUZZ_CHECK(fuzz::same(w.written(), in.first(cip::encap_header_size)));

  switch (frame->header.command) {
    case cip::Command::register_session: (void)cip::decode_register_session(frame->payload); break;
    case cip::Command::list_identity: identity(frame->payload); break;
    case cip::Command::list_services: (void)cip::decode_list_services_reply(frame->payload); break;
    case cip::Command::send_rr_data:
    case cip::Command::send_unit_data: send_data(frame->payload); break;
    default: break;
  }
  return 0;
}
