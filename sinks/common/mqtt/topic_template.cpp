#include "sinks/common/mqtt/topic_template.hpp"

namespace pm500::mqttc {

namespace {

void append_safe(std::string& out, std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    out += (c == '/' || c == '+' || c == '#' || u < 0x20 || u == 0x7F) ? '_' : c;
  }
}

}  // namespace

std::string TopicTemplate::validate(std::string_view text, std::string_view allowed) {
  if (text.empty()) return "the topic is empty";
  if (text.find_first_of("+#") != std::string_view::npos) return "a topic to publish to cannot contain the wildcards + or #";
  if (text.front() == '$') return "topics starting with $ are reserved for the broker";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') return "unmatched } at position " + std::to_string(i);
    if (text[i] != '{') continue;
    const auto close = text.find('}', i);
    if (close == std::string_view::npos) return "unclosed { at position " + std::to_string(i);
    const std::string_view name = text.substr(i + 1, close - i - 1);
    bool ok = false;
    for (std::size_t p = 0; p < allowed.size();) {
      const auto sp = allowed.find(' ', p);
      const auto word = allowed.substr(p, sp == std::string_view::npos ? std::string_view::npos : sp - p);
      if (word == name) ok = true;
      if (sp == std::string_view::npos) break;
      p = sp + 1;
    }
    if (!ok) return "unknown placeholder {" + std::string(name) + "}; use " + std::string(allowed);
    i = close;
  }
  return {};
}

TopicTemplate::TopicTemplate(std::string_view text) {
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') {
      literal += text[i];
      continue;
    }
    const auto close = text.find('}', i);
    const std::string_view name = text.substr(i + 1, close - i - 1);
    if (!literal.empty()) pieces_.push_back({Part::text, std::move(literal)});
    literal.clear();
    const Part p = name == "site" ? Part::site : name == "asset" ? Part::asset : name == "device" ? Part::device : Part::assembly;
    pieces_.push_back({p, {}});
    i = close;
  }
  if (!literal.empty()) pieces_.push_back({Part::text, std::move(literal)});
}

bool TopicTemplate::uses(std::string_view placeholder) const {
  for (const auto& p : pieces_) {
    if ((p.part == Part::site && placeholder == "site") || (p.part == Part::asset && placeholder == "asset") ||
        (p.part == Part::device && placeholder == "device") || (p.part == Part::assembly && placeholder == "assembly"))
      return true;
  }
  return false;
}

void TopicTemplate::render(std::string& out, const DeviceMeta* meta, std::uint32_t device, std::uint16_t assembly) const {
  for (const auto& p : pieces_) {
    switch (p.part) {
      case Part::text: out += p.text; break;
      case Part::site: append_safe(out, meta ? std::string_view(meta->site) : std::string_view("unknown")); break;
      case Part::asset: append_safe(out, meta ? std::string_view(meta->asset) : std::string_view("unknown")); break;
      case Part::device:
        if (meta) append_safe(out, meta->name);
        else out += "device-" + std::to_string(device);
        break;
      case Part::assembly: out += std::to_string(assembly); break;
    }
  }
}

std::string substitute(std::string_view text, std::string_view key, std::string_view value) {
  std::string out(text);
  const std::string needle = "{" + std::string(key) + "}";
  for (auto p = out.find(needle); p != std::string::npos; p = out.find(needle, p + value.size())) out.replace(p, needle.size(), value);
  return out;
}

}  // namespace pm500::mqttc
