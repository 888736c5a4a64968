#include "app/overload.hpp"

#include <cstdio>
#include <fstream>

namespace pm500::app {
namespace {

std::string sysctl_advice(const cip::ReceiveStats& rx) {
  return "`sysctl -w net.core.rmem_max=" + std::to_string(rx.buffer_wanted) +
         "` (persist it in /etc/sysctl.d/, then restart the gateway)";
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

std::optional<std::string> OverloadWatch::evaluate(const cip::ReceiveStats& rx, std::int64_t now_ms,
                                                   std::uint64_t rmem_max) {
  const cip::ReceiveStats prev = last_;
  const std::int64_t prev_ms = last_ms_;
  last_ = rx;
  last_ms_ = now_ms;
  if (prev_ms < 0 || now_ms <= prev_ms) return std::nullopt;
  const double secs = static_cast<double>(now_ms - prev_ms) / 1000.0;
  const std::uint64_t dropped = rx.kernel_drops - prev.kernel_drops;
  const double cpu = static_cast<double>(rx.cpu_ns - prev.cpu_ns) / 1e9 / secs;
  const bool saturated = cpu >= kSaturatedCpu;
  if (dropped == 0 && !saturated) return std::nullopt;

  std::string e = "the scanner cannot keep up: " + fixed(static_cast<double>(dropped) / secs, 0) +
                  " datagrams/s dropped by the kernel on the Class 1 receive socket over the last " + fixed(secs, 1) +
                  " s; scanner thread at " + fixed(cpu * 100.0, 0) + "% of a core";
  const std::uint64_t dgrams = rx.datagrams - prev.datagrams;
  const std::uint64_t calls = rx.receive_calls - prev.receive_calls;
  if (calls > 0) {
    e += ", " + fixed(static_cast<double>(dgrams) / secs, 0) + " datagrams/s read, " +
         fixed(static_cast<double>(dgrams) / static_cast<double>(calls), 1) + " per call";
  }
  e += "; receive buffer " + std::to_string(rx.buffer_granted) + " bytes";
  if (rx.buffer_granted < rx.buffer_wanted) {
    e += " of the " + std::to_string(rx.buffer_wanted) + " wanted (net.core.rmem_max" +
         (rmem_max ? " = " + std::to_string(rmem_max) : std::string()) + " caps it): raise it with " +
         sysctl_advice(rx);
  } else {
    e += " (as wanted): for longer stalls raise [scanner] receive_buffer_ms, and net.core.rmem_max with it";
  }
  if (saturated) {
    e += ". The scanner thread is saturated: fewer meters per gateway, a longer rpi_ms, or more CPU for the "
         "gateway (other work on the host competes for it)";
  }
  return e;
}

std::string receive_buffer_warning(const cip::ReceiveStats& rx, std::uint64_t rmem_max) {
  if (rx.buffer_granted >= rx.buffer_wanted) return "";
  return "Class 1 receive buffer: SO_RCVBUF " + std::to_string(rx.buffer_granted) + " bytes granted of the " +
         std::to_string(rx.buffer_wanted) + " wanted ([scanner] receive_buffer_ms of what the devices produce); " +
         "net.core.rmem_max" + (rmem_max ? " = " + std::to_string(rmem_max) : std::string()) +
         " caps it, so a stall of the scanner loses datagrams sooner (counted in pm500_scanner_kernel_drops_total, "
         "raised as gateway.overload). Raise it with " + sysctl_advice(rx);
}

std::uint64_t read_rmem_max() {
  std::ifstream in("/proc/sys/net/core/rmem_max");
  std::uint64_t v = 0;
  if (!(in >> v)) return 0;
  return v;
}

}  // namespace pm500::app
