// `pm500-gateway commission -c FILE`: reads each configured meter once (or for N seconds) and
// prints what an electrician compares with the meter's front panel before going live: the
// identity the meter reported, the connection it granted, and every value after the gateway's
// CT/PT scaling with its unit, the ratio behind it and who applied it, plus any plausibility
// finding on those values. Read-only: no sink is started, nothing is stored, spooled or sent.
//
//   meter mcc-1 at 10.0.0.5:44818
//     identity      1420-V2A-ENT PowerMonitor 500 (vendor 1, device type 0x92, product code 9, ...)
//     connection    listen-only multicast, as configured; T->O RPI 1000 ms, heartbeat 1000 ms
//       101         T->O id 0x0A000001 on 239.192.5.1:2222 (multicast), RPI 1000 ms; O->T id ...
//     ratios        CT 400:5 (x80), PT 1:1 (x1), applied by the gateway
//     101           Real-time voltage and current (Class 1, sequence 17)
//       voltage_l1_n_v   277.1  V    x1 PT
//       current_l1_a     240.3  A    x80 CT
//     plausibility  no findings
//   1 meter: 1 read, 0 not read. Read-only: nothing was stored or sent.
//
// Exit codes as for `check`: 0 every meter read, 3 a meter could not be read (the others are
// still read and printed), 2 configuration error, 64 usage (an unknown --device).
#pragma once

#include <string>
#include <vector>

#include "app/commands.hpp"
#include "config/config.hpp"

namespace pm500::app {

struct CommissionOptions {
  std::vector<std::string> devices;  // --device NAME (repeatable): only these; empty = every device
  int seconds = 0;                   // --seconds N: read for N seconds; 0 = until one sample of each assembly
  bool json = false;                 // --json: one JSON document on stdout instead of text
};

// Loads the file and sets up logging (commands.cpp), then run_commission().
int cmd_commission(const Options& opt, const CommissionOptions& commission);
// Reads the meters of a loaded configuration and prints the report on stdout (problems that
// stop the whole command on stderr); returns the exit code.
int run_commission(config::GatewayConfig cfg, const CommissionOptions& commission);

}  // namespace pm500::app
