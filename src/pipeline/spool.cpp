#include "pipeline/spool.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/crc32c.hpp"
#include "pipeline/layout.hpp"

namespace pm500 {
namespace fs = std::filesystem;

namespace {

constexpr char kSegmentMagic[8] = {'P', 'M', '5', 'S', 'P', 'O', 'O', 'L'};
constexpr char kAckMagic[8] = {'P', 'M', '5', 'A', 'C', 'K', '0', '1'};
// Format 1: magic | version | record size | first index | crc32c(bytes 0..24) at 24.
// Format 2 adds the layout id: ... | first index | layout id at 24 | crc32c(bytes 0..32) at 32.
constexpr std::uint32_t kFormatVersion = 2;
constexpr std::string_view kSegmentSuffix = ".seg";
constexpr std::string_view kLayoutFolder = "layouts";

bool is_no_space(int err) { return err == ENOSPC || err == EDQUOT; }

std::string hex16(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::string sys_error(std::string_view what, const fs::path& p, int err = errno) {
  return std::string(what) + " " + p.string() + ": " + std::strerror(err);
}

template <class T>
void put(std::byte* at, const T& v) { std::memcpy(at, &v, sizeof(T)); }
template <class T>
T get(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof(T));
  return v;
}

bool write_all(int fd, const std::byte* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads up to n bytes at off; returns bytes read (short only at end of file), -1 on error.
ssize_t pread_all(int fd, std::byte* p, std::size_t n, off_t off) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, p + got, n - got, off + static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

std::uint32_t record_crc(const std::byte* rec) {
  // Covers index and sample (bytes 8..184), so a record copied to the wrong place fails too.
  return crc32c(std::span<const std::byte>(rec + 8, Spool::kRecordSize - 8));
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Spool::Spool(SpoolOptions options) : opt_(std::move(options)) {
  if (opt_.segment_bytes == 0) {
    // Small enough that dropping the oldest segment (spool bound or full disk) gives up little:
    // at most an eighth of the bound, 8 MiB, or a thirty-second of the filesystem.
    std::uint64_t seg = std::clamp<std::uint64_t>(opt_.max_bytes / 8, 64u << 10, 8u << 20);
    if (opt_.disk && opt_.disk->snapshot().total_bytes > 0)
      seg = std::clamp<std::uint64_t>(opt_.disk->snapshot().total_bytes / 32, 64u << 10, seg);
    opt_.segment_bytes = seg;
  }
  // At least a few records per segment, and never more than half the bound, so dropping the
  // oldest segment always leaves room without emptying the spool.
  opt_.segment_bytes = std::max<std::uint64_t>(opt_.segment_bytes, kHeaderSize + 16 * kRecordSize);
  opt_.max_bytes = std::max<std::uint64_t>(opt_.max_bytes, 2 * opt_.segment_bytes);
}

Spool::~Spool() {
  (void)sync();
  close_active();
  if (read_fd_ >= 0) ::close(read_fd_);
}

pm500::expected<std::unique_ptr<Spool>, std::string> Spool::open(SpoolOptions options) {
  std::unique_ptr<Spool> sp(new Spool(std::move(options)));
  std::error_code ec;
  fs::create_directories(sp->opt_.dir, ec);
  if (ec) return pm500::unexpected("cannot create spool folder " + sp->opt_.dir.string() + ": " + ec.message());
  if (auto r = sp->write_layout(); !r) return pm500::unexpected(r.error());
  if (auto r = sp->scan(); !r) return pm500::unexpected(r.error());
  return sp;
}

fs::path Spool::segment_path(std::uint64_t first) const {
  char name[32];
  auto [end, ec] = std::to_chars(name, name + 20, first);
  (void)ec;
  std::string digits(name, end);
  return opt_.dir / (std::string(20 - digits.size(), '0') + digits + std::string(kSegmentSuffix));
}

pm500::expected<void, std::string> Spool::scan() {
  // The acknowledged offset: a missing or damaged file means "nothing acknowledged", which can
  // re-send but never lose.
  {
    int fd = ::open((opt_.dir / "acked").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::byte b[24];
      if (pread_all(fd, b, sizeof b, 0) == static_cast<ssize_t>(sizeof b) && std::memcmp(b, kAckMagic, 8) == 0 &&
          get<std::uint32_t>(b + 16) == crc32c(std::span<const std::byte>(b, 16)))
        ack_ = get<std::uint64_t>(b + 8);
      ::close(fd);
    }
  }
  persisted_ack_ = ack_;

  std::vector<std::pair<std::uint64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(opt_.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() != 20 + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) continue;
    std::uint64_t first = 0;
    auto [p, err] = std::from_chars(name.data(), name.data() + 20, first);
    if (err != std::errc() || p != name.data() + 20) continue;
    found.emplace_back(first, e.path());
  }
  if (ec) return pm500::unexpected("cannot list spool folder " + opt_.dir.string() + ": " + ec.message());
  std::sort(found.begin(), found.end());

  for (auto& [first, path] : found) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return pm500::unexpected(sys_error("cannot open spool segment", path));
    struct stat st{};
    ::fstat(fd, &st);
    std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    std::byte h[kHeaderSize]{};
    bool header_ok = pread_all(fd, h, kHeaderSize, 0) == static_cast<ssize_t>(kHeaderSize) &&
                     std::memcmp(h, kSegmentMagic, 8) == 0 && get<std::uint32_t>(h + 12) == kRecordSize &&
                     get<std::uint64_t>(h + 16) == first;
    std::uint64_t seg_layout = 0;
    if (header_ok && get<std::uint32_t>(h + 8) == 1) {
      header_ok = get<std::uint32_t>(h + 24) == crc32c(std::span<const std::byte>(h, 24));
    } else if (header_ok && get<std::uint32_t>(h + 8) == 2) {
      header_ok = get<std::uint32_t>(h + 32) == crc32c(std::span<const std::byte>(h, 32));
      seg_layout = get<std::uint64_t>(h + 24);
    } else {
      header_ok = false;
    }
    if (!header_ok) {
      // A segment whose header is gone (crash right after creating it, or another format):
      // its records cannot be trusted to be ours. Keep it aside for inspection, count them.
      std::uint64_t recs = size > kHeaderSize ? (size - kHeaderSize + kRecordSize - 1) / kRecordSize : 0;
      corrupt_.fetch_add(recs, std::memory_order_relaxed);
      ::close(fd);
      fs::rename(path, fs::path(path).concat(".unreadable"), ec);
      continue;
    }
    std::uint64_t body = size - kHeaderSize;
    std::uint64_t whole = body / kRecordSize;
    if (body % kRecordSize != 0) {
      // A torn last record: the process died inside write(2). Cut it off so the file is whole
      // records again, and count it.
      corrupt_.fetch_add(1, std::memory_order_relaxed);
      if (::ftruncate(fd, static_cast<off_t>(kHeaderSize + whole * kRecordSize)) != 0) {
        ::close(fd);
        return pm500::unexpected(sys_error("cannot truncate torn spool segment", path));
      }
    }
    ::close(fd);
    Segment s{first, first + whole, kHeaderSize + whole * kRecordSize, seg_layout, path};
    if (s.end <= ack_ || whole == 0) {  // wholly delivered (or empty): no longer needed
      fs::remove(path, ec);
      continue;
    }
    if (!segments_.empty() && segments_.back().end > s.first) {
      // Overlapping segments cannot come from this code; trust the older one up to the newer.
      segments_.back().end = s.first;
    }
    total_bytes_ += s.bytes;
    segments_.push_back(std::move(s));
  }
  write_ = segments_.empty() ? ack_ : std::max(ack_, segments_.back().end);
  read_ = segments_.empty() ? write_ : std::max(ack_, segments_.front().first);
  if (read_ > ack_) ack_ = read_;  // records below the first segment are gone for good
  last_sync_ = std::chrono::steady_clock::now();
  remove_unused_layouts();
  publish_gauges();
  return {};
}

pm500::expected<void, std::string> Spool::write_layout() {
  if (opt_.layout.empty()) return {};
  layout_id_ = layout::id_of(opt_.layout);
  return write_layout_file(layout_id_, opt_.layout);
}

pm500::expected<void, std::string> Spool::write_layout_file(std::uint64_t id, const std::string& text) {
  const fs::path dir = opt_.dir / kLayoutFolder;
  const fs::path file = dir / hex16(id);
  std::error_code ec;
  if (fs::exists(file, ec)) return {};
  fs::create_directories(dir, ec);
  if (ec) return pm500::unexpected("cannot create " + dir.string() + ": " + ec.message());
  const fs::path tmp = fs::path(file).concat(".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return pm500::unexpected(sys_error("cannot write", tmp));
  const bool ok = write_all(fd, reinterpret_cast<const std::byte*>(text.data()), text.size()) &&
                  ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) return pm500::unexpected(sys_error("cannot write", file));
  fsync_dir(dir);
  return {};
}

pm500::expected<void, std::string> Spool::set_layout(const std::string& text) {
  const std::uint64_t id = text.empty() ? 0 : layout::id_of(text);
  if (id == layout_id_) return {};
  if (id != 0)
    if (auto r = write_layout_file(id, text); !r) return r;
  close_active();  // the next append starts a segment under the new layout
  opt_.layout = text;
  layout_id_ = id;
  return {};
}

void Spool::remove_unused_layouts() {
  std::error_code ec;
  const fs::path dir = opt_.dir / kLayoutFolder;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    bool used = name == hex16(layout_id_);
    for (const Segment& seg : segments_) used = used || name == hex16(seg.layout);
    if (!used) fs::remove(e.path(), ec);
  }
}

pm500::expected<std::string, std::string> Spool::layout_text(std::uint64_t id) const {
  if (id == layout_id_) return opt_.layout;
  const fs::path file = opt_.dir / kLayoutFolder / hex16(id);
  std::ifstream in(file, std::ios::binary);
  if (!in) return pm500::unexpected("the layout file " + file.string() + " is missing");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (layout::id_of(text) != id) return pm500::unexpected("the layout file " + file.string() + " is damaged");
  return text;
}

pm500::expected<void, std::string> Spool::start_segment() {
  Segment s{write_, write_, kHeaderSize, layout_id_, segment_path(write_)};
  int fd = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return pm500::unexpected(sys_error("cannot create spool segment", s.path));
  std::byte h[kHeaderSize]{};
  std::memcpy(h, kSegmentMagic, 8);
  put<std::uint32_t>(h + 8, kFormatVersion);
  put<std::uint32_t>(h + 12, static_cast<std::uint32_t>(kRecordSize));
  put<std::uint64_t>(h + 16, s.first);
  put<std::uint64_t>(h + 24, s.layout);
  put<std::uint32_t>(h + 32, crc32c(std::span<const std::byte>(h, 32)));
  if (!write_all(fd, h, kHeaderSize)) {
    const int err = errno;
    ::close(fd);
    ::unlink(s.path.c_str());
    errno = err;
    return pm500::unexpected(sys_error("cannot write spool segment", s.path, err));
  }
  active_fd_ = fd;
  total_bytes_ += kHeaderSize;
  segments_.push_back(std::move(s));
  dir_dirty_ = true;
  data_dirty_ = true;
  return {};
}

void Spool::close_active() {
  if (active_fd_ < 0) return;
  if (data_dirty_) ::fdatasync(active_fd_);
  ::close(active_fd_);
  active_fd_ = -1;
}

void Spool::remove_segment_front() {
  const Segment& s = segments_.front();
  if (read_fd_ >= 0 && read_fd_first_ == s.first) {
    ::close(read_fd_);
    read_fd_ = -1;
  }
  if (active_fd_ >= 0 && segments_.size() == 1) close_active();
  ::unlink(s.path.c_str());
  total_bytes_ -= s.bytes;
  segments_.pop_front();
  dir_dirty_ = true;
}

void Spool::drop_oldest(bool for_disk) {
  const Segment& s = segments_.front();
  // Records already read are held by the caller and still get delivered: only unread ones are
  // lost, and each is counted exactly once.
  if (s.end > read_) {
    const std::uint64_t lost = s.end - std::max(read_, s.first);
    last_dropped_ += lost;
    (for_disk ? dropped_disk_ : dropped_full_).fetch_add(lost, std::memory_order_relaxed);
    if (for_disk && opt_.disk) opt_.disk->note_dropped(lost);
    read_ = s.end;
  }
  if (ack_ < s.end) ack_ = s.end;
  remove_segment_front();
}

pm500::expected<void, std::string> Spool::append(std::span<const Sample> samples) {
  last_dropped_ = 0;
  if (samples.empty()) return {};
  // A batch larger than the whole bound keeps its newest records (the oldest are dropped first).
  const std::uint64_t max_records = (opt_.max_bytes - opt_.segment_bytes) / kRecordSize;
  if (samples.size() > max_records) {
    const std::uint64_t cut = samples.size() - max_records;
    last_dropped_ += cut;
    dropped_full_.fetch_add(cut, std::memory_order_relaxed);
    samples = samples.subspan(cut);
  }
  const std::uint64_t need = samples.size() * kRecordSize;

  if (active_fd_ >= 0 && segments_.back().bytes + need > opt_.segment_bytes && segments_.back().end > segments_.back().first)
    close_active();
  while (!segments_.empty() && total_bytes_ + need + (active_fd_ < 0 ? kHeaderSize : 0) > opt_.max_bytes) {
    if (active_fd_ >= 0 && segments_.size() == 1) close_active();
    drop_oldest();
  }
  // The incoming batch is the newest of the spool but the oldest of what the sink still holds
  // (the ring is newer): once the spool has nothing left to give up, it is what goes.
  auto drop_batch = [&] {
    const std::uint64_t n = samples.size();
    last_dropped_ += n;
    dropped_disk_.fetch_add(n, std::memory_order_relaxed);
    if (opt_.disk) opt_.disk->note_dropped(n);
    publish_gauges();
  };
  if (opt_.disk)
    while (!opt_.disk->room_for(need + (active_fd_ < 0 ? kHeaderSize : 0))) {
      if (segments_.empty()) {
        drop_batch();
        return {};
      }
      if (active_fd_ >= 0 && segments_.size() == 1) close_active();
      drop_oldest(true);
    }
  for (;;) {
    auto r = write_batch(samples);
    if (r) return {};
    if (!is_no_space(errno)) return r;
    // Another writer filled the disk since the check: same rule, oldest first.
    if (opt_.disk) opt_.disk->note_no_space();
    if (segments_.empty()) {
      drop_batch();
      return {};
    }
    if (active_fd_ >= 0 && segments_.size() == 1) close_active();
    drop_oldest(true);
  }
}

pm500::expected<void, std::string> Spool::append_as(std::span<const Sample> samples, std::uint64_t layout_id,
                                                    const std::string& layout_text) {
  if (layout_id == layout_id_) return append(samples);
  if (layout_id != 0)
    if (auto r = write_layout_file(layout_id, layout_text); !r) return r;
  // A segment of their own, under their layout; the next plain append starts another.
  close_active();
  const std::uint64_t own = layout_id_;
  layout_id_ = layout_id;
  auto r = append(samples);
  close_active();
  layout_id_ = own;
  return r;
}

pm500::expected<Spool::ReadResult, std::string> Spool::read_at(std::uint64_t from, std::span<Sample> out) {
  const std::uint64_t own = read_;
  read_ = from;
  if (!segments_.empty() && read_ < segments_.front().first) read_ = segments_.front().first;
  auto r = read(out);
  read_ = own;
  publish_gauges();
  return r;
}

// One write(2) of whole records to the active segment (started when there is none). On failure
// nothing was appended and errno tells why.
pm500::expected<void, std::string> Spool::write_batch(std::span<const Sample> samples) {
  const std::uint64_t need = samples.size() * kRecordSize;
  if (active_fd_ < 0)
    if (auto r = start_segment(); !r) return r;
  write_buf_.resize(need);
  std::byte* p = write_buf_.data();
  std::uint64_t index = write_;
  for (const Sample& s : samples) {
    put<std::uint32_t>(p, kRecordMagic);
    put<std::uint64_t>(p + 8, index++);
    std::memcpy(p + 16, &s, sizeof(Sample));
    put<std::uint32_t>(p + 4, record_crc(p));
    p += kRecordSize;
  }
  Segment& seg = segments_.back();
  if (!write_all(active_fd_, write_buf_.data(), need)) {
    const int err = errno;
    // Leave whole records only: a half-written batch would read back as a corrupt record.
    if (::ftruncate(active_fd_, static_cast<off_t>(seg.bytes)) != 0) close_active();
    errno = err;
    return pm500::unexpected(sys_error("cannot append to spool segment", seg.path, err));
  }
  seg.bytes += need;
  seg.end = index;
  total_bytes_ += need;
  write_ = index;
  data_dirty_ = true;
  appended_.fetch_add(samples.size(), std::memory_order_relaxed);
  publish_gauges();
  return {};
}

pm500::expected<Spool::ReadResult, std::string> Spool::read(std::span<Sample> out) {
  ReadResult res;
  while (res.count < out.size() && read_ < write_) {
    // The segment holding read_ (segments are contiguous in index; a gap means lost files).
    auto it = std::find_if(segments_.begin(), segments_.end(), [&](const Segment& s) { return read_ < s.end; });
    if (it == segments_.end()) {
      read_ = write_;
      break;
    }
    if (read_ < it->first) {
      // A missing segment file between two others: those records are gone; count them.
      corrupt_.fetch_add(it->first - read_, std::memory_order_relaxed);
      read_ = it->first;
    }
    // One layout per read: the caller translates the whole result with one table.
    if (res.count > 0 && it->layout != res.layout) break;
    res.layout = it->layout;
    if (read_fd_ < 0 || read_fd_first_ != it->first) {
      if (read_fd_ >= 0) ::close(read_fd_);
      read_fd_ = ::open(it->path.c_str(), O_RDONLY | O_CLOEXEC);
      if (read_fd_ < 0) return pm500::unexpected(sys_error("cannot open spool segment", it->path));
      read_fd_first_ = it->first;
    }
    const std::uint64_t want = std::min<std::uint64_t>(out.size() - res.count, it->end - read_);
    const std::size_t bytes = static_cast<std::size_t>(want * kRecordSize);
    if (read_buf_.size() < bytes) read_buf_.resize(bytes);
    const off_t off = static_cast<off_t>(kHeaderSize + (read_ - it->first) * kRecordSize);
    const ssize_t got = pread_all(read_fd_, read_buf_.data(), bytes, off);
    if (got < 0) return pm500::unexpected(sys_error("cannot read spool segment", it->path));
    const std::uint64_t recs = static_cast<std::uint64_t>(got) / kRecordSize;
    for (std::uint64_t i = 0; i < recs; ++i) {
      const std::byte* r = read_buf_.data() + i * kRecordSize;
      const std::uint64_t index = read_ + i;
      if (get<std::uint32_t>(r) != kRecordMagic || get<std::uint64_t>(r + 8) != index ||
          get<std::uint32_t>(r + 4) != record_crc(r)) {
        corrupt_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      std::memcpy(&out[res.count++], r + 16, sizeof(Sample));
    }
    if (recs < want) {
      // The file is shorter than its index says (truncated behind our back): the rest is gone.
      corrupt_.fetch_add(it->end - (read_ + recs), std::memory_order_relaxed);
      read_ = it->end;
    } else {
      read_ += recs;
    }
  }
  res.end = read_;
  publish_gauges();
  return res;
}

void Spool::ack(std::uint64_t end) {
  end = std::min(end, read_);
  if (end <= ack_) return;
  acked_.fetch_add(end - ack_, std::memory_order_relaxed);
  ack_ = end;
  // Delete wholly acknowledged segments; the active one only when everything is acknowledged,
  // so a recovered spool shrinks back to nothing.
  while (!segments_.empty() && segments_.front().end <= ack_ &&
         (segments_.size() > 1 || active_fd_ < 0 || ack_ == write_))
    remove_segment_front();
  publish_gauges();
}

void Spool::discard_before(std::uint64_t index) {
  index = std::min(index, write_);
  if (index > read_) read_ = index;
  ack(index);
}

pm500::expected<void, std::string> Spool::persist_ack() {
  std::byte b[24]{};
  std::memcpy(b, kAckMagic, 8);
  put<std::uint64_t>(b + 8, ack_);
  put<std::uint32_t>(b + 16, crc32c(std::span<const std::byte>(b, 16)));
  const fs::path tmp = opt_.dir / "acked.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return pm500::unexpected(sys_error("cannot write", tmp));
  const bool ok = write_all(fd, b, sizeof b) && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), (opt_.dir / "acked").c_str()) != 0)
    return pm500::unexpected(sys_error("cannot replace", opt_.dir / "acked"));
  persisted_ack_ = ack_;
  dir_dirty_ = true;
  return {};
}

pm500::expected<void, std::string> Spool::sync_if_due(std::chrono::steady_clock::time_point now, bool force) {
  if (!force && now - last_sync_ < opt_.fsync_interval) return {};
  last_sync_ = now;
  pm500::expected<void, std::string> result;
  if (data_dirty_ && active_fd_ >= 0 && ::fdatasync(active_fd_) != 0)
    result = pm500::unexpected(sys_error("cannot fdatasync", segments_.back().path));
  data_dirty_ = false;
  if (persisted_ack_ != ack_)
    if (auto r = persist_ack(); !r && result) result = r;
  if (dir_dirty_) {
    fsync_dir(opt_.dir);  // makes new segment names, deletions and the rename durable
    dir_dirty_ = false;
  }
  return result;
}

int Spool::dup_active_fd() const noexcept { return active_fd_ >= 0 ? ::fcntl(active_fd_, F_DUPFD_CLOEXEC, 0) : -1; }

void Spool::publish_gauges() noexcept {
  backlog_.store(write_ - ack_, std::memory_order_relaxed);
  bytes_.store(total_bytes_, std::memory_order_relaxed);
  read_buf_bytes_.store(read_buf_.capacity(), std::memory_order_relaxed);
  segment_count_.store(segments_.size(), std::memory_order_relaxed);
}

SpoolStats Spool::stats() const noexcept {
  SpoolStats s;
  s.appended = appended_.load(std::memory_order_relaxed);
  s.acked = acked_.load(std::memory_order_relaxed);
  s.dropped_full = dropped_full_.load(std::memory_order_relaxed);
  s.dropped_disk = dropped_disk_.load(std::memory_order_relaxed);
  s.corrupt_skipped = corrupt_.load(std::memory_order_relaxed);
  s.backlog = backlog_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.read_buffer_bytes = read_buf_bytes_.load(std::memory_order_relaxed);
  s.segments = segment_count_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace pm500
