#include "sinks/aws_iot/rule_error.hpp"

#include <simdjson.h>

namespace pm500::sinks::aws_iot {

namespace {

// Copies a string member if present and a string; anything else leaves `out` empty.
void get_string(simdjson::dom::object o, std::string_view key, std::string& out) {
  std::string_view v;
  if (o[key].get_string().get(v) == simdjson::SUCCESS) out.assign(v);
}

// Evidence must stay one readable line of bounded size, whatever the message holds.
void append_clean(std::string& out, std::string_view s, std::size_t max) {
  std::size_t n = 0;
  for (char c : s) {
    if (n++ >= max) {
      out += "...";
      return;
    }
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
}

}  // namespace

pm500::expected<RuleError, std::string> parse_rule_error(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  // simdjson needs SIMDJSON_PADDING readable bytes after the input: copy into a padded string.
  const simdjson::padded_string padded(json);
  if (auto err = parser.parse(padded).get(doc); err != simdjson::SUCCESS)
    return pm500::unexpected(std::string("not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return pm500::unexpected(std::string("not a JSON object"));
  RuleError e;
  get_string(root, "ruleName", e.rule_name);
  get_string(root, "topic", e.topic);
  get_string(root, "clientId", e.client_id);
  simdjson::dom::array failures;
  if (root["failures"].get_array().get(failures) != simdjson::SUCCESS)
    return pm500::unexpected(std::string("no \"failures\" array: not an AWS IoT rule error message"));
  for (simdjson::dom::element f : failures) {
    simdjson::dom::object fo;
    if (f.get_object().get(fo) != simdjson::SUCCESS) continue;
    RuleFailure rf;
    get_string(fo, "failedAction", rf.failed_action);
    get_string(fo, "failedResource", rf.failed_resource);
    get_string(fo, "errorMessage", rf.error_message);
    e.failures.push_back(std::move(rf));
  }
  if (e.rule_name.empty() && e.failures.empty())
    return pm500::unexpected(std::string("neither ruleName nor failures: not an AWS IoT rule error message"));
  return e;
}

std::string_view throughput_marker(const RuleFailure& f) {
  for (std::string_view marker : {"ProvisionedThroughputExceeded", "ThrottlingException", "LimitExceededException",
                                  "ServiceUnavailableException", "Rate exceeded", "SlowDown"})
    if (f.error_message.find(marker) != std::string::npos) return marker;
  return {};
}

bool is_throughput_error(const RuleFailure& f) { return !throughput_marker(f).empty(); }

std::string evidence(const RuleError& e) {
  std::string s = "rule ";
  append_clean(s, e.rule_name.empty() ? std::string_view("?") : std::string_view(e.rule_name), 128);
  if (!e.topic.empty()) {
    s += " on topic ";
    append_clean(s, e.topic, 256);
  }
  for (const auto& f : e.failures) {
    s += ": failedAction ";
    append_clean(s, f.failed_action, 64);
    s += ", failedResource ";
    append_clean(s, f.failed_resource, 256);
    s += ", errorMessage ";
    append_clean(s, f.error_message, 512);
  }
  return s;
}

}  // namespace pm500::sinks::aws_iot
