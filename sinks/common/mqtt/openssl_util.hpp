// Small RAII and error-text helpers over OpenSSL, shared by the probe and the certificate checks.
#pragma once

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace pm500::mqttc::detail {

struct SslFree {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
  void operator()(SSL* p) const noexcept { SSL_free(p); }
  void operator()(X509* p) const noexcept { X509_free(p); }
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, SslFree>;

// Drains OpenSSL's error queue into one line ("error:0A000086:SSL routines::certificate verify
// failed; ..."), so the cause reaches the evidence instead of being lost.
inline std::string drain_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// The reason part alone ("certificate verify failed"), easier to read than the full line.
inline std::string last_reason(const std::string& all) {
  const auto semi = all.rfind("; ");
  std::string last = semi == std::string::npos ? all : all.substr(semi + 2);
  const auto colon = last.rfind(':');
  return colon == std::string::npos ? last : last.substr(colon + 1);
}

// Key password callback: the password never leaves the callback's buffer copy.
inline int password_cb(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* pw = static_cast<const std::string*>(userdata);
  if (!pw || size <= 0) return 0;
  const int n = static_cast<int>(pw->size()) < size ? static_cast<int>(pw->size()) : size;
  pw->copy(buf, static_cast<std::size_t>(n));
  return n;
}

}  // namespace pm500::mqttc::detail
