#include "sinks/common/tests/policy_server.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace pm500::test {

PolicyServer::PolicyServer(const Pki& pki, Mode mode)
    : mode_(mode), crt_(pki.server().crt.string()), key_(pki.server().key.string()), ca_(pki.ca_crt().string()) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(listen_fd_, 8);
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

PolicyServer::~PolicyServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

namespace {
// Reads one MQTT packet; returns its first byte, or -1.
int read_packet(SSL* ssl) {
  unsigned char b;
  if (SSL_read(ssl, &b, 1) != 1) return -1;
  const int type = b;
  std::size_t len = 0, mul = 1;
  do {
    if (SSL_read(ssl, &b, 1) != 1) return -1;
    len += (b & 0x7F) * mul;
    mul *= 128;
  } while (b & 0x80);
  std::string body(len, '\0');
  std::size_t got = 0;
  while (got < len) {
    const int r = SSL_read(ssl, body.data() + got, static_cast<int>(len - got));
    if (r <= 0) return -1;
    got += static_cast<std::size_t>(r);
  }
  return type;
}
}  // namespace

void PolicyServer::run() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_file(ctx, crt_.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(ctx, key_.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_load_verify_locations(ctx, ca_.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1 && (read_packet(ssl) >> 4) == 1) {  // CONNECT
      connects_.fetch_add(1);
      if (mode_ == Mode::close_after_publish) {
        const unsigned char connack[] = {0x20, 0x02, 0x00, 0x00};
        SSL_write(ssl, connack, sizeof connack);
        // Answer PINGREQ and SUBSCRIBE-free traffic until the first PUBLISH, then hang up.
        for (int t; (t = read_packet(ssl)) >= 0;) {
          if ((t >> 4) == 3) break;
          if ((t >> 4) == 12) {
            const unsigned char pong[] = {0xD0, 0x00};
            SSL_write(ssl, pong, sizeof pong);
          }
        }
      }
    }
    ERR_clear_error();
    SSL_free(ssl);  // no close_notify: AWS drops the TCP connection
    ::close(fd);
  }
  SSL_CTX_free(ctx);
}

}  // namespace pm500::test
