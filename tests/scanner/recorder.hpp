// A ScannerEvents that records everything for the integration tests, with waits on it.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cip/scanner.hpp"
#include "support/support.hpp"

namespace scanner_test {

struct Stream {
  std::uint64_t count = 0;
  std::uint64_t explicit_count = 0;
  std::size_t last_size = 0;
  std::vector<std::uint16_t> sequences;  // first 4096
  std::int64_t first_ns = 0, last_ns = 0;
  bool in_order = true;                  // every sequence newer than the one before
};

class Recorder : public cip::ScannerEvents {
 public:
  void on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data, std::int64_t recv_ns,
               std::uint16_t seq, bool explicit_read) noexcept override {
    std::lock_guard lock(mu_);
    Stream& s = streams_[{device, assembly}];
    if (s.count > 0 && !explicit_read && static_cast<std::int16_t>(static_cast<std::uint16_t>(seq - s.sequences.back())) <= 0) {
      s.in_order = false;
    }
    ++s.count;
    if (explicit_read) ++s.explicit_count;
    s.last_size = data.size();
    if (s.sequences.size() < 4096) s.sequences.push_back(seq);
    if (s.first_ns == 0) s.first_ns = recv_ns;
    s.last_ns = recv_ns;
  }
  void on_state(std::uint32_t device, const cip::DeviceStatus& st) override {
    std::lock_guard lock(mu_);
    states_[device].push_back(st);
  }
  void on_fault(std::uint32_t device, const cip::Fault& f) override {
    std::lock_guard lock(mu_);
    faults_[device].push_back(f);
  }
  void on_fault_cleared(std::uint32_t device, cip::Fault::Kind k) override {
    std::lock_guard lock(mu_);
    cleared_[device].push_back(k);
  }
  void on_identity(std::uint32_t device, const cip::Identity& id) override {
    std::lock_guard lock(mu_);
    identity_[device] = id;
  }
  void on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes) override {
    std::lock_guard lock(mu_);
    sizes_[{device, assembly}] = bytes;
  }

  Stream stream(std::uint32_t d, std::uint16_t a) {
    std::lock_guard lock(mu_);
    auto it = streams_.find({d, a});
    return it == streams_.end() ? Stream{} : it->second;
  }
  std::vector<cip::Fault> faults(std::uint32_t d) {
    std::lock_guard lock(mu_);
    return faults_[d];
  }
  // The faults raised for device d, one per line ("" when none): what a failed
  // CHECK_MESSAGE(rec.faults(d).empty(), ...) shows.
  std::string fault_texts(std::uint32_t d) {
    std::lock_guard lock(mu_);
    std::string out;
    for (auto& f : faults_[d]) out += f.text + "\n";
    return out;
  }
  std::vector<cip::Fault::Kind> cleared(std::uint32_t d) {
    std::lock_guard lock(mu_);
    return cleared_[d];
  }
  std::vector<cip::DeviceStatus> states(std::uint32_t d) {
    std::lock_guard lock(mu_);
    return states_[d];
  }
  std::optional<cip::Identity> identity(std::uint32_t d) {
    std::lock_guard lock(mu_);
    auto it = identity_.find(d);
    if (it == identity_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::uint16_t> size(std::uint32_t d, std::uint16_t a) {
    std::lock_guard lock(mu_);
    auto it = sizes_.find({d, a});
    if (it == sizes_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<cip::Fault> fault(std::uint32_t d, cip::Fault::Kind k) {
    std::lock_guard lock(mu_);
    for (auto& f : faults_[d])
      if (f.kind == k) return f;
    return std::nullopt;
  }
  bool was_cleared(std::uint32_t d, cip::Fault::Kind k) {
    std::lock_guard lock(mu_);
    auto& v = cleared_[d];
    return std::find(v.begin(), v.end(), k) != v.end();
  }
  bool reached(std::uint32_t d, cip::DeviceState s) {
    std::lock_guard lock(mu_);
    for (auto& st : states_[d])
      if (st.state == s) return true;
    return false;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::uint32_t, std::uint16_t>, Stream> streams_;
  std::map<std::uint32_t, std::vector<cip::DeviceStatus>> states_;
  std::map<std::uint32_t, std::vector<cip::Fault>> faults_;
  std::map<std::uint32_t, std::vector<cip::Fault::Kind>> cleared_;
  std::map<std::uint32_t, cip::Identity> identity_;
  std::map<std::pair<std::uint32_t, std::uint16_t>, std::uint16_t> sizes_;
};

inline std::string describe(const std::vector<cip::Fault>& faults) {
  std::string s;
  for (auto& f : faults) s += std::string(cip::to_string(f.kind)) + ": " + f.text + "\n";
  return s;
}

inline cip::DeviceStatus status(const cip::Scanner& s, std::uint32_t d) { return s.snapshot().at(d); }

}  // namespace scanner_test
