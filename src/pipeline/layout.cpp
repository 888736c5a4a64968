#include "pipeline/layout.hpp"

#include <charconv>
#include <unordered_map>

namespace pm500::layout {
namespace {

constexpr std::string_view kHeader = "pm500-layout 1\n";

// Splits off the text up to `sep` (exclusive) and advances past it.
std::string_view take(std::string_view& s, char sep) {
  const std::size_t at = s.find(sep);
  std::string_view head = s.substr(0, at);
  s.remove_prefix(at == std::string_view::npos ? s.size() : at + 1);
  return head;
}

}  // namespace

std::string encode(const Catalog& catalog) {
  std::string s(kHeader);
  for (const DeviceMeta& d : catalog.devices) {
    s += "device\t";
    s += d.name;
    s += '\n';
    if (!d.asset.empty()) {
      s += "asset\t";
      s += d.asset;
      s += '\n';
    }
    for (std::size_t a = 0; a < d.fields.size(); ++a) {
      if (d.fields[a].empty()) continue;
      s += "assembly\t";
      s += std::to_string(100 + a);
      s += '\t';
      for (std::size_t i = 0; i < d.fields[a].size(); ++i) {
        if (i) s += ',';
        s += d.fields[a][i];
      }
      s += '\n';
    }
  }
  return s;
}

std::uint64_t id_of(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h == 0 ? 1 : h;
}

std::optional<Catalog> decode(std::string_view text) {
  if (!text.starts_with(kHeader)) return std::nullopt;
  text.remove_prefix(kHeader.size());
  Catalog c;
  while (!text.empty()) {
    std::string_view line = take(text, '\n');
    if (line.empty()) continue;
    const std::string_view kind = take(line, '\t');
    if (kind == "device") {
      DeviceMeta d;
      d.name = std::string(line);
      c.devices.push_back(std::move(d));
    } else if (kind == "asset") {
      if (c.devices.empty()) return std::nullopt;
      c.devices.back().asset = std::string(line);
    } else if (kind == "assembly") {
      if (c.devices.empty()) return std::nullopt;
      const std::string_view num = take(line, '\t');
      unsigned instance = 0;
      auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), instance);
      if (ec != std::errc() || p != num.data() + num.size() || instance < 100 || instance > 108) return std::nullopt;
      std::vector<std::string> fields;
      while (!line.empty()) fields.emplace_back(take(line, ','));
      c.devices.back().fields[instance - 100] = std::move(fields);
    } else {
      return std::nullopt;
    }
  }
  return c;
}

Translation::Translation(const Catalog& from, const Catalog& to) : from_(from), entries_(from.devices.size()) {
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_name;  // oldest entry first
  for (std::size_t i = 0; i < to.devices.size(); ++i) by_name[to.devices[i].name].push_back(i);
  for (std::size_t i = 0; i < from_.devices.size(); ++i) {
    const DeviceMeta& f = from_.devices[i];
    auto it = by_name.find(f.name);
    if (it == by_name.end()) continue;
    // The entry that names the sample exactly as when it was taken: same fields and, when the
    // layout recorded it, the same asset. A reload that changes a device's profile or asset
    // appends an entry, so the very index is that entry within one process; later processes
    // find it by name. Else the newest entry of the name (the configuration's), assembly by
    // assembly.
    auto identical = [&](std::size_t t) {
      const DeviceMeta& d = to.devices[t];
      return d.name == f.name && (f.asset.empty() || d.asset == f.asset) && d.fields == f.fields;
    };
    std::size_t target = it->second.back();
    if (i < to.devices.size() && identical(i)) {
      target = i;
    } else {
      for (auto t = it->second.rbegin(); t != it->second.rend(); ++t)
        if (identical(*t)) {
          target = *t;
          break;
        }
    }
    Entry& e = entries_[i];
    e.to = static_cast<std::int64_t>(target);
    for (std::size_t a = 0; a < e.same_fields.size(); ++a) e.same_fields[a] = f.fields[a] == to.devices[target].fields[a];
  }
}

std::optional<std::string> Translation::map(Sample& s) const {
  if (s.device >= entries_.size())
    return "device index " + std::to_string(s.device) + " is not in the layout the sample was spooled under";
  const Entry& e = entries_[s.device];
  const std::string& name = from_.devices[s.device].name;
  if (e.to < 0) return "device \"" + name + "\" is no longer configured";
  if (s.assembly < 100 || s.assembly > 108 || !e.same_fields[s.assembly - 100])
    return "the fields of device \"" + name + "\" assembly " + std::to_string(s.assembly) +
           " changed since the sample was spooled (profile or assemblies changed)";
  s.device = static_cast<std::uint32_t>(e.to);
  return std::nullopt;
}

}  // namespace pm500::layout
