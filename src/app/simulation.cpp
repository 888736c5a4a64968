#include "app/simulation.hpp"

#include <algorithm>

#include "device/settings.hpp"

namespace pm500::app {

pm500::expected<sim::Options, std::string> simulator_options(const config::SimulatorSection& sc) {
  auto settings = device::make_settings("simulator", sc.ct, sc.pt, "meter", sc.nominal_voltage, "3PN");
  if (!settings) return pm500::unexpected("[simulator] " + settings.error());
  sim::MeterOptions base;
  base.tcp_port = static_cast<std::uint16_t>(sc.tcp_port);
  base.udp_port = static_cast<std::uint16_t>(sc.udp_port);
  base.product_code = static_cast<std::uint16_t>(sc.product_code);
  base.owner = sc.owner;
  base.profile_path = sc.profile;
  base.seed = static_cast<std::uint64_t>(sc.seed);
  base.feeder.device = *settings;
  base.feeder.load_a = std::max(1e-6, sc.load_percent / 100.0 * settings->ct_primary_a());
  auto opts = sim::Options::range(sc.address, static_cast<std::size_t>(sc.meters), base);
  opts.control_port = static_cast<std::uint16_t>(sc.control_port);
  return opts;
}

}  // namespace pm500::app
