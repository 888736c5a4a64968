#include "control.hpp"

#include <charconv>
#include <optional>

namespace pm500::sim::detail {
namespace {

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' && line[j] != '\n') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// "0x0119", "281" -> value; nullopt when not a number or above `max`.
std::optional<std::uint32_t> number(std::string_view s, std::uint32_t max) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

struct Target {
  std::size_t first = 0;
  std::size_t last = 0;  // exclusive
};

}  // namespace

std::string format_status(const MeterStats& s) {
  return "ok sessions=" + std::to_string(s.sessions) + " connections=" + std::to_string(s.connections) +
         " owners=" + std::to_string(s.owners) + " listeners=" + std::to_string(s.listeners) +
         " packets=" + std::to_string(s.packets_sent) + " forward_open_ok=" + std::to_string(s.forward_open_ok) +
         " forward_open_refused=" + std::to_string(s.forward_open_refused) +
         " forward_close=" + std::to_string(s.forward_close) + " heartbeats=" + std::to_string(s.heartbeats_received) +
         " timeouts=" + std::to_string(s.timeouts);
}

std::string execute(std::string_view line, std::vector<std::unique_ptr<Meter>>& meters) {
  auto args = split(line);
  if (args.empty()) return "error empty command";

  // The optional trailing meter index: taken off when the command has more arguments than it
  // needs (`fixed`), so "fault refuse 0x01 0x0106" stays general + extended.
  Target t{0, meters.size()};
  auto take_meter = [&](std::size_t fixed) -> std::optional<std::string> {
    if (args.size() <= fixed) return std::nullopt;
    if (args.size() > fixed + 1) return "error too many arguments";
    auto m = number(args.back(), 0xFFFFFF);
    if (!m) return "error meter index '" + std::string(args.back()) + "' is not a number";
    if (*m >= meters.size())
      return "error no meter " + std::to_string(*m) + " (" + std::to_string(meters.size()) + " running)";
    t = {*m, *m + 1};
    args.pop_back();
    return std::nullopt;
  };
  auto each = [&](auto&& f) {
    for (std::size_t i = t.first; i < t.last; ++i) f(*meters[i]);
  };

  const auto cmd = args[0];
  if (cmd == "help") {
    return "ok status [m] | fault refuse <general> [<extended>|-] [m] | fault stop-producing|resume-producing [m] | "
           "fault silent-tcp on|off [m] | fault identity <vendor> <device_type> <product_code> [m] | "
           "fault identity reset [m] | fault ctpt ct-twice|ct-missing|pt-twice|pt-missing|none [m] | "
           "fault o-t-api <percent> [m] | fault t-o-size <data bytes>|off [m] | fault clear [m] | owner on|off [m]";
  }
  if (cmd == "status") {
    if (auto e = take_meter(1)) return *e;
    MeterStats sum;
    each([&](Meter& m) { sum += m.stats(); });
    return format_status(sum);
  }
  if (cmd == "owner") {
    if (args.size() < 2) return "error usage: owner on|off [m]";
    if (auto e = take_meter(2)) return *e;
    if (args[1] != "on" && args[1] != "off") return "error owner takes on or off, not '" + std::string(args[1]) + "'";
    const bool on = args[1] == "on";
    each([&](Meter& m) { m.set_owner(on); });
    return "ok";
  }
  if (cmd != "fault") return "error unknown command '" + std::string(cmd) + "' (try help)";
  if (args.size() < 2) return "error usage: fault <kind> ... (try help)";
  const auto kind = args[1];

  if (kind == "refuse") {
    // general, optional extended ("-" or "none" = no extended status when a meter index follows)
    if (args.size() < 3) return "error usage: fault refuse <general> [<extended>|-] [m]";
    if (auto e = take_meter(4)) return *e;
    auto general = number(args[2], 0xFF);
    if (!general || *general == 0) return "error general status '" + std::string(args[2]) + "' must be 0x01..0xFF";
    std::optional<std::uint16_t> extended;
    if (args.size() > 3 && args[3] != "-" && args[3] != "none") {
      auto x = number(args[3], 0xFFFF);
      if (!x) return "error extended status '" + std::string(args[3]) + "' must be 0..0xFFFF";
      extended = static_cast<std::uint16_t>(*x);
    }
    each([&](Meter& m) {
      auto& f = m.link_faults();
      f.refuse = true;
      f.refuse_general = static_cast<std::uint8_t>(*general);
      f.refuse_extended = extended;
    });
    return "ok";
  }
  if (kind == "t-o-size") {
    if (args.size() < 3) return "error usage: fault t-o-size <data bytes>|off [m]";
    if (auto e = take_meter(3)) return *e;
    auto bytes = args[2] == "off" ? std::optional<std::uint32_t>(0) : number(args[2], 500);
    if (!bytes) return "error data bytes '" + std::string(args[2]) + "' must be 1..500 or off";
    each([&](Meter& m) { m.link_faults().t_o_data_bytes = static_cast<std::uint16_t>(*bytes); });
    return "ok";
  }
  if (kind == "o-t-api") {
    if (args.size() < 3) return "error usage: fault o-t-api <percent of the O->T RPI> [m]";
    if (auto e = take_meter(3)) return *e;
    auto percent = number(args[2], 100'000);
    if (!percent || *percent == 0) return "error percent '" + std::string(args[2]) + "' must be 1..100000";
    each([&](Meter& m) { m.link_faults().o_t_api_percent = static_cast<std::uint32_t>(*percent); });
    return "ok";
  }
  if (kind == "stop-producing" || kind == "resume-producing") {
    if (auto e = take_meter(2)) return *e;
    const bool stop = kind == "stop-producing";
    each([&](Meter& m) { m.link_faults().stop_producing = stop; });
    return "ok";
  }
  if (kind == "silent-tcp") {
    if (args.size() < 3) return "error usage: fault silent-tcp on|off [m]";
    if (auto e = take_meter(3)) return *e;
    if (args[2] != "on" && args[2] != "off") return "error silent-tcp takes on or off";
    const bool on = args[2] == "on";
    each([&](Meter& m) { m.link_faults().silent_tcp = on; });
    return "ok";
  }
  if (kind == "identity") {
    if (args.size() >= 3 && args[2] == "reset") {
      if (auto e = take_meter(3)) return *e;
      each([&](Meter& m) { m.link_faults().other_identity = false; });
      return "ok";
    }
    if (args.size() < 5) return "error usage: fault identity <vendor> <device_type> <product_code> [m] | reset [m]";
    if (auto e = take_meter(5)) return *e;
    auto v = number(args[2], 0xFFFF), d = number(args[3], 0xFFFF), p = number(args[4], 0xFFFF);
    if (!v || !d || !p) return "error identity values must be numbers 0..0xFFFF";
    each([&](Meter& m) {
      auto& f = m.link_faults();
      f.other_identity = true;
      f.vendor = static_cast<std::uint16_t>(*v);
      f.device_type = static_cast<std::uint16_t>(*d);
      f.product_code = static_cast<std::uint16_t>(*p);
    });
    return "ok";
  }
  if (kind == "ctpt") {
    if (args.size() < 3) return "error usage: fault ctpt ct-twice|ct-missing|pt-twice|pt-missing|none [m]";
    if (auto e = take_meter(3)) return *e;
    const auto what = args[2];
    if (what != "ct-twice" && what != "ct-missing" && what != "pt-twice" && what != "pt-missing" && what != "none") {
      return "error ctpt takes ct-twice, ct-missing, pt-twice, pt-missing or none, not '" + std::string(what) + "'";
    }
    each([&](Meter& m) {
      auto& f = m.feeder_faults();
      f.ct_applied_twice = what == "ct-twice";
      f.ct_missing = what == "ct-missing";
      f.pt_applied_twice = what == "pt-twice";
      f.pt_missing = what == "pt-missing";
    });
    return "ok";
  }
  if (kind == "clear") {
    if (auto e = take_meter(2)) return *e;
    each([&](Meter& m) {
      m.link_faults() = LinkFaults{};
      m.feeder_faults() = m.options().feeder.faults;
    });
    return "ok";
  }
  return "error unknown fault '" + std::string(kind) + "' (try help)";
}

}  // namespace pm500::sim::detail
