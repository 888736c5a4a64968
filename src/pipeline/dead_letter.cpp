#include "pipeline/dead_letter.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pm500/json_text.hpp"

namespace pm500 {

void append_raw_sample_json(std::string& out, const Sample& s, const DeviceMeta* device) {
  out += '{';
  if (device) {
    out += "\"device\":";
    json::append_string(out, device->name);
    out += ',';
  }
  out += "\"device_index\":";
  json::append_integer(out, s.device);
  out += ",\"assembly\":";
  json::append_integer(out, s.assembly);
  if (s.part > 0) {  // values[i] is element 18 x part + i
    out += ",\"part\":";
    json::append_integer(out, s.part);
  }
  out += ",\"sequence\":";
  json::append_integer(out, s.sequence);
  out += ",\"flags\":";
  json::append_integer(out, s.flags);
  out += ",\"source_time_ns\":";
  json::append_integer(out, s.source_time_ns);
  out += ",\"values\":[";
  for (std::size_t i = 0; i < s.count && i < kMaxSampleValues; ++i) {
    if (i) out += ',';
    json::append_number(out, s.values[i]);
  }
  out += "]}";
}

DeadLetterFile::DeadLetterFile(std::filesystem::path file, std::string sink, SampleJsonEncoder encoder,
                               const Catalog* names, std::uint64_t max_bytes)
    : file_(std::move(file)),
      sink_(std::move(sink)),
      encoder_(encoder ? std::move(encoder) : SampleJsonEncoder(append_raw_sample_json)),
      names_(names),
      max_bytes_(max_bytes) {}

pm500::expected<void, std::string> DeadLetterFile::write(std::span<const Sample> samples, std::string_view reason,
                                                         std::string_view evidence, const Catalog* names) {
  if (!names) names = names_;
  buf_.clear();
  for (const Sample& s : samples) {
    buf_ += "{\"sink\":";
    json::append_string(buf_, sink_);
    buf_ += ",\"reason\":";
    json::append_string(buf_, reason);
    buf_ += ",\"evidence\":";
    json::append_string(buf_, evidence);
    buf_ += ",\"sample\":";
    encoder_(buf_, s, names ? names->device(s.device) : nullptr);
    buf_ += "}\n";
  }
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  struct stat st{};
  if (::stat(file_.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) + buf_.size() > max_bytes_)
    std::filesystem::rename(file_, std::filesystem::path(file_).concat(".1"), ec);
  int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return pm500::unexpected("cannot open " + file_.string() + ": " + std::strerror(errno));
  const char* p = buf_.data();
  std::size_t n = buf_.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      const int err = errno;
      ::close(fd);
      return pm500::unexpected("cannot write " + file_.string() + ": " + std::strerror(err));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  ::fdatasync(fd);
  ::close(fd);
  return {};
}

}  // namespace pm500
