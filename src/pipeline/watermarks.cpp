#include "pipeline/watermarks.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "pipeline/crc32c.hpp"

namespace pm500 {
namespace {

constexpr char kMagic[8] = {'P', 'M', '5', 'W', 'M', 'K', '0', '1'};
constexpr std::size_t kEntrySize = 8 + 8 + 2;  // key, time, sequence

std::uint64_t key_of(const Sample& s) { return (std::uint64_t{s.device} << 16) | s.assembly; }

}  // namespace

std::string Watermarks::Gap::describe() const {
  const double seconds = static_cast<double>(first.time_ns - last.time_ns) / 1e9;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "device %u assembly %u: %.3f s between the last sample kept before the restart (sequence %u) and "
                "the first after it (sequence %u)",
                device, assembly, seconds, last.sequence, first.sequence);
  std::string s = buf;
  if (missing_sequences) s += "; at least " + std::to_string(missing_sequences) + " sequence counts missing";
  return s;
}

void Watermarks::load() {
  std::ifstream in(file_, std::ios::binary);
  if (!in) return;
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 16 || std::memcmp(data.data(), kMagic, 8) != 0) return;
  std::uint32_t count = 0, crc = 0;
  std::memcpy(&count, data.data() + 8, 4);
  std::memcpy(&crc, data.data() + 12, 4);
  if (data.size() != 16 + count * kEntrySize) return;
  if (crc32c(std::as_bytes(std::span<const char>(data.data() + 16, count * kEntrySize))) != crc) return;
  for (std::uint32_t i = 0; i < count; ++i) {
    const char* p = data.data() + 16 + i * kEntrySize;
    std::uint64_t key;
    Mark m;
    std::memcpy(&key, p, 8);
    std::memcpy(&m.time_ns, p + 8, 8);
    std::memcpy(&m.sequence, p + 16, 2);
    marks_[key] = Entry{m, false};
  }
}

std::optional<Watermarks::Gap> Watermarks::update(const Sample& s) {
  auto [it, inserted] = marks_.try_emplace(key_of(s));
  Entry& e = it->second;
  std::optional<Gap> gap;
  if (!inserted && !e.seen_this_run) {
    Gap g{s.device, s.assembly, e.mark, Mark{s.source_time_ns, s.sequence}, 0};
    const bool class1 = (s.flags & kSampleExplicit) == 0 && (e.mark.sequence != 0 || s.sequence != 0);
    if (class1) g.missing_sequences = static_cast<std::uint16_t>(s.sequence - e.mark.sequence - 1);
    // Directly following (the restart lost nothing of this device) is not a gap.
    if (!(class1 && g.missing_sequences == 0) && s.source_time_ns > e.mark.time_ns) gap = g;
  }
  e.seen_this_run = true;
  e.mark = Mark{s.source_time_ns, s.sequence};
  dirty_ = true;
  return gap;
}

pm500::expected<void, std::string> Watermarks::persist() {
  if (!dirty_) return {};
  std::vector<char> data(16 + marks_.size() * kEntrySize);
  std::memcpy(data.data(), kMagic, 8);
  const auto count = static_cast<std::uint32_t>(marks_.size());
  std::memcpy(data.data() + 8, &count, 4);
  char* p = data.data() + 16;
  for (const auto& [key, e] : marks_) {
    std::memcpy(p, &key, 8);
    std::memcpy(p + 8, &e.mark.time_ns, 8);
    std::memcpy(p + 16, &e.mark.sequence, 2);
    p += kEntrySize;
  }
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
