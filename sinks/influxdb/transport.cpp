#include "sinks/influxdb/transport.hpp"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

namespace pm500::influx {
namespace {

// curl_global_init is not thread-safe before 7.84; do it once for the process.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}

std::string header_value(std::string_view line, std::size_t name_len) {
  line.remove_prefix(name_len + 1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
  return std::string(line);
}

}  // namespace

HttpClient::HttpClient(HttpOptions o) : opt_(std::move(o)) {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) return;
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: we run in a thread
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf_);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpClient::on_body);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &HttpClient::on_header);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(opt_.timeout.count()));
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opt_.timeout.count()));
  curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is a configuration error, not followed
  curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, opt_.insecure_skip_verify ? 0L : 1L);
  curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, opt_.insecure_skip_verify ? 0L : 2L);
  if (!opt_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, opt_.ca_file.c_str());
  if (!opt_.username.empty()) {
    curl_easy_setopt(curl_, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl_, CURLOPT_USERNAME, opt_.username.c_str());
    curl_easy_setopt(curl_, CURLOPT_PASSWORD, opt_.password.c_str());
  }
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(curl_);
}

std::size_t HttpClient::on_body(char* p, std::size_t size, std::size_t n, void* self) {
  auto* c = static_cast<HttpClient*>(self);
  // An error body is a few hundred bytes; a query answer is small too. Keep at most 1 MiB so a
  // misdirected URL cannot fill memory.
  const std::size_t len = size * n;
  if (c->resp_.body.size() < (1u << 20)) c->resp_.body.append(p, std::min(len, (1u << 20) - c->resp_.body.size()));
  return len;
}

std::size_t HttpClient::on_header(char* p, std::size_t size, std::size_t n, void* self) {
  auto* c = static_cast<HttpClient*>(self);
  const std::string_view line(p, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (e.g. after 100-continue): forget the last one's headers
    c->resp_.retry_after.clear();
    c->resp_.influx_error.clear();
  } else if (header_is(line, "Retry-After")) {
    c->resp_.retry_after = header_value(line, 11);
  } else if (header_is(line, "X-Influxdb-Error")) {
    c->resp_.influx_error = header_value(line, 16);
  }
  return size * n;
}

pm500::expected<const HttpResponse*, TransportFailure> HttpClient::request(const char* method, const std::string& url,
                                                                           std::span<const std::string> headers,
                                                                           std::string_view body) {
  if (!curl_)
    return pm500::unexpected(TransportFailure{CURLE_FAILED_INIT, 0, "curl_easy_init failed", "", opt_.timeout});
  resp_.status = 0;
  resp_.body.clear();
  resp_.retry_after.clear();
  resp_.influx_error.clear();
  errbuf_[0] = '\0';

  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  // No "Expect: 100-continue" round trip for large bodies: InfluxDB answers the POST directly.
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
  if (std::strcmp(method, "POST") == 0) {
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else {
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
  }
  const CURLcode rc = curl_easy_perform(curl_);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);

  long connects = 0;
  curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &connects);
  connects_ += static_cast<std::uint64_t>(connects);
  if (rc != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(curl_, CURLINFO_OS_ERRNO, &os_errno);
    return pm500::unexpected(
        TransportFailure{static_cast<int>(rc), os_errno, errbuf_, curl_easy_strerror(rc), opt_.timeout});
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &resp_.status);
  return &resp_;
}

std::uint64_t HttpClient::connections_opened() const {
  return connects_;
}

struct Gzip::Stream {
  z_stream z{};
  bool ok = false;
};

Gzip::Gzip(int level) : z_(new Stream) {
  // windowBits 15 + 16: a gzip header and trailer instead of a zlib one (Content-Encoding: gzip).
  z_->ok = deflateInit2(&z_->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

Gzip::~Gzip() {
  if (z_->ok) deflateEnd(&z_->z);
  delete z_;
}

bool Gzip::compress(std::string_view in, std::string& out) {
  if (!z_->ok || deflateReset(&z_->z) != Z_OK) return false;
  out.resize(deflateBound(&z_->z, static_cast<uLong>(in.size())));
  z_->z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_->z.avail_in = static_cast<uInt>(in.size());
  z_->z.next_out = reinterpret_cast<Bytef*>(out.data());
  z_->z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z_->z, Z_FINISH);
  if (rc != Z_STREAM_END) return false;
  out.resize(z_->z.total_out);
  return true;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace pm500::influx
