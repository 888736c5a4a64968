// The bridge between the EtherNet/IP scanner (cip/) and the rest of the gateway: device
// specs from the configuration, payloads into the per-device data path, scanner faults into
// failure modes. cip/ knows nothing of the gateway; this file is where they meet.
#pragma once

#include <array>
#include <bitset>
#include <memory>
#include <mutex>
#include <vector>

#include "app/devices.hpp"
#include "cip/scanner.hpp"
#include "config/config.hpp"
#include "device/profile.hpp"
#include "pipeline/conditions.hpp"

namespace pm500::app {

// Scanner options and device specs from the configuration; an error names the device and key.
pm500::expected<cip::ScannerOptions, std::string> scanner_options(const config::ScannerSection& s);
// The scanner's view of a device: its configuration section, with identity, connection points
// and real-time formats from its profile (d.profile, or the built-in one) and the section's
// per-device overrides on top.
pm500::expected<cip::DeviceSpec, std::string> device_spec(const config::DeviceSection& d);
pm500::expected<cip::DeviceSpec, std::string> device_spec(const config::DeviceSection& d,
                                                          const device::Profile& profile);

// The failure mode a scanner fault belongs to (only src/health knows what the ids mean).
std::string_view failure_mode_for(const cip::Fault& f);

class ScanEvents final : public cip::ScannerEvents {
 public:
  ScanEvents(Devices& devices, ConditionSink& conditions, std::vector<std::string> names);
  // The name of a device added by a reload, before the scanner is told about it (main thread).
  void set_name(std::uint32_t device, std::string name);

  void on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
               std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept override {
    devices_.on_data(device, assembly, data, recv_time_ns, sequence, explicit_read);
  }
  void on_state(std::uint32_t device, const cip::DeviceStatus& status) override;
  void on_fault(std::uint32_t device, const cip::Fault& f) override;
  void on_fault_cleared(std::uint32_t device, cip::Fault::Kind k) override;
  void on_identity(std::uint32_t device, const cip::Identity& id) override;
  void on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes) override {
    devices_.on_assembly_size(device, assembly, bytes);
  }
  void on_connection(std::uint32_t device, std::uint16_t assembly, std::uint32_t t_o_id) override {
    devices_.on_connection(device, assembly, t_o_id);
  }
  void on_batch_end() noexcept override { devices_.on_batch_end(); }

 private:
  struct PerDevice {
    // Fault kinds active per failure mode, so a mode clears only when its last cause clears.
    std::array<std::string, cip::Fault::kind_count> mode_of{};
    bool fallback_reported = false;
    cip::DeviceState last_state = cip::DeviceState::connecting;
    std::string last_path;
  };
  // The name of an index ("" when none: the event is ignored); a copy, taken under mu_.
  std::string name_of(std::uint32_t device);
  Devices& devices_;
  ConditionSink& conditions_;
  // Guarded by mu_: the scanner thread's events (not the data path) and a reload adding names
  // (set_name) meet here, so both grow as devices are added, without a fixed capacity.
  std::mutex mu_;
  std::vector<std::string> names_;
  std::vector<PerDevice> per_device_;
};

}  // namespace pm500::app
