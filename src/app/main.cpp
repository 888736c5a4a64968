// pm500-gateway: command line. Each command is a function in commands.cpp.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/check.hpp"
#include "app/commands.hpp"
#include "app/commission.hpp"
#include "app/exit_codes.hpp"
#include "app/version.hpp"

int main(int argc, char** argv) {
  using namespace pm500::app;
  CLI::App app{
      "pm500-gateway: reads Allen-Bradley PowerMonitor 500 meters over EtherNet/IP (listen-only by default), "
      "scales by the site's CT/PT ratios and delivers every sample to MQTT, InfluxDB, AWS IoT Core and local "
      "files, diagnosing itself against the plant's troubleshooting guide.",
      "pm500-gateway"};
  app.footer(std::string("\nExamples:\n"
                         "  pm500-gateway run -c /etc/pm500-gateway/gateway.toml\n"
                         "  pm500-gateway check -c gateway.toml        validate the file and probe everything\n"
                         "  pm500-gateway commission -c gateway.toml   read every meter once, print its values\n"
                         "  pm500-gateway config -c gateway.toml       print the effective configuration\n"
                         "  pm500-gateway config --reference           print every key with its default\n"
                         "  pm500-gateway alert-test -c gateway.toml   send a test alert to the webhook\n"
                         "  pm500-gateway troubleshooting              what the gateway detects, and the fixes\n\n") +
             kExitCodeHelp);
  app.set_version_flag("--version,-V", std::string("pm500-gateway ") + pm500::kVersion);
  app.require_subcommand(1);

  Options opt;
  auto add_config = [&](CLI::App* cmd, bool required) {
    auto* o = cmd->add_option("-c,--config", opt.config_file, "Configuration file (TOML)");
    if (required) o->required();
    o->envname("PM500_CONFIG");
    cmd->add_option("--log-level", opt.log_level, "Override [logging] level: trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    cmd->add_option("--log-format", opt.log_format, "Override [logging] format: auto, text, json")
        ->check(CLI::IsMember({"auto", "text", "json"}));
  };

  auto* run = app.add_subcommand("run", "Run the gateway until SIGTERM or SIGINT");
  add_config(run, true);
  auto* check = app.add_subcommand("check", "Validate the configuration and probe every device and sink once");
  check->footer(
      "\nOne line per check: \u2713 ok, ! warning (works, not as configured), \u2717 failed with the failure mode\n"
      "and its fix; exit 3 when any check fails.\n"
      "  devices  TCP and session, identity, assembly sizes, Forward Open, data, Forward Close; never on a UDP\n"
      "           port a running gateway holds. An enabled [simulator] is started for the check.\n"
      "  sinks    connect, credentials, database/bucket, certificates; nothing is written. MQTT connects as\n"
      "           <client_id>-check, AWS IoT as the thing name (a running gateway reconnects by itself).\n");
  add_config(check, true);
  CheckOptions check_opt;
  check->add_flag("--offline", check_opt.offline, "Validate the configuration only; send nothing to devices or sinks");
  auto* comm = app.add_subcommand(
      "commission", "Read each meter once (or for N seconds) and print its identity, connection and scaled values");
  comm->footer(
      "\nFor commissioning on site: compare each value with the meter's front panel before going live, like\n"
      "`telegraf --test`. Read-only: no sink is started; nothing is stored, spooled or sent.\n"
      "Per meter: the identity it reports (vendor, device type, product code, revision, serial, name), the\n"
      "connection it granted (listen-only / input-only / explicit, multicast or point-to-point, RPIs,\n"
      "connection ids, where T->O data arrives), the CT/PT ratios and who applies them (meter or gateway), every\n"
      "value of every configured assembly after scaling, with its unit and ratio, and any plausibility finding.\n"
      "An unreachable meter is named with the cause and the fix, and the others are still read.\n"
      "An enabled [simulator] is started for the command. Exit codes: 0 every meter read, 3 a meter could not\n"
      "be read (unreachable, refused or no data), 2 configuration error, 1 the scanner could not start,\n"
      "64 usage (e.g. an unknown --device).\n"
      "  pm500-gateway commission -c gateway.toml --device mcc-1 --seconds 10\n"
      "  pm500-gateway commission -c gateway.toml --json | jq '.meters[].assemblies'\n");
  add_config(comm, true);
  CommissionOptions comm_opt;
  comm->add_option("--device", comm_opt.devices, "Only this [[devices]] name (repeat for several; default: every meter)");
  comm->add_option("--seconds", comm_opt.seconds,
                   "Read for N seconds and show the newest values (default: until one sample of every configured "
                   "assembly arrived, with a timeout)")
      ->check(CLI::Range(1, 3600));
  comm->add_flag("--json", comm_opt.json, "Print one JSON document instead of text");
  auto* cfg = app.add_subcommand("config", "Print the effective configuration (secrets redacted), or the reference");
  add_config(cfg, false);
  cfg->add_flag("--reference", opt.reference, "Print the Markdown reference of every key (docs/configuration.md)");
  cfg->add_flag("--example", opt.example, "Print an example file with every key (etc/gateway.example.toml)");

  auto* alert = app.add_subcommand(
      "alert-test", "Send one test alert to the [alerts] webhook and report the outcome (exit 0 delivered, 3 not)");
  add_config(alert, true);

  auto* ts = app.add_subcommand("troubleshooting",
                                 "Print every failure mode the gateway detects: symptom, cause, resolution, level");
  ts->add_flag("--markdown", opt.markdown, "Print docs/troubleshooting.md");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  if (run->parsed()) return cmd_run(opt);
  if (ts->parsed()) return cmd_troubleshooting(opt);
  if (alert->parsed()) return cmd_alert_test(opt);
  if (check->parsed()) return cmd_check(opt, check_opt);
  if (comm->parsed()) return cmd_commission(opt, comm_opt);
  if (cfg->parsed()) {
    if (!opt.reference && !opt.example && opt.config_file.empty()) {
      std::cerr << "pm500-gateway config: give -c FILE, --reference or --example\n";
      return kExitUsage;
    }
    return cmd_config(opt);
  }
  return kExitUsage;
}
