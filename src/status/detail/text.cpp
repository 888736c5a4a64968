#include "status/detail/text.hpp"

#include "pm500/json_text.hpp"
#include "pm500/number_text.hpp"

#include <charconv>
#include <cmath>

namespace pm500::status::detail {
void json_escape(std::string_view in, std::string& out) { json::append_escaped(out, in); }

std::string format_double(double v) {
  if (!std::isfinite(v)) return {};
  char buf[64];
  auto r = to_chars_measured(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

void JsonWriter::open(char c) {
  separate();
  out_ += c;
  first_.push_back(true);
}

void JsonWriter::close(char c) {
  out_ += c;
  first_.pop_back();
}

void JsonWriter::key(std::string_view k) {
  separate();
  out_ += '"';
  json_escape(k, out_);
  out_ += "\":";
  after_key_ = true;
}

void JsonWriter::value(std::string_view v) {
  separate();
  out_ += '"';
  json_escape(v, out_);
  out_ += '"';
}

void JsonWriter::value(bool v) {
  separate();
  out_ += v ? "true" : "false";
}

void JsonWriter::value(std::int64_t v) {
  separate();
  out_ += std::to_string(v);
}

void JsonWriter::value(std::uint64_t v) {
  separate();
  out_ += std::to_string(v);
}

void JsonWriter::value(double v) {
  std::string s = format_double(v);
  if (s.empty()) return null();
  separate();
  out_ += s;
}

void JsonWriter::value(float v) {
  if (!std::isfinite(v)) return null();
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  separate();
  out_.append(buf, r.ptr);
}

void JsonWriter::null() {
  separate();
  out_ += "null";
}

}  // namespace pm500::status::detail
