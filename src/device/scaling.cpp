#include "device/scaling.hpp"

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
    for (std::size_t i = 0; i < elems.size() && i < kMaxSampleValues; ++i)
      factors_[a][i] = ratio_factor(elems[i].kind, s.ct, s.pt);
  }
}

double Scaler::factor(std::uint16_t assembly, std::size_t element) const {
  if (!active_ || assembly < kFirstAssembly || assembly > kLastAssembly || element >= kMaxSampleValues) return 1.0;
  return factors_[assembly - kFirstAssembly][element];
}

void Scaler::apply(pm500::Sample& s) const noexcept {
  if (!active_ || (s.flags & pm500::kSampleScaled) || s.assembly < kFirstAssembly || s.assembly > kLastAssembly) return;
  const auto& f = factors_[s.assembly - kFirstAssembly];
  const std::size_t n = s.count < kMaxSampleValues ? s.count : kMaxSampleValues;
  // In double: a float32 counter times CT x PT keeps every bit of the meter's value.
  for (std::size_t i = 0; i < n; ++i) s.values[i] *= f[i];
  s.flags = static_cast<std::uint16_t>(s.flags | pm500::kSampleScaled);
}

}  // namespace pm500::device
