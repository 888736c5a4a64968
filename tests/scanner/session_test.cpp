// The scanner against a minimal scripted target, for what the simulator cannot do:
// - forget a session: after 0x0064 "invalid session handle" the scanner reports session_error,
//   registers a new session on the same TCP connection, reads again, and clears the fault;
// - tell the test its T->O connection id, so the test can forge Class 1 datagrams (another
//   source, unknown ids, truncated, malformed, oversized) and check that each is counted by
//   reason while the connection's own data keeps flowing.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "cip/cip.hpp"
#include "cip/scanner.hpp"
#include "recorder.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
using pm500::test::eventually;

namespace {

// One client at a time; answers RegisterSession, ListIdentity and Get_Attribute_Single of
// assembly attributes 3/4. forget() makes it drop the session, like a restarted adapter.
class ScriptedTarget {
 public:
  ScriptedTarget(const char* address, std::uint16_t port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_fd_, 4) == 0);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedTarget() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  void forget() { forget_ = true; }
  // Forward Open replies after the first wait until release(): the reply of a meter's next
  // assembly arriving after its first assembly's data, as on a busy network or scanner.
  void hold_later_opens() { hold_opens_ = true; }
  void release() { hold_opens_ = false; }
  // The T->O connection id of the last accepted Forward Open (point-to-point: the originator's).
  std::uint32_t t_o_id() const { return t_o_id_; }
  int accepted() const { return accepted_; }
  int registrations() const { return registrations_; }
  int invalid_replies() const { return invalid_; }

 private:
  void run() {
    int client = -1;
    std::vector<std::uint8_t> rx;
    while (!stop_) {
      pollfd p{client >= 0 ? client : listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      if (client < 0) {
        client = ::accept(listen_fd_, nullptr, nullptr);
        ++accepted_;
        continue;
      }
      std::uint8_t buf[2048];
      const ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(client);
        client = -1;
        rx.clear();
        continue;
      }
      rx.insert(rx.end(), buf, buf + n);
      for (;;) {
        const cip::bytes_view in(rx);
        const std::size_t need = cip::frame_size_needed(in);
        if (in.size() < need) break;
        auto f = cip::decode_frame(in);
        if (!f) break;
        answer(client, *f);
        rx.erase(rx.begin(), rx.begin() + static_cast<std::ptrdiff_t>(need));
      }
    }
    if (client >= 0) ::close(client);
  }

  void answer(int fd, const cip::Frame& f) {
    std::array<std::uint8_t, 512> out{};
    cip::Writer w(out);
    const auto& h = f.header;
    if (h.command == cip::Command::register_session) {
      ++registrations_;
      session_ = 0x1000 + static_cast<std::uint32_t>(registrations_);
      cip::encode_register_session(w, h.context, session_);
    } else if (h.command == cip::Command::list_identity) {
      cip::ListIdentityItem item;
      item.identity = cip::IdentityInfo{1, 0x92, 5, 3, 1, 0, 945000777, "PowerMonitor 500"};
      cip::encode_list_identity_reply(w, h.context, item);
    } else if (h.command == cip::Command::send_rr_data) {
      if (forget_.exchange(false)) session_ = 0;
      if (h.session != session_ || session_ == 0) {
        ++invalid_;
        auto m = cip::begin_frame(w, {.command = h.command, .session = h.session,
                                      .status = cip::encap_status::invalid_session, .context = h.context});
        cip::end_frame(w, m);
      } else {
        auto sd = cip::decode_send_data(f.payload);
        auto msg = cip::unconnected_message(*sd);
        auto req = cip::decode_request(*msg);
        auto m = cip::begin_send_rr_data(w, session_, h.context);
        if (req->service == cip::service::forward_open) {
          auto fo = cip::decode_forward_open(*req);
          REQUIRE(fo);
          if (++opens_ > 1)
            while (hold_opens_ && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          cip::ForwardOpenReply r;
          r.o_t_connection_id = 0x0A0B0C0D;
          r.t_o_connection_id = fo->t_o_connection_id;
          r.connection_serial = fo->connection_serial;
          r.originator_vendor = fo->originator_vendor;
          r.originator_serial = fo->originator_serial;
          r.o_t_api_us = fo->o_t_rpi_us;
          r.t_o_api_us = fo->t_o_rpi_us;
          cip::encode_forward_open_reply(w, r);
          cip::end_send_rr_data(w, m);
          t_o_id_ = fo->t_o_connection_id;
          REQUIRE(w.ok());
          [[maybe_unused]] auto sent = ::send(fd, w.written().data(), w.size(), MSG_NOSIGNAL);
          return;
        }
        if (req->service == cip::service::forward_close) {
          auto fc = cip::decode_forward_close(*req);
          REQUIRE(fc);
          cip::encode_forward_close_reply(w, {fc->connection_serial, fc->originator_vendor, fc->originator_serial, {}});
          cip::end_send_rr_data(w, m);
          REQUIRE(w.ok());
          [[maybe_unused]] auto sent = ::send(fd, w.written().data(), w.size(), MSG_NOSIGNAL);
          return;
        }
        auto addr = cip::decode_attribute_address(req->path);
        std::array<std::uint8_t, 48> data{};
        const std::uint8_t size[] = {48, 0};
        if (addr->attribute == 4) {
          cip::encode_attribute_reply(w, req->service, size);
        } else {
          cip::encode_attribute_reply(w, req->service, data);
        }
        cip::end_send_rr_data(w, m);
      }
    } else {
      return;  // UnRegisterSession and anything else: no reply
    }
    REQUIRE(w.ok());
    [[maybe_unused]] auto sent = ::send(fd, w.written().data(), w.size(), MSG_NOSIGNAL);
  }

  int listen_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false}, forget_{false}, hold_opens_{false};
  int opens_ = 0;
  std::atomic<int> accepted_{0}, registrations_{0}, invalid_{0};
  std::atomic<std::uint32_t> t_o_id_{0};
  std::uint32_t session_ = 0;
};

}  // namespace

TEST_CASE("0x0064 invalid session handle: session_error, a new session on the same connection, cleared") {
  const auto port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  ScriptedTarget target("127.0.3.101", port);
  scanner_test::Recorder rec;
  cip::DeviceSpec spec;
  spec.host = "127.0.3.101";
  spec.port = port;
  spec.mode = cip::Mode::explicit_poll;
  spec.poll_interval_ms = 50;
  spec.assemblies = {101};
  cip::ScannerOptions opt;
  opt.udp_port = 0;
  opt.request_timeout_ms = 500;
  cip::Scanner scanner(opt, {spec}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return rec.stream(0, 101).explicit_count >= 2; }, 5s));
  CHECK(rec.identity(0)->product_code == 5);

  target.forget();
  REQUIRE(eventually([&] { return rec.fault(0, cip::Fault::Kind::session_error).has_value(); }, 3s));
  const auto f = *rec.fault(0, cip::Fault::Kind::session_error);
  CHECK(f.encap_status == 0x0064);
  CHECK(f.text.find("0x0064 invalid session handle") != std::string::npos);
  CHECK(f.text.find("registering a new session") != std::string::npos);

  const auto before = rec.stream(0, 101).explicit_count;
  REQUIRE(eventually([&] { return rec.stream(0, 101).explicit_count >= before + 3; }, 3s));
  CHECK(rec.was_cleared(0, cip::Fault::Kind::session_error));
  CHECK(target.registrations() == 2);
  CHECK(target.accepted() == 1);  // the same TCP connection
  CHECK(target.invalid_replies() == 1);
  CHECK(scanner_test::status(scanner, 0).state == cip::DeviceState::running);
  scanner.stop();
}

namespace {

// A UDP socket bound to `address` (port chosen by the kernel).
struct Udp {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  std::uint16_t port = 0;
  explicit Udp(const char* address) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &a.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Udp() { ::close(fd); }
  void send_to(std::uint16_t to_port, const std::vector<std::uint8_t>& bytes) const {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(to_port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    [[maybe_unused]] auto n =
        ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }
};

std::vector<std::uint8_t> class1(std::uint32_t id, std::uint16_t seq) {
  static const std::array<std::uint8_t, 48> data{};
  std::array<std::uint8_t, 128> buf{};
  cip::Writer w(buf);
  cip::IoPacket p;
  p.connection_id = id;
  p.encap_sequence = seq;
  p.cip_sequence = seq;
  p.data = cip::bytes_view(data);
  cip::encode(w, p);
  REQUIRE(w.ok());
  return {w.written().begin(), w.written().end()};
}

// A listen-only, point-to-point device at the scripted target, its Class 1 socket `udp_port`,
// RPI 50 ms, I/O timeout 1.6 s (headroom on a loaded machine).
cip::DeviceSpec class1_spec(const char* host, std::uint16_t port, std::uint16_t udp_port,
                            std::vector<std::uint16_t> assemblies) {
  cip::DeviceSpec spec;
  spec.host = host;
  spec.port = port;
  spec.udp_port = udp_port;
  spec.mode = cip::Mode::listen_only;
  spec.multicast = false;
  spec.rpi_us = 50'000;
  spec.timeout_multiplier = 3;
  spec.assemblies = std::move(assemblies);
  return spec;
}

}  // namespace

TEST_CASE("hostile datagrams on the Class 1 port are counted by reason while the connection's data flows") {
  const auto port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  ScriptedTarget target("127.0.5.1", port);
  Udp meter_udp("127.0.5.1");  // the target's Class 1 socket: heartbeats in, T->O data out
  Udp hostile("127.0.5.2");
  scanner_test::Recorder rec;
  const cip::DeviceSpec spec = class1_spec("127.0.5.1", port, meter_udp.port, {101});
  cip::ScannerOptions opt;
  opt.udp_port = 0;
  opt.request_timeout_ms = 500;
  cip::Scanner scanner(opt, {spec}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return target.t_o_id() != 0; }, 5s));
  const std::uint32_t id = target.t_o_id();
  const std::uint16_t to = scanner.udp_port();

  std::atomic<bool> producing{true};
  std::thread producer([&] {
    for (std::uint16_t seq = 1; producing && seq < 2000; ++seq) {  // bounded: 2000 x 20 ms at most
      meter_udp.send_to(to, class1(id, seq));
      std::this_thread::sleep_for(20ms);
    }
  });
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == cip::DeviceState::running; }, 5s));
  CHECK(scanner.rejected_datagrams().total() == 0);

  auto valid = class1(id, 7);
  auto unknown = class1(id ^ 0x00FF0000u, 7);
  auto truncated = std::vector<std::uint8_t>(valid.begin(), valid.begin() + 10);  // inside the sequence number
  auto malformed = valid;
  malformed[2] = 0xA1;  // first item 0x00A1 (connected address) instead of 0x8002
  malformed[3] = 0x00;
  const std::vector<std::uint8_t> oversized(3000, 0x02);
  for (int i = 0; i < 3; ++i) hostile.send_to(to, unknown);
  for (int i = 0; i < 2; ++i) hostile.send_to(to, valid);  // our connection's id, from another address
  for (int i = 0; i < 4; ++i) hostile.send_to(to, truncated);
  hostile.send_to(to, malformed);
  hostile.send_to(to, oversized);

  REQUIRE(eventually([&] { return scanner.rejected_datagrams().total() >= 11; }, 3s));
  std::this_thread::sleep_for(100ms);  // nothing more arrives
  const auto r = scanner.rejected_datagrams();
  CHECK(r.unknown_connection == 3);
  CHECK(r.wrong_source == 2);
  CHECK(r.truncated == 4);
  CHECK(r.malformed == 1);
  CHECK(r.oversized == 1);
  CHECK(r.total() == 11);

  // The real connection was not disturbed.
  const auto before = rec.stream(0, 101).count;
  REQUIRE(eventually([&] { return rec.stream(0, 101).count >= before + 5; }, 3s));
  CHECK(rec.stream(0, 101).in_order);
  CHECK(scanner_test::status(scanner, 0).state == cip::DeviceState::running);
  CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
  producing = false;
  producer.join();
  scanner.stop();
}

TEST_CASE("data that arrives before the next Forward Open reply: the meter is shown running, never opening again") {
  const auto port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  ScriptedTarget target("127.0.24.2", port);
  target.hold_later_opens();
  Udp meter_udp("127.0.24.2");
  scanner_test::Recorder rec;
  // 102's Forward Open reply comes after 101's data; 107 is opened after it.
  const cip::DeviceSpec spec = class1_spec("127.0.24.2", port, meter_udp.port, {101, 102, 107});
  cip::ScannerOptions opt;
  opt.udp_port = 0;
  opt.request_timeout_ms = 3000;  // the held reply is not a timeout
  cip::Scanner scanner(opt, {spec}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return target.t_o_id() != 0; }, 5s));
  const std::uint32_t id = target.t_o_id();  // assembly 101's; 102's reply is held

  std::atomic<bool> producing{true};
  std::thread producer([&] {
    for (std::uint16_t seq = 1; producing && seq < 500; ++seq) {
      meter_udp.send_to(scanner.udp_port(), class1(id, seq));
      std::this_thread::sleep_for(20ms);
    }
  });
  REQUIRE(eventually([&] { return rec.stream(0, 101).count >= 3; }, 3s));
  CHECK(scanner_test::status(scanner, 0).state == cip::DeviceState::running);
  target.release();
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).connections_open == 3; }, 3s));
  std::this_thread::sleep_for(50ms);
  // Data flows, so running -- the old scanner went back to `opening` here and stayed there.
  CHECK(scanner_test::status(scanner, 0).state == cip::DeviceState::running);
  const auto states = rec.states(0);
  REQUIRE(!states.empty());
  CHECK(states.back().state == cip::DeviceState::running);
  bool ran = false;
  for (const auto& st : states) {
    if (st.state == cip::DeviceState::running) ran = true;
    CHECK_MESSAGE(!(ran && st.state == cip::DeviceState::opening), "opening after running");
  }
  producing = false;
  producer.join();
  scanner.stop();
}
