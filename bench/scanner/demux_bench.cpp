// What the scanner does per Class 1 datagram, minus the syscall: decode_io (0x8002 + 0x00B1),
// the (connection id, source address) lookup, and the sequence-count check. ConnTable (the
// scanner's flat open-addressing table) against std::unordered_map as the baseline, with
// 10 / 1 000 / 10 000 open connections and datagrams arriving in a shuffled order.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <unordered_map>
#include <vector>

#include "cip/conn_table.hpp"
#include "cip/io.hpp"

namespace {

struct Workload {
  std::vector<std::array<std::uint8_t, 128>> datagrams;  // 48-byte assembly + 20 bytes of CPF
  std::vector<std::size_t> sizes;
  std::vector<std::uint32_t> sources;
  std::vector<std::uint32_t> ids;
};

Workload make(std::size_t conns) {
  Workload w;
  std::mt19937 rng(1);
  for (std::size_t i = 0; i < conns; ++i) {
    w.ids.push_back(static_cast<std::uint32_t>(rng()));
    w.sources.push_back(0x7F000000u + static_cast<std::uint32_t>(i / 9 + 1));  // 9 assemblies per meter
  }
  const std::size_t n = std::max<std::size_t>(conns, 4096);
  std::array<std::uint8_t, 48> data{};
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t c = rng() % conns;
    cip::IoPacket p{.connection_id = w.ids[c], .encap_sequence = static_cast<std::uint32_t>(k + 1),
                    .cip_sequence = static_cast<std::uint16_t>(k + 1), .data = data};
    std::array<std::uint8_t, 128> buf{};
    cip::Writer wr(buf);
    cip::encode(wr, p);
    if (!wr.ok()) std::abort();
    w.datagrams.push_back(buf);
    w.sizes.push_back(wr.size());
    const std::uint32_t src = w.sources[c];
    w.sources.push_back(src);  // source of datagram k at index conns + k
  }
  return w;
}

struct Conn {
  std::uint16_t last_seq = 0;
  std::uint64_t delivered = 0;
};

void BM_demux_conn_table(benchmark::State& state) {
  const auto conns = static_cast<std::size_t>(state.range(0));
  Workload w = make(conns);
  cip::ConnTable table(conns);
  std::vector<Conn> slots(conns);
  for (std::size_t i = 0; i < conns; ++i) table.insert(w.ids[i], w.sources[i], static_cast<std::uint32_t>(i));
  std::size_t k = 0;
  for (auto _ : state) {
    const auto io = cip::decode_io(cip::bytes_view(w.datagrams[k].data(), w.sizes[k]), false);
    const std::uint32_t slot = table.find(io->connection_id, w.sources[conns + k]);
    Conn& c = slots[slot];
    if (cip::seq_newer(io->cip_sequence, c.last_seq)) {
      c.last_seq = io->cip_sequence;
      c.delivered += io->data.size();
    }
    benchmark::DoNotOptimize(c);
    if (++k == w.datagrams.size()) k = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_demux_unordered_map(benchmark::State& state) {
  const auto conns = static_cast<std::size_t>(state.range(0));
  Workload w = make(conns);
  std::unordered_map<std::uint64_t, std::uint32_t> table;
  table.reserve(conns);
  std::vector<Conn> slots(conns);
  for (std::size_t i = 0; i < conns; ++i) {
    table.emplace((std::uint64_t{w.sources[i]} << 32) | w.ids[i], static_cast<std::uint32_t>(i));
  }
  std::size_t k = 0;
  for (auto _ : state) {
    const auto io = cip::decode_io(cip::bytes_view(w.datagrams[k].data(), w.sizes[k]), false);
    const auto it = table.find((std::uint64_t{w.sources[conns + k]} << 32) | io->connection_id);
    Conn& c = slots[it->second];
    if (cip::seq_newer(io->cip_sequence, c.last_seq)) {
      c.last_seq = io->cip_sequence;
      c.delivered += io->data.size();
    }
    benchmark::DoNotOptimize(c);
    if (++k == w.datagrams.size()) k = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_decode_only(benchmark::State& state) {
  Workload w = make(16);
  std::size_t k = 0;
  for (auto _ : state) {
    auto io = cip::decode_io(cip::bytes_view(w.datagrams[k].data(), w.sizes[k]), false);
    benchmark::DoNotOptimize(io);
    if (++k == w.datagrams.size()) k = 0;
  }
}

}  // namespace

BENCHMARK(BM_decode_only);
BENCHMARK(BM_demux_conn_table)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_demux_unordered_map)->Arg(10)->Arg(1000)->Arg(10000);
