// A strict reader of the Prometheus text exposition format 0.0.4, written for the tests so that
// /metrics is checked by something other than the code that wrote it. Stricter than Prometheus
// where Prometheus is lenient: every family needs HELP and TYPE before its first sample, a
// family's samples are contiguous, no series repeats, counters are not negative, and the text
// ends with a line feed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pm500::test::prom {

using Labels = std::map<std::string, std::string>;

struct Sample {
  Labels labels;
  double value = 0;
};

struct Family {
  std::string help, type;
  std::vector<Sample> samples;
  // The value of the one sample whose labels include every given pair.
  std::optional<double> value(const Labels& match = {}) const;
};

struct Exposition {
  std::map<std::string, Family> families;
  std::vector<std::string> errors;  // "line 12: ..." ; empty when the text is valid
  bool ok() const { return errors.empty(); }
  const Family* family(const std::string& name) const;
};

Exposition parse(const std::string& text);

}  // namespace pm500::test::prom
