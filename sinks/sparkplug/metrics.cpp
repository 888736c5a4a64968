#include "sinks/sparkplug/metrics.hpp"

#include <cmath>

namespace pm500::sinks::sparkplug {

std::uint64_t device_alias(std::uint32_t device, std::uint16_t assembly, std::size_t index) {
  if (index >= 100)
    return (std::uint64_t{1} << 56) + (static_cast<std::uint64_t>(device) << 17) +
           (static_cast<std::uint64_t>(assembly - 100u) << 13) + index;
  return (static_cast<std::uint64_t>(device) + 1) * 100000 + static_cast<std::uint64_t>(assembly) * 100 + index;
}

DataType data_type(FieldInfo::Type t) {
  using T = FieldInfo::Type;
  switch (t) {
    case T::float32: return DataType::Float;
    case T::float64: return DataType::Double;
    case T::int8: return DataType::Int8;
    case T::int16: return DataType::Int16;
    case T::int32: return DataType::Int32;
    case T::int64: return DataType::Int64;
    case T::uint8: return DataType::UInt8;
    case T::uint16: return DataType::UInt16;
    case T::uint32: return DataType::UInt32;
    case T::uint64: return DataType::UInt64;
  }
  return DataType::Double;
}

Value value_of(DataType type, double v) {
  if (type == DataType::Float || type == DataType::Double) return Value::real(type, v);
  if (!std::isfinite(v)) return Value::whole(type, 0);
  const auto i = static_cast<std::int64_t>(std::llround(v));
  return Value::whole(type, static_cast<std::uint64_t>(i));
}

DeviceTable device_table(const DeviceMeta& meta, std::uint32_t device, const std::map<std::string, double>& deadbands) {
  DeviceTable t;
  t.id = meta.name;
  t.ct = meta.ct;
  t.pt = meta.pt;
  t.applied_by = meta.ratios_applied_by;
  for (std::size_t a = 0; a < meta.fields.size(); ++a) {
    t.first[a] = static_cast<std::uint32_t>(t.metrics.size());
    const auto& fields = meta.fields[a];
    t.count[a] = static_cast<std::uint16_t>(fields.size());
    t.first_slot[a] = t.slots;
    t.slots += static_cast<std::uint32_t>(sample_parts(fields.size()));
    if (fields.empty()) continue;
    const auto assembly = static_cast<std::uint16_t>(100 + a);
    // The folder is the assembly's title; two assemblies with one title get their number added.
    std::string folder = meta.titles[a].empty() ? "Assembly " + std::to_string(assembly) : meta.titles[a];
    for (std::size_t b = 0; b < meta.fields.size(); ++b)
      if (b != a && !meta.fields[b].empty() && meta.titles[b] == meta.titles[a]) {
        folder += " (" + std::to_string(assembly) + ")";
        break;
      }
    for (std::size_t i = 0; i < fields.size(); ++i) {
      DeviceMetric m;
      m.name = folder + "/" + fields[i];
      m.alias = device_alias(device, assembly, i);
      if (i < meta.info[a].size()) {
        const FieldInfo& f = meta.info[a][i];
        m.type = data_type(f.type);
        m.unit = f.unit;
        m.ratio = f.ratio;
      }
      if (auto it = deadbands.find(m.unit); it != deadbands.end()) m.deadband = it->second;
      t.metrics.push_back(std::move(m));
    }
  }
  return t;
}

void birth_properties(const DeviceTable& table, const DeviceMetric& m, std::vector<Property>& out) {
  out.clear();
  if (!m.unit.empty()) out.push_back({"engUnit", Value::string(m.unit)});
  const bool ct = m.ratio == FieldInfo::Ratio::ct || m.ratio == FieldInfo::Ratio::ct_pt;
  const bool pt = m.ratio == FieldInfo::Ratio::pt || m.ratio == FieldInfo::Ratio::ct_pt;
  if (ct && !table.ct.empty()) out.push_back({"ctRatio", Value::string(table.ct)});
  if (pt && !table.pt.empty()) out.push_back({"ptRatio", Value::string(table.pt)});
  if ((ct || pt) && !table.applied_by.empty()) out.push_back({"ratiosAppliedBy", Value::string(table.applied_by)});
}

}  // namespace pm500::sinks::sparkplug
