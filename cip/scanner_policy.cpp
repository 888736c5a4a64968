#include "cip/scanner_policy.hpp"

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

std::optional<std::string> identity_mismatch(const IdentityInfo& id, std::uint16_t expected) {
  const bool code_ok = expected != 0 ? id.product_code == expected
                                     : id.product_code >= pm500_product_min && id.product_code <= pm500_product_max;
  if (id.vendor == pm500_vendor && id.device_type == pm500_device_type && code_ok) return std::nullopt;
  char buf[320];
  char want[64];
  if (expected != 0) {
    std::snprintf(want, sizeof want, "product code %u", static_cast<unsigned>(expected));
  } else {
    std::snprintf(want, sizeof want, "product code 4..9");
  }
  std::snprintf(buf, sizeof buf,
                "another device answers at this address: vendor %u, device type 0x%02X, product code %u "
                "(\"%.*s\", serial %u, revision %u.%u); expected a PowerMonitor 500 (vendor 1, device type "
                "0x92, %s): check the IP address",
                static_cast<unsigned>(id.vendor), static_cast<unsigned>(id.device_type),
                static_cast<unsigned>(id.product_code), static_cast<int>(id.product_name.size()),
                id.product_name.data(), static_cast<unsigned>(id.serial), static_cast<unsigned>(id.revision_major),
                static_cast<unsigned>(id.revision_minor), want);
  return std::string(buf);
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
