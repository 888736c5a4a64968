#include "sinks/file/file_sink.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "sinks/common/json_sample.hpp"

namespace pm500::sinks {
namespace fs = std::filesystem;

FileSink::FileSink(FileSinkConfig cfg, const Catalog& catalog, fs::path path)
    : cfg_(std::move(cfg)),
      catalog_(catalog),
      path_(std::move(path)),
      json_(cfg_.format == "json"),
      max_bytes_(static_cast<std::uint64_t>(cfg_.max_mb) << 20) {
  lp_.measurement = cfg_.measurement;
  lp_.precision = lp::parse_precision(cfg_.precision).value_or(lp::Precision::ns);
  lp_.sequence_field = cfg_.sequence_field;
  lp_encoder_ = lp::Encoder(lp_);
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

DeliveryResult FileSink::io_error(std::string_view what, int err) {
  std::string reason = std::string(what) + " " + path_.string() + ": " + std::strerror(err);
  if (err == ENOSPC) reason += "; free disk space or lower max_mb / max_files";
  if (err == EACCES || err == EROFS) reason += "; check the path and the gateway user's permissions";
  return DeliveryResult::retry(std::move(reason), std::string("errno ") + std::to_string(err));
}

DeliveryResult FileSink::open_file() {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return io_error("cannot open", errno);
  struct stat st{};
  ::fstat(fd_, &st);
  size_ = static_cast<std::uint64_t>(st.st_size);
  return DeliveryResult::ok();
}

DeliveryResult FileSink::rotate() {
  ::close(fd_);
  fd_ = -1;
  // path.N is the oldest; shift everything up by one and start a new path.
  auto numbered = [&](std::int64_t i) { return fs::path(path_).concat("." + std::to_string(i)); };
  std::error_code ec;
  fs::remove(numbered(cfg_.max_files), ec);
  for (std::int64_t i = cfg_.max_files - 1; i >= 1; --i)
    if (fs::exists(numbered(i), ec)) fs::rename(numbered(i), numbered(i + 1), ec);
  fs::rename(path_, numbered(1), ec);
  if (ec) return io_error("cannot rotate", ec.value());
  return open_file();
}

bool FileSink::remove_oldest_rotated() {
  std::error_code ec;
  for (std::int64_t i = cfg_.max_files; i >= 1; --i) {
    const fs::path f = fs::path(path_).concat("." + std::to_string(i));
    if (!fs::exists(f, ec)) continue;
    const auto bytes = fs::file_size(f, ec);
    if (!fs::remove(f, ec)) return false;
    spdlog::warn("sink file: the disk is full: removed the oldest rotated file {} ({} bytes) to keep writing {}",
                 f.string(), bytes, path_.string());
    ++rotated_removed_;
    return true;
  }
  return false;
}

DeliveryResult FileSink::deliver(std::span<const Sample> batch) {
  buf_.clear();
  for (const Sample& s : batch) {
    const DeviceMeta* meta = catalog_.device(s.device);
    if (json_) {
      json_encoder_.append_sample(buf_, s, meta);
      buf_ += '\n';
      continue;
    }
    if (!meta) {
      unknown_.name = "device-" + std::to_string(s.device);
      meta = &unknown_;
    }
    if (auto r = lp_encoder_.append(buf_, s, *meta); !r) {
      if (r.error() == lp::EncodeError::no_fields) {
        ++skipped_;
        continue;
      }
      // A name that line protocol cannot carry is a configuration problem; the batch goes to
      // the dead-letter file rather than being written half.
      return DeliveryResult::reject(std::string("cannot encode as line protocol: ") + std::string(lp::to_string(r.error())) +
                                        "; rename the device, site, asset or field",
                                    "device " + std::to_string(s.device) + " assembly " + std::to_string(s.assembly));
    }
  }
  if (buf_.empty()) return DeliveryResult::ok();
  if (fd_ < 0)
    if (auto r = open_file(); r.kind != DeliveryResult::Kind::ok) return r;
  if (size_ > 0 && size_ + buf_.size() > max_bytes_)
    if (auto r = rotate(); r.kind != DeliveryResult::Kind::ok) return r;
  const char* p = buf_.data();
  std::size_t left = buf_.size();
  bool made_room = false;
  while (left > 0) {
    ssize_t w = ::write(fd_, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      const int err = errno;
      // Never leave half a batch: the retry writes all of it again.
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        ::close(fd_);
        fd_ = -1;
        return io_error("cannot write", err);
      }
      // A full disk: the oldest rotated file gives way to new samples, once per batch (the
      // archive keeps the newest data, as the spools do).
      if ((err == ENOSPC || err == EDQUOT) && !made_room && remove_oldest_rotated()) {
        made_room = true;
        p = buf_.data();
        left = buf_.size();
        continue;
      }
      return io_error("cannot write", err);
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (cfg_.fsync && ::fdatasync(fd_) != 0) {
    const int err = errno;
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    return io_error("cannot fdatasync", err);
  }
  size_ += buf_.size();
  return DeliveryResult::ok();
}

DeliveryResult FileSink::flush() {
  if (fd_ >= 0 && ::fdatasync(fd_) != 0) return io_error("cannot fdatasync", errno);
  return DeliveryResult::ok();
}

}  // namespace pm500::sinks
