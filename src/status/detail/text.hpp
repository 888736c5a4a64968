// Text building blocks of the renderers: a streaming JSON writer and number formatting that
// does not depend on the C locale (a German locale must not turn 230.5 into "230,5").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pm500::status::detail {

// Appends `in` as the inside of a JSON string. Control characters become \u00XX and invalid
// UTF-8 (a meter's identity string or a broker's error text may carry any bytes) becomes
// U+FFFD, so the document is always valid JSON and valid UTF-8.
void json_escape(std::string_view in, std::string& out);

// Shortest text at the value's own precision (pm500/number_text.hpp); "" for NaN and infinities, which the
// callers render as JSON null or Prometheus NaN/+Inf.
std::string format_double(double v);

// Writes one JSON document; commas and nesting are tracked so callers cannot get them wrong.
//   JsonWriter w; w.begin_object(); w.key("a"); w.value(1); w.end_object(); w.str() == {"a":1}
class JsonWriter {
 public:
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(std::string_view k);
  void value(std::string_view v);
  void value(const char* v) { value(std::string_view(v)); }
  void value(const std::string& v) { value(std::string_view(v)); }
  void value(bool v);
  void value(std::int64_t v);
  void value(std::uint64_t v);
  void value(std::uint32_t v) { value(static_cast<std::uint64_t>(v)); }
  void value(int v) { value(static_cast<std::int64_t>(v)); }
  void value(double v);  // null when not finite: JSON has no NaN
  void value(float v);   // the shortest text that reads back to the float; null when not finite
  void null();

  // Shorthand for key(k) followed by value(v).
  template <class V>
  void field(std::string_view k, const V& v) {
    key(k);
    value(v);
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void open(char c);
  void close(char c);
  void separate();  // the comma before a value or key, when one is due

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written into it yet
  bool after_key_ = false;
};

}  // namespace pm500::status::detail
