#include "health/failure_modes.hpp"

#include <array>

namespace pm500::health {
namespace {

using L = Level;

// Resolutions are written for this gateway (the guide's were written for Node-RED flows).
constexpr std::array kModes{
    FailureMode{
        "eip.ownership_conflict", "Device and Network", "EtherNet/IP connection faults",
        "The gateway's Forward Open competes for, or depends on, ownership of the meter's connection",
        "Keep `connection = \"listen-only\"` (the default) so the gateway never competes with the plant PLC. "
        "0x0119 means no owner exists: confirm the PLC's input-only connection to the meter is running and "
        "multicast, or set `fallback = \"explicit\"`. 0x0106/0x0100 mean another scanner holds a conflicting "
        "connection: find it on the meter's web page or the PLC's I/O tree.",
        L::l1_site_operations,
        "Forward Open extended status 0x0106, 0x0100, 0x0113, 0x011A or 0x0119; a listen-only connection "
        "dropped when the owner went away",
        "EtherNet/IP connection faults",
        "tests/health/test_failure_modes_e2e.cpp (gateway: Forward Open refused 0x0106, clears when released; no "
        "owner 0x0119 with the explicit fallback, clears when the owner returns); tests/scanner/scanner_sim_test.cpp (0x0119 "
        "with each fallback)"},
    FailureMode{
        "eip.no_response", "Device and Network", "No response from device",
        "Wrong IP address, VLAN or routing mismatch, or the meter powered off",
        "Check the meter's IP on its front panel against `address` in the configuration; the evidence tells a "
        "refused connection from a timeout from an unreachable network; from the edge box `ping` the meter and "
        "confirm the VLAN routes to it.",
        L::l1_site_operations, "TCP connect timed out, refused or unreachable; ListIdentity unanswered",
        "No response from device",
        "tests/health/test_failure_modes_e2e.cpp (gateway: refused, clears when a meter answers; unreachable in a "
        "network namespace with its link down, clears when the link is up); tests/scanner/scanner_sim_test.cpp "
        "(refused vs timed out vs silent TCP)"},
    // The guide's "No response from device" row also covers a wrong IP that reaches another device;
    // that device did respond, and the fix differs (address, or the profile), so it is a mode of
    // its own under the same row.
    FailureMode{
        "eip.wrong_device", "Device and Network", "Another device answers at the meter's address",
        "Wrong IP address (another device has it), or the device's profile or identity overrides do not "
        "describe the device installed there (another model, vendor or firmware)",
        "The evidence names what answered (vendor, device type, product code, name, serial) and what the "
        "profile expects. If the meter is elsewhere, correct `address`. If this is the device to read, set the "
        "device's `profile` to one that describes it, or, for the same kind of device reporting other identity "
        "values, set the overrides the evidence names (identity_vendor, identity_device_type, product_code, "
        "identity_product_name) on its [[devices]] entry; then reload (`systemctl reload pm500-gateway`). Nothing is read from it meanwhile.",
        L::l1_site_operations,
        "ListIdentity answered with another vendor, device type, product code or product name than the profile "
        "and the device's overrides expect; re-checked every reconnect_max_ms",
        "No response from device",
        "tests/health/test_failure_modes_e2e.cpp (gateway: the simulator playing the sample adapter where a "
        "PowerMonitor 500 is configured, named on /api/status, clears when the meter is back); "
        "tests/app/test_check.cpp; tests/app/test_commission.cpp; tests/scanner/policy_test.cpp"},
    FailureMode{
        "meter.erratic_readings", "Device and Network", "Erratic power readings",
        "CT/PT ratio misconfiguration: ratios applied twice, not at all, or wrong for the installation",
        "Compare the CT and PT ratios set on the meter (front panel, or the configuration utility) with `ct`, `pt` "
        "and `ratios_applied_by` in the gateway configuration: exactly one of them may apply the ratios. Fix the "
        "one that is wrong; the finding clears after a run of healthy samples.",
        L::l1_site_operations,
        "Plausibility checks: values against nominal voltage and CT primary, S vs V x I, S^2 vs P^2 + Q^2, PF vs "
        "P/S, values off by exactly the CT or PT ratio, impossible values",
        "Erratic power readings",
        "tests/health/test_failure_modes_e2e.cpp (gateway: CT applied twice in the meter, clears when fixed); "
        "tests/device/ (every finding)"},
    FailureMode{
        "eip.session_fault", "Node-RED Flows", "Red status on EtherNet/IP connection",
        "The CIP session or I/O connection timed out, or the path is wrong (assembly missing, slot addressing)",
        "The gateway re-registers the session and reconnects by itself, with backoff. If it keeps failing: check "
        "that the assemblies in `assemblies` exist on this meter (100-108), that `address` points at the meter and "
        "not at a module behind a backplane, and the network between them. Path errors (0x04, 0x05, 0x0311, 0x0312, "
        "0x0315) mean the connection path is wrong.",
        L::l2_edge_engineering,
        "I/O connection timeout (no data for RPI x 4 x 2^multiplier), invalid session handle, encapsulation "
        "errors, path errors 0x04/0x05/0x0311/0x0312/0x0315",
        "Red status indicator on EtherNet/IP nodes",
        "tests/health/test_failure_modes_e2e.cpp (gateway: meter stops producing, clears when it resumes); "
        "tests/scanner/session_test.cpp (0x0064 invalid session)"},
    FailureMode{
        "mqtt.publish_failure", "Node-RED Flows", "MQTT publish failures",
        "Broker unreachable, TLS handshake failure (unknown CA, expired certificate, host name mismatch), or "
        "credentials refused; for [sinks.sparkplug] (subject sparkplug/primary-host) also the Sparkplug primary "
        "host application offline longer than host_offline_alert_s",
        "Check `url` in [sinks.mqtt] (or [sinks.sparkplug]) and that the broker runs; for TLS errors check "
        "`ca_file` and the broker certificate's host name and dates; for refused credentials check "
        "`username`/`password`; test with `mosquitto_pub` using the same settings. A primary host offline: start "
        "the Sparkplug host application (its STATE on spBv1.0/STATE/<id> must say online) or correct "
        "`primary_host_id`. Samples are spooled meanwhile and nothing is lost.",
        L::l2_edge_engineering,
        "Connect error class: resolution, refused, timeout, TLS verify failure and reason, CONNACK return or "
        "reason code, PUBACK reason 0x87 not authorized; Sparkplug: the primary host's STATE message",
        "MQTT publish failures",
        "tests/health/test_sink_rows_e2e.cpp (gateway: ACL refuses the topic, PUBACK 0x87, ACL fixed + SIGHUP "
        "clears, spool delivered; wrong CA); sinks/mqtt/tests (wrong CA, wrong password, 0x87, broker restart "
        "against mosquitto); sinks/sparkplug/tests/sparkplug_pipeline_test.cpp (primary host offline, broker "
        "restart)"},
    FailureMode{
        "influxdb.write_error", "Node-RED Flows", "InfluxDB write errors",
        "Token revoked or wrong, database or bucket missing, or the server rejects the points",
        "401/403: create a new token (v2) or fix the user and password (v1) and update the configuration "
        "(an environment variable keeps it out of the file). 404: create the database or bucket "
        "(`influx bucket list` to confirm). 400: see the dead-letter file for the rejected lines. Samples are "
        "spooled meanwhile and nothing is lost.",
        L::l2_edge_engineering, "HTTP status of writes: 400, 401, 403, 404, 413, 429, 5xx; network errors",
        "InfluxDB write errors",
        "tests/health/test_sink_rows_e2e.cpp (gateway: database missing 404, CREATE DATABASE clears, spool arrives "
        "complete; 401, user created clears); sinks/influxdb/tests (401 and 404 against influxd; v2 answers)"},
    FailureMode{
        "historian.empty_panels", "Historian and Visualization", "Empty Grafana panels",
        "Dashboards query a measurement or tags that the gateway does not write",
        "Dashboards must query measurement `powermonitor_500` with tags `site` and `asset` as configured "
        "([gateway] site, [[devices]] asset). The status page shows the measurement and tag values the gateway "
        "writes and whether the read-back found them.",
        L::l2_edge_engineering,
        "Measurement and tag names validated at start; a read-back query after the first write finds no point",
        "Empty Grafana panels",
        "tests/health/test_sink_rows_e2e.cpp (gateway, influxd: a tag key that is also a field name, point not "
        "found by its tags); sinks/influxdb/tests (read-back finds the points; v2: invisible point reported)"},
    FailureMode{
        "historian.high_cardinality", "Historian and Visualization", "Slow dashboard loads",
        "High series cardinality: tag values that change with every sample, or too many series",
        "Drop tags whose value changes every sample (move them to fields), keep only site/asset/device tags, "
        "add retention policies and aggregate before visualising.",
        L::l2_edge_engineering, "Distinct series written, and tags whose values change with every sample",
        "Slow dashboard loads",
        "tests/health/test_sink_rows_e2e.cpp (gateway: 3 meters against max_series = 2 raised with the count, stays "
        "raised; quiet with max_series = 3); sinks/influxdb/tests (quiet for normal tags)"},
    FailureMode{
        "historian.retention_disabled", "Historian and Visualization", "InfluxDB high disk usage",
        "The database or bucket keeps data forever (retention disabled)",
        "Set a retention period: `influx bucket update --retention 30d` (v2) or `ALTER RETENTION POLICY ... "
        "DURATION 30d` (v1).",
        L::l2_edge_engineering, "Retention of the database or bucket read back: duration 0 means infinite",
        "InfluxDB high disk usage",
        "tests/health/test_sink_rows_e2e.cpp (gateway: autogen infinite raised, ALTER RETENTION POLICY clears); "
        "sinks/influxdb/tests (infinite retention against influxd)"},
    FailureMode{
        "aws_iot.connect_failure", "Cloud Integration", "Devices cannot connect to AWS IoT",
        "Certificates missing, unreadable, mismatched or expired, or the IoT policy lacks iot:Connect or "
        "iot:Publish",
        "Check the files named in the evidence (`cert_file`, `key_file`, `ca_file`): present, matching, in date. "
        "Attach an IoT policy allowing `iot:Connect` for this client id (the thing name) and `iot:Publish` on the "
        "topics, and confirm the certificate is attached to the right thing.",
        L::l3_cloud_integration,
        "Local certificate checks before connecting; TLS rejected; connection closed right after CONNECT "
        "(iot:Connect) or after PUBLISH (iot:Publish)",
        "Devices cannot connect to AWS IoT",
        "tests/health/test_sink_rows_e2e.cpp (gateway: expired client certificate named, nothing sent; valid one "
        "delivers); sinks/aws_iot/tests (missing, expired, mismatched certificates; closed after CONNECT and "
        "PUBLISH)"},
    FailureMode{
        "aws_iot.rule_delivery_failure", "Cloud Integration", "Rule delivery failures",
        "An AWS IoT rule's action failed: the IAM role lacks permission on its target",
        "Read the failed action and resource in the evidence; attach the missing permission to the rule's IAM "
        "role (the role named in the rule's action: `aws iot get-topic-rule --rule-name NAME`).",
        L::l3_cloud_integration, "Messages on the rule error-action topic (failures[].failedAction, errorMessage)",
        "Rule delivery failures",
        "tests/health/test_cloud_rows_e2e.cpp (gateway: AccessDenied rule error on the error topic raised with "
        "failedAction, failedResource, errorMessage; cleared after rule_error_hold_s); sinks/aws_iot/tests (rule "
        "error on the error topic)"},
    FailureMode{
        "cloud.consumer_lag", "Cloud Integration", "Kinesis consumers lagging",
        "Insufficient Kinesis shard capacity for the gateway's outgoing rate",
        "Increase the shard count, or use enhanced fan-out for the consumers. The evidence shows the gateway's "
        "records/s and bytes/s against the configured shard capacity.",
        L::l3_cloud_integration,
        "Outgoing records/s and bytes/s against the configured shard capacity; throughput errors in rule errors",
        "Kinesis consumers lagging",
        "tests/health/test_cloud_rows_e2e.cpp (gateway: ProvisionedThroughputExceededException rule error names the "
        "stream, cleared after the hold; 7 meters at 10 ms exceed 1 shard's bytes/s); sinks/aws_iot/tests (Kinesis "
        "throughput error in a rule error; rate check)"},
    FailureMode{
        "ops.restart_loop", "Operations and Maintenance", "Gateway restarts repeatedly",
        "Insufficient resources (memory limit) or misconfigured environment variables",
        "Read this failure mode's evidence on the status page (restarts in the last 10 minutes, how many "
        "ended uncleanly or failed to start, and the last failure's cause, from restart-history in the state "
        "directory) and the gateway's log (`journalctl -u pm500-gateway`, "
        "`podman logs` or `docker compose logs`); raise the memory limit if memory use approaches it; make sure "
        "the environment file (gateway.env) defines every variable the configuration references.",
        L::l2_edge_engineering,
        "Restart history with exit reasons in the state directory: 3 runs within 10 minutes that ended uncleanly "
        "(crash, kill, out of memory) or failed to start (configuration error such as a missing environment "
        "variable, start failure); memory use above 90% of the cgroup limit",
        "Containers restart repeatedly",
        "tests/app/test_cli.cpp (three SIGKILLed runs; three runs with a missing environment variable, named on the "
        "first good start); tests/health/test_restart_history.cpp"},
    FailureMode{
        "ops.docs_outdated", "Operations and Maintenance", "Release checklist fails documentation step",
        "Generated documentation differs from the program (troubleshooting matrix, configuration reference)",
        "Regenerate: `pm500-gateway troubleshooting --markdown > docs/troubleshooting.md` and `pm500-gateway "
        "config --reference > docs/configuration.md`, review, commit.",
        L::l4_architect, "A test compares the committed docs with the program's output",
        "Release checklist fails documentation step", "tests/app/test_cli.cpp (committed docs equal generated docs)"},
    FailureMode{
        "ops.alert_delivery_failure", "Operations and Maintenance", "Alerts missing from notification channels",
        "The alert webhook's credentials expired, the endpoint is unreachable, or it refuses the request",
        "401/403: renew the webhook token and update `headers` or `url` in [alerts]. 400/404: the `url` or the "
        "`template` is wrong (the evidence quotes the answer). No answer: check that the endpoint is reachable "
        "from the edge box. Then send a test alert with `pm500-gateway alert-test -c FILE`. Alerts wait in a "
        "queue of `max_queue` meanwhile; every condition also stays on the status page.",
        L::l2_edge_engineering,
        "Webhook answers 401/403 (at once), 400/404/413/422 (that alert dropped), timeouts, refusals and 5xx "
        "after `failures_before_alarm` attempts, alerts dropped from a full queue; cleared by the next delivery",
        "Alerts missing from notification channels",
        "tests/health/test_alerts.cpp (401, 500 then 204, 400, full queue against a local webhook); "
        "tests/health/test_failure_modes_e2e.cpp (gateway with a webhook answering 401)"},
    // The gateway's own conditions (not rows of the guide).
    FailureMode{"pipeline.overrun", "Gateway", "Samples lost between scanner and sink",
                "A sink fell further behind than the ring holds (disk too slow for the spool?)",
                "Check the disk under `state_dir` and the sink's spool errors; raise [pipeline] ring_capacity.",
                L::l2_edge_engineering, "Ring cursor overtaken by the producer (exact count)", "",
                "tests/pipeline: overrun detection"},
    FailureMode{"pipeline.spool_full", "Gateway", "Spooled samples dropped",
                "A destination was away longer than the spool can hold",
                "Restore the destination; raise `spool_max_mb` of the sink if outages this long are expected.",
                L::l2_edge_engineering, "Spool size bound reached; oldest segment dropped (exact count)", "",
                "tests/pipeline: full spool"},
    FailureMode{"pipeline.sink_unavailable", "Gateway", "A destination does not accept samples; they are kept on disk",
                "The sink's destination (for the file sink: its output file) fails every attempt: folder missing or "
                "not writable, disk full, or the destination is down",
                "Read the evidence (the error of the last attempt) and fix that; nothing is lost meanwhile: samples "
                "are spooled and delivered in order once it works. Sinks with their own failure mode "
                "(mqtt.publish_failure, influxdb.write_error, aws_iot.connect_failure) raise that instead.",
                L::l2_edge_engineering, "Deliveries answered retry for longer than the retry window; cleared by the "
                "first delivery that succeeds", "",
                "tests/pipeline/delivery_test.cpp (sink down, spooled, back)"},
    FailureMode{"pipeline.disk_full", "Gateway", "The disk under state_dir is full: oldest spooled samples dropped",
                "The filesystem holding state_dir has less free space than [pipeline] disk_reserve_mb (other files, "
                "a long outage, or spool and file-sink bounds larger than the volume)",
                "Free space on that filesystem, move state_dir to a larger volume, or lower the sinks' spool_max_mb "
                "and the file sink's max_mb x max_files so they fit. Sinks keep delivering meanwhile; the evidence "
                "counts the samples dropped (oldest first).",
                L::l2_edge_engineering, "statvfs of state_dir before every spool append (reserve) and ENOSPC/EDQUOT "
                "on writes; cleared once free space is back above the reserve", "",
                "tests/pipeline/disk_full_test.cpp (spool on a small tmpfs)"},
    FailureMode{"pipeline.unattributable", "Gateway", "Spooled samples could not be attributed to a device",
                "The configuration changed while samples were spooled: a device was removed or renamed, or the "
                "fields of its assemblies changed (profile), so those samples no longer have a device to go under",
                "Nothing was written under a wrong name: the samples are in the sink's dead-letter file with their "
                "original device and field names. Restore the device (same name) to deliver later ones, or load "
                "the dead-letter lines by hand.",
                L::l2_edge_engineering, "Each spool segment records the layout (device names and fields) it was "
                "written under; replay maps by device name", "",
                "tests/pipeline/spool_layout_test.cpp (devices reordered, added, removed between spooling and replay)"},
    FailureMode{"pipeline.spool_error", "Gateway", "Spool cannot be written",
                "The state directory is full or not writable",
                "Free space or fix permissions of `state_dir`; samples wait in memory meanwhile.",
                L::l2_edge_engineering, "Write or fsync errors on spool files", "", "tests/pipeline: spool errors"},
    FailureMode{"pipeline.spool_corrupt", "Gateway", "Corrupt spool records skipped",
                "The gateway or the machine stopped in the middle of a write, or the disk is failing",
                "Nothing to do for a single torn record after a power loss; repeated corruption means a failing disk.",
                L::l2_edge_engineering, "CRC mismatch or torn record when reading a spool", "",
                "tests/pipeline: torn and corrupt records"},
    FailureMode{"pipeline.dead_letter", "Gateway", "Samples rejected by a destination",
                "The destination refused the data for good (e.g. InfluxDB 400 field type conflict)",
                "Read the dead-letter file named in the evidence; fix the schema conflict at the destination.",
                L::l2_edge_engineering, "A delivery answered reject", "", "tests/pipeline: reject path"},
    FailureMode{"meter.profile_mismatch", "Gateway", "Assembly size differs from the device profile",
                "The device profile's element layout does not match this meter (firmware or model differs)",
                "Compare the meter's assembly sizes (evidence) with the profile; point `profile` of the device at a "
                "corrected copy of etc/profiles/powermonitor500.toml (Appendix A of the meter manual).",
                L::l2_edge_engineering, "Assembly attribute 4 (size) read at connect vs the profile", "",
                "tests/device: profile size mismatch"},
    FailureMode{"gateway.overload", "Gateway", "The scanner cannot keep up: datagrams dropped or its thread saturated",
                "More Class 1 datagrams than the scanner thread reads: too many meters or too short an RPI for this "
                "host, other work taking its CPU, or a receive buffer too small (net.core.rmem_max) for a stall",
                "Read the evidence. When it says net.core.rmem_max caps the receive buffer, raise it with the sysctl "
                "quoted (`sysctl -w net.core.rmem_max=N`, persisted in /etc/sysctl.d/) and restart. A saturated "
                "scanner thread needs fewer meters per gateway, a longer rpi_ms or more CPU. Meters keep running "
                "meanwhile; what the kernel dropped is counted in pm500_scanner_kernel_drops_total.",
                L::l2_edge_engineering, "The Class 1 socket's kernel drop count (SO_RXQ_OVFL) grew in the last "
                "second, or the scanner thread used more than 90% of a core; cleared after clear_hold_ms without "
                "either", "",
                "tests/scanner/overload_test.cpp (a burst overflows a small receive buffer: drops counted exactly, "
                "every meter running again); tests/app/test_overload.cpp (raised with drops/s, CPU and the sysctl; "
                "cleared)"},
    FailureMode{"pipeline.restart_gap", "Gateway", "Samples missed across a restart",
                "The gateway was killed or down while the meter kept producing",
                "Find why it stopped (restart history); the gap is reported with its size.",
                L::l2_edge_engineering, "Persisted last sample per device and assembly (time, sequence count and "
                "connection) vs the first after restart: counted by sequence only on the same connection, else by "
                "time at the RPI", "",
                "tests/pipeline/delivery_test.cpp (restart gap, counts within one connection); "
                "tests/app/test_durability_e2e.cpp (gateway restarted: new connections measured by time)"},
};

}  // namespace

std::string_view level_name(Level l) {
  switch (l) {
    case Level::l1_site_operations: return "L1 site operations";
    case Level::l2_edge_engineering: return "L2 edge engineering";
    case Level::l3_cloud_integration: return "L3 cloud integration";
    case Level::l4_architect: return "L4 architect";
  }
  return "?";
}

std::string_view level_short(Level l) { return level_name(l).substr(0, 2); }

std::span<const FailureMode> failure_modes() { return kModes; }

const FailureMode* find_failure_mode(std::string_view id) {
  for (const auto& m : kModes)
    if (m.id == id) return &m;
  return nullptr;
}

bool sink_has_own_failure_mode(std::string_view sink_type) {
  return sink_type == "mqtt" || sink_type == "sparkplug" || sink_type == "influxdb" || sink_type == "aws_iot";
}

std::string_view failure_mode_for_sink(std::string_view sink_type) {
  if (sink_type == "mqtt" || sink_type == "sparkplug") return "mqtt.publish_failure";
  if (sink_type == "influxdb") return "influxdb.write_error";
  if (sink_type == "aws_iot") return "aws_iot.connect_failure";
  return "pipeline.spool_error";
}

namespace {
std::string md_cell(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}
}  // namespace

std::string troubleshooting_markdown() {
  std::string s =
      "# Troubleshooting\n\n"
      "Generated from the failure-mode registry (`src/health/failure_modes.cpp`) by "
      "`pm500-gateway troubleshooting --markdown`; do not edit by hand (a test compares this file with the "
      "program). Each row of the plant's troubleshooting guide is a failure mode the gateway detects by itself; "
      "when one is active it appears on the status page, in `/api/status`, in `/metrics` "
      "(`pm500_failure_active{id=...}`), in the log (once when raised, once when cleared) and at the alert "
      "webhook.\n\n"
      "Escalation: L1 site operations (hardware, connectivity), L2 edge engineering (gateway, container), "
      "L3 cloud integration (AWS IoT, Kinesis), L4 architect (documentation, cross-team).\n\n"
      "**What can be lost, and when.** A sample is safe once each sink has delivered it or appended it to its "
      "spool; an orderly stop (SIGTERM) delivers or spools everything and loses nothing. With the default "
      "`[pipeline] durability = \"memory\"`, kill -9 loses, per sink, what was still in memory: the batch "
      "waiting for `flush_interval_ms` or in flight, and the samples in the ring it had not read yet "
      "(milliseconds' worth while it keeps up); a power loss also loses spool records written in the last "
      "`spool_fsync_interval_ms`. With `durability = \"journal\"` every received sample is written to "
      "`state_dir/journal` before any sink reads it: kill -9 loses nothing received, a power loss at most "
      "`journal_fsync_interval_ms` of it. Either way delivery is at-least-once: after a restart a destination may "
      "receive again what was delivered within the last `spool_fsync_interval_ms` before the stop (InfluxDB "
      "points are idempotent). Every loss that does happen is counted (`pm500_sink_dropped_total{reason}`) and "
      "raised as one of the `pipeline.*` conditions below.\n";
  std::string_view section;
  for (const auto& m : kModes) {
    if (m.section != section) {
      section = m.section;
      s += "\n## " + std::string(section) + "\n\n";
      s += "| id | symptom | probable cause | resolution | level | detected from | test |\n";
      s += "|---|---|---|---|---|---|---|\n";
    }
    s += "| `" + std::string(m.id) + "` | " + md_cell(m.symptom) + " | " + md_cell(m.cause) + " | " +
         md_cell(m.resolution) + " | " + std::string(level_short(m.level)) + " | " + md_cell(m.detection) + " | " +
         md_cell(m.test) + " |\n";
  }
  return s;
}

std::string troubleshooting_text() {
  std::string s;
  for (const auto& m : kModes) {
    s += std::string(m.id) + "  [" + std::string(level_name(m.level)) + "]\n";
    s += "  symptom:    " + std::string(m.symptom) + "\n";
    s += "  cause:      " + std::string(m.cause) + "\n";
    s += "  resolution: " + std::string(m.resolution) + "\n";
    s += "  detected:   " + std::string(m.detection) + "\n\n";
  }
  return s;
}

}  // namespace pm500::health
