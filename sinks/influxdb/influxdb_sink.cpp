#include "sinks/influxdb/influxdb_sink.hpp"

#include <algorithm>
#include <ctime>

#include <spdlog/spdlog.h>

namespace pm500::sinks {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t to_ns(std::int64_t t, lp::Precision p) {
  switch (p) {
    case lp::Precision::ns:
      return t;
    case lp::Precision::us:
      return t * 1'000;
    case lp::Precision::ms:
      return t * 1'000'000;
    case lp::Precision::s:
      return t * 1'000'000'000;
  }
  return t;
}

}  // namespace

InfluxSink::InfluxSink(InfluxSinkConfig cfg, const Catalog& catalog, ConditionSink* conditions, std::string name)
    : cfg_(std::move(cfg)),
      catalog_(catalog),
      conditions_(conditions),
      name_(std::move(name)),
      ep_(influx_endpoint(cfg_)),
      http_(ep_.http),
      gzip_(1),
      readback_(cfg_, ep_.base_url, http_, ep_.auth_header),
      series_(static_cast<std::uint64_t>(cfg_.max_series)) {
  lp_.measurement = cfg_.measurement;
  lp_.precision = lp::parse_precision(cfg_.precision).value_or(lp::Precision::ns);
  lp_.sequence_field = cfg_.sequence_field;
  lp_.device_tag = cfg_.device_tag;
  if (auto t = parse_tags(cfg_.tags)) lp_.extra_tags = std::move(*t);
  encoder_ = lp::Encoder(lp_);

  write_headers_.push_back("Content-Type: text/plain; charset=utf-8");
  if (cfg_.gzip) write_headers_.push_back("Content-Encoding: gzip");
  if (!ep_.auth_header.empty()) write_headers_.push_back(ep_.auth_header);
  lines_.reserve(1 << 16);
  if (cfg_.insecure_skip_verify && cfg_.url.starts_with("https://"))
    spdlog::warn(
        "sinks.{}: insecure_skip_verify = true: the certificate of {} is NOT verified, so anyone on the path "
        "can read or alter what the gateway writes; set ca_file to the server's CA instead",
        name_, ep_.base_url);
}

InfluxSink::~InfluxSink() = default;

InfluxSink::Counters InfluxSink::counters() const {
  Counters c = n_;
  c.connections = http_.connections_opened();
  c.split_limit = split_limit_;
  return c;
}

void InfluxSink::raise(std::string_view id, const std::string& evidence) {
  if (std::find(active_.begin(), active_.end(), id) == active_.end()) active_.emplace_back(id);
  if (conditions_) conditions_->raise(id, name_, evidence);
}

void InfluxSink::clear(std::string_view id) {
  auto it = std::find(active_.begin(), active_.end(), id);
  if (it == active_.end()) return;  // never raised by us: nothing to clear
  active_.erase(it);
  if (conditions_) conditions_->clear(id, name_);
}

DeliveryResult InfluxSink::encode(std::span<const Sample> batch) {
  lines_.clear();
  any_encoded_ = false;
  for (const Sample& s : batch) {
    const DeviceMeta* meta = catalog_.device(s.device);
    if (!meta) {
      unknown_.name = "device-" + std::to_string(s.device);
      meta = &unknown_;
    }
    const std::size_t mark = lines_.size();
    if (auto r = encoder_.append(lines_, s, *meta); !r) {
      if (r.error() == lp::EncodeError::no_fields) {
        ++n_.skipped;
        continue;
      }
      // A name line protocol cannot carry is a configuration problem: the batch goes to the
      // dead-letter file instead of being written half.
      return DeliveryResult::reject(std::string("cannot encode as line protocol: ") +
                                        std::string(lp::to_string(r.error())) +
                                        "; rename the device, site, asset, field or tag",
                                    "device " + std::to_string(s.device) + " assembly " + std::to_string(s.assembly));
    }
    series_.observe(s.device, influx::series_key(std::string_view(lines_).substr(mark)));
    last_device_ = s.device;
    last_time_ns_ = to_ns(lp::timestamp(s.source_time_ns, lp_.precision), lp_.precision);
    any_encoded_ = true;
  }
  return DeliveryResult::ok();
}

DeliveryResult InfluxSink::write(std::span<const Sample> batch) {
  if (auto r = encode(batch); r.kind != DeliveryResult::Kind::ok) return r;
  if (lines_.empty()) return DeliveryResult::ok();
  std::string_view body = lines_;
  if (cfg_.gzip) {
    if (!gzip_.compress(lines_, gz_))
      return DeliveryResult::retry("gzip failed (zlib); set gzip = false if this repeats", "zlib");
    body = gz_;
  }
  ++n_.requests;
  n_.body_bytes += body.size();
  auto res = http_.request("POST", ep_.write_url, write_headers_, body);
  if (!res) return influx::classify_transport(res.error(), ep_.target);
  const long status = (*res)->status;
  if (status == 413 && batch.size() > 1) {
    // Too large for the server's max-body-size: deliver the halves ourselves, and remember the
    // size so the next batches are cut before they are refused.
    ++n_.splits;
    const std::size_t half = batch.size() / 2;
    split_limit_ = split_limit_ == 0 ? half : std::min(split_limit_, half);
    spdlog::info("sinks.{}: InfluxDB answered 413 (request too large) to {} points; sending at most {} per request",
                 name_, batch.size(), split_limit_);
    DeliveryResult a = write(batch.first(half));
    if (a.kind == DeliveryResult::Kind::retry) return a;
    DeliveryResult b = write(batch.subspan(half));
    if (b.kind != DeliveryResult::Kind::ok) return b;
    return a;
  }
  DeliveryResult r =
      influx::classify_http(influx::answer_of(**res),
                            ep_.target, static_cast<std::int64_t>(std::time(nullptr)));
  if (r.kind == DeliveryResult::Kind::ok)
    n_.points += static_cast<std::uint64_t>(std::count(lines_.begin(), lines_.end(), '\n'));
  return r;
}

void InfluxSink::report(const DeliveryResult& r) {
  if (r.kind == DeliveryResult::Kind::ok) {
    if (!write_error_evidence_.empty()) {
      write_error_evidence_.clear();
      clear(influx_condition::kWriteError);
    }
    return;
  }
  // Raised once per distinct evidence, not per attempt (the pipeline counts the retries).
  std::string ev = r.evidence + " -- " + r.reason;
  if (ev != write_error_evidence_) {
    write_error_evidence_ = ev;
    raise(influx_condition::kWriteError, ev);
  }
}

DeliveryResult InfluxSink::deliver(std::span<const Sample> batch) {
  DeliveryResult result;
  if (split_limit_ > 0 && batch.size() > split_limit_) {
    for (std::size_t i = 0; i < batch.size(); i += split_limit_) {
      DeliveryResult r = write(batch.subspan(i, std::min(split_limit_, batch.size() - i)));
      if (r.kind == DeliveryResult::Kind::retry) {
        result = std::move(r);
        break;
      }
      if (r.kind == DeliveryResult::Kind::reject) result = std::move(r);
    }
  } else {
    result = write(batch);
  }
  report(result);
  if (result.kind == DeliveryResult::Kind::ok) after_success(Clock::now());
  return result;
}

void InfluxSink::after_success(Clock::time_point now) {
  if (cfg_.readback_interval_s <= 0) return;
  if (!succeeded_once_ || now >= next_readback_) {
    succeeded_once_ = true;
    next_readback_ = now + std::chrono::seconds(cfg_.readback_interval_s);
    pending_checks_ = 0b111;
  }
  if (pending_checks_ & 0b100) {  // local: no request
    pending_checks_ &= ~0b100u;
    auto v = series_.verdict_and_reset();
    if (v.high)
      raise(influx_condition::kHighCardinality, v.evidence);
    else
      clear(influx_condition::kHighCardinality);
  }
  // At most one request per delivery: the delivery is delayed by one request timeout at most.
  if ((pending_checks_ & 0b001) && any_encoded_) {
    pending_checks_ &= ~0b001u;
    influx::PointKey key;
    const DeviceMeta* meta = catalog_.device(last_device_);
    const DeviceMeta& m = meta ? *meta : unknown_;
    key.time_ns = last_time_ns_;
    // The tags exactly as the encoder wrote them.
    std::vector<std::pair<std::string, std::string>> tags = lp_.extra_tags;
    tags.emplace_back("asset", m.asset);
    if (lp_.device_tag) tags.emplace_back("device", m.name);
    tags.emplace_back("site", m.site);
    std::sort(tags.begin(), tags.end());
    for (auto& t : tags)
      if (!t.second.empty()) key.tags.push_back(std::move(t));
    ++n_.readbacks;
    auto f = readback_.visible(key);
    if (f.state == influx::Finding::problem)
      raise(influx_condition::kEmptyPanels, f.evidence);
    else if (f.state == influx::Finding::fine)
      clear(influx_condition::kEmptyPanels);
    else
      spdlog::info("sinks.{}: read-back inconclusive: {}", name_, f.evidence);
    return;
  }
  if (pending_checks_ & 0b010) {
    pending_checks_ &= ~0b010u;
    ++n_.readbacks;
    auto f = readback_.retention();
    if (f.state == influx::Finding::problem)
      raise(influx_condition::kRetentionDisabled, f.evidence);
    else if (f.state == influx::Finding::fine)
      clear(influx_condition::kRetentionDisabled);
    else
      spdlog::info("sinks.{}: retention read-back inconclusive: {}", name_, f.evidence);
  }
}

}  // namespace pm500::sinks
