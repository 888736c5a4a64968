// The control protocol: one text line per command, one reply line ("ok ..." or
// "error <reason>"). Shared by Simulator::command() and the control port. The grammar is in
// README.md ("Control protocol").
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "meter.hpp"

namespace pm500::sim::detail {

// Runs one command against `meters`; the caller holds the simulator's lock.
std::string execute(std::string_view line, std::vector<std::unique_ptr<Meter>>& meters);

// "ok sessions=1 connections=2 ..." for a stats value.
std::string format_status(const MeterStats& s);

}  // namespace pm500::sim::detail
