#include "cip/scanner_policy.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "cip/connection_params.hpp"
#include "cip/status.hpp"

namespace cip::detail {

Identity to_identity(const IdentityInfo& info) {
  Identity id;
  id.vendor = info.vendor;
  id.device_type = info.device_type;
  id.product_code = info.product_code;
  id.revision_major = info.revision_major;
  id.revision_minor = info.revision_minor;
  id.status = info.status;
  id.serial = info.serial;
  id.product_name = std::string(info.product_name);
  return id;
}

namespace {

std::string hex2(std::uint16_t v) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02X", static_cast<unsigned>(v));
  return b;
}

// "4..9", "4, 7", "" for none.
std::string code_list(const std::vector<std::uint16_t>& codes) {
  if (codes.empty()) return {};
  bool contiguous = codes.size() > 2;
  for (std::size_t i = 1; i < codes.size(); ++i) contiguous = contiguous && codes[i] == codes[i - 1] + 1;
  if (contiguous) return std::to_string(codes.front()) + ".." + std::to_string(codes.back());
  std::string s;
  for (auto c : codes) s += (s.empty() ? "" : ", ") + std::to_string(c);
  return s;
}

}  // namespace

std::optional<std::string> identity_mismatch(const IdentityInfo& id, const ExpectedIdentity& want,
                                             std::uint16_t expected, const std::string& profile) {
  const auto& codes = want.product_codes;
  const bool code_ok = expected != 0 ? id.product_code == expected
                                     : codes.empty() || std::find(codes.begin(), codes.end(), id.product_code) !=
                                                            codes.end();
  const std::string name(id.product_name);
  const bool name_ok = want.product_name.empty() || ::fnmatch(want.product_name.c_str(), name.c_str(), 0) == 0;
  const bool vendor_ok = id.vendor == want.vendor, type_ok = id.device_type == want.device_type;
  if (vendor_ok && type_ok && code_ok && name_ok) return std::nullopt;
  std::string wanted = "vendor " + std::to_string(want.vendor) + ", device type " + hex2(want.device_type);
  if (expected != 0) {
    wanted += ", product code " + std::to_string(expected);
  } else if (!codes.empty()) {
    wanted += ", product code " + code_list(codes);
  }
  if (!want.product_name.empty()) wanted += ", product name \"" + want.product_name + "\"";
  if (!profile.empty()) wanted += "; profile " + profile;
  char buf[200];
  std::snprintf(buf, sizeof buf, "vendor %u, device type 0x%02X, product code %u (\"%.*s\", serial %u, revision %u.%u)",
                static_cast<unsigned>(id.vendor), static_cast<unsigned>(id.device_type),
                static_cast<unsigned>(id.product_code), static_cast<int>(std::min<std::size_t>(name.size(), 64)),
                name.data(), static_cast<unsigned>(id.serial), static_cast<unsigned>(id.revision_major),
                static_cast<unsigned>(id.revision_minor));
  // The per-device keys (configuration, [[devices]]) that would accept exactly what answered.
  std::string keys;
  const auto key = [&keys](const std::string& k) { keys += (keys.empty() ? "" : ", ") + k; };
  if (!vendor_ok) key("identity_vendor = " + std::to_string(id.vendor));
  if (!type_ok) key("identity_device_type = " + hex2(id.device_type));
  if (!code_ok) key("product_code = " + std::to_string(id.product_code));
  if (!name_ok) key("identity_product_name = \"*\"");
  return "another device answers at this address: " + std::string(buf) + "; expected a " + want.device + " (" +
         wanted + "). If the meter is elsewhere, correct `address`; if this is the device to read, set `profile` " +
         "to a profile that describes it, or, for the same kind of device reporting other identity values, " +
         "override on its [[devices]] entry: " + keys;
}

namespace {

constexpr std::uint16_t ext_o_t_size = 0x0127;
constexpr std::uint16_t ext_t_o_size = 0x0128;
constexpr std::uint32_t kSeqCount = 2;      // Class 1 sequence count, part of every connection size
constexpr std::uint32_t kRunIdleHeader = 4;  // 32-bit run/idle header (CIP Vol 1, 3-6.1)

std::uint32_t t_o_size(std::uint32_t data, bool header) { return data + kSeqCount + (header ? kRunIdleHeader : 0); }
std::uint32_t o_t_size(bool header) { return kSeqCount + (header ? kRunIdleHeader : 0); }

}  // namespace

std::optional<SizeAdaptation> adapt_size(const ConnectionFailure& f, std::uint16_t assembly, std::uint32_t data_size,
                                         bool t_o_header, bool o_t_header) {
  if (f.general_status != 0x01 || !f.extended_status || !f.wanted_size) return std::nullopt;
  const std::uint16_t ext = *f.extended_status;
  if (ext != ext_o_t_size && ext != ext_t_o_size) return std::nullopt;
  const bool t_o = ext == ext_t_o_size;
  const bool had = t_o ? t_o_header : o_t_header;
  const std::uint32_t asked = t_o ? t_o_size(data_size, had) : o_t_size(had);
  const std::uint32_t other = t_o ? t_o_size(data_size, !had) : o_t_size(!had);
  if (*f.wanted_size != other) return std::nullopt;
  SizeAdaptation a;
  a.t_o = t_o;
  a.run_idle_header = !had;
  a.note = std::string(t_o ? "T->O" : "O->T") + (a.run_idle_header ? " with" : " without") +
           " a 32-bit run/idle header: assembly " + std::to_string(assembly) + " was refused " +
           describe_failure(f.general_status, f.extended_status) + " at " + std::to_string(asked) +
           " bytes and the device asked for " + std::to_string(other) + "; set " +
           (t_o ? "connection.t_o_header" : "connection.o_t_header") + " = \"" +
           (a.run_idle_header ? "run_idle" : "none") + "\" in the profile to start that way";
  return a;
}

std::string size_refusal_text(const ConnectionFailure& f, std::uint16_t assembly, std::uint32_t data_size,
                              bool t_o_header, bool o_t_header, const std::string& profile) {
  const bool t_o = f.extended_status && *f.extended_status == ext_t_o_size;
  const std::uint32_t asked = t_o ? t_o_size(data_size, t_o_header) : o_t_size(o_t_header);
  std::string s = std::string(t_o ? "T->O" : "O->T") + " size of assembly " + std::to_string(assembly) +
                  " refused " + describe_failure(f.general_status, f.extended_status) + ": the gateway asked for " +
                  std::to_string(asked) + " bytes";
  s += t_o ? " (" + std::to_string(data_size) + " data + 2 sequence count" + (t_o_header ? " + 4 run/idle header)" : ")")
           : std::string(" (2 sequence count") + (o_t_header ? " + 4 run/idle header)" : ")");
  if (f.wanted_size) {
    s += ", the device wants " + std::to_string(*f.wanted_size) + " bytes, which no known header explains";
  } else {
    s += ", the device did not say which size it wants";
  }
  const std::string where = profile.empty() ? "the device's profile" : "the profile " + profile;
  s += t_o ? "; correct assembly." + std::to_string(assembly) + ".size_bytes (and its elements) or connection.t_o_header in " +
                 where
           : "; correct connection.o_t_header in " + where;
  return s;
}

bool is_path_error(std::uint8_t general, std::uint16_t extended) {
  switch (general) {
    case 0x04:  // path segment error
    case 0x05:  // path destination unknown
    case 0x16:  // object does not exist
    case 0x26:  // path size invalid
      return true;
    case 0x01:
      switch (extended) {
        case 0x0117:  // invalid connection point
        case 0x012A:  // invalid consuming application path (the O->T point)
        case 0x012B:  // invalid producing application path (the T->O point)
        case 0x012F:  // inconsistent application path combination
        case 0x0311:  // invalid port
        case 0x0312:  // invalid link address
        case 0x0315:  // invalid segment in the connection path
          return true;
        default:
          return false;
      }
    default:
      return false;
  }
}

namespace {

std::string failure_words(const ConnectionFailure& f) {
  std::string s = describe_failure(f.general_status, f.extended_status);
  std::string_view meaning =
      f.general_status == 0x01 && f.extended_status ? extended_status_text(*f.extended_status)
                                                    : general_status_text(f.general_status);
  if (!meaning.empty()) {
    s += " (";
    s += meaning;
    s += ")";
  }
  return s;
}

std::string poll_words(std::uint32_t ms) { return "explicit polling every " + std::to_string(ms) + " ms"; }

}  // namespace

std::string configured_reason(Mode m, std::uint32_t poll_interval_ms) {
  switch (m) {
    case Mode::listen_only: return "listen-only as configured";
    case Mode::input_only: return "input-only as configured";
    case Mode::explicit_poll: return poll_words(poll_interval_ms) + " as configured";
  }
  return {};
}

RefusalDecision decide_refusal(Mode path, Fallback fallback, const ConnectionFailure& f, std::uint16_t assembly,
                               std::uint32_t poll_interval_ms) {
  RefusalDecision d;
  const bool no_owner = f.general_status == 0x01 && f.extended_status && *f.extended_status == ext_no_owner;
  const std::string what = std::string(to_string(path)) + " Forward Open to assembly " + std::to_string(assembly) +
                           " refused: " + failure_words(f);
  if (path == Mode::listen_only && no_owner) {
    const std::string head =
        "listen-only refused " + describe_failure(f.general_status, f.extended_status) +
        " (no owner: listen-only needs a PLC's input-only connection to the meter): ";
    if (fallback == Fallback::input_only) {
      d.action = RefusalDecision::Action::use_input_only;
      d.reason = head + "fell back to input-only";
      return d;
    }
    if (fallback == Fallback::explicit_poll) {
      d.action = RefusalDecision::Action::use_explicit;
      d.reason = head + "fell back to " + poll_words(poll_interval_ms);
      return d;
    }
    d.reason = what + "; no fallback configured";
    return d;
  }
  d.kind = is_path_error(f.general_status, f.extended_status.value_or(0)) ? Fault::Kind::path_error
                                                                          : Fault::Kind::forward_open_refused;
  d.reason = what;
  return d;
}

Fault::Kind classify_connect_errno(int err) {
  switch (err) {
    case ECONNREFUSED: return Fault::Kind::connect_refused;
    case ETIMEDOUT: return Fault::Kind::connect_timeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case EADDRNOTAVAIL: return Fault::Kind::unreachable;
    default: return Fault::Kind::socket_error;
  }
}

std::int64_t io_timeout_ns(std::uint32_t rpi_us, std::uint8_t multiplier) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(connection_timeout(rpi_us, multiplier)).count();
}

bool FaultBook::raise(const Fault& f, std::uint32_t attempt) {
  Key k{f.general, f.extended, f.encap_status, f.sys_errno, f.assembly, attempt};
  auto& slot = slots_[index(f.kind)];
  if (slot && slot->same_cause(k)) {
    slot->attempt = attempt;  // still there: it belongs to this attempt now
    return false;
  }
  slot = k;
  return true;
}

bool FaultBook::clear(Fault::Kind k) {
  auto& slot = slots_[index(k)];
  if (!slot) return false;
  slot.reset();
  return true;
}

std::uint32_t FaultBook::clear_older_than(std::uint32_t attempt) {
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i] && slots_[i]->attempt != attempt) {
      slots_[i].reset();
      mask |= 1u << i;
    }
  }
  return mask;
}

}  // namespace cip::detail
