// The HTTP/1.1 request head parser of the status server; see http_request.hpp.
#include "status/detail/http_request.hpp"

#include <cctype>
#include <cstring>
#include <vector>

namespace pm500::status::detail {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn(token) for each comma-separated element of a field value.
template <class Fn>
void for_each_token(std::string_view v, Fn fn) {
  while (!v.empty()) {
    std::size_t comma = v.find(',');
    fn(trim(v.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

// Accept-Encoding names gzip (or *) with a quality above zero.
bool accepts_gzip(std::string_view value) {
  bool yes = false;
  for_each_token(value, [&](std::string_view t) {
    std::size_t semi = t.find(';');
    std::string_view coding = trim(t.substr(0, semi));
    if (!iequals(coding, "gzip") && coding != "*") return;
    bool zero = false;
    if (semi != std::string_view::npos) {
      std::string_view params = t.substr(semi + 1);
      std::size_t q = params.find("q=");
      if (q != std::string_view::npos) {
        std::string_view num = trim(params.substr(q + 2));
        zero = !num.empty() && num.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    if (!zero) yes = true;
  });
  return yes;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr("!#$%&'*+-.^_`|~", c) == nullptr) return false;
  return true;
}

}  // namespace

std::size_t head_end(std::string_view buf, std::size_t& scanned) {
  std::size_t i = scanned;
  for (std::size_t nl; (nl = buf.find('\n', i)) != std::string_view::npos; i = nl + 1) {
    if (nl + 1 < buf.size() && buf[nl + 1] == '\n') return nl + 2;
    if (nl + 2 < buf.size() && buf[nl + 1] == '\r' && buf[nl + 2] == '\n') return nl + 3;
    if (nl + 2 >= buf.size()) {
      scanned = nl;
      return std::string_view::npos;
    }
  }
  scanned = buf.size();
  return std::string_view::npos;
}

int parse_head(std::string_view head, Request& r) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    std::size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    // A bare CR or a NUL inside a line is invalid (RFC 9112 2.2, RFC 9110 5.5): reject it rather
    // than carry it into the method, path or a field value (found by fuzz_http_request).
    if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) return 400;
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  if (lines.empty()) return 400;
  if (lines.size() > kMaxHeaders + 1) return 431;

  std::string_view rl = lines[0];
  std::size_t sp1 = rl.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos) return 400;
  std::string_view method = rl.substr(0, sp1), target = rl.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = rl.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) return 400;
  if (version == "HTTP/1.1") {
    r.keep_alive = true;
  } else if (version == "HTTP/1.0") {
    r.keep_alive = false;
  } else {
    return version.starts_with("HTTP/") ? 505 : 400;
  }
  r.method = std::string(method);
  // Origin form "/path?query"; the absolute form "http://host/path" is allowed too (RFC 9112).
  if (target.front() != '/') {
    std::size_t scheme = target.find("://");
    if (scheme != std::string_view::npos) {
      std::size_t slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  r.path = std::string(target.substr(0, target.find_first_of("?#")));
  if (auto q = target.find('?'); q != std::string_view::npos && q < target.find('#'))
    r.query = std::string(target.substr(q + 1, target.find('#') == std::string_view::npos ? std::string_view::npos
                                                                                             : target.find('#') - q - 1));

  bool close = false, keep = false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') return 400;  // obsolete line folding
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return 400;
    std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "connection")) {
      for_each_token(value, [&](std::string_view t) {
        if (iequals(t, "close")) close = true;
        if (iequals(t, "keep-alive")) keep = true;
      });
    } else if (iequals(name, "content-length")) {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) return 400;
      if (value.find_first_not_of('0') != std::string_view::npos) r.has_body = true;
      r.content_length = value.size() > 9 ? std::size_t(-1) : std::stoul(std::string(value));
    } else if (iequals(name, "transfer-encoding")) {
      r.has_body = true;
      r.chunked = true;
    } else if (iequals(name, "content-type")) {
      r.content_type = std::string(value);
    } else if (iequals(name, "origin")) {
      r.origin = std::string(value);
    } else if (iequals(name, "host")) {
      r.host = std::string(value);
    } else if (iequals(name, "sec-fetch-site")) {
      r.fetch_site = std::string(value);
    } else if (iequals(name, "accept-encoding")) {
      r.gzip = r.gzip || accepts_gzip(value);
    } else if (iequals(name, "authorization")) {
      if (r.authorization.empty()) r.authorization = std::string(value);
    }
  }
  if (keep) r.keep_alive = true;  // HTTP/1.0 asking to keep the connection
  if (close) r.keep_alive = false;
  return 0;
}
}  // namespace pm500::status::detail
