#include "sinks/common/mqtt/probe.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>

#include "sinks/common/mqtt/openssl_util.hpp"

namespace pm500::mqttc {

namespace {

using detail::Owned;
using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string where(const Endpoint& ep) { return ep.host + ":" + std::to_string(ep.port); }

std::optional<Error> tcp_connect(const Endpoint& ep, std::chrono::milliseconds timeout, Fd& out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Error{ErrorKind::resolve,
                 "cannot resolve broker host \"" + ep.host + "\": " + gai_strerror(rc) + " (check the URL and DNS)",
                 "getaddrinfo: " + std::string(gai_strerror(rc))};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  // Paho prefers IPv4 when a name has both; try in the same order so both see the same server.
  std::vector<const addrinfo*> order;
  for (const addrinfo* a = res; a; a = a->ai_next)
    if (a->ai_family == AF_INET) order.push_back(a);
  for (const addrinfo* a = res; a; a = a->ai_next)
    if (a->ai_family != AF_INET) order.push_back(a);

  std::optional<Error> last;
  for (const addrinfo* a : order) {
    Fd s;
    s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (s.fd < 0) continue;
    int rc = ::connect(s.fd, a->ai_addr, a->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      pollfd p{s.fd, POLLOUT, 0};
      const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (n == 0) {
        last = Error{ErrorKind::timeout,
                     "TCP connect to " + where(ep) + " timed out after " + std::to_string(timeout.count()) +
                         " ms: a firewall drops the packets or the host is down",
                     "connect timeout"};
        continue;
      }
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) {
      // Blocking from here on, with the timeout bounding each read and write of the handshake.
      ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) & ~O_NONBLOCK);
      timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
      ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      out.fd = s.fd;
      s.fd = -1;
      return std::nullopt;
    }
    if (err == ECONNREFUSED)
      last = Error{ErrorKind::refused,
                   "connection refused by " + where(ep) + ": no broker listens there (is it running, is the port right?)",
                   "ECONNREFUSED"};
    else if (err == EHOSTUNREACH || err == ENETUNREACH)
      last = Error{ErrorKind::unreachable, "no route to " + where(ep) + ": " + std::strerror(err),
                   err == EHOSTUNREACH ? "EHOSTUNREACH" : "ENETUNREACH"};
    else if (err == ETIMEDOUT)
      last = Error{ErrorKind::timeout, "TCP connect to " + where(ep) + " timed out", "ETIMEDOUT"};
    else
      last = Error{ErrorKind::other, "TCP connect to " + where(ep) + " failed: " + std::strerror(err),
                   "errno " + std::to_string(err)};
  }
  return last ? last : Error{ErrorKind::resolve, "\"" + ep.host + "\" resolved to no usable address", "getaddrinfo"};
}

std::string verify_remedy(long v) {
  switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "the broker's certificate is signed by a CA that ca_file/ca_dir does not hold (unknown CA): "
             "configure the CA that issued it";
    case X509_V_ERR_CERT_HAS_EXPIRED: return "the broker's certificate has expired: renew it on the broker";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the broker's certificate is not valid yet: check the gateway's and the broker's clocks";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "the broker's certificate does not name the host in the URL (host name mismatch): "
             "use a name from its subjectAltName";
    default: return "the broker's certificate failed verification";
  }
}

std::optional<Error> mqtt_hello(const Endpoint& ep, int fd, SSL* ssl, const Hello& h);

std::optional<Error> tls_handshake(const Endpoint& ep, const TlsSettings& t, int fd, const Hello* hello) {
  ERR_clear_error();
  Owned<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error{ErrorKind::other, "cannot create a TLS context", detail::drain_errors()};
  // TLS 1.2 or newer, as the sinks require (paho itself follows OpenSSL's defaults).
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (!t.ca_file.empty() || !t.ca_dir.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), t.ca_file.empty() ? nullptr : t.ca_file.c_str(),
                                      t.ca_dir.empty() ? nullptr : t.ca_dir.c_str()) != 1)
      return Error{ErrorKind::local_files,
                   "cannot load the CA from " + (t.ca_file.empty() ? "ca_dir " + t.ca_dir : "ca_file " + t.ca_file),
                   detail::drain_errors()};
  } else {
    SSL_CTX_set_default_verify_paths(ctx.get());
  }
  SSL_CTX_set_verify(ctx.get(), t.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  std::string pw = t.key_password;
  if (!t.cert_file.empty()) {
    SSL_CTX_set_default_passwd_cb(ctx.get(), detail::password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), &pw);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), t.cert_file.c_str()) != 1)
      return Error{ErrorKind::local_files, "cannot load the client certificate " + t.cert_file, detail::drain_errors()};
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), t.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return Error{ErrorKind::local_files, "cannot load the client key " + t.key_file + " (wrong key_password?)",
                   detail::drain_errors()};
  }
  if (!t.alpn.empty()) {
    std::string wire;
    for (const auto& p : t.alpn) {
      wire += static_cast<char>(p.size());
      wire += p;
    }
    SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
  }
  Owned<SSL> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  const bool ip = is_ip_literal(ep.host);
  // SSL_set_tlsext_host_name is a macro with a C cast; the call it stands for:
  if (!ip) SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(ep.host.c_str()));
  if (t.verify) {
    if (ip) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), ep.host.c_str());
    else SSL_set1_host(ssl.get(), ep.host.c_str());
  }
  if (SSL_connect(ssl.get()) != 1) {
    const int ssl_err = SSL_get_error(ssl.get(), -1);
    const std::string errs = detail::drain_errors();
    const long v = SSL_get_verify_result(ssl.get());
    if (v != X509_V_OK) {
      const std::string text = X509_verify_cert_error_string(v);
      return Error{ErrorKind::tls_verify, "TLS handshake with " + where(ep) + " failed: " + verify_remedy(v),
                   "certificate verify failed: " + text + " (X509 verify code " + std::to_string(v) + ")"};
    }
    if (errs.empty() && (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN))
      return Error{ErrorKind::tls_handshake,
                   "the broker at " + where(ep) + " closed the connection during the TLS handshake",
                   errno == EAGAIN || errno == EWOULDBLOCK ? "TLS handshake timeout" : "EOF in handshake"};
    if (errs.find("alert") != std::string::npos && !t.cert_file.empty())
      return Error{ErrorKind::tls_client_rejected,
                   "the broker at " + where(ep) + " rejected the client certificate " + t.cert_file + " (" +
                       detail::last_reason(errs) + "): it does not trust its issuer, or the certificate is revoked or expired",
                   errs};
    if (errs.find("wrong version number") != std::string::npos || errs.find("packet length too long") != std::string::npos)
      return Error{ErrorKind::tls_handshake,
                   where(ep) + " does not speak TLS (a plain MQTT port?): use mqtt:// or the broker's TLS port", errs};
    return Error{ErrorKind::tls_handshake, "TLS handshake with " + where(ep) + " failed: " + detail::last_reason(errs), errs};
  }
  // With TLS 1.3 the client finishes its handshake before the server has checked the client
  // certificate; a rejection arrives as an alert on the first read. The CONNECT exchange below
  // reads anyway; without it, peek briefly for an alert.
  if (!t.cert_file.empty() && !hello) {
    timeval brief{0, 300'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof brief);
    char byte;
    if (SSL_peek(ssl.get(), &byte, 1) <= 0) {
      const std::string errs = detail::drain_errors();
      if (errs.find("alert") != std::string::npos)
        return Error{ErrorKind::tls_client_rejected,
                     "the broker at " + where(ep) + " rejected the client certificate " + t.cert_file + " (" +
                         detail::last_reason(errs) + ")",
                     errs};
    }
  }
  std::optional<Error> r;
  if (hello) r = mqtt_hello(ep, fd, ssl.get(), *hello);
  SSL_shutdown(ssl.get());
  return r;
}

void put_u16(std::string& out, std::size_t v) {
  out += static_cast<char>((v >> 8) & 0xFF);
  out += static_cast<char>(v & 0xFF);
}
void put_str(std::string& out, std::string_view s) {
  put_u16(out, s.size());
  out.append(s);
}
void put_varint(std::string& out, std::size_t v) {
  do {
    unsigned char b = v % 128;
    v /= 128;
    if (v) b |= 0x80;
    out += static_cast<char>(b);
  } while (v);
}

int io_write(int fd, SSL* ssl, const std::string& data) {
  if (ssl) return SSL_write(ssl, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size()) ? 0 : -1;
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()) ? 0 : -1;
}
// Reads exactly n bytes: n on success, 0 on EOF, -1 on timeout or error.
int io_read(int fd, SSL* ssl, unsigned char* buf, int n) {
  int got = 0;
  while (got < n) {
    int r;
    if (ssl) r = SSL_read(ssl, buf + got, n - got);
    else r = static_cast<int>(::recv(fd, buf + got, static_cast<std::size_t>(n - got), 0));
    if (r == 0) return 0;
    if (r < 0 && ssl) {
      const int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_ZERO_RETURN) return 0;
      if (e == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET)) return 0;
      // OpenSSL 3 reports a TCP close without close_notify this way (AWS IoT closes like that).
      if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return 0;
      }
      return -1;
    }
    if (r < 0) return errno == ECONNRESET ? 0 : -1;
    got += r;
  }
  return got;
}

std::optional<Error> mqtt_hello(const Endpoint& ep, int fd, SSL* ssl, const Hello& h) {
  ERR_clear_error();
  // A failed write is read on: the broker's TLS alert (client certificate rejected) may be
  // waiting in the socket.
  const bool written = io_write(fd, ssl, encode_connect(h)) == 0;
  unsigned char head[2];
  const int r = io_read(fd, ssl, head, 2);
  if (!written && r > 0) return Error{ErrorKind::other, "CONNECT could not be written to " + where(ep), "write failed"};
  if (r == 0 && ssl) {
    const std::string errs = detail::drain_errors();
    if (errs.find("alert") != std::string::npos)
      return Error{ErrorKind::tls_client_rejected,
                   "the broker at " + where(ep) + " rejected the client certificate (" + detail::last_reason(errs) + ")", errs};
  }
  if (r == 0)
    return Error{ErrorKind::closed_after_connect,
                 "the broker at " + where(ep) + " closed the connection right after CONNECT, without a CONNACK (client id \"" +
                     h.client_id + "\")",
                 "EOF after CONNECT"};
  if (r < 0) {
    const std::string errs = detail::drain_errors();
    if (errs.find("alert") != std::string::npos)  // TLS 1.3: the client certificate is judged after the handshake
      return Error{ErrorKind::tls_client_rejected,
                   "the broker at " + where(ep) + " rejected the client certificate (" + detail::last_reason(errs) + ")", errs};
    return Error{ErrorKind::timeout, "no CONNACK from " + where(ep) + " after CONNECT", "CONNACK timeout " + errs};
  }
  if (head[0] != 0x20 || head[1] < 2)
    return Error{ErrorKind::other, where(ep) + " answered CONNECT with something other than CONNACK (not an MQTT broker?)",
                 "first byte " + std::to_string(head[0])};
  unsigned char body[2];
  if (io_read(fd, ssl, body, 2) != 2)
    return Error{ErrorKind::closed_after_connect, "the broker at " + where(ep) + " closed the connection inside CONNACK", "short CONNACK"};
  if (body[1] != 0) return classify_connack(h.mqtt_version, body[1]);
  (void)io_write(fd, ssl, std::string("\xE0\x00", 2));  // DISCONNECT: the will (none) is not sent anyway
  return std::nullopt;
}

}  // namespace

std::string encode_connect(const Hello& h, int keepalive_s) {
  std::string vh;
  put_str(vh, "MQTT");
  vh += static_cast<char>(h.mqtt_version >= 5 ? 5 : 4);
  unsigned char flags = 0x02;  // clean session / clean start
  if (!h.username.empty()) flags |= 0x80;
  if (!h.password.empty()) flags |= 0x40;
  vh += static_cast<char>(flags);
  put_u16(vh, static_cast<std::size_t>(keepalive_s));
  if (h.mqtt_version >= 5) vh += '\0';  // no properties
  put_str(vh, h.client_id);
  if (!h.username.empty()) put_str(vh, h.username);
  if (!h.password.empty()) put_str(vh, h.password);
  std::string pkt(1, '\x10');
  put_varint(pkt, vh.size());
  return pkt + vh;
}

std::optional<Error> probe(const Endpoint& ep, const TlsSettings& tls, std::chrono::milliseconds timeout,
                           const Hello* hello) {
  Fd fd;
  if (auto e = tcp_connect(ep, timeout, fd)) return e;
  if (ep.tls) return tls_handshake(ep, tls, fd.fd, hello);
  if (hello) return mqtt_hello(ep, fd.fd, nullptr, *hello);
  return std::nullopt;
}

}  // namespace pm500::mqttc
