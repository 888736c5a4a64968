#include "sinks/aws_iot/shadow.hpp"

#include <algorithm>

#include "pm500/json_text.hpp"

namespace pm500::sinks::aws_iot {

void ShadowState::set_gateway_version(std::string version) {
  std::lock_guard lk(mu_);
  if (gateway_version_ == version) return;
  gateway_version_ = std::move(version);
  ++version_;
}

void ShadowState::set_device(const std::string& device, std::string connection_state) {
  std::lock_guard lk(mu_);
  auto [it, inserted] = devices_.try_emplace(device, connection_state);
  if (!inserted && it->second == connection_state) return;
  it->second = std::move(connection_state);
  ++version_;
}

void ShadowState::remove_device(const std::string& device) {
  std::lock_guard lk(mu_);
  if (devices_.erase(device)) ++version_;
}

void ShadowState::set_failure_modes(std::vector<std::string> active_ids) {
  std::sort(active_ids.begin(), active_ids.end());
  std::lock_guard lk(mu_);
  if (failure_modes_ == active_ids) return;
  failure_modes_ = std::move(active_ids);
  ++version_;
}

std::uint64_t ShadowState::version() const {
  std::lock_guard lk(mu_);
  return version_;
}

std::string ShadowState::update_document(const std::set<std::string>& previously_reported,
                                         std::set<std::string>* now_reported) const {
  std::lock_guard lk(mu_);
  std::string out = "{\"state\":{\"reported\":{\"gateway\":{\"version\":";
  json::append_string(out, gateway_version_);
  out += "},\"devices\":{";
  bool first = true;
  for (const auto& [name, state] : devices_) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, name);
    out += ':';
    json::append_string(out, state);
  }
  for (const auto& gone : previously_reported) {
    if (devices_.count(gone)) continue;
    if (!first) out += ',';
    first = false;
    json::append_string(out, gone);
    out += ":null";
  }
  out += "},\"failure_modes\":[";
  for (std::size_t i = 0; i < failure_modes_.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, failure_modes_[i]);
  }
  out += "]}}}";
  if (now_reported) {
    now_reported->clear();
    for (const auto& [name, state] : devices_) now_reported->insert(name);
  }
  return out;
}

}  // namespace pm500::sinks::aws_iot
