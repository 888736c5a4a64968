// Hand-built GatewayViews for the status tests: what the app would fill from a gateway with
// one running meter, a meter that is down, two sinks and one active failure.
#pragma once

#include "status/snapshot.hpp"

namespace pm500::test {

inline constexpr std::int64_t kNowMs = 1'700'000'000'000;

inline status::GatewayView sample_view(double voltage = 480.3) {
  using namespace pm500::status;
  GatewayView v;
  v.version = "0.1.0";
  v.site = "plant-7";
  v.config_file = "/etc/pm500-gateway/gateway.toml";
  v.started_ms = kNowMs - 3'723'000;
  v.now_ms = kNowMs;
  v.restarts = 2;
  v.scanner_running = true;
  v.ring_capacity = 65536;
  v.ring_head = 123456;
  v.rss_bytes = 23 * 1024 * 1024;
  v.memory_limit_bytes = 256 * 1024 * 1024;
  v.alerts = {true, "https://hooks.example.net", 5, 3, 1, 2, 4, "HTTP 401 from https://hooks.example.net: expired"};

  DeviceView d;
  d.name = "mcc-1";
  d.asset = "main-incomer";
  d.address = "192.168.10.21";
  d.state = "running";
  d.connection = "listen-only";
  d.connection_reason = "configured; an owner (PLC) holds the input connection";
  d.rpi_ms = 1000;
  d.last_packet_age_ms = 420;
  d.packets = 3600;
  d.samples = 10800;
  d.identity = "PowerMonitor 500 1420-V2A-ENT rev 2.3 serial 94A1B2C3";
  d.values = {{"voltage_ll_avg_v", "V", voltage},      {"current_l1_a", "A", 312.5},
              {"current_l2_a", "A", 309.1},            {"current_l3_a", "A", 315.0},
              {"active_power_total_kw", "kW", 221.47}, {"power_factor_total", "", 0.912},
              {"frequency_hz", "Hz", 59.98},           {"energy_import_kwh", "kWh", 1234567.8}};
  v.devices.push_back(d);

  DeviceView down;
  down.name = "feeder-\"B\" <img src=x onerror=alert(1)>";  // hostile text must stay text
  down.asset = down.name;
  down.address = "192.168.10.22";
  down.state = "backoff";
  down.connection = "";
  down.connection_reason = "no answer to TCP connect within 3000 ms";
  down.rpi_ms = 1000;
  down.last_packet_age_ms = -1;
  down.timeouts = 4;
  down.reconnects = 7;
  down.stale_packets = 3;
  down.forward_opens = 2;
  down.forward_open_failures = 5;
  v.devices.push_back(down);

  SinkView file;
  file.name = "file";
  file.state = "delivering";
  file.delivered = 10800;
  v.sinks.push_back(file);

  SinkView influx;
  influx.name = "influxdb";
  influx.state = "spooling";
  influx.state_since_ms = kNowMs - 60'000;
  influx.delivered = 9000;
  influx.spooled = 1800;
  influx.spool_backlog = 1800;
  influx.spool_bytes = 1800 * 96;
  influx.retries = 12;
  influx.last_error = "HTTP 401 Unauthorized: token \"ops\" revoked\n(retrying)";
  v.sinks.push_back(influx);

  FailureView f;
  f.id = "eip.no_response";
  f.subject = down.name;
  f.level = "L1";
  f.symptom = "No response from device";
  f.cause = "Incorrect IP or network VLAN mismatch";
  f.resolution = "Verify the meter IP on its front panel and the VLAN routing; ping 192.168.10.22.";
  f.evidence = "TCP connect to 192.168.10.22:44818 timed out after 3000 ms (4 times)";
  f.since_ms = kNowMs - 300'000;
  f.occurrences = 1;
  v.failures.push_back(f);

  v.failure_counts = {{"eip.ownership_conflict", "L2", false, 0},
                      {"eip.no_response", "L1", true, 3},
                      {"influxdb.write_error", "L3", false, 1}};
  v.events = {{kNowMs - 300'000, "eip.no_response", down.name, "connect timed out", true},
              {kNowMs - 200'000, "influxdb.write_error", "influxdb", "HTTP 401", true},
              {kNowMs - 100'000, "influxdb.write_error", "influxdb", "", false}};
  return v;
}

}  // namespace pm500::test
