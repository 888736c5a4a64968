// Demultiplexing Class 1 datagrams: (T->O connection id, source IPv4 address) -> connection
// slot. Open addressing with linear probing and backward-shift deletion in a table sized once,
// at start, to at least twice the number of connections the scanner can open: a lookup is a
// multiply, a shift and (almost always) one probe; nothing allocates afterwards.
//
// Why the source address is part of the key: a point-to-point T->O id is chosen by the scanner
// and unique, but a multicast T->O id is chosen by the target (CIP Vol 1, chapter 3, Forward_Open
// "T->O Network Connection ID"), and two meters may well pick the same number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cip {

class ConnTable {
 public:
  static constexpr std::uint32_t npos = UINT32_MAX;

  // Room for at least `max_entries` entries at a load factor of at most one half.
  explicit ConnTable(std::size_t max_entries);

  // false when the key is present already or the table holds max_entries.
  bool insert(std::uint32_t id, std::uint32_t addr, std::uint32_t value);
  // The value, or npos.
  std::uint32_t find(std::uint32_t id, std::uint32_t addr) const {
    const std::uint64_t k = key(id, addr);
    for (std::size_t i = home(k);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.value == npos) return npos;
      if (s.key == k) return s.value;
    }
  }
  bool erase(std::uint32_t id, std::uint32_t addr);
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }
  std::size_t max_entries() const { return max_entries_; }

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t value = npos;  // npos marks an empty slot
  };
  static std::uint64_t key(std::uint32_t id, std::uint32_t addr) {
    return (static_cast<std::uint64_t>(addr) << 32) | id;
  }
  // Fibonacci hashing (Knuth, TAOCP vol. 3, 6.4): the top bits of key x 2^64/phi.
  std::size_t home(std::uint64_t k) const { return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
  std::size_t max_entries_ = 0;
};

}  // namespace cip
