// ChunkedTable: entries at fixed indexes that never move, grown by one writer thread while
// other threads read the entries published so far, without a lock.
//
//   ChunkedTable<std::atomic<State*>> slots;
//   slots.grow(n + 1);                       // writer: index n becomes addressable
//   slots[n].store(p, std::memory_order_release);
//   ...
//   if (i < published) slots[i].load(std::memory_order_acquire);   // any thread
//
// Entries live in chunks of ChunkSize, allocated when first needed and freed with the table; a
// fixed array of chunk pointers finds them, so growing never moves an entry a reader holds. A
// reader may index i only after it learned of i through a release/acquire pair that follows
// the grow() that covered it (the writer publishes a count, the reader loads it).
// Why not a std::vector: growing it moves the entries under the readers' feet, and a vector
// sized once at start fixes how many entries the process can ever have. The capacity here
// (ChunkSize x Chunks, a million by default) costs Chunks pointers up front (8 KiB).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

namespace pm500 {

template <class T, std::size_t ChunkSize = 1024, std::size_t Chunks = 1024>
class ChunkedTable {
 public:
  static constexpr std::size_t capacity() { return ChunkSize * Chunks; }

  ChunkedTable() = default;
  ChunkedTable(const ChunkedTable&) = delete;
  ChunkedTable& operator=(const ChunkedTable&) = delete;
  ~ChunkedTable() {
    for (std::size_t k = 0; k < Chunks; ++k) delete[] chunks_[k].load(std::memory_order_relaxed);
  }

  // Writer only: makes indexes below n addressable. False (nothing changed) beyond capacity().
  bool grow(std::size_t n) {
    if (n > capacity()) return false;
    for (std::size_t k = 0; k * ChunkSize < n; ++k)
      if (!chunks_[k].load(std::memory_order_relaxed)) chunks_[k].store(new T[ChunkSize](), std::memory_order_release);
    return true;
  }

  // An index below what grow() covered (see above for readers).
  T& operator[](std::size_t i) { return chunks_[i / ChunkSize].load(std::memory_order_acquire)[i % ChunkSize]; }
  const T& operator[](std::size_t i) const {
    return chunks_[i / ChunkSize].load(std::memory_order_acquire)[i % ChunkSize];
  }

 private:
  std::unique_ptr<std::atomic<T*>[]> chunks_ = std::make_unique<std::atomic<T*>[]>(Chunks);
};

}  // namespace pm500
