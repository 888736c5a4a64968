#include "cip/identity.hpp"

namespace cip {
namespace {

void encode_short_string(Writer& w, std::string_view s) {
  if (s.size() > 0xFF) {
    w.fail(Errc::too_large, "short string");
    return;
  }
  w.u8(static_cast<std::uint8_t>(s.size()));
  for (char c : s) w.u8(static_cast<std::uint8_t>(c));
}

std::string_view read_short_string(Reader& r) {
  auto n = r.u8();
  auto b = r.bytes(n);
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

void read_identity(Reader& r, IdentityInfo& id) {
  id.vendor = r.u16();
  id.device_type = r.u16();
  id.product_code = r.u16();
  id.revision_major = r.u8();
  id.revision_minor = r.u8();
  id.status = r.u16();
  id.serial = r.u32();
  id.product_name = read_short_string(r);
}

}  // namespace

void encode(Writer& w, const IdentityInfo& id) {
  w.u16(id.vendor);
  w.u16(id.device_type);
  w.u16(id.product_code);
  w.u8(id.revision_major);
  w.u8(id.revision_minor);
  w.u16(id.status);
  w.u32(id.serial);
  encode_short_string(w, id.product_name);
}

pm500::expected<IdentityInfo, Error> decode_identity_info(bytes_view data) {
  Reader r(data, "identity attributes");
  IdentityInfo id;
  read_identity(r, id);
  if (!r.ok()) return r.failure();
  return id;
}

void encode(Writer& w, const ListIdentityItem& item) {
  w.u16(item.protocol_version);
  encode(w, item.address);
  encode(w, item.identity);
  w.u8(item.state);
}

pm500::expected<ListIdentityItem, Error> decode_list_identity_item(bytes_view item_data) {
  Reader r(item_data, "list identity item");
  ListIdentityItem item;
  item.protocol_version = r.u16();
  auto sa = decode_sockaddr(r.bytes(sockaddr_size));
  if (r.ok() && !sa) return pm500::unexpected<Error>(sa.error());
  if (sa) item.address = *sa;
  read_identity(r, item.identity);
  item.state = r.u8();
  if (!r.ok()) return r.failure();
  return item;
}

void encode_list_identity_request(Writer& w, const SenderContext& ctx) {
  end_frame(w, begin_frame(w, {.command = Command::list_identity, .context = ctx}));
}

void encode_list_identity_reply(Writer& w, const SenderContext& ctx, const ListIdentityItem& item) {
  auto f = begin_frame(w, {.command = Command::list_identity, .context = ctx});
  encode_cpf_count(w, 1);
  auto it = begin_item(w, ItemType::list_identity);
  encode(w, item);
  end_item(w, it);
  end_frame(w, f);
}

pm500::expected<ListIdentityItem, Error> decode_list_identity_reply(bytes_view payload) {
  auto cpf = decode_cpf(payload);
  if (!cpf) return pm500::unexpected<Error>(cpf.error());
  const CpfItem* item = cpf->find(ItemType::list_identity);
  if (item == nullptr) return pm500::unexpected<Error>(Error{Errc::unexpected_item, 0, "list identity reply"});
  return decode_list_identity_item(item->data);
}

ServiceInfo communications_service() {
  ServiceInfo s;
  s.capabilities = capability::cip_over_tcp | capability::class01_over_udp;
  constexpr std::string_view name = "Communications";
  for (std::size_t i = 0; i < name.size(); ++i) s.name[i] = name[i];
  return s;
}

void encode_list_services_request(Writer& w, const SenderContext& ctx) {
  end_frame(w, begin_frame(w, {.command = Command::list_services, .context = ctx}));
}

void encode_list_services_reply(Writer& w, const SenderContext& ctx, const ServiceInfo& s) {
  auto f = begin_frame(w, {.command = Command::list_services, .context = ctx});
  encode_cpf_count(w, 1);
  auto it = begin_item(w, ItemType::list_services);
  w.u16(s.version);
  w.u16(s.capabilities);
  for (char c : s.name) w.u8(static_cast<std::uint8_t>(c));
  end_item(w, it);
  end_frame(w, f);
}

pm500::expected<ServiceInfo, Error> decode_list_services_reply(bytes_view payload) {
  auto cpf = decode_cpf(payload);
  if (!cpf) return pm500::unexpected<Error>(cpf.error());
  const CpfItem* item = cpf->find(ItemType::list_services);
  if (item == nullptr) return pm500::unexpected<Error>(Error{Errc::unexpected_item, 0, "list services reply"});
  Reader r(item->data, "list services item");
  ServiceInfo s;
  s.version = r.u16();
  s.capabilities = r.u16();
  auto name = r.bytes(s.name.size());
  for (std::size_t i = 0; i < name.size(); ++i) s.name[i] = static_cast<char>(name[i]);
  if (!r.ok()) return r.failure();
  return s;
}

}  // namespace cip
