#include "sinks/influxdb/transport.hpp"

#include <zlib.h>

#include <cctype>

namespace pm500::influx {

HttpAnswer answer_of(const HttpResponse& r) {
  return HttpAnswer{r.status, r.body, r.header("Retry-After"), r.header("X-Influxdb-Error")};
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
