#include "device/scaling.hpp"

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
    factors_[a].fill(1.0);
    const auto& elems = p.assemblies[a].elements;
    for (std::size_t i = 0; i < elems.size() && i < kMaxSampleValues; ++i) {
      factors_[a][i] = ratio_factor(elems[i].kind, s.ct, s.pt);
      to_float_[a][i] = float_after_scaling(elems[i]);
    }
  }
}

double Scaler::factor(std::uint16_t assembly, std::size_t element) const {
  if (!active_ || assembly < kFirstAssembly || assembly > kLastAssembly || element >= kMaxSampleValues) return 1.0;
  return factors_[assembly - kFirstAssembly][element];
}

void Scaler::apply(pm500::Sample& s) const noexcept {
  if (!active_ || (s.flags & pm500::kSampleScaled) || s.assembly < kFirstAssembly || s.assembly > kLastAssembly) return;
  const auto& f = factors_[s.assembly - kFirstAssembly];
  const auto& to_float = to_float_[s.assembly - kFirstAssembly];
  const std::size_t n = s.count < kMaxSampleValues ? s.count : kMaxSampleValues;
  // In double: a float32 counter times CT x PT keeps every bit of the meter's value. A float32
  // measurement is rounded back to float (unless the product is beyond float's range).
  for (std::size_t i = 0; i < n; ++i) {
    const double v = s.values[i] * f[i];
    s.values[i] = to_float[i] && std::fabs(v) <= std::numeric_limits<float>::max() ? static_cast<float>(v) : v;
  }
  s.flags = static_cast<std::uint16_t>(s.flags | pm500::kSampleScaled);
}

}  // namespace pm500::device
