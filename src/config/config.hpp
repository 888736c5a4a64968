// The gateway's configuration: one TOML file turned into typed structs.
//
//   auto cfg = config::load_file("etc/demo.toml", sink_schemas());
//   if (!cfg) { for (auto& d : cfg.error()) std::cerr << d.str() << '\n'; return 2; }
//
// Every section's keys are declared once in an options table (config_tables.cpp, or the sink's
// own folder for [sinks.*]); that table also generates docs/configuration.md.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/options.hpp"
#include "pm500/expected.hpp"

namespace pm500::config {

struct GatewaySection {
  std::string site = "site";                        // tag "site" on every sample
  std::string state_dir = "/var/lib/pm500-gateway";  // spools, acknowledged offsets, restart history
  std::int64_t clear_hold_ms = 10000;  // a failure mode clears only after its cause stayed away this long
};

struct LoggingSection {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string format = "auto";  // auto (text on a terminal, JSON otherwise), text, json
};

struct ScannerSection {
  std::string local_address = "0.0.0.0";  // where Class 1 I/O is received
  std::int64_t udp_port = 2222;           // local UDP port for T->O data (Sockaddr Info 0x8001 when not 2222)
  std::int64_t connect_timeout_ms = 3000;
  std::int64_t reconnect_initial_ms = 1000;
  std::int64_t reconnect_max_ms = 60000;
  std::int64_t originator_vendor = 0xFFF0;  // vendor id put in Forward Open (0xFFF0 = unassigned)
  std::int64_t originator_serial = 0x50050000;
  std::int64_t session_check_ms = 10000;  // a request on the idle session while Class 1 data flows; 0 = off
  std::int64_t receive_buffer_ms = 500;   // SO_RCVBUF holds this long of the devices' datagrams
  std::int64_t receive_hold_us = 1800;    // batched receive: longest wait for a batch at a high rate; 0 = off
  std::int64_t probe_interval_ms = 1000;  // TCP probe of a device in reconnect backoff; 0 = off
  std::int64_t max_setups = 64;           // connection set-ups (connect .. Forward Opens) in flight; 0 = no limit
};

// An embedded PowerMonitor 500 simulator (tools/pm500-sim) started inside the gateway: the demo
// and trials without a meter. Not for production.
struct SimulatorSection {
  bool enabled = false;
  std::string address = "127.0.0.2";  // first meter; further meters on the following addresses
  std::int64_t meters = 1;
  std::int64_t tcp_port = 44818;
  std::int64_t udp_port = 2222;
  std::int64_t product_code = 0;       // 0 = the profile's highest (PowerMonitor 500: 9, 1420-V2A-ENT)
  bool owner = true;                   // pretend a PLC owns the I/O connections, so listen-only works
  double nominal_voltage = 480;        // line-to-line at the meter's primary
  double load_percent = 60;            // of the CT primary
  std::string ct = "400:5";            // the ratios the simulated meter is configured with
  std::string pt = "";
  std::string profile;                 // "" = built-in
  std::int64_t seed = 1;
  std::int64_t control_port = 0;       // fault injection on 127.0.0.1:PORT (see tools/pm500-sim); 0 = off
};

// The embedded HTTP server (src/status): status page, /api/status, /metrics, /health/live|ready.
struct StatusSection {
  bool enabled = true;
  std::string listen = "127.0.0.1:8080";   // "host:port"; the container listens on 0.0.0.0
  std::string token;                       // secret; "" = no authentication
  bool public_health = true;               // /health/* answer without the token (container probes)
  std::int64_t threads = 4;                // request worker threads (bounded)
  std::int64_t ready_max_spooling_s = 300;        // a sink retrying/spooling longer is "not ready"
  std::int64_t ready_max_backlog = 1000000;       // samples in one sink's spool; 0 = no limit
  bool ready_requires_scanner = true;
};

// The alert webhook (src/health/alerts.hpp): every raise and clear of a failure mode is POSTed
// as JSON to `url`, with retries and backoff; answers 401/403 raise ops.alert_delivery_failure.
// The placeholders an [alerts] template may use; src/health/alerts.cpp fills them in.
inline constexpr std::string_view kAlertTemplateFields[] = {
    "state", "id", "subject", "evidence", "level", "level_name", "section", "symptom", "cause",
    "resolution", "site", "host", "time", "time_ms", "text"};

struct AlertsSection {
  bool enabled = false;
  std::string url;                       // secret: webhook URLs often carry their token in the path
  std::vector<std::string> headers;      // "Name: value"; secret (Authorization)
  std::string body_template;             // key "template"; "" = the built-in JSON document
  std::string content_type = "application/json";
  bool send_cleared = true;              // also send clears, not only raises
  std::int64_t timeout_ms = 5000;        // one POST, connect included
  std::int64_t retry_initial_ms = 1000;
  std::int64_t retry_max_ms = 300000;
  std::int64_t failures_before_alarm = 3;  // failed attempts in a row before ops.alert_delivery_failure (401/403 at once)
  std::int64_t max_queue = 10000;        // alerts waiting while the webhook is away; oldest dropped beyond
  std::string ca_file;                   // "" = the system's CA store
  bool insecure_skip_verify = false;
};

struct PipelineSection {
  std::int64_t ring_capacity = 0;      // samples; power of two; 0 = sized from the devices
  std::int64_t disk_reserve_mb = 64;   // free space kept on state_dir's filesystem; 0: none
  std::string durability = "memory";   // memory | journal
  std::int64_t journal_max_mb = 256;
  std::int64_t journal_fsync_interval_ms = 1000;
};

struct DeviceSection {
  std::string name;     // required; stable id used in logs, tags and topics
  std::string address;  // required; "host" or "host:port" (port 44818 by default)
  std::string asset;    // tag "asset"; defaults to name
  std::string connection = "listen-only";  // listen-only, input-only, explicit
  std::string fallback = "explicit";       // when listen-only finds no owner (0x0119): input-only, explicit, none
  std::string transport = "multicast";     // T->O: multicast or point-to-point
  std::int64_t rpi_ms = 1000;
  std::int64_t timeout_multiplier = 2;     // connection timeout = RPI x 4 x 2^multiplier
  std::int64_t heartbeat_interval_ms = 1000;  // O->T RPI of the heartbeat (listen-only, input-only)
  std::int64_t poll_interval_ms = 0;       // explicit reads; 0 = rpi_ms
  std::vector<std::int64_t> assemblies = {101, 102, 107};
  std::int64_t product_code = 0;           // 0 = any of the profile's product codes
  bool electronic_key = false;             // put an electronic key segment in the connection path
  std::string profile;                     // device profile file; "" = the built-in PowerMonitor 500 profile
  // What differs on site from the profile ([identity], [connection]); 0 / "" = the profile's value.
  std::int64_t identity_vendor = 0;
  std::int64_t identity_device_type = 0;
  std::string identity_product_name;       // glob pattern; "*" accepts any name
  std::int64_t config_instance = 0;
  std::int64_t input_only_point = 0;
  std::int64_t listen_only_point = 0;
  std::string t_o_header = "profile";      // profile, none, run_idle
  std::string o_t_header = "profile";
  std::string ct;                          // "400:5" or "80"; "" = 1:1
  std::string pt;                          // "480:120" or "4"; "" = 1:1 (direct connection)
  std::string ratios_applied_by = "meter";  // meter or gateway
  double nominal_voltage = 0;              // line-to-line volts at the primary; 0 = not checked
  std::string wiring = "3PN";              // 3PN, 3P, 3P1, 3P2, 2P, 1P
};

// Common delivery settings of every sink; the pipeline owns retries, spooling and batching.
struct DeliverySection {
  bool enabled = true;
  std::int64_t batch_size = 500;             // samples per delivery
  std::int64_t flush_interval_ms = 2;        // linger: a partial batch waits at most this long
  std::int64_t retry_initial_ms = 500;
  std::int64_t retry_max_ms = 60000;
  std::int64_t spool_max_mb = 512;           // disk bound of this sink's spool; oldest dropped beyond
  std::int64_t spool_fsync_interval_ms = 1000;
  std::int64_t replay_rate = 0;              // cap on samples/s replayed from the spool; 0 = none
};

// One [sinks.NAME] table: the common delivery keys plus the sink's own, parsed by its schema.
struct SinkSection {
  std::string type;       // "file", "influxdb", "mqtt", "aws_iot"
  DeliverySection delivery;
  std::any settings;      // the sink's own typed config, as its SinkSchema produced it
};

// What a sink folder declares so the configuration can read its table without naming it.
struct SinkSchema {
  std::string name;     // table name under [sinks]
  std::string summary;  // one line for docs
  std::function<std::any(TableReader&)> read;             // binds its keys, returns its config
  std::function<std::string(const std::any&)> dump;       // effective config, secrets redacted
  std::function<std::vector<OptionDoc>()> describe;       // for docs/configuration.md
  // The delivery keys' defaults for this sink, where they differ from DeliverySection's (the
  // file sink lingers longer: each of its batches is an fdatasync).
  DeliverySection delivery_defaults{};
};

struct GatewayConfig {
  std::string source_file;
  GatewaySection gateway;
  LoggingSection logging;
  ScannerSection scanner;
  PipelineSection pipeline;
  SimulatorSection simulator;
  StatusSection status;
  AlertsSection alerts;
  std::vector<DeviceSection> devices;
  std::vector<SinkSection> sinks;
};

using LoadResult = pm500::expected<GatewayConfig, std::vector<Diagnostic>>;

LoadResult load_file(const std::string& path, std::span<const SinkSchema> sinks, EnvLookup env = nullptr);
LoadResult load_string(std::string_view text, const std::string& name, std::span<const SinkSchema> sinks,
                       EnvLookup env = nullptr);

// The ring's capacity: [pipeline] ring_capacity, or when it is 0, 2 s of what the devices
// produce (assemblies x 1000 / rpi_ms, or the poll interval for explicit reads), a power of
// two from 4096 to 4194304.
std::size_t ring_capacity_for(const GatewayConfig& cfg);
// Samples per second the configured devices produce (assemblies x 1000 / period).
double samples_per_second(const GatewayConfig& cfg);

// The state directory a configuration file names ([gateway] state_dir, when it is a plain string),
// else the default; read leniently, for recording a configuration error in the restart history.
std::string state_dir_hint(const std::string& path);

// The effective configuration as TOML, defaults filled in, secrets as "<redacted>".
std::string dump(const GatewayConfig& cfg, std::span<const SinkSchema> sinks);

// docs/configuration.md, generated from the options tables.
std::string markdown_reference(std::span<const SinkSchema> sinks);

// etc/gateway.example.toml: every key with its meaning and default, generated from the tables.
std::string example_toml(std::span<const SinkSchema> sinks);

// Options tables of the core sections (exposed for docs and tests).
const Options<GatewaySection>& gateway_options();
const Options<LoggingSection>& logging_options();
const Options<ScannerSection>& scanner_options();
const Options<PipelineSection>& pipeline_options();
const Options<SimulatorSection>& simulator_options();
const Options<StatusSection>& status_options();
const Options<AlertsSection>& alerts_options();
const Options<DeviceSection>& device_options();
const Options<DeliverySection>& delivery_options();

}  // namespace pm500::config
