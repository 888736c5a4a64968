#include "http/client.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

namespace pm500::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string basic_credentials(std::string_view userinfo) {
  std::string out(4 * ((userinfo.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(userinfo.data()), static_cast<int>(userinfo.size()));
  out.resize(static_cast<std::size_t>(n));
  return "Basic " + out;
}

struct Url {
  bool https = false;
  std::string host;  // without IPv6 brackets
  int port = 0;
  std::string target;    // path and query, "/" at least
  std::string userinfo;  // "user:password" before '@', percent-decoded; "" = none
  std::string origin() const {
    const bool v6 = host.find(':') != std::string::npos;
    return std::string(https ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

std::optional<Url> parse_url(std::string_view s) {
  Url u;
  if (s.starts_with("http://"))
    s.remove_prefix(7);
  else if (s.starts_with("https://"))
    s.remove_prefix(8), u.https = true;
  else
    return std::nullopt;
  const std::size_t end = s.find_first_of("/?#");
  std::string_view authority = s.substr(0, end);
  u.target = end == std::string_view::npos ? "/" : std::string(s.substr(end));
  if (u.target.starts_with("?")) u.target.insert(0, "/");
  if (auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    u.userinfo = percent_decode(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && !authority.starts_with(":")) return std::nullopt;
    if (!authority.empty()) port = authority.substr(1);
  } else {
    const std::size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  u.port = u.https ? 443 : 80;
  if (!port.empty()) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) return std::nullopt;
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return std::nullopt;
    u.port = p;
  }
  return u;
}

// cpp-httplib reports every failed connect as Error::Connection, without errno; and a name
// that does not resolve looks the same. Asking again tells them apart: getaddrinfo, then one
// non-blocking connect per address. Runs only after a failure.
Error diagnose_connect(const Url& u, milliseconds timeout) {
  const std::string where = u.host + ":" + std::to_string(u.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (int rc = ::getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &list); rc != 0)
    return {Failure::resolve, 0, u.host + ": " + ::gai_strerror(rc)};
  int last = 0;
  for (addrinfo* a = list; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
        socklen_t len = sizeof err;
        if (n == 0)
          err = ETIMEDOUT;
        else if (n < 0)
          err = errno;
        else
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    ::close(fd);
    if (err == 0) {  // it answers now: the failure was transient
      ::freeaddrinfo(list);
      return {Failure::connect, 0, where + ": the connection failed, and succeeded when tried again"};
    }
    last = err;
  }
  ::freeaddrinfo(list);
  Failure k = last == ECONNREFUSED                          ? Failure::refused
              : last == EHOSTUNREACH || last == ENETUNREACH ? Failure::unreachable
              : last == ETIMEDOUT                           ? Failure::timeout
                                                            : Failure::connect;
  return {k, last, where + ": " + std::strerror(last)};
}

std::string openssl_error(std::string_view fallback) {
  const unsigned long e = ERR_peek_error();  // the first: the cause, not the shutdown after it
  if (e == 0) return std::string(fallback);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// SIGPIPE for this thread only, for the duration of one request: OpenSSL writes to the socket
// with write(), which raises SIGPIPE when the server has closed it. The signal is blocked and a
// pending one that the request caused is consumed, so the process's disposition is not touched.
class NoSigpipe {
 public:
  NoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~NoSigpipe() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  NoSigpipe(const NoSigpipe&) = delete;
  NoSigpipe& operator=(const NoSigpipe&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

}  // namespace

std::string_view to_string(Failure f) {
  switch (f) {
    case Failure::bad_url:
      return "bad url";
    case Failure::resolve:
      return "name resolution";
    case Failure::refused:
      return "connection refused";
    case Failure::unreachable:
      return "no route";
    case Failure::connect:
      return "connect";
    case Failure::timeout:
      return "timeout";
    case Failure::tls_verify:
      return "TLS verification";
    case Failure::tls_handshake:
      return "TLS handshake";
    case Failure::ca_file:
      return "TLS ca_file";
    case Failure::broken:
      return "connection broken";
    case Failure::other:
      break;
  }
  return "transport";
}

std::string_view Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return {};
}

struct Client::Impl {
  std::string origin;  // scheme://host:port the client below talks to
  std::unique_ptr<httplib::Client> cli;
  httplib::Request req;
  httplib::Response res;
  bool new_socket = false;  // set when httplib opens a socket
};

Client::Client(Options o) : opt_(std::move(o)), impl_(std::make_unique<Impl>()) {}

Client::~Client() = default;

pm500::expected<const Response*, Error> Client::request(std::string_view method, std::string_view url,
                                                        std::span<const std::string> headers, std::string_view body) {
  resp_.status = 0;
  resp_.body.clear();
  resp_.headers.clear();
  auto u = parse_url(url);
  if (!u)
    return pm500::unexpected(
        Error{Failure::bad_url, 0, "\"" + std::string(url) + "\" is not http(s)://host[:port][/path]"});

  Impl& i = *impl_;
  if (std::string origin = u->origin(); !i.cli || origin != i.origin) {
    i.cli = std::make_unique<httplib::Client>(origin);
    i.origin = std::move(origin);
    if (!i.cli->is_valid()) {
      i.cli.reset();
      return pm500::unexpected(Error{Failure::bad_url, 0, "\"" + std::string(url) + "\" cannot be used"});
    }
    httplib::Client& c = *i.cli;
    c.set_keep_alive(true);
    // Headers and body go out in separate writes: with Nagle's algorithm the body would wait for
    // the server's delayed ACK (40 ms) on every request.
    c.set_tcp_nodelay(true);
    c.set_follow_location(false);  // a redirect is a configuration error, not followed
    c.set_connection_timeout(opt_.timeout);
    c.set_read_timeout(opt_.timeout);
    c.set_write_timeout(opt_.timeout);
    c.set_default_headers({{"User-Agent", "pm500-gateway"}});
    if (!opt_.username.empty()) c.set_basic_auth(opt_.username, opt_.password);
    if (u->https) {
      c.enable_server_certificate_verification(!opt_.insecure_skip_verify);
      if (!opt_.ca_file.empty()) c.set_ca_cert_path(opt_.ca_file);
    }
    c.set_socket_options([&i](int fd) {
      i.new_socket = true;
      const int on = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    });
  }

  std::string request_body = std::move(i.req.body);  // its capacity is reused
  i.req = httplib::Request();
  i.req.method = std::string(method);
  i.req.path = u->target;
  for (const auto& h : headers) {
    const std::size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::size_t v = colon + 1;
    while (v < h.size() && (h[v] == ' ' || h[v] == '\t')) ++v;
    i.req.headers.emplace(h.substr(0, colon), h.substr(v));
  }
  // Credentials in the URL (https://user:password@host/...) are sent as basic auth.
  if (!u->userinfo.empty() && !i.req.has_header("Authorization"))
    i.req.headers.emplace("Authorization", basic_credentials(u->userinfo));
  request_body.assign(body);
  i.req.body = std::move(request_body);
  const std::size_t cap = opt_.max_body;
  i.req.content_receiver = [this, cap](const char* p, std::size_t n, std::uint64_t, std::uint64_t) {
    if (resp_.body.size() < cap) resp_.body.append(p, std::min(n, cap - resp_.body.size()));
    return true;
  };

  NoSigpipe no_sigpipe;
  httplib::Error err = httplib::Error::Success;
  bool ok = false;
  Clock::time_point t0;
  // A kept-alive connection the server closed just as we sent fails at once: try once more on a
  // new one, as a browser would. An InfluxDB write is idempotent (same points, same times); an
  // alert might arrive twice, which beats losing it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    i.new_socket = false;
    ERR_clear_error();
    resp_.body.clear();
    i.res = httplib::Response();
    t0 = Clock::now();
    ok = i.cli->send(i.req, i.res, err);
    const bool reused = !i.new_socket;
    const bool connect_failed = err == httplib::Error::Connection || err == httplib::Error::ConnectionTimeout;
    if (i.new_socket && !connect_failed) ++connects_;
    if (ok || !reused || Clock::now() - t0 >= opt_.timeout) break;
    if (err != httplib::Error::Read && err != httplib::Error::Write) break;
  }
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  if (ok) {
    resp_.status = i.res.status;
    for (const auto& [k, v] : i.res.headers) resp_.headers.emplace_back(k, v);
    return &resp_;
  }

  const std::string where = u->host + ":" + std::to_string(u->port);
  const std::string after = std::to_string(elapsed.count()) + " ms";
  switch (err) {
    case httplib::Error::Connection:
      return pm500::unexpected(diagnose_connect(*u, opt_.timeout));
    case httplib::Error::ConnectionTimeout:
      return pm500::unexpected(Error{Failure::timeout, ETIMEDOUT, where + ": connect timed out after " + after});
    case httplib::Error::Read:
    case httplib::Error::Write: {
      // httplib gives up on a read or write only when the socket fails or stays silent for the
      // whole timeout; the time taken tells which.
      const char* what = err == httplib::Error::Read ? "reading the answer" : "sending the request";
      if (elapsed >= opt_.timeout)
        return pm500::unexpected(Error{Failure::timeout, 0, where + ": no progress " + what + " for " + after});
      return pm500::unexpected(
          Error{Failure::broken, 0, where + ": the connection closed or failed while " + what + " after " + after});
    }
    case httplib::Error::SSLConnection:
      return pm500::unexpected(Error{Failure::tls_handshake, 0, where + ": " + openssl_error("TLS handshake failed")});
    case httplib::Error::SSLServerVerification: {
      const long v = i.cli->get_openssl_verify_result();
      std::string why =
          v != X509_V_OK ? X509_verify_cert_error_string(v) : "the certificate is not issued for host name " + u->host;
      return pm500::unexpected(Error{Failure::tls_verify, 0, where + ": " + why});
    }
    case httplib::Error::SSLLoadingCerts:
      return pm500::unexpected(Error{Failure::ca_file, 0,
                                     (opt_.ca_file.empty() ? std::string("the system CA store") : opt_.ca_file) + ": " +
                                         openssl_error("cannot be loaded as PEM CA certificates")});
    default:
      return pm500::unexpected(Error{Failure::other, 0, where + ": " + httplib::to_string(err)});
  }
}

}  // namespace pm500::http
