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

std::span<const Sample> RetryFilter::start(std::span<const Sample> batch, bool track) {
  batch_ = batch;
  track_ = track;
  skipped_ = 0;
  if (!track_ || acked_.empty()) return batch;
  skipped_ = acked_.match(batch, skip_);
  if (skipped_ == 0) return batch;
  todo_.clear();
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (!skip_[i]) todo_.push_back(batch[i]);
  return todo_;
}

void RetryFilter::failed(std::span<const std::uint8_t> todo_acked) {
  if (!track_) return;
  bool any_now = false;
  for (auto a : todo_acked) any_now = any_now || a != 0;
  if (skipped_ == 0 && !any_now) {
    acked_.clear();
    return;
  }
  if (skipped_ == 0) skip_.assign(batch_.size(), 0);  // match() did not run or marked nothing
  if (any_now)
    for (std::size_t i = 0, j = 0; i < batch_.size(); ++i) {
      if (skip_[i]) continue;
      if (j < todo_acked.size() && todo_acked[j]) skip_[i] = 1;
      ++j;
    }
  acked_.remember(batch_, skip_);
}

void RetryFilter::finished() {
  if (track_) acked_.forget_matched();
}

}  // namespace pm500::mqttc
