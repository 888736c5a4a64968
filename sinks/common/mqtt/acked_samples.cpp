#include "sinks/common/mqtt/acked_samples.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <string_view>

namespace pm500::mqttc {

// Byte equality: a retried sample is a copy of the one sent (ring slot or spool record, both
// memcpy), so equal bytes mean the same sample, and Sample has no padding to differ in.
bool AckedSamples::Key::operator==(const Key& o) const noexcept { return std::memcmp(&s, &o.s, sizeof s) == 0; }

std::size_t AckedSamples::Hash::operator()(const Key& k) const noexcept {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(&k.s), sizeof k.s));
}

std::size_t AckedSamples::match(std::span<const Sample> batch, std::vector<std::uint8_t>& skip) {
  skip.assign(batch.size(), 0);
  matched_ = 0;
  if (size_ == 0) return 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto it = counts_.find(Key{batch[i]});
    if (it == counts_.end()) continue;
    skip[i] = 1;
    ++matched_;
    --size_;
    if (--it->second == 0) counts_.erase(it);
  }
  return matched_;
}

void AckedSamples::remember(std::span<const Sample> batch, std::span<const std::uint8_t> acknowledged) {
  clear();
  const std::size_t n = std::min(batch.size(), acknowledged.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!acknowledged[i]) continue;
    ++counts_[Key{batch[i]}];
    ++size_;
  }
}

void AckedSamples::forget_matched() {
  // match() consumed what it used already; a batch that used nothing is past the failed one.
  if (matched_ == 0) clear();
  matched_ = 0;
}

void AckedSamples::clear() {
  counts_.clear();
  size_ = 0;
  matched_ = 0;
}

}  // namespace pm500::mqttc
