// What `check` and `commission` share: one real scanner run over the configured devices, behind
// the gateway's own data path (profiles, scaling, plausibility into a ring nobody reads), that
// records what each device reported and ends with Forward Close. Neither command starts a sink.
//
//   RecordingConditions conditions;
//   Ring ring(1024);
//   auto devices = Devices::create(cfg, ring, conditions);
//   std::vector<CheckLine> notes;  // simulator started, UDP port moved, a scanner that did not start
//   auto run = run_probe(cfg, **devices, notes, {.deadline = device_deadline(cfg)});
//   if (run) for (i ...) run->events->record(i) ... run->scan.before_stop[i] ...
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/check.hpp"
#include "app/devices.hpp"
#include "cip/scanner.hpp"
#include "config/config.hpp"
#include "pipeline/conditions.hpp"
#include "tools/pm500-sim/simulator.hpp"

namespace pm500::app {

// Conditions the device data path raises during a probe (profile size mismatch, implausible
// values), kept to be reported per device. Called on the scanner thread.
class RecordingConditions final : public ConditionSink {
 public:
  struct Raised {
    std::string id, subject, evidence;
  };
  void raise(std::string_view id, std::string_view subject, std::string_view evidence) override;
  void clear(std::string_view id, std::string_view subject) override;
  std::vector<Raised> active() const;

 private:
  mutable std::mutex mu_;
  std::vector<Raised> raised_;
};

// What the scanner told about each device during a probe. on_data passes the payload to the
// devices' data path and only sets bits (scanner thread, no allocation); everything else is
// rare and goes under the mutex.
class ProbeEvents final : public cip::ScannerEvents {
 public:
  using Clock = std::chrono::steady_clock;
  struct Record {
    bool session = false;  // TCP connected and RegisterSession answered (state reached identifying)
    std::optional<cip::Identity> identity;
    std::vector<std::pair<std::uint16_t, std::uint16_t>> sizes;  // assembly, bytes (attribute 4)
    std::optional<cip::Fault> fault;                             // the first, before stop()
    // The first path_error or explicit_read_failed naming each assembly, before stop(): the
    // scanner leaves that assembly out (the device has no such assembly) and goes on.
    std::vector<cip::Fault> assembly_faults;
    std::vector<cip::Fault> stop_faults;                         // raised while stopping
    cip::DeviceStatus status;                                    // as of the last transition
    bool path_changed = false;                                   // a fallback was taken
    std::int64_t all_data_ms = -1;                               // when every assembly had data (or its fault)
    std::int64_t stopped_ms = -1;                                // stop() began -> state stopped

    // The assembly fault naming `assembly`, or nullptr.
    const cip::Fault* fault_of(std::uint16_t assembly) const;
  };

  ProbeEvents(Devices& devices, const std::vector<cip::DeviceSpec>& specs);

  void on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
               std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept override;
  void on_state(std::uint32_t device, const cip::DeviceStatus& st) override;
  void on_fault(std::uint32_t device, const cip::Fault& f) override;
  void on_fault_cleared(std::uint32_t, cip::Fault::Kind) override {}
  void on_identity(std::uint32_t device, const cip::Identity& id) override;
  void on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes) override;
  void on_connection(std::uint32_t device, std::uint16_t assembly, std::uint32_t t_o_id) override {
    devices_.on_connection(device, assembly, t_o_id);
  }

  // True when every device either delivered every assembly, or accounted for each (data, or a
  // fault naming it: the scanner skips an assembly the device does not have and opens the
  // others), or faulted as a whole (it left opening/running); stamps when each device's data
  // became complete.
  bool all_settled(Clock::time_point started);
  void begin_stop();
  // Bit i: assembly i of the device's spec delivered at least once.
  std::uint64_t data_bits(std::size_t device) const { return data_bits_[device].load(std::memory_order_relaxed); }
  bool complete(std::size_t device) const { return data_bits(device) == want_bits_[device]; }
  Record record(std::size_t device) const;

 private:
  Devices& devices_;
  std::vector<std::vector<std::uint16_t>> assemblies_;
  mutable std::mutex mu_;
  std::vector<Record> records_;
  std::vector<std::atomic<std::uint64_t>> data_bits_;
  std::vector<std::uint64_t> want_bits_;
  bool stopping_ = false;
  Clock::time_point stop_began_{};
};

// "PowerMonitor 500 (vendor 1, device type 0x92, product code 9, revision 2.4, serial 940000002)"
std::string identity_text(const cip::Identity& id);
// "connect_refused: <the scanner's text>"
std::string fault_text(const cip::Fault& f);
// TCP and session faults: nothing beyond them was tried.
bool is_connect_fault(cip::Fault::Kind k);
// "0x92" for hex(0x92, 2).
std::string hex(unsigned v, int width);

// The embedded simulator of [simulator], started as `run` starts it (gateway.cpp), so a demo
// configuration probes green without a meter; fault injection (control port) off.
struct EmbeddedSim {
  std::unique_ptr<sim::Simulator> sim;
  sim::Options options;
};
// The simulated meter a device spec points at, if any.
std::optional<std::size_t> sim_meter_for(const EmbeddedSim* e, const cip::DeviceSpec& spec);

// How long to wait for the scanner: the connect, session, identity and size requests each take
// at most connect_timeout_ms; then a few RPIs (or polls) for data. Capped at 15 s.
std::chrono::milliseconds device_deadline(const config::GatewayConfig& cfg);

struct ProbeWait {
  std::chrono::milliseconds deadline{0};  // until every device delivered every assembly or faulted, at most this
  std::chrono::milliseconds hold{0};      // > 0: exactly this long instead (read for N seconds)
  std::string_view purpose = "check";     // the command, in the notes: "started for this check"
};

struct ProbeScan {
  std::vector<cip::DeviceStatus> before_stop;  // snapshot just before stop()
  std::vector<cip::DeviceStatus> after_stop;
  std::chrono::milliseconds deadline{0};
  std::uint32_t shutdown_timeout_ms = 0;
  std::uint16_t udp_port = 0;             // where Class 1 data was received
  std::uint16_t configured_udp_port = 0;  // [scanner] udp_port
  std::string local_address;              // [scanner] local_address
  bool udp_port_moved = false;            // the configured one was held by another process
};

struct ProbeRun {
  std::optional<EmbeddedSim> embedded;  // stopped when the run is destroyed
  std::vector<cip::DeviceSpec> specs;   // one per configured device
  std::unique_ptr<ProbeEvents> events;
  ProbeScan scan;
};

// Starts the embedded simulator when [simulator] is enabled, then the scanner over every
// configured device (on another free UDP port when the configured one is held: a running
// gateway), waits as `wait` says, and stops it (Forward Close every connection). Notes and
// problems of the set-up are appended to `out` as lines; nullopt when no scan could run.
std::optional<ProbeRun> run_probe(const config::GatewayConfig& cfg, Devices& devices, std::vector<CheckLine>& out,
                                  ProbeWait wait);

}  // namespace pm500::app
