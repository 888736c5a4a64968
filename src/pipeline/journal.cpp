#include "pipeline/journal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "pipeline/layout.hpp"
#include "pm500/thread_name.hpp"

namespace pm500 {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kStageCapacity = 4096;  // samples per write(2) at most
constexpr std::string_view kSubject = "journal";
}  // namespace

pm500::expected<std::unique_ptr<Journal>, std::string> Journal::open(Options options) {
  std::unique_ptr<Journal> j(new Journal(std::move(options)));
  SpoolOptions so;
  so.dir = j->opt_.dir;
  so.max_bytes = j->opt_.max_bytes;
  so.fsync_interval = j->opt_.fsync_interval;
  so.layout = j->opt_.layout;
  so.disk = j->opt_.disk;
  auto sp = Spool::open(so);
  if (!sp) return pm500::unexpected("journal: " + sp.error());
  j->spool_ = std::move(*sp);
  j->base_ = j->spool_->next_index();
  j->load_custody();
  j->staged_.reserve(kStageCapacity);
  return j;
}

Journal::~Journal() { stop(); }

void Journal::load_custody() {
  std::ifstream in(opt_.dir / "custody");
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t tab = line.rfind('\t');
    if (tab == std::string::npos) continue;
    try {
      previous_custody_[line.substr(0, tab)] = std::stoull(line.substr(tab + 1));
    } catch (const std::exception&) {
      // A damaged line: that sink is re-fed from the oldest record (duplicates, never a loss).
    }
  }
}

pm500::expected<void, std::string> Journal::persist_custody(const std::map<std::string, std::uint64_t>& positions) {
  std::string text;
  for (const auto& [name, index] : positions) text += name + '\t' + std::to_string(index) + '\n';
  const fs::path file = opt_.dir / "custody";
  const fs::path tmp = opt_.dir / "custody.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return pm500::unexpected("cannot write " + tmp.string() + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0)
    return pm500::unexpected("cannot replace " + file.string() + ": " + std::strerror(errno));
  return {};
}

pm500::expected<std::uint64_t, std::string> Journal::recover_into(const std::string& sink, Spool& spool) {
  std::lock_guard lk(mu_);
  if (recovered_done_) return 0;  // a sink added by a reload: the previous run is settled
  // A sink the last run did not list starts at the oldest record still kept: duplicates at
  // worst, never a loss.
  auto it = previous_custody_.find(sink);
  std::uint64_t at = it != previous_custody_.end() ? it->second : 0;
  std::vector<Sample> buf(1024);
  std::uint64_t total = 0;
  std::string layout_text;
  std::uint64_t layout_loaded = ~0ull;
  while (at < base_) {
    auto r = spool_->read_at(at, buf);
    if (!r) return pm500::unexpected("journal: " + r.error());
    if (r->end <= at) break;
    at = r->end;
    if (r->count == 0) continue;
    if (r->layout != layout_loaded) {
      layout_loaded = r->layout;
      auto t = r->layout == 0 ? pm500::expected<std::string, std::string>(std::string()) : spool_->layout_text(r->layout);
      layout_text = t ? *t : std::string();
    }
    if (auto a = spool.append_as(std::span<const Sample>(buf.data(), r->count), r->layout, layout_text); !a)
      return pm500::unexpected("sink " + sink + ": cannot take back journaled samples: " + a.error());
    total += r->count;
  }
  if (auto s = spool.sync(); !s) return pm500::unexpected(s.error());
  recovered_.fetch_add(total, std::memory_order_relaxed);
  if (total > 0)
    spdlog::warn("sink {}: {} samples received before the last run ended abruptly were taken back from the journal",
                 sink, total);
  return total;
}

pm500::expected<void, std::string> Journal::recovered() {
  std::lock_guard lk(mu_);
  // Everything below base_ now lives in the sinks' spools (synced by recover_into).
  spool_->discard_before(base_);
  previous_custody_.clear();
  recovered_done_ = true;
  if (auto r = spool_->sync(); !r) return pm500::unexpected("journal: " + r.error());
  return {};
}

void Journal::stage(const Sample& s) noexcept {
  if (staged_.size() == kStageCapacity) commit();
  staged_.push_back(s);  // capacity reserved at open: no allocation
  ++staged_total_;
}

void Journal::commit() noexcept {
  if (staged_.empty()) return;
  pm500::expected<void, std::string> r;
  {
    std::lock_guard lk(mu_);
    r = spool_->append(staged_);
  }
  if (r) {
    journaled_.fetch_add(staged_.size(), std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    if (failing_) {
      failing_ = false;
      if (opt_.conditions) opt_.conditions->clear(condition::kSpoolError, kSubject);
    }
  } else {
    not_journaled_.fetch_add(staged_.size(), std::memory_order_relaxed);
    if (!failing_) {
      failing_ = true;
      // Once per failure, not per batch: the scanner thread must not log per datagram.
      spdlog::error("journal: {}; samples pass on to the sinks without the durability guarantee", r.error());
      if (opt_.conditions)
        opt_.conditions->raise(condition::kSpoolError, kSubject,
                               r.error() + "; received samples are not journaled (kill -9 can lose them)");
    }
  }
  staged_.clear();
  // Release: a sink that sees this number sees the samples in the ring too (pushed before).
  committed_.store(staged_total_, std::memory_order_release);
}

pm500::expected<void, std::string> Journal::set_layout(const std::string& layout) {
  std::lock_guard lk(mu_);
  if (auto r = spool_->set_layout(layout); !r) return pm500::unexpected("journal: " + r.error());
  return {};
}

void Journal::track(const std::string& sink, const std::atomic<std::uint64_t>* custody) {
  std::lock_guard lk(sinks_mu_);
  std::erase_if(sinks_, [&](const Tracked& t) { return t.name == sink; });
  sinks_.push_back({sink, custody, 0});
}

void Journal::park(const std::string& sink, std::uint64_t position) {
  std::lock_guard lk(sinks_mu_);
  std::erase_if(sinks_, [&](const Tracked& t) { return t.name == sink; });
  sinks_.push_back({sink, nullptr, position});
}

void Journal::untrack(const std::string& sink) {
  std::lock_guard lk(sinks_mu_);
  std::erase_if(sinks_, [&](const Tracked& t) { return t.name == sink; });
}

void Journal::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    name_this_thread("pm500-journal");
    std::unique_lock lk(wake_mu_);
    while (!stop_) {
      wake_.wait_for(lk, opt_.fsync_interval, [this] { return stop_; });
      if (stop_) break;
      lk.unlock();
      sync_round();
      lk.lock();
    }
  });
}

void Journal::sync_round() {
  // 1. Make what is written durable, without holding up the producer during fdatasync.
  int fd = -1;
  {
    std::lock_guard lk(mu_);
    fd = spool_->dup_active_fd();
  }
  if (fd >= 0) {
    ::fdatasync(fd);
    ::close(fd);
  }
  syncs_.fetch_add(1, std::memory_order_relaxed);
  // 2. Each sink's secured position, persisted; 3. what every sink holds is no longer needed.
  std::map<std::string, std::uint64_t> positions;
  std::uint64_t low = ~0ull;
  {
    std::lock_guard lk(sinks_mu_);
    if (sinks_.empty()) return;
    for (const Tracked& t : sinks_) {
      const std::uint64_t index = base_ + (t.custody ? t.custody->load(std::memory_order_acquire) : t.parked);
      positions[t.name] = index;
      low = std::min(low, index);
    }
  }
  if (auto r = persist_custody(positions); !r) {
    spdlog::warn("journal: {}", r.error());
    return;
  }
  std::lock_guard lk(mu_);
  spool_->discard_before(low);
  (void)spool_->sync();
}

void Journal::stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lk(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  commit();
  sync_round();
}

Journal::Stats Journal::stats() const {
  Stats s;
  s.journaled = journaled_.load(std::memory_order_relaxed);
  s.write_batches = batches_.load(std::memory_order_relaxed);
  s.not_journaled = not_journaled_.load(std::memory_order_relaxed);
  s.syncs = syncs_.load(std::memory_order_relaxed);
  s.recovered = recovered_.load(std::memory_order_relaxed);
  std::lock_guard lk(mu_);
  const SpoolStats ss = spool_->stats();
  s.backlog = ss.backlog;
  s.bytes = ss.bytes;
  return s;
}

}  // namespace pm500
