#include "device/scaling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pm500::device {

double ratio_factor(Quantity kind, const Ratio& ct, const Ratio& pt) {
  switch (ratio_use(kind)) {
    case RatioUse::pt:
      return pt.value();
    case RatioUse::ct:
      return ct.value();
    case RatioUse::ct_pt:
      return ct.value() * pt.value();
    case RatioUse::none:
      return 1.0;
  }
  return 1.0;
}

Scaler::Scaler(const Profile& p, const DeviceSettings& s) : active_(s.applied_by == AppliedBy::gateway) {
  for (std::size_t a = 0; a < kAssemblySlots; ++a) {
    for (const auto& e : p.assemblies[a].elements) {
      factors_[a].push_back(ratio_factor(e.kind, s.ct, s.pt));
      to_float_[a].push_back(float_after_scaling(e) ? 1 : 0);
    }
  }
}

double Scaler::factor(std::uint16_t assembly, std::size_t element) const {
  if (!active_ || assembly < kFirstAssembly || assembly > kLastAssembly) return 1.0;
  const auto& f = factors_[assembly - kFirstAssembly];
  return element < f.size() ? f[element] : 1.0;
}

void Scaler::apply(pm500::Sample& s) const noexcept {
  if (!active_ || (s.flags & pm500::kSampleScaled) || s.assembly < kFirstAssembly || s.assembly > kLastAssembly) return;
  const auto& f = factors_[s.assembly - kFirstAssembly];
  const auto& to_float = to_float_[s.assembly - kFirstAssembly];
  const std::size_t first = std::size_t{s.part} * kMaxSampleValues;
  const std::size_t n = std::min<std::size_t>({s.count, kMaxSampleValues, f.size() > first ? f.size() - first : 0});
  // In double: a float32 counter times CT x PT keeps every bit of the meter's value. A float32
  // measurement is rounded back to float (unless the product is beyond float's range).
  for (std::size_t i = 0; i < n; ++i) {
    const double v = s.values[i] * f[first + i];
    s.values[i] = to_float[first + i] && std::fabs(v) <= std::numeric_limits<float>::max() ? static_cast<float>(v) : v;
  }
  s.flags = static_cast<std::uint16_t>(s.flags | pm500::kSampleScaled);
}

}  // namespace pm500::device
