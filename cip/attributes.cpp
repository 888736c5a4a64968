#include "cip/attributes.hpp"

namespace cip {

void encode_get_attribute_single(Writer& w, std::uint32_t class_id, std::uint32_t instance,
                                 std::uint32_t attribute) {
  if (attribute == 0) {
    w.fail(Errc::bad_value, "get_attribute_single attribute");
    return;
  }
  auto path = application_path(class_id, instance, attribute);
  encode_request_head(w, service::get_attribute_single, path.view());
}

void encode_get_attributes_all(Writer& w, std::uint32_t class_id, std::uint32_t instance) {
  auto path = application_path(class_id, instance);
  encode_request_head(w, service::get_attributes_all, path.view());
}

void encode_attribute_reply(Writer& w, std::uint8_t request_service, bytes_view value) {
  encode_response_head(w, request_service, 0);
  w.bytes(value);
}

pm500::expected<MrResponse, Error> decode_attribute_reply(bytes_view in, std::uint8_t request_service) {
  auto r = decode_response(in);
  if (!r) return r;
  if (!r->answers(request_service)) {
    return pm500::unexpected<Error>(Error{Errc::bad_value, 0, "attribute reply service"});
  }
  return r;
}

pm500::expected<AttributeAddress, Error> decode_attribute_address(bytes_view path) {
  auto p = decode_path(path);
  if (!p) return pm500::unexpected<Error>(p.error());
  AttributeAddress a;
  bool have_class = false;
  bool have_instance = false;
  for (const auto& s : p->view()) {
    const auto* l = std::get_if<Logical>(&s);
    if (l == nullptr) return pm500::unexpected<Error>(Error{Errc::unsupported, 0, "attribute path"});
    switch (l->type) {
      case LogicalType::class_id: a.class_id = l->value; have_class = true; break;
      case LogicalType::instance: a.instance = l->value; have_instance = true; break;
      case LogicalType::attribute: a.attribute = l->value; break;
      default: return pm500::unexpected<Error>(Error{Errc::unsupported, 0, "attribute path"});
    }
  }
  if (!have_class || !have_instance) {
    return pm500::unexpected<Error>(Error{Errc::bad_value, 0, "attribute path"});
  }
  return a;
}

}  // namespace cip
