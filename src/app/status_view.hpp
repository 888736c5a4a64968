// Builds the status module's GatewayView from the running components.
#pragma once

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "app/devices.hpp"
#include "cip/scanner.hpp"
#include "config/config.hpp"
#include "health/acknowledgements.hpp"
#include "health/alerts.hpp"
#include "health/registry.hpp"
#include "pipeline/delivery.hpp"
#include "status/server.hpp"
#include "status/snapshot.hpp"

namespace pm500::app {

struct ViewSources {
  const config::GatewayConfig& cfg;
  std::int64_t started_ms;
  std::uint64_t restarts;
  const Devices* devices;
  std::vector<cip::DeviceStatus> scan;  // scanner snapshot (empty when no scanner)
  bool scanner_running;
  const std::vector<std::unique_ptr<SinkDelivery>>& deliveries;
  const health::Registry& health;
  std::uint64_t ring_capacity, ring_head;
  const health::AlertSender* alerts = nullptr;  // null: [alerts] disabled
  const DiskSpace* disk = nullptr;              // null: not known
  cip::RejectedDatagrams datagrams_rejected{};  // scanner's counts (zero when no scanner)
  cip::ReceiveStats receive{};                  // the scanner's receive socket (zero when no scanner)
  const health::Acknowledgements* acks = nullptr;  // null: none kept
  // cfg.devices[i] is device index (*device_index)[i] of the scanner and Devices (a reload
  // adds at new indexes and leaves removed ones behind); null: i.
  const std::vector<std::uint32_t>* device_index = nullptr;
  cip::SetupStats setups{};  // the scanner's connection set-ups (zero when no scanner)
};

class StatusViewBuilder {
 public:
  status::GatewayView build(const ViewSources& src);

 private:
  // When each sink entered its current state, tracked between builds.
  std::map<std::string, std::pair<std::string, std::int64_t>> sink_state_since_;
};

// Resident memory of this process, and the cgroup memory limit (0 when there is none).
// /api/history for the meter named `device` (now: the wall clock); nullopt when there is none.
std::optional<status::HistoryView> history_view(const Devices& devices, std::string_view device);

// An acknowledgement or shelf as /api/status shows it.
status::AckView ack_view(const health::Acknowledgement& a);
// POST /api/acknowledge carried out on `acks` against the registry's active conditions.
status::Server::AckAnswer acknowledge(health::Acknowledgements& acks, const health::Registry& registry,
                                      const status::AckRequest& r);

std::uint64_t resident_bytes();
std::uint64_t cgroup_memory_limit();

}  // namespace pm500::app
