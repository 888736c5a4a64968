// MQTT topic filter matching ('+' one level, '#' the rest; MQTT 3.1.1 section 4.7), so one
// message callback can dispatch to the handler of each subscription.
#pragma once

#include <string_view>

namespace pm500::mqttc {

inline bool topic_matches(std::string_view filter, std::string_view topic) {
  while (true) {
    const auto fs = filter.find('/');
    const auto ts = topic.find('/');
    const std::string_view f = filter.substr(0, fs);
    const std::string_view t = topic.substr(0, ts);
    if (f == "#") return true;
    if (f != "+" && f != t) return false;
    if (ts == std::string_view::npos) return fs == std::string_view::npos || filter.substr(fs + 1) == "#";
    if (fs == std::string_view::npos) return false;
    filter.remove_prefix(fs + 1);
    topic.remove_prefix(ts + 1);
  }
}

}  // namespace pm500::mqttc
