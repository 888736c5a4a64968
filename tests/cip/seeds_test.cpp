// The fuzz seed corpus (fuzz/corpus/<target>/) is the golden bytes; this test keeps them equal.
// Run with PM500_WRITE_SEEDS=1 to (re)write the corpus after changing golden.hpp.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include "golden.hpp"
#include "support/support.hpp"

namespace {

struct Seed {
  const char* target;
  const char* name;
  golden::bytes bytes;
};

const Seed seeds[] = {
    {"fuzz_encap", "register_session_request", golden::register_session_request},
    {"fuzz_encap", "register_session_reply", golden::register_session_reply},
    {"fuzz_encap", "unregister_session", golden::unregister_session},
    {"fuzz_encap", "list_identity_reply", golden::list_identity_reply},
    {"fuzz_encap", "list_services_reply", golden::list_services_reply},
    {"fuzz_encap", "send_unit_data", golden::send_unit_data},
    {"fuzz_message_router", "forward_open_request", golden::forward_open_request},
    {"fuzz_message_router", "large_forward_open_request", golden::large_forward_open_request},
    {"fuzz_message_router", "forward_open_reply", golden::forward_open_reply},
    {"fuzz_message_router", "forward_open_failure_0119", golden::forward_open_failure_0119},
    {"fuzz_message_router", "forward_open_failure_0128", golden::forward_open_failure_0128},
    {"fuzz_message_router", "forward_close_request", golden::forward_close_request},
    {"fuzz_message_router", "forward_close_reply", golden::forward_close_reply},
    {"fuzz_message_router", "get_attribute_single_request", golden::get_attribute_single_request},
    {"fuzz_message_router", "get_attribute_single_reply", golden::get_attribute_single_reply},
    {"fuzz_message_router", "get_attributes_all_identity_reply", golden::get_attributes_all_identity_reply},
    {"fuzz_message_router", "unconnected_send_request", golden::unconnected_send_request},
    {"fuzz_class1", "class1_datagram", golden::class1_datagram},
    {"fuzz_class1", "class1_heartbeat_run_idle", golden::class1_heartbeat_run_idle},
    {"fuzz_epath", "epath_all_kinds", golden::epath_all_kinds},
};

}  // namespace

TEST_CASE("fuzz seed corpus equals the golden bytes") {
  auto root = pm500::test::source_dir() / "fuzz" / "corpus";
  bool write = std::getenv("PM500_WRITE_SEEDS") != nullptr;
  for (const auto& s : seeds) {
    auto path = root / s.target / s.name;
    CAPTURE(path.string());
    if (write) {
      std::filesystem::create_directories(path.parent_path());
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(s.bytes.data()), static_cast<std::streamsize>(s.bytes.size()));
    }
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing seed; run with PM500_WRITE_SEEDS=1");
    std::vector<std::uint8_t> got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(got == std::vector<std::uint8_t>(s.bytes.begin(), s.bytes.end()));
  }
}
