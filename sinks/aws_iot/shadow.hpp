// Device Shadow "reported" state of the gateway: its version, each device's connection state and
// the active failure modes. The application feeds it through the thread-safe setters (from any
// thread); the sink publishes $aws/things/<thing>/shadow/update whenever the state changed.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace pm500::sinks::aws_iot {

class ShadowState {
 public:
  void set_gateway_version(std::string version);
  void set_device(const std::string& device, std::string connection_state);  // e.g. "connected", "no owner (0x0119)"
  void remove_device(const std::string& device);
  void set_failure_modes(std::vector<std::string> active_ids);

  // Bumped by every change that alters the document.
  std::uint64_t version() const;
  // {"state":{"reported":{"gateway":{"version":".."},"devices":{"mcc-1":"connected"},"failure_modes":[..]}}}
  // Devices reported before but removed since are sent as null, which deletes them from the shadow.
  std::string update_document(const std::set<std::string>& previously_reported, std::set<std::string>* now_reported) const;

 private:
  mutable std::mutex mu_;
  std::uint64_t version_ = 0;
  std::string gateway_version_;
  std::map<std::string, std::string> devices_;
  std::vector<std::string> failure_modes_;
};

}  // namespace pm500::sinks::aws_iot
