// docs/configuration.md is generated from the options tables; a test fails when the committed
// file differs, so the reference cannot go stale.
#include "config/config.hpp"

namespace pm500::config {
namespace {

std::string cell(std::string s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string table(const std::vector<OptionDoc>& docs) {
  std::string s = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& d : docs) {
    std::string def = d.required ? "required" : "`" + d.default_value + "`";
    if (d.secret) def += " (secret: never printed)";
    s += "| `" + d.key + "` | " + cell(d.type) + " | " + cell(def) + " | " + cell(d.help) + " |\n";
  }
  return s;
}

// Wraps help text into "# " comment lines of at most ~96 characters.
std::string comment(const std::string& text) {
  std::string out, line;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t sp = text.find(' ', start);
    std::string word = text.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
    if (!line.empty() && line.size() + 1 + word.size() > 94) {
      out += "# " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    if (sp == std::string::npos) break;
    start = sp + 1;
  }
  if (!line.empty()) out += "# " + line + "\n";
  return out;
}

std::string keys(const std::vector<OptionDoc>& docs) {
  std::string s;
  for (const auto& d : docs) {
    s += comment(d.help + " (" + d.type + (d.secret ? "; secret, never printed" : "") + ")");
    if (d.required) s += d.key + " = " + d.example + "  # required\n";
    else if (!d.example.empty()) s += d.key + " = " + d.example + "  # default " + d.default_value + "\n";
    else s += d.key + " = " + d.default_value + "\n";
  }
  return s;
}

// How a running gateway takes a changed file (src/app/reload.hpp).
constexpr std::string_view kReloading = R"(
## Reloading

`systemctl reload pm500-gateway` (or `kill -HUP <pid>`) makes the running gateway read its file again
and apply what changed without a restart. Values are compared, not text: a file reformatted, with
its devices in another order, or with a key written out at its default value is no change.

- **Sinks** apply live. A sink whose table did not change keeps running untouched: it loses and
  repeats no sample. A removed (or disabled) sink stops the way it stops at shutdown: what it holds
  is delivered, or spooled for the next time a sink of that name runs. An added (or enabled) sink
  starts with the samples that arrive from then on. A changed sink is restarted with its new
  settings: the new one is made first, so settings it refuses (a missing certificate, say) leave
  the old one running and the reload names the error; then the old one stops (delivering or
  spooling what it read) and the new one reads on from exactly there: no sample missed or
  repeated. A sink that was in an outage takes its spool along (same name, same spool). A sink
  that cannot start (its folder under `state_dir` not writable, say) is named in the reload's
  errors and does not run; the next reload tries it again.
- **Devices** (`[[devices]]`, by `name`) apply live, and the scanner applies them in its own
  loop: a meter whose table did not change keeps its session and connections (no Forward Open,
  no reconnect, no sample missed). A removed meter is closed as at shutdown (Forward Close,
  UnRegisterSession) and leaves the status page. An added meter is opened at once; because
  stored samples name their device by the list the sinks started with, every running sink is
  restarted for it the way a changed sink is (delivering what it read, then reading on from
  exactly there: nothing missed or repeated). A changed meter takes its new ratios, nominal
  voltage and wiring from the next datagram on (its plausibility findings start afresh); when its
  connection changed too (`address`, `assemblies`, `rpi_ms`, `connection`, `transport`, an
  identity or connection override, ...) it is closed and opened again with the new settings.
  Settings a device refuses (an unknown host name, say) are named in the reload's errors and the
  device keeps its old ones (an added one is not added: the next reload tries again). A meter
  removed and added back keeps its place (same profile). A changed `profile` closes the meter and
  opens it again with the new profile; a changed `asset` keeps its connection. Either way every
  running sink is restarted as for an added meter, and the samples taken before the reload keep
  the field names, ratios and asset they were taken under, in memory and in every spool and the
  journal; the samples after carry the new ones. Any number of meters can be
  added over a run (up to a million, removed ones included), and the scanner's receive buffer
  (`receive_buffer_ms`) grows with what they produce.
- **`[logging] level`** applies live (over a `--log-level` given at start too).
- **Everything else** (every other key of `[gateway]`, `[logging]`, `[scanner]`, `[pipeline]`,
  `[simulator]`, `[status]` and `[alerts]`) applies at the next start. The reload
  names each such change, e.g. `restart needed for: [status] listen, [scanner] udp_port`,
  and keeps the running values; the meters stay connected.
- With `durability = "journal"` all of this applies live too: the journal follows the sinks that
  run (a restarted sink's position is kept until its new instance runs, a removed sink is no
  longer waited for), and from a reload that adds a meter or changes a profile or asset on, it
  writes under the new layout; a crash right after the reload re-feeds every sink what it had not
  secured, each sample under the names it was taken with.
- **An invalid file is refused** whole: nothing is applied, each error is logged with its line,
  and the running configuration is kept.

The outcome of the last reload is logged, shown on the status page ("Last reload") and in
`/api/status` as `reload` (`result` "applied" or "refused", `summary`, `applied`, `restart_needed`,
`errors`). Under systemd the gateway sends `RELOADING=1` and then `READY=1` with the outcome in
its status line (`systemctl status`), so `systemctl reload` returns once the reload is done.
`${VAR}` values are read from the gateway's environment as it was at start: a changed
`EnvironmentFile` needs a restart. A changed profile file behind an unchanged `profile` key is not
noticed by a reload.
)";

}  // namespace

// How the device profile and the device table's overrides fit together.
constexpr const char* kProfileOverrides = R"(
**What comes from the profile, and overriding it on site.** A device's profile
(`etc/profiles/powermonitor500.toml` built in, or the file `profile` names; the format is at the
top of that file) holds the assemblies' elements and also the device's identity table (vendor,
device type, product codes, product name pattern: what the identity check accepts) and
its connection table (configuration instance, input-only and listen-only connection points, a 32-bit
run/idle header on T->O or O->T). When one number differs on site, set it in the device's table
instead of copying the profile: `identity_vendor`, `identity_device_type`,
`identity_product_name`, `product_code`, `config_instance`, `input_only_point`,
`listen_only_point`, `t_o_header`, `o_t_header` (0, empty or "profile" keep the profile's value).
For example, a meter whose configuration instance is 3:

```toml
[[devices]]
name = "mcc-1"
address = "192.168.10.21"
config_instance = 3
```

A wrong configuration instance or connection point shows as a path error (`0x01/0x0315`,
`0x01/0x012F`) naming the Forward Open; `pm500-gateway check` shows the identity that answered.
A Forward Open refused for its size (`0x01/0x0127`, `0x0128`) with the size the device wants is
retried at once when that size is the profile's with a run/idle header added or taken away (the
log, the status page and `check` say so, and which key to set); any other size is reported with
both sizes and the profile key to correct. `etc/profiles/sample-adapter.toml` is a second
device's profile (a generic EtherNet/IP adapter) to start from.
)";

std::string example_toml(std::span<const SinkSchema> sinks) {
  std::string s =
      "# pm500-gateway: every configuration key, with its meaning and default.\n"
      "# Generated by `pm500-gateway config --example`; a test compares it with the program.\n"
      "# Copy what you need; keys left out take the defaults shown here. Any string may use\n"
      "# ${VAR} or ${VAR:-default} to read the environment (for secrets).\n";
  s += "\n[gateway]\n" + keys(describe(gateway_options()));
  s += "\n[logging]\n" + keys(describe(logging_options()));
  s += "\n[scanner]\n" + keys(describe(scanner_options()));
  s += "\n[pipeline]\n" + keys(describe(pipeline_options()));
  s += "\n[simulator]\n" + keys(describe(simulator_options()));
  s += "\n[status]\n" + keys(describe(status_options()));
  s += "\n[alerts]\n" + keys(describe(alerts_options()));
  s += "\n# One [[devices]] table per meter.\n[[devices]]\n" + keys(describe(device_options()));
  for (const auto& k : sinks) {
    s += "\n" + comment(k.summary) + "[sinks." + k.name + "]\n";
    std::vector<OptionDoc> delivery = describe(delivery_options(), k.delivery_defaults);
    // The example keeps every sink switched off; turn on the ones you use.
    for (auto& d : delivery)
      if (d.key == "enabled") d.example = "false";
    s += keys(delivery) + keys(k.describe());
  }
  return s;
}

std::string markdown_reference(std::span<const SinkSchema> sinks) {
  std::string s =
      "# Configuration reference\n\n"
      "Generated from the options tables by `pm500-gateway config --reference`; do not edit by hand "
      "(a test compares this file with the program).\n\n"
      "One TOML file configures the gateway. Unknown keys are errors. Any string value may use "
      "`${VAR}` or `${VAR:-default}` to take text from the environment (`$$` is a literal `$`); a "
      "missing variable without a default is an error naming it. No string may be longer than " +
      std::to_string(kMaxStringBytes) + " bytes (after substitution). Secrets are never printed.\n\n";
  s += "## [gateway]\n\n" + table(describe(gateway_options()));
  s += "\n## [logging]\n\n" + table(describe(logging_options()));
  s += "\n## [scanner]\n\nThe EtherNet/IP scanner shared by all devices.\n\n" + table(describe(scanner_options()));
  s += "\n## [pipeline]\n\n" + table(describe(pipeline_options()));
  s += "\n## [simulator]\n\nSimulated meters inside the gateway, for the demo and trials.\n\n" +
       table(describe(simulator_options()));
  s += "\n## [status]\n\nThe embedded HTTP server: status page, JSON API, Prometheus metrics and health endpoints "
       "(docs/status-api.md).\n\n" +
       table(describe(status_options()));
  s += "\n## [alerts]\n\nThe alert webhook: every raise and clear of a failure mode (`pm500-gateway troubleshooting`) "
       "is POSTed to one URL, retried with backoff while the endpoint is away. Test it with `pm500-gateway "
       "alert-test -c FILE`.\n\n" +
       table(describe(alerts_options()));
  s += "\n## [[devices]]\n\nOne table per meter (a PowerMonitor 500, or the device its `profile` describes).\n\n" +
       table(describe(device_options())) + kProfileOverrides;
  s += "\n## [sinks.NAME]: delivery keys every sink has\n\n" + table(describe(delivery_options()));
  for (const auto& k : sinks) s += "\n## [sinks." + k.name + "]\n\n" + k.summary + "\n\n" + table(k.describe());
  s += kReloading;
  return s;
}

}  // namespace pm500::config
