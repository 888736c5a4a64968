// The embedded simulator's options from [simulator], shared by `run` (gateway.cpp) and `check`
// (check.cpp), so both start the same simulated meters.
#pragma once

#include <string>

#include "config/config.hpp"
#include "pm500/expected.hpp"
#include "tools/pm500-sim/simulator.hpp"

namespace pm500::app {

// Meters at sc.address and the following addresses, configured with the section's ratios, load
// and identity; control_port as configured. An error names the key.
pm500::expected<sim::Options, std::string> simulator_options(const config::SimulatorSection& sc);

}  // namespace pm500::app
