// pm500-sim: simulated PowerMonitor 500 meters on loopback addresses, until SIGTERM or SIGINT.
// Prints one line when every meter listens (tests wait for it):
//   pm500-sim: 2 meter(s) at 127.0.0.2:44818 127.0.0.3:44818 control 127.0.0.1:7000
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "device/settings.hpp"
#include "log/log.hpp"
#include "simulator.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "pm500-sim: simulated Allen-Bradley PowerMonitor 500 meters (EtherNet/IP adapters) on loopback "
      "addresses, with fault injection; for tests, demos and scale runs.",
      "pm500-sim"};
  app.footer(
      "\nExamples:\n"
      "  pm500-sim --address 127.0.0.2                       one meter, a PLC owning its data (listen-only works)\n"
      "  pm500-sim --address 127.0.0.10 --meters 100 --control-port 7000\n"
      "  pm500-sim --no-owner --fault \"refuse 0x01 0x0106\"    every Forward Open refused: ownership conflict\n"
      "  echo 'status' | nc -q1 127.0.0.1 7000                control protocol (see README.md)\n");

  pm500::sim::MeterOptions base;
  std::string address = base.address;
  std::size_t meters = 1;
  std::uint16_t control_port = 0;
  bool owner = true, no_owner = false;
  double nominal_voltage = 480, load_percent = 60;
  std::string ct = "400:5", pt, applied_by = "meter", wiring = "3PN";
  std::vector<std::string> faults;
  std::string log_level = "info", log_format = "auto";

  app.add_option("--address", address, "Loopback address of the first meter; more meters take the next addresses")
      ->capture_default_str();
  app.add_option("--meters", meters, "Number of meters")->check(CLI::Range(1, 65535))->capture_default_str();
  app.add_option("--port", base.tcp_port, "EtherNet/IP TCP port (and UDP ListIdentity port) of each meter")
      ->capture_default_str();
  app.add_option("--udp-port", base.udp_port, "Class 1 UDP port of each meter (O->T in, T->O out)")
      ->capture_default_str();
  base.product_code = 0;
  app.add_option("--product-code", base.product_code,
                 "One of the profile's product codes (PowerMonitor 500: 4..9 = 1420-V1-ENT, -V1P, -V1A, -V2, -V2P, "
                 "-V2A-ENT); 0 = the highest, 9 for the PowerMonitor 500")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--serial", base.serial, "Serial number of the first meter (0 = derived from the address)");
  app.add_flag("--owner", owner, "A simulated PLC owns every T->O point, so listen-only is accepted (default)");
  app.add_flag("--no-owner", no_owner, "No simulated owner: listen-only is refused 0x01/0x0119 until someone owns");
  app.add_option("--max-connections", base.max_connections, "Class 1 connections per meter before 0x01/0x0113")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--control-port", control_port, "Control protocol on 127.0.0.1:PORT (0 = none)");
  bool private_netns = false;
  app.add_flag("--private-netns", private_netns,
               "Accept private (RFC 1918) meter addresses; only inside a named network namespace (ip netns), "
               "e.g. for scale runs across a veth pair (bench/scale/run.sh)");
  app.add_option("--profile", base.profile_path, "Device profile file (default: the built-in PowerMonitor 500 one)");
  app.add_option("--t-o-header", base.t_o_header,
                 "Demand this T->O real-time format instead of the profile's: none or run_idle (32-bit run/idle "
                 "header); another T->O size is refused 0x01/0x0128 naming the size wanted")
      ->check(CLI::IsMember({"none", "run_idle"}));
  app.add_option("--o-t-header", base.o_t_header, "The same for O->T (heartbeats; refused 0x01/0x0127)")
      ->check(CLI::IsMember({"none", "run_idle"}));
  app.add_option("--seed", base.seed, "Noise seed of the first meter (meter i uses seed + i)")->capture_default_str();
  app.add_option("--nominal-voltage", nominal_voltage, "Line-to-line voltage at the primary")->capture_default_str();
  app.add_option("--load-percent", load_percent, "Mean load current, percent of the CT primary")
      ->check(CLI::Range(0.0, 200.0))
      ->capture_default_str();
  app.add_option("--ct", ct, "CT ratio the meter is configured with (\"400:5\")")->capture_default_str();
  app.add_option("--pt", pt, "PT ratio (\"480:120\"); empty = voltage inputs wired directly");
  app.add_option("--ratios-applied-by", applied_by,
                 "meter: values are primary (the meter multiplies); gateway: values are secondary")
      ->check(CLI::IsMember({"meter", "gateway"}))
      ->capture_default_str();
  app.add_option("--wiring", wiring, "Wiring system: 3PN, 3P, 3P1, 3P2, 2P, 1P")->capture_default_str();
  app.add_option("--power-factor", base.feeder.power_factor, "Lagging power factor of the load")->capture_default_str();
  app.add_option("--frequency", base.feeder.frequency_hz, "System frequency, Hz")->capture_default_str();
  app.add_option("--fault", faults,
                 "A fault from the start, as the control command without 'fault', e.g. \"refuse 0x01 0x0119\"; "
                 "repeatable");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "auto, text, json")
      ->check(CLI::IsMember({"auto", "text", "json"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  pm500::log::setup(log_level, pm500::log::resolve_format(log_format));
  auto log = pm500::log::get("sim");

  auto settings = pm500::device::make_settings("pm500-sim", ct, pt, applied_by, nominal_voltage, wiring);
  if (!settings) {
    std::cerr << "pm500-sim: " << settings.error() << "\n";
    return 2;
  }
  base.feeder.device = *settings;
  base.feeder.load_a = load_percent / 100.0 * settings->ct_primary_a();
  if (base.feeder.load_a <= 0) base.feeder.load_a = 1e-6;  // 0 means "default" to the model; keep it idle
  base.owner = owner && !no_owner;

  auto options = pm500::sim::Options::range(address, meters, base);
  options.control_port = control_port;
  options.private_netns = private_netns;

  // Blocked before the event-loop thread starts, so only sigwait() below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto sim = pm500::sim::Simulator::start(std::move(options));
  if (!sim) {
    std::cerr << "pm500-sim: " << sim.error() << "\n";
    return 1;
  }
  for (const auto& f : faults) {
    auto reply = (*sim)->command("fault " + f);
    if (reply.rfind("ok", 0) != 0) {
      std::cerr << "pm500-sim: --fault \"" << f << "\": " << reply << "\n";
      return 2;
    }
  }

  std::string line = "pm500-sim: " + std::to_string(meters) + " meter(s) at ";
  auto ep = [&](std::size_t i) {
    auto o = pm500::sim::Options::range(address, i + 1, base);
    return o.meters.back().address + ":" + std::to_string(base.tcp_port);
  };
  if (meters <= 4) {
    for (std::size_t i = 0; i < meters; ++i) line += (i ? " " : "") + ep(i);
  } else {
    line += ep(0) + " .. " + ep(meters - 1);
  }
  line += " udp " + std::to_string(base.udp_port);
  line += control_port != 0 ? " control 127.0.0.1:" + std::to_string((*sim)->control_port()) : " control off";
  std::cout << line << std::endl;
  log->info("{}", line.substr(11));

  int sig = 0;
  sigwait(&set, &sig);
  log->info("pm500-sim: signal {}, stopping", sig);
  (*sim)->stop();
  return 0;
}
