// http::Client (src/http) against real servers on 127.0.0.1: one kept-alive connection, basic
// auth from options or the URL, the answer's body bounded, headers found, and every failure kind
// it tells apart (refused, timeout, broken, TLS verification, TLS handshake, ca_file, bad url).
#include <doctest/doctest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "http/client.hpp"
#include "sinks/common/tests/mqtt_broker.hpp"  // Pki
#include "support/support.hpp"

using namespace pm500;
using namespace pm500::test;
using namespace std::chrono_literals;
using http::Failure;

namespace {

// A cpp-httplib server (plain or TLS) on 127.0.0.1 in its own thread.
template <class S>
struct Served {
  S& svr;
  std::thread thread;
  int port;
  explicit Served(S& s) : svr(s), port(s.bind_to_any_port("127.0.0.1")) {
    thread = std::thread([this] { svr.listen_after_bind(); });  // bound and listening already
  }
  ~Served() {
    svr.stop();
    thread.join();
  }
  std::string url(const std::string& scheme, const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(port) + path;
  }
};

http::Options opts(std::chrono::milliseconds timeout = 2000ms) {
  http::Options o;
  o.timeout = timeout;
  return o;
}

}  // namespace

TEST_CASE("plain http: one kept-alive connection, basic auth, headers, a bounded body") {
  httplib::Server svr;
  std::atomic<int> hits{0};
  std::string auth, content_type, body;
  svr.Post("/w", [&](const httplib::Request& req, httplib::Response& res) {
    ++hits;
    auth = req.get_header_value("Authorization");
    content_type = req.get_header_value("Content-Type");
    body = req.body;
    res.status = 204;
  });
  svr.Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Retry-After", "7");
    res.set_content(std::string(5000, 'x'), "text/plain");
    res.status = 503;
  });
  Served s(svr);

  http::Options o = opts();
  o.username = "writer";
  o.password = "p:ss";
  o.max_body = 100;
  http::Client c(o);
  const std::vector<std::string> headers{"Content-Type: text/plain; charset=utf-8"};
  for (int i = 0; i < 3; ++i) {
    auto r = c.request("POST", s.url("http", "/w"), headers, "m v=" + std::to_string(i));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().evidence()));
    CHECK((*r)->status == 204);
  }
  CHECK(hits == 3);
  CHECK(body == "m v=2");
  CHECK(content_type == "text/plain; charset=utf-8");
  CHECK(auth == "Basic d3JpdGVyOnA6c3M=");  // writer:p:ss
  auto big = c.request("GET", s.url("http", "/big"), {}, {});
  REQUIRE(big);
  CHECK((*big)->status == 503);
  CHECK((*big)->body == std::string(100, 'x'));  // the rest read and dropped
  CHECK((*big)->header("retry-after") == "7");
  CHECK((*big)->header("X-Missing").empty());
  CHECK(c.connections_opened() == 1);  // every request on the same connection

  // Credentials in the URL become basic auth too (percent-decoded).
  http::Client u(opts());
  auto r = u.request("POST", "http://hook%40site:s%3Acret@127.0.0.1:" + std::to_string(s.port) + "/w", {}, "x");
  REQUIRE(r);
  CHECK(auth == "Basic aG9va0BzaXRlOnM6Y3JldA==");  // hook@site:s:cret
}

TEST_CASE("transport failures are told apart: refused, timeout, broken, bad url") {
  http::Client c(opts(300ms));
  const int closed = free_tcp_port();
  auto refused = c.request("GET", "http://127.0.0.1:" + std::to_string(closed) + "/ping", {}, {});
  REQUIRE(!refused);
  CHECK(refused.error().kind == Failure::refused);
  CHECK(refused.error().os_errno == ECONNREFUSED);
  CHECK(refused.error().evidence() ==
        "connection refused: 127.0.0.1:" + std::to_string(closed) + ": Connection refused");

  SilentListener silent;
  auto slow = c.request("GET", "http://127.0.0.1:" + std::to_string(silent.port()) + "/ping", {}, {});
  REQUIRE(!slow);
  CHECK_MESSAGE(slow.error().kind == Failure::timeout, slow.error().evidence());

  // A server that closes the connection without answering.
  SilentListener closer;
  std::thread t([&] {
    const int fd = ::accept(closer.fd(), nullptr, nullptr);
    if (fd >= 0) ::close(fd);
  });
  auto broken = c.request("GET", "http://127.0.0.1:" + std::to_string(closer.port()) + "/ping", {}, {});
  t.join();
  REQUIRE(!broken);
  CHECK_MESSAGE(broken.error().kind == Failure::broken, broken.error().evidence());

  for (const char* bad : {"ftp://127.0.0.1/x", "http://", "127.0.0.1:8086", "http://h:99999/"}) {
    auto r = c.request("GET", bad, {}, {});
    REQUIRE(!r);
    CHECK_MESSAGE(r.error().kind == Failure::bad_url, bad);
  }
}

TEST_CASE("https: verified against ca_file; unknown CA, wrong host name, plain port and bad ca_file named apart") {
  TempDir dir;
  Pki pki(dir.path());
  auto server = pki.server();  // localhost / 127.0.0.1
  httplib::SSLServer svr(server.crt.c_str(), server.key.c_str());
  REQUIRE(svr.is_valid());
  svr.Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  Served s(svr);
  const std::string url = s.url("https", "/ping");

  http::Options o = opts();
  o.ca_file = pki.ca_crt().string();
  {
    http::Client c(o);
    for (int i = 0; i < 2; ++i) {
      auto r = c.request("GET", url, {}, {});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().evidence()));
      CHECK((*r)->status == 204);
    }
    CHECK(c.connections_opened() == 1);
  }
  {
    http::Client c(opts());  // the system store does not know the test CA
    auto r = c.request("GET", url, {}, {});
    REQUIRE(!r);
    CHECK(r.error().kind == Failure::tls_verify);
    CHECK_MESSAGE(r.error().detail.find("local issuer certificate") != std::string::npos, r.error().detail);
  }
  {
    http::Options other = o;
    other.ca_file = pki.other_ca_crt().string();
    http::Client c(other);
    auto r = c.request("GET", url, {}, {});
    REQUIRE(!r);
    CHECK(r.error().kind == Failure::tls_verify);
  }
  {
    http::Options insecure = opts();
    insecure.insecure_skip_verify = true;
    http::Client c(insecure);
    auto r = c.request("GET", url, {}, {});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().evidence()));
    CHECK((*r)->status == 204);
  }
  {
    http::Options missing = opts();
    missing.ca_file = (dir / "nowhere.pem").string();
    http::Client c(missing);
    auto r = c.request("GET", url, {}, {});
    REQUIRE(!r);
    CHECK(r.error().kind == Failure::ca_file);
    CHECK(r.error().detail.starts_with(missing.ca_file));
  }

  // A certificate for another host name, signed by the trusted CA.
  auto elsewhere = pki.wrong_name_server();
  httplib::SSLServer wrong(elsewhere.crt.c_str(), elsewhere.key.c_str());
  REQUIRE(wrong.is_valid());
  wrong.Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  Served w(wrong);
  {
    http::Client c(o);
    auto r = c.request("GET", w.url("https", "/ping"), {}, {});
    REQUIRE(!r);
    CHECK(r.error().kind == Failure::tls_verify);
    CHECK_MESSAGE(r.error().detail.find("host name 127.0.0.1") != std::string::npos, r.error().detail);
  }

  // https:// to a plain-HTTP port: the handshake fails, with OpenSSL's reason.
  httplib::Server plain;
  plain.Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  Served p(plain);
  {
    http::Client c(o);
    auto r = c.request("GET", p.url("https", "/ping"), {}, {});
    REQUIRE(!r);
    CHECK(r.error().kind == Failure::tls_handshake);
    CHECK_MESSAGE(r.error().detail.find("wrong version number") != std::string::npos, r.error().detail);
  }
}
