#include "cip/epath.hpp"

namespace cip {
namespace {

// Segment type byte layouts, CIP Vol 1, Appendix C-1 "Segment Type".
constexpr std::uint8_t logical_base = 0x20;     // 001 ttt ff
constexpr std::uint8_t electronic_key = 0x34;   // logical type 5 "special", format 0
constexpr std::uint8_t key_format_4 = 0x04;
constexpr std::uint8_t simple_data = 0x80;
constexpr std::uint8_t port_extended_link = 0x10;
constexpr std::uint8_t port_extended_id = 0x0F;

enum Format : std::uint8_t { bits8 = 0, bits16 = 1, bits32 = 2 };

bool allows_32(LogicalType t) { return t == LogicalType::instance || t == LogicalType::connection_point; }

Format pick_format(std::uint32_t v) {
  if (v <= 0xFF) return bits8;
  if (v <= 0xFFFF) return bits16;
  return bits32;
}

std::size_t port_size(const Port& p) {
  std::size_t n = 1 + (p.port >= port_extended_id ? 2 : 0);
  n += p.link_size == 1 ? 1 : 1 + p.link_size;
  return n + (n & 1);
}

struct SegmentEncoder {
  Writer& w;
  void operator()(const Logical& l) const {
    Format f = pick_format(l.value);
    if (f == bits32 && !allows_32(l.type)) {
      w.fail(Errc::too_large, "logical segment");
      return;
    }
    w.u8(static_cast<std::uint8_t>(logical_base | (static_cast<std::uint8_t>(l.type) << 2) | f));
    switch (f) {
      case bits8: w.u8(static_cast<std::uint8_t>(l.value)); break;
      case bits16: w.u8(0); w.u16(static_cast<std::uint16_t>(l.value)); break;
      case bits32: w.u8(0); w.u32(l.value); break;
    }
  }
  void operator()(const Port& p) const {
    if (p.link_size == 0 || p.link_size > Port::max_link || p.port == 0) {
      w.fail(Errc::bad_value, "port segment");
      return;
    }
    bool ext_link = p.link_size != 1;
    bool ext_id = p.port >= port_extended_id;
    std::size_t start = w.size();
    w.u8(static_cast<std::uint8_t>((ext_link ? port_extended_link : 0) |
                                   (ext_id ? port_extended_id : p.port)));
    if (ext_link) w.u8(p.link_size);
    if (ext_id) w.u16(p.port);
    w.bytes(p.link_view());
    if ((w.size() - start) & 1) w.u8(0);
  }
  void operator()(const ElectronicKey& k) const {
    w.u8(electronic_key);
    w.u8(key_format_4);
    w.u16(k.vendor);
    w.u16(k.device_type);
    w.u16(k.product_code);
    w.u8(static_cast<std::uint8_t>((k.major_revision & 0x7F) | (k.compatibility ? 0x80 : 0)));
    w.u8(k.minor_revision);
  }
  void operator()(const SimpleData& d) const {
    if ((d.data.size() & 1) != 0 || d.data.size() > 2 * 0xFF) {
      w.fail(Errc::bad_value, "simple data segment");
      return;
    }
    w.u8(simple_data);
    w.u8(static_cast<std::uint8_t>(d.data.size() / 2));
    w.bytes(d.data);
  }
};

struct SegmentSize {
  std::size_t operator()(const Logical& l) const {
    switch (pick_format(l.value)) {
      case bits8: return 2;
      case bits16: return 4;
      case bits32: return 6;
    }
    return 0;
  }
  std::size_t operator()(const Port& p) const { return port_size(p); }
  std::size_t operator()(const ElectronicKey&) const { return 10; }
  std::size_t operator()(const SimpleData& d) const { return 2 + d.data.size(); }
};

Segment read_port(Reader& r, std::uint8_t first) {
  std::size_t start = r.offset() - 1;
  Port p;
  std::size_t link_size = 1;
  if (first & port_extended_link) {
    link_size = r.u8();
    if (r.ok() && link_size == 0) r.fail_at(Errc::bad_value, start);
  }
  p.port = first & 0x0F;
  if (p.port == port_extended_id) p.port = r.u16();
  if (r.ok() && p.port == 0) r.fail_at(Errc::bad_value, start);
  if (r.ok() && link_size > Port::max_link) r.fail_at(Errc::unsupported, start);
  auto link = r.bytes(link_size);
  for (std::size_t i = 0; i < link.size(); ++i) p.link[i] = link[i];
  p.link_size = static_cast<std::uint8_t>(link.size());
  if ((r.offset() - start) & 1) r.skip(1);
  return p;
}

Segment read_logical(Reader& r, std::uint8_t first) {
  std::size_t start = r.offset() - 1;
  auto type = static_cast<std::uint8_t>((first >> 2) & 0x07);
  auto format = static_cast<std::uint8_t>(first & 0x03);
  if (type > static_cast<std::uint8_t>(LogicalType::attribute) || format > bits32 ||
      (format == bits32 && !allows_32(static_cast<LogicalType>(type)))) {
    r.fail_at(Errc::unsupported, start);
    return Logical{};
  }
  Logical l{static_cast<LogicalType>(type), 0};
  if (format == bits8) {
    l.value = r.u8();
  } else {
    r.skip(1);  // pad byte of the padded EPATH
    l.value = format == bits16 ? r.u16() : r.u32();
  }
  return l;
}

Segment read_key(Reader& r) {
  std::size_t start = r.offset() - 1;
  ElectronicKey k;
  if (r.u8() != key_format_4 && r.ok()) {
    r.fail_at(Errc::unsupported, start);
    return k;
  }
  k.vendor = r.u16();
  k.device_type = r.u16();
  k.product_code = r.u16();
  std::uint8_t major = r.u8();
  k.major_revision = major & 0x7F;
  k.compatibility = (major & 0x80) != 0;
  k.minor_revision = r.u8();
  return k;
}

}  // namespace

Port Port::slot(std::uint16_t port, std::uint8_t slot) {
  Port p;
  p.port = port;
  p.link[0] = slot;
  p.link_size = 1;
  return p;
}

Port Port::address(std::uint16_t port, std::string_view text) {
  Port p;
  p.port = port;
  // Too long: left empty, which encode() rejects rather than sending a cut-off address.
  if (text.size() > max_link) return p;
  p.link_size = static_cast<std::uint8_t>(text.size());
  for (std::size_t i = 0; i < p.link_size; ++i) p.link[i] = static_cast<std::uint8_t>(text[i]);
  return p;
}

Path backplane_route(std::uint8_t slot) {
  Path p;
  p.push(Port::slot(1, slot));
  return p;
}

bool Path::push(const Segment& s) {
  if (size == segments.size()) return false;
  segments[size++] = s;
  return true;
}

Path application_path(std::uint32_t class_id, std::uint32_t instance, std::uint32_t attribute) {
  Path p;
  p.push(class_segment(class_id));
  p.push(instance_segment(instance));
  if (attribute != 0) p.push(attribute_segment(attribute));
  return p;
}

void encode(Writer& w, const Segment& s) { std::visit(SegmentEncoder{w}, s); }

void encode_path(Writer& w, std::span<const Segment> path) {
  for (const auto& s : path) encode(w, s);
}

std::size_t encoded_size(const Segment& s) { return std::visit(SegmentSize{}, s); }

std::size_t encoded_size(std::span<const Segment> path) {
  std::size_t n = 0;
  for (const auto& s : path) n += encoded_size(s);
  return n;
}

pm500::expected<Path, Error> decode_path(bytes_view in) {
  Reader r(in, "epath");
  Path p;
  while (r.ok() && !r.at_end()) {
    std::size_t start = r.offset();
    std::uint8_t first = r.u8();
    Segment s;
    if ((first & 0xE0) == 0x00) {
      s = read_port(r, first);
    } else if (first == electronic_key) {
      s = read_key(r);
    } else if ((first & 0xE0) == logical_base) {
      s = read_logical(r, first);
    } else if (first == simple_data) {
      std::uint8_t words = r.u8();
      s = SimpleData{r.bytes(2u * words)};
    } else {
      r.fail_at(Errc::unsupported, start);
    }
    if (r.ok() && !p.push(s)) r.fail_at(Errc::unsupported, start);
  }
  if (!r.ok()) return r.failure();
  return p;
}

}  // namespace cip
