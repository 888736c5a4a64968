#include "sinks/common/mqtt/cert_check.hpp"

#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sys/stat.h>

#include "sinks/common/mqtt/openssl_util.hpp"

namespace pm500::mqttc {

namespace {

using detail::Owned;

CertFinding finding(CertProblem p, const std::string& key, const std::string& file, std::string what,
                    std::string evidence) {
  return {p, file, Error{ErrorKind::local_files, key + " " + file + ": " + what, std::move(evidence)}};
}

// Present and readable as a regular file; errno names the cause.
std::optional<CertFinding> check_readable(const std::string& key, const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return finding(CertProblem::missing, key, file, "file not found: check the path and the volume mount", "ENOENT");
    return finding(CertProblem::unreadable, key, file, std::string("cannot access: ") + std::strerror(errno),
                   "errno " + std::to_string(errno));
  }
  if (!S_ISREG(st.st_mode))
    return finding(CertProblem::unreadable, key, file, "is not a regular file", "st_mode " + std::to_string(st.st_mode));
  std::ifstream in(file);
  if (!in)
    return finding(CertProblem::unreadable, key, file,
                   std::string("cannot be read: ") + std::strerror(errno) + " (the gateway's user needs read access)",
                   "errno " + std::to_string(errno));
  return std::nullopt;
}

Owned<BIO> open_bio(const std::string& file) { return Owned<BIO>(BIO_new_file(file.c_str(), "r")); }

// An encrypted PEM key says so in its armour (PKCS#8 "BEGIN ENCRYPTED PRIVATE KEY" or the
// traditional "Proc-Type: 4,ENCRYPTED" header). OpenSSL's error text cannot tell a wrong
// password apart: about one wrong password in 256 passes the CBC padding check and then fails
// as an ASN.1 decoding error instead of "bad decrypt".
bool pem_key_is_encrypted(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head.find("BEGIN ENCRYPTED PRIVATE KEY") != std::string::npos ||
         head.find("Proc-Type: 4,ENCRYPTED") != std::string::npos;
}

std::string asn1_time_text(const ASN1_TIME* t) {
  Owned<BIO> mem(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(mem.get(), t);
  char* data = nullptr;
  const long n = BIO_ctrl(mem.get(), BIO_CTRL_INFO, 0, static_cast<void*>(&data));  // BIO_get_mem_data
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

std::optional<CertFinding> check_cert_files(const CertFiles& f, std::chrono::system_clock::time_point now) {
  const std::time_t now_t = std::chrono::system_clock::to_time_t(now);
  if (!f.cert_file.empty()) {
    if (auto r = check_readable(f.cert_key, f.cert_file)) return r;
    if (f.key_file.empty())
      return finding(CertProblem::missing, f.key_key, "(not set)", "a client certificate needs its private key", "");
    if (auto r = check_readable(f.key_key, f.key_file)) return r;

    ERR_clear_error();
    auto bio = open_bio(f.cert_file);
    Owned<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert)
      return finding(CertProblem::not_a_certificate, f.cert_key, f.cert_file,
                     "is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)", detail::drain_errors());

    auto kbio = open_bio(f.key_file);
    std::string pw = f.key_password;
    Owned<EVP_PKEY> key(kbio ? PEM_read_bio_PrivateKey(kbio.get(), nullptr, detail::password_cb, &pw) : nullptr);
    if (!key) {
      const std::string errs = detail::drain_errors();
      if (pem_key_is_encrypted(f.key_file))
        return finding(CertProblem::not_a_key, f.key_key, f.key_file,
                       f.key_password.empty() ? "is an encrypted private key: set key_password"
                                              : "cannot decrypt the private key: check key_password",
                       errs);
      return finding(CertProblem::not_a_key, f.key_key, f.key_file, "is not a PEM private key", errs);
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      ERR_clear_error();
      return finding(CertProblem::key_mismatch, f.key_key, f.key_file,
                     "does not match " + f.cert_key + " " + f.cert_file +
                         ": install the private key that belongs to this certificate",
                     "X509_check_private_key failed");
    }
    const ASN1_TIME* nb = X509_get0_notBefore(cert.get());
    const ASN1_TIME* na = X509_get0_notAfter(cert.get());
    std::time_t t = now_t;
    if (X509_cmp_time(na, &t) < 0)
      return finding(CertProblem::expired, f.cert_key, f.cert_file,
                     "certificate expired on " + asn1_time_text(na) + ": issue and install a new one",
                     "notAfter " + asn1_time_text(na));
    if (X509_cmp_time(nb, &t) > 0)
      return finding(CertProblem::not_yet_valid, f.cert_key, f.cert_file,
                     "certificate is not valid before " + asn1_time_text(nb) + ": check the gateway's clock",
                     "notBefore " + asn1_time_text(nb));
  }
  if (!f.ca_file.empty()) {
    if (auto r = check_readable(f.ca_key, f.ca_file)) return r;
    ERR_clear_error();
    auto bio = open_bio(f.ca_file);
    Owned<X509> ca(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!ca)
      return finding(CertProblem::ca_unparsable, f.ca_key, f.ca_file,
                     "holds no PEM CA certificate (for AWS IoT: AmazonRootCA1.pem)", detail::drain_errors());
  }
  return std::nullopt;
}

}  // namespace pm500::mqttc
