#include "cip/conn_table.hpp"

namespace cip {

ConnTable::ConnTable(std::size_t max_entries) : max_entries_(max_entries) {
  std::size_t cap = 16;
  unsigned bits = 4;
  while (cap < 2 * max_entries) {
    cap *= 2;
    ++bits;
  }
  slots_.resize(cap);
  mask_ = cap - 1;
  shift_ = 64 - bits;
}

bool ConnTable::insert(std::uint32_t id, std::uint32_t addr, std::uint32_t value) {
  if (size_ >= max_entries_ || value == npos) return false;
  const std::uint64_t k = key(id, addr);
  std::size_t i = home(k);
  for (; slots_[i].value != npos; i = (i + 1) & mask_) {
    if (slots_[i].key == k) return false;
  }
  slots_[i] = {k, value};
  ++size_;
  return true;
}

bool ConnTable::erase(std::uint32_t id, std::uint32_t addr) {
  const std::uint64_t k = key(id, addr);
  std::size_t i = home(k);
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].value == npos) return false;
    if (slots_[i].key == k) break;
  }
  // Backward-shift deletion (Knuth, TAOCP vol. 3, 6.4, Algorithm R): move later entries of the
  // probe run into the hole unless that would put them before their home slot; no tombstones,
  // so lookups stay short however many connections come and go.
  std::size_t hole = i;
  for (std::size_t j = (hole + 1) & mask_; slots_[j].value != npos; j = (j + 1) & mask_) {
    const std::size_t h = home(slots_[j].key);
    // Is h cyclically outside (hole, j]? Then the entry may move into the hole.
    const bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
    if (movable) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --size_;
  return true;
}

}  // namespace cip
