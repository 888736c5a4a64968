// Raises a condition once per distinct evidence and clears it once, so a sink that fails every
// retry does not repeat the same report (Node-RED's influx node floods its log that way).
// Used from one delivery thread; the ConditionSink itself is thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "pipeline/conditions.hpp"

namespace pm500::sinks {

class ConditionLatch {
 public:
  ConditionLatch(ConditionSink* sink, std::string id, std::string subject)
      : sink_(sink), id_(std::move(id)), subject_(std::move(subject)) {}

  void raise(std::string_view evidence) {
    std::lock_guard lk(mu_);
    if (raised_ && evidence == evidence_) return;
    raised_ = true;
    evidence_ = std::string(evidence);
    if (sink_) sink_->raise(id_, subject_, evidence_);
  }
  void clear() {
    std::lock_guard lk(mu_);
    if (!raised_) return;
    raised_ = false;
    evidence_.clear();
    if (sink_) sink_->clear(id_, subject_);
  }
  bool raised() const {
    std::lock_guard lk(mu_);
    return raised_;
  }

 private:
  ConditionSink* sink_;
  std::string id_, subject_;
  mutable std::mutex mu_;  // paho's callback thread may raise too (AWS IoT rule errors)
  bool raised_ = false;
  std::string evidence_;
};

}  // namespace pm500::sinks
