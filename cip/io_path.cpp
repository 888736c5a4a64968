#include "cip/io_path.hpp"

#include "cip/message_router.hpp"

namespace cip {

Path io_connection_path(const IoPathSpec& spec) {
  Path p;
  if (spec.key) p.push(*spec.key);
  p.push(class_segment(object_class::assembly));
  p.push(instance_segment(spec.config_instance));
  p.push(connection_point_segment(spec.o_t_point));
  p.push(connection_point_segment(spec.t_o_point));
  return p;
}

pm500::expected<IoPathSpec, Error> parse_io_connection_path(const Path& path) {
  auto fail = [] { return pm500::unexpected<Error>(Error{Errc::unsupported, 0, "io connection path"}); };
  IoPathSpec spec;
  std::size_t i = 0;
  if (path.size > 0) {
    if (const auto* k = std::get_if<ElectronicKey>(&path.segments[0])) {
      spec.key = *k;
      i = 1;
    }
  }
  if (path.size - i != 4) return fail();
  const LogicalType want[4] = {LogicalType::class_id, LogicalType::instance,
                               LogicalType::connection_point, LogicalType::connection_point};
  std::uint32_t values[4] = {};
  for (std::size_t j = 0; j < 4; ++j) {
    const auto* l = std::get_if<Logical>(&path.segments[i + j]);
    if (l == nullptr || l->type != want[j]) return fail();
    values[j] = l->value;
  }
  if (values[0] != object_class::assembly) return fail();
  spec.config_instance = values[1];
  spec.o_t_point = values[2];
  spec.t_o_point = values[3];
  return spec;
}

}  // namespace cip
