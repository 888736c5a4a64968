// spool_fill: writes a sink's spool backlog directly, for measuring a gateway that restarts with
// a large backlog (bench/memory/run.sh) without waiting for meters to produce it.
//
//   spool_fill STATE_DIR/sinks/influxdb/spool MEGABYTES DEVICES
//
// Appends samples of devices 0..DEVICES-1 (assemblies 101, 102 and 107 in turn, with the
// profile's value counts), one second apart per device and ending now, through Spool::append in
// batches of 5,000 until the records reach MEGABYTES MiB, then syncs. No layout is recorded, so
// the gateway reads them as samples of its current configuration. Prints what it wrote.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pipeline/spool.hpp"

using namespace pm500;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: spool_fill SPOOL_DIR MEGABYTES DEVICES\n");
    return 64;
  }
  const std::uint64_t megabytes = std::strtoull(argv[2], nullptr, 10);
  const std::uint32_t devices = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10));
  if (megabytes == 0 || devices == 0) {
    std::fprintf(stderr, "spool_fill: MEGABYTES and DEVICES must be positive\n");
    return 64;
  }
  const std::uint64_t total = (megabytes << 20) / Spool::kRecordSize;
  auto spool = Spool::open({.dir = argv[1],
                            .max_bytes = (megabytes + 64) << 20,
                            .segment_bytes = 64ull << 20,
                            .fsync_interval = std::chrono::hours(1)});
  if (!spool) {
    std::fprintf(stderr, "spool_fill: %s\n", spool.error().c_str());
    return 1;
  }

  struct Assembly {
    std::uint16_t instance;
    std::uint8_t values;
  };
  constexpr Assembly kAssemblies[] = {{101, 12}, {102, 18}, {107, 18}};
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::uint64_t rounds = total / (devices * 3) + 1;  // one round: every device, every assembly
  std::int64_t t = now_ns - static_cast<std::int64_t>(rounds) * 1'000'000'000;

  std::vector<Sample> batch;
  batch.reserve(5000);
  std::uint64_t written = 0;
  std::uint32_t device = 0, assembly = 0;
  std::uint16_t sequence = 0;
  while (written < total) {
    batch.clear();
    while (batch.size() < batch.capacity() && written + batch.size() < total) {
      Sample s;
      s.source_time_ns = t;
      s.device = device;
      s.assembly = kAssemblies[assembly].instance;
      s.sequence = sequence;
      s.flags = kSampleScaled;
      s.count = kAssemblies[assembly].values;
      for (std::uint8_t i = 0; i < s.count; ++i) s.values[i] = 230.0 + 0.01 * static_cast<double>((written + i) % 997);
      batch.push_back(s);
      if (++assembly == 3) {
        assembly = 0;
        if (++device == devices) {
          device = 0;
          ++sequence;
          t += 1'000'000'000;
        }
      }
    }
    if (auto r = (*spool)->append(batch); !r) {
      std::fprintf(stderr, "spool_fill: %s\n", r.error().c_str());
      return 1;
    }
    written += batch.size();
  }
  if (auto r = (*spool)->sync(); !r) {
    std::fprintf(stderr, "spool_fill: %s\n", r.error().c_str());
    return 1;
  }
  const SpoolStats st = (*spool)->stats();
  std::printf("spool_fill: %llu samples, %.1f MiB in %llu segments\n", static_cast<unsigned long long>(st.backlog),
              static_cast<double>(st.bytes) / (1 << 20), static_cast<unsigned long long>(st.segments));
  return 0;
}
