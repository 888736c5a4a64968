// The scanner's decisions without a network: identity check, path errors, the listen-only
// fallback, connect errno classes, I/O timeouts on a fake clock, and fault bookkeeping.
#include <doctest/doctest.h>

#include <cerrno>

#include "cip/scanner_policy.hpp"

using namespace cip;
using namespace cip::detail;

namespace {
IdentityInfo meter_id(std::uint16_t code) { return IdentityInfo{1, 0x92, code, 2, 1, 0, 945000001, "PowerMonitor 500"}; }
ConnectionFailure failure(std::uint8_t g, std::optional<std::uint16_t> ext) {
  ConnectionFailure f;
  f.general_status = g;
  f.extended_status = ext;
  return f;
}
}  // namespace

TEST_CASE("identity: vendor 1, device type 0x92, product code 4..9 or the configured one") {
  const ExpectedIdentity pm500{};  // the built-in profile's values
  for (std::uint16_t code = 4; code <= 9; ++code) CHECK_FALSE(identity_mismatch(meter_id(code), pm500, 0));
  CHECK(identity_mismatch(meter_id(3), pm500, 0));
  CHECK(identity_mismatch(meter_id(10), pm500, 0));
  CHECK_FALSE(identity_mismatch(meter_id(7), pm500, 7));
  CHECK(identity_mismatch(meter_id(7), pm500, 9));
  IdentityInfo other{0x2A, 0x0C, 77, 1, 0, 0, 123, "Some Gateway"};
  auto why = identity_mismatch(other, pm500, 0);
  REQUIRE(why);
  CHECK(why->find("another device answers at this address") != std::string::npos);
  CHECK(why->find("vendor 42") != std::string::npos);
  CHECK(why->find("Some Gateway") != std::string::npos);
  CHECK(why->find("expected a PowerMonitor 500 (vendor 1, device type 0x92, product code 4..9)") != std::string::npos);
  // The fix: exactly the overrides that would accept what answered.
  CHECK(why->find("override on its [[devices]] entry: identity_vendor = 42, identity_device_type = 0x0C, "
                  "product_code = 77") != std::string::npos);
  CHECK(why->find("identity_product_name") == std::string::npos);  // the profile names no pattern
  CHECK(why->find("correct `address`") != std::string::npos);
  // Only what differs is named; the profile the expectation comes from is.
  auto code_only = identity_mismatch(meter_id(3), pm500, 0, "etc/profiles/site.toml");
  REQUIRE(code_only);
  CHECK(code_only->find("product code 4..9; profile etc/profiles/site.toml)") != std::string::npos);
  CHECK(code_only->find("entry: product_code = 3") != std::string::npos);
  CHECK(code_only->find("identity_vendor") == std::string::npos);
  IdentityInfo not_a_meter = meter_id(9);
  not_a_meter.device_type = 0x0E;
  CHECK(identity_mismatch(not_a_meter, pm500, 0));
}

TEST_CASE("identity: another device's profile decides, product name by pattern") {
  ExpectedIdentity adapter;
  adapter.device = "sample adapter";
  adapter.vendor = 9999;
  adapter.device_type = 0x0C;
  adapter.product_codes = {65001, 65003};
  adapter.product_name = "*Sample Adapter*";
  IdentityInfo id{9999, 0x0C, 65001, 1, 0, 0, 42, "EtherNet/IP Sample Adapter"};
  CHECK_FALSE(identity_mismatch(id, adapter, 0));
  CHECK(identity_mismatch(meter_id(9), adapter, 0));  // a PowerMonitor 500 is not this device
  id.product_code = 65002;
  auto why = identity_mismatch(id, adapter, 0);
  REQUIRE(why);
  CHECK(why->find("expected a sample adapter (vendor 9999, device type 0x0C, product code 65001, 65003, product "
                  "name \"*Sample Adapter*\")") != std::string::npos);
  id.product_code = 65003;
  id.product_name = "Sample Bridge";
  why = identity_mismatch(id, adapter, 0);
  REQUIRE(why);
  CHECK(why->find("entry: identity_product_name = \"*\"") != std::string::npos);
  adapter.product_name.clear();
  adapter.product_codes.clear();  // any code, any name
  id.product_code = 1;
  CHECK_FALSE(identity_mismatch(id, adapter, 0));
}

TEST_CASE("size refusals: a known header is adopted, anything else names both sizes and the key") {
  auto refusal = [](std::uint16_t ext, std::uint16_t wanted) {
    ConnectionFailure f = failure(0x01, ext);
    f.wanted_size = wanted;
    return f;
  };
  // Assembly 101, 48 bytes: asked 50 (data + sequence count), the device wants 54.
  auto a = adapt_size(refusal(0x0128, 54), 101, 48, false, false);
  REQUIRE(a);
  CHECK(a->t_o);
  CHECK(a->run_idle_header);
  CHECK(a->note.find("T->O with a 32-bit run/idle header") != std::string::npos);
  CHECK(a->note.find("at 50 bytes and the device asked for 54") != std::string::npos);
  CHECK(a->note.find("connection.t_o_header = \"run_idle\"") != std::string::npos);
  // The other way: the profile says header, the device wants none.
  a = adapt_size(refusal(0x0128, 50), 101, 48, true, false);
  REQUIRE(a);
  CHECK_FALSE(a->run_idle_header);
  // O->T: heartbeat of 2 bytes, the device wants the header (6).
  a = adapt_size(refusal(0x0127, 6), 101, 48, false, false);
  REQUIRE(a);
  CHECK_FALSE(a->t_o);
  CHECK(a->run_idle_header);
  // Sizes no header explains, no size said, other statuses: not adapted.
  CHECK_FALSE(adapt_size(refusal(0x0128, 52), 101, 48, false, false));
  CHECK_FALSE(adapt_size(refusal(0x0127, 8), 101, 48, false, false));
  CHECK_FALSE(adapt_size(failure(0x01, 0x0128), 101, 48, false, false));
  CHECK_FALSE(adapt_size(refusal(0x0113, 54), 101, 48, false, false));
  const std::string t = size_refusal_text(refusal(0x0128, 52), 101, 48, false, false, "my.toml");
  CHECK(t.find("asked for 50 bytes (48 data + 2 sequence count)") != std::string::npos);
  CHECK(t.find("the device wants 52 bytes") != std::string::npos);
  CHECK(t.find("assembly.101.size_bytes") != std::string::npos);
  CHECK(t.find("the profile my.toml") != std::string::npos);
  const std::string o = size_refusal_text(refusal(0x0127, 8), 101, 48, false, false, "");
  CHECK(o.find("O->T size") != std::string::npos);
  CHECK(o.find("connection.o_t_header in the device's profile") != std::string::npos);
}

TEST_CASE("path errors") {
  CHECK(is_path_error(0x05, 0));
  CHECK(is_path_error(0x04, 0));
  CHECK(is_path_error(0x16, 0));
  CHECK(is_path_error(0x01, 0x0315));
  CHECK(is_path_error(0x01, 0x0311));
  // Connection points the target does not have: a path to correct in the profile, not a refusal
  // that a retry could cure.
  CHECK(is_path_error(0x01, 0x012A));
  CHECK(is_path_error(0x01, 0x012B));
  CHECK(is_path_error(0x01, 0x012F));
  CHECK(decide_refusal(Mode::input_only, Fallback::none, failure(0x01, 0x012B), 101, 0).kind == Fault::Kind::path_error);
  CHECK_FALSE(is_path_error(0x01, 0x0119));
  CHECK_FALSE(is_path_error(0x01, 0x0127));  // a size the target wants otherwise: not a path
  CHECK_FALSE(is_path_error(0x08, 0));
}

TEST_CASE("listen-only refused with 0x0119 falls back as configured, by name") {
  auto f = failure(0x01, 0x0119);
  auto to_input = decide_refusal(Mode::listen_only, Fallback::input_only, f, 101, 1000);
  CHECK(to_input.action == RefusalDecision::Action::use_input_only);
  CHECK(to_input.reason.find("0x01/0x0119 non-listen-only connection not opened") != std::string::npos);
  CHECK(to_input.reason.find("fell back to input-only") != std::string::npos);

  auto to_explicit = decide_refusal(Mode::listen_only, Fallback::explicit_poll, f, 101, 500);
  CHECK(to_explicit.action == RefusalDecision::Action::use_explicit);
  CHECK(to_explicit.reason.find("fell back to explicit polling every 500 ms") != std::string::npos);

  auto none = decide_refusal(Mode::listen_only, Fallback::none, f, 101, 500);
  CHECK(none.action == RefusalDecision::Action::fail);
  CHECK(none.kind == Fault::Kind::forward_open_refused);
  CHECK(none.reason.find("no fallback") != std::string::npos);
}

TEST_CASE("other refusals fail; the fallback is only for listen-only without an owner") {
  auto own = decide_refusal(Mode::listen_only, Fallback::input_only, failure(0x01, 0x0106), 102, 1000);
  CHECK(own.action == RefusalDecision::Action::fail);
  CHECK(own.reason.find("0x01/0x0106") != std::string::npos);
  auto input = decide_refusal(Mode::input_only, Fallback::explicit_poll, failure(0x01, 0x0119), 102, 1000);
  CHECK(input.action == RefusalDecision::Action::fail);
  auto path = decide_refusal(Mode::listen_only, Fallback::input_only, failure(0x01, 0x0315), 102, 1000);
  CHECK(path.kind == Fault::Kind::path_error);
  auto unknown = decide_refusal(Mode::input_only, Fallback::none, failure(0x05, std::nullopt), 109, 1000);
  CHECK(unknown.kind == Fault::Kind::path_error);
  CHECK(unknown.reason.find("assembly 109") != std::string::npos);
}

TEST_CASE("connect errors: refused, timed out and unreachable are told apart") {
  CHECK(classify_connect_errno(ECONNREFUSED) == Fault::Kind::connect_refused);
  CHECK(classify_connect_errno(ETIMEDOUT) == Fault::Kind::connect_timeout);
  CHECK(classify_connect_errno(EHOSTUNREACH) == Fault::Kind::unreachable);
  CHECK(classify_connect_errno(ENETUNREACH) == Fault::Kind::unreachable);
  CHECK(classify_connect_errno(EMFILE) == Fault::Kind::socket_error);
}

TEST_CASE("I/O timeout on a fake clock: RPI x 4 x 2^multiplier") {
  const std::int64_t ms = 1'000'000;
  CHECK(io_timeout_ns(100'000, 0) == 400 * ms);
  CHECK(io_timeout_ns(100'000, 1) == 800 * ms);
  CHECK(io_timeout_ns(10'000, 3) == 320 * ms);
  const std::int64_t t = io_timeout_ns(100'000, 1);
  std::int64_t last_rx = 5'000 * ms;
  CHECK_FALSE(io_timed_out(last_rx, last_rx + t - 1, t));
  CHECK(io_timed_out(last_rx, last_rx + t, t));
  last_rx += 700 * ms;  // a datagram arrived: the window moves
  CHECK_FALSE(io_timed_out(last_rx, 5'000 * ms + t, t));
}

TEST_CASE("faults are raised once per distinct cause and cleared by a later attempt's success") {
  FaultBook book;
  Fault f;
  f.kind = Fault::Kind::forward_open_refused;
  f.general = 0x01;
  f.extended = 0x0106;
  CHECK(book.raise(f, 1));
  CHECK_FALSE(book.raise(f, 2));  // retry, same cause: not reported again
  f.extended = 0x0113;
  CHECK(book.raise(f, 3));        // another cause: reported
  Fault missing;
  missing.kind = Fault::Kind::path_error;
  missing.assembly = 105;
  CHECK(book.raise(missing, 4));
  // Attempt 4 reaches running: the refusal (attempt 3) clears, the missing assembly stays.
  const std::uint32_t mask = book.clear_older_than(4);
  CHECK(mask == (1u << FaultBook::index(Fault::Kind::forward_open_refused)));
  CHECK(book.active(Fault::Kind::path_error));
  CHECK(book.active_on(Fault::Kind::path_error, 105));
  CHECK(book.clear(Fault::Kind::path_error));
  CHECK_FALSE(book.clear(Fault::Kind::path_error));
}
