#include "sinks/influxdb/response.hpp"

#include <simdjson.h>

#include <array>
#include <cctype>

namespace pm500::influx {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// A small cursor over the date text; every read checks its bounds.
struct Reader {
  std::string_view s;
  bool ok = true;
  bool eat(char c) {
    if (!s.empty() && s.front() == c) {
      s.remove_prefix(1);
      return true;
    }
    return ok = false;
  }
  void spaces() {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  }
  // Exactly `min..max` digits.
  std::int64_t number(std::size_t min, std::size_t max) {
    std::int64_t v = 0;
    std::size_t n = 0;
    while (n < max && n < s.size() && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
    if (n < min) ok = false;
    s.remove_prefix(n);
    return v;
  }
  std::string_view word() {
    std::size_t n = 0;
    while (n < s.size() && std::isalpha(static_cast<unsigned char>(s[n]))) ++n;
    auto w = s.substr(0, n);
    s.remove_prefix(n);
    if (w.empty()) ok = false;
    return w;
  }
  int month() {
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    auto w = word();
    for (std::size_t i = 0; i < kMonths.size(); ++i)
      if (w == kMonths[i]) return static_cast<int>(i) + 1;
    ok = false;
    return 1;
  }
};

std::optional<std::int64_t> to_unix(std::int64_t year, int month, std::int64_t day, std::int64_t h, std::int64_t m,
                                    std::int64_t sec) {
  if (day < 1 || day > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + h * 3600 + m * 60 +
         sec;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view value) {
  Reader r{trim(value)};
  r.word();  // day name: "Sun" (IMF-fixdate, asctime) or "Sunday" (RFC 850)
  if (!r.ok) return std::nullopt;
  std::int64_t year = 0, day = 0, h = 0, m = 0, sec = 0;
  int month = 1;
  if (!r.s.empty() && r.s.front() == ',') {
    r.eat(',');
    r.spaces();
    day = r.number(1, 2);
    if (!r.s.empty() && r.s.front() == '-') {  // RFC 850: 06-Nov-94 08:49:37 GMT
      r.eat('-');
      month = r.month();
      r.eat('-');
      year = r.number(2, 2);
      year += year < 70 ? 2000 : 1900;  // RFC 9110: interpret as the nearest past century... close enough
    } else {                            // IMF-fixdate: 06 Nov 1994 08:49:37 GMT
      r.spaces();
      month = r.month();
      r.spaces();
      year = r.number(4, 4);
    }
    r.spaces();
    h = r.number(2, 2);
    r.eat(':');
    m = r.number(2, 2);
    r.eat(':');
    sec = r.number(2, 2);
    r.spaces();
    if (r.word() != "GMT") return std::nullopt;
  } else {  // asctime: Sun Nov  6 08:49:37 1994
    r.spaces();
    month = r.month();
    r.spaces();
    day = r.number(1, 2);
    r.spaces();
    h = r.number(2, 2);
    r.eat(':');
    m = r.number(2, 2);
    r.eat(':');
    sec = r.number(2, 2);
    r.spaces();
    year = r.number(4, 4);
  }
  if (!r.ok || !r.s.empty()) return std::nullopt;
  return to_unix(year, month, day, h, m, sec);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_s) {
  const std::string_view v = trim(value);
  if (v.empty()) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t s = 0;
    for (char c : v) {
      s = s * 10 + (c - '0');
      if (s > kMaxRetryAfter.count()) return kMaxRetryAfter;  // also stops overflow
    }
    return std::chrono::seconds(s);
  }
  auto date = parse_http_date(v);
  if (!date) return std::nullopt;
  std::int64_t wait = *date - now_unix_s;
  if (wait < 0) wait = 0;
  if (wait > kMaxRetryAfter.count()) wait = kMaxRetryAfter.count();
  return std::chrono::seconds(wait);
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  const std::size_t n = s.size() < max ? s.size() : max;
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (s.size() > max) out += "...";
  return out;
}

ErrorBody parse_error_body(std::string_view body) {
  ErrorBody e;
  const std::string_view t = trim(body);
  if (t.empty()) return e;
  if (t.front() == '{') {
    // One parser per thread: its buffers are reused, and a delivery thread parses one body at
    // a time. simdjson reports malformed JSON as an error code (exceptions are not used here).
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(t.data(), t.size()).get(doc) == simdjson::SUCCESS && doc.is_object()) {
      auto str = [&](const char* key) -> std::string {
        std::string_view v;
        if (doc[key].get_string().get(v) == simdjson::SUCCESS) return printable(v, 1000);
        return {};
      };
      e.code = str("code");
      e.message = str("message");
      if (e.message.empty()) e.message = str("error");
      if (e.message.empty()) e.message = str("err");
      if (auto line = str("line"); !line.empty() && !e.message.empty()) e.message += " (line " + line + ")";
      if (!e.message.empty() || !e.code.empty()) return e;
    }
  }
  e.raw = printable(t);
  return e;
}

}  // namespace pm500::influx

namespace pm500::influx {
namespace {

// Parses `body` as a JSON object with the thread's parser; false when it is not one.
bool parse_object(std::string_view body, simdjson::dom::element& doc) {
  thread_local simdjson::dom::parser parser;
  return parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS && doc.is_object();
}

// results[0] of an InfluxQL answer, with its "error" copied out.
bool first_result(std::string_view body, simdjson::dom::object& out, std::string* error) {
  simdjson::dom::element doc;
  if (!parse_object(body, doc)) return false;
  simdjson::dom::array results;
  if (doc["results"].get_array().get(results) != simdjson::SUCCESS) {
    std::string_view e;
    if (error && doc["error"].get_string().get(e) == simdjson::SUCCESS) *error = printable(e, 300);
    return false;
  }
  for (simdjson::dom::element r : results) {
    if (r.get_object().get(out) != simdjson::SUCCESS) return false;
    std::string_view e;
    if (out["error"].get_string().get(e) == simdjson::SUCCESS) {
      if (error) *error = printable(e, 300);
      return false;
    }
    return true;
  }
  return false;
}

}  // namespace

std::optional<bool> v1_query_has_rows(std::string_view body, std::string* error) {
  simdjson::dom::object r;
  if (!first_result(body, r, error)) return std::nullopt;
  simdjson::dom::array series;
  if (r["series"].get_array().get(series) != simdjson::SUCCESS) return false;  // no "series": no rows
  for (simdjson::dom::element s : series) {
    simdjson::dom::array values;
    if (s["values"].get_array().get(values) == simdjson::SUCCESS && values.size() > 0) return true;
  }
  return false;
}

std::optional<RetentionPolicy> v1_retention_policy(std::string_view body, std::string_view name, std::string* error) {
  simdjson::dom::object r;
  if (!first_result(body, r, error)) return std::nullopt;
  simdjson::dom::array series;
  if (r["series"].get_array().get(series) != simdjson::SUCCESS) return std::nullopt;
  for (simdjson::dom::element s : series) {
    simdjson::dom::array columns, values;
    if (s["columns"].get_array().get(columns) != simdjson::SUCCESS) continue;
    if (s["values"].get_array().get(values) != simdjson::SUCCESS) continue;
    long name_col = -1, duration_col = -1, default_col = -1, i = 0;
    for (simdjson::dom::element c : columns) {
      std::string_view cn;
      if (c.get_string().get(cn) == simdjson::SUCCESS) {
        if (cn == "name") name_col = i;
        if (cn == "duration") duration_col = i;
        if (cn == "default") default_col = i;
      }
      ++i;
    }
    if (name_col < 0 || duration_col < 0) continue;
    for (simdjson::dom::element row : values) {
      simdjson::dom::array cells;
      if (row.get_array().get(cells) != simdjson::SUCCESS) continue;
      std::string_view rp_name, duration;
      bool is_default = false;
      if (cells.at(static_cast<std::size_t>(name_col)).get_string().get(rp_name) != simdjson::SUCCESS) continue;
      if (cells.at(static_cast<std::size_t>(duration_col)).get_string().get(duration) != simdjson::SUCCESS) continue;
      if (default_col >= 0 &&
          cells.at(static_cast<std::size_t>(default_col)).get_bool().get(is_default) != simdjson::SUCCESS)
        is_default = false;
      if (name.empty() ? is_default : rp_name == name)
        return RetentionPolicy{printable(rp_name, 200), printable(duration, 64)};
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> v2_bucket_retention_s(std::string_view body, std::string_view name) {
  simdjson::dom::element doc;
  if (!parse_object(body, doc)) return std::nullopt;
  simdjson::dom::array buckets;
  if (doc["buckets"].get_array().get(buckets) != simdjson::SUCCESS) return std::nullopt;
  for (simdjson::dom::element b : buckets) {
    std::string_view bn;
    if (b["name"].get_string().get(bn) != simdjson::SUCCESS || bn != name) continue;
    simdjson::dom::array rules;
    if (b["retentionRules"].get_array().get(rules) != simdjson::SUCCESS) return 0;  // no rules: forever
    for (simdjson::dom::element rule : rules) {
      std::string_view type;
      std::int64_t every = 0;
      if (rule["type"].get_string().get(type) == simdjson::SUCCESS && type != "expire") continue;
      if (rule["everySeconds"].get_int64().get(every) == simdjson::SUCCESS) return every < 0 ? 0 : every;
    }
    return 0;
  }
  return std::nullopt;
}

bool v2_csv_has_rows(std::string_view body) {
  // Default dialect: a header row, then data rows; annotation rows start with '#'. An empty
  // result is an empty body (or only blank lines).
  int lines = 0;
  while (!body.empty()) {
    std::size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (++lines >= 2) return true;
  }
  return false;
}

}  // namespace pm500::influx
