#include "pipeline/watermarks.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "pipeline/crc32c.hpp"

namespace pm500 {
namespace {

// Format 3: magic | u32 count | u32 crc32c(entries) | entries, each
//   u16 assembly | u16 name length | name | i64 time | u16 sequence | u32 T->O connection id.
// Format 2 is the same without the connection id, read as "not known". (Format 1 keyed by the
// device's index in the configuration; it is ignored: a restart after an upgrade reports no gap
// rather than a wrong one.)
constexpr char kMagic[8] = {'P', 'M', '5', 'W', 'M', 'K', '0', '3'};
constexpr char kMagicV2[8] = {'P', 'M', '5', 'W', 'M', 'K', '0', '2'};

template <class T>
void put(std::vector<char>& out, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

std::string Watermarks::key_of(const Sample& s) const {
  std::string key = std::to_string(s.assembly);
  key += '\t';
  if (const DeviceMeta* d = catalog_ ? catalog_->device(s.device) : nullptr) key += d->name;
  else key += "device " + std::to_string(s.device);
  return key;
}

Watermarks::Gap Watermarks::measure(std::string device, std::uint16_t assembly, Mark last, Mark first, bool class1,
                                    std::int64_t rpi_ms) {
  Gap g{std::move(device), assembly, last, first, 0, Gap::Basis::unknown, rpi_ms};
  // A new connection's count started over: comparing it with the old one's would count the
  // restart of the count as lost samples.
  g.new_connection = class1 && last.connection != 0 && first.connection != 0 && last.connection != first.connection;
  class1 = class1 && !g.new_connection;
  const double elapsed_ms = static_cast<double>(first.time_ns - last.time_ns) / 1e6;
  // Samples the time allows for: one per RPI, less the one that arrived.
  const double by_time = rpi_ms > 0 ? std::max(0.0, std::round(elapsed_ms / static_cast<double>(rpi_ms)) - 1.0) : -1;
  if (class1) {
    const std::uint64_t by_seq = static_cast<std::uint16_t>(first.sequence - last.sequence - 1);
    if (by_time < 0) {
      g.missing = by_seq;
      g.basis = Gap::Basis::sequence;
      return g;
    }
    // The sequence count wraps every 65,536 samples: take the count of wraps that fits the time
    // best, and trust it when it lands near the time's estimate (network jitter, a late packet).
    const double wraps = std::max(0.0, std::round((by_time - static_cast<double>(by_seq)) / 65536.0));
    const double best = static_cast<double>(by_seq) + wraps * 65536.0;
    if (std::fabs(best - by_time) <= std::max(3.0, by_time / 4.0)) {
      g.missing = static_cast<std::uint64_t>(best);
      g.basis = Gap::Basis::sequence;
      return g;
    }
  }
  if (by_time >= 0) {
    g.missing = static_cast<std::uint64_t>(by_time);
    g.basis = Gap::Basis::time;
  }
  return g;
}

std::string Watermarks::Gap::describe() const {
  const double seconds = static_cast<double>(first.time_ns - last.time_ns) / 1e9;
  char buf[160];
  std::snprintf(buf, sizeof buf, " assembly %u: %.3f s between the last sample kept before the restart", assembly,
                seconds);
  std::string s = "device " + device + buf + " (sequence " + std::to_string(last.sequence) +
                  ") and the first after it (sequence " + std::to_string(first.sequence) + ")";
  switch (basis) {
    case Basis::sequence: s += "; " + std::to_string(missing) + " samples missing (by sequence count)"; break;
    case Basis::time:
      s += "; about " + std::to_string(missing) + " samples missing (by time at RPI " + std::to_string(rpi_ms) +
           (new_connection ? " ms: a new connection, whose sequence count starts over, so the counts of the two "
                             "connections are not compared)"
                           : " ms: the meter's sequence count restarted or does not match the time)");
      break;
    case Basis::unknown: break;
  }
  return s;
}

void Watermarks::load() {
  std::ifstream in(file_, std::ios::binary);
  if (!in) return;
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 16) return;
  const bool v3 = std::memcmp(data.data(), kMagic, 8) == 0;
  if (!v3 && std::memcmp(data.data(), kMagicV2, 8) != 0) return;
  const std::size_t mark_size = v3 ? 14 : 10;
  std::uint32_t count = 0, crc = 0;
  std::memcpy(&count, data.data() + 8, 4);
  std::memcpy(&crc, data.data() + 12, 4);
  if (crc32c(std::as_bytes(std::span<const char>(data.data() + 16, data.size() - 16))) != crc) return;
  std::size_t at = 16;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint16_t assembly = 0, len = 0;
    if (at + 4 > data.size()) return;
    std::memcpy(&assembly, data.data() + at, 2);
    std::memcpy(&len, data.data() + at + 2, 2);
    at += 4;
    if (at + len + mark_size > data.size()) return;
    std::string key = std::to_string(assembly) + '\t' + std::string(data.data() + at, len);
    at += len;
    Mark m;
    std::memcpy(&m.time_ns, data.data() + at, 8);
    std::memcpy(&m.sequence, data.data() + at + 8, 2);
    if (v3) std::memcpy(&m.connection, data.data() + at + 10, 4);
    at += mark_size;
    marks_[std::move(key)] = Entry{m, true, false};
  }
}

Watermarks::Entry& Watermarks::entry(const Sample& s) {
  if (s.assembly < 100 || s.assembly > 108) return marks_[key_of(s)];
  const std::size_t i = std::size_t{s.device} * 9 + (s.assembly - 100u);
  if (i >= by_index_.size()) by_index_.resize(i + 1, nullptr);
  if (!by_index_[i]) by_index_[i] = &marks_[key_of(s)];  // node-based map: the address stays valid
  return *by_index_[i];
}

std::optional<Watermarks::Gap> Watermarks::update(const Sample& s) {
  // The further parts of a reading (an assembly of more than 18 elements) share part 0's time,
  // sequence and connection: the mark and the gap are part 0's, never counted again.
  if (s.part != 0) return std::nullopt;
  Entry& e = entry(s);
  std::optional<Gap> gap;
  if (e.previous_run && !e.seen_this_run && s.source_time_ns > e.mark.time_ns) {
    const DeviceMeta* d = catalog_ ? catalog_->device(s.device) : nullptr;
    const bool class1 = (s.flags & kSampleExplicit) == 0 && (e.mark.sequence != 0 || s.sequence != 0);
    Gap g = measure(d ? d->name : std::to_string(s.device), s.assembly, e.mark,
                    Mark{s.source_time_ns, s.sequence, s.connection}, class1, d ? d->rpi_ms.get() : 0);
    // Directly following (the restart lost nothing of this device) is not a gap.
    if (!(g.basis != Gap::Basis::unknown && g.missing == 0)) gap = std::move(g);
  }
  e.seen_this_run = true;
  e.mark = Mark{s.source_time_ns, s.sequence, s.connection};
  dirty_ = true;
  return gap;
}

pm500::expected<void, std::string> Watermarks::persist() {
  if (!dirty_) return {};
  std::vector<char> data(16);
  std::memcpy(data.data(), kMagic, 8);
  std::uint32_t count = 0;
  for (const auto& [key, e] : marks_) {
    const std::size_t tab = key.find('\t');
    const auto assembly = static_cast<std::uint16_t>(std::stoul(key.substr(0, tab)));
    const std::string_view name = std::string_view(key).substr(tab + 1, 0xffff);
    put(data, assembly);
    put(data, static_cast<std::uint16_t>(name.size()));
    data.insert(data.end(), name.begin(), name.end());
    put(data, e.mark.time_ns);
    put(data, e.mark.sequence);
    put(data, e.mark.connection);
    ++count;
  }
  std::memcpy(data.data() + 8, &count, 4);
  const std::uint32_t crc = crc32c(std::as_bytes(std::span<const char>(data.data() + 16, data.size() - 16)));
  std::memcpy(data.data() + 12, &crc, 4);
  const std::filesystem::path tmp = std::filesystem::path(file_).concat(".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return pm500::unexpected("cannot write " + tmp.string() + ": " + std::strerror(errno));
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file_.c_str()) != 0)
    return pm500::unexpected("cannot replace " + file_.string() + ": " + std::strerror(errno));
  dirty_ = false;
  return {};
}

}  // namespace pm500
