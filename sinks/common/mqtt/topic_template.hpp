// Topic templates: "pm500/{site}/{asset}/{device}/{assembly}". Checked once when the
// configuration is read, rendered per sample without allocation beyond the reused output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/catalog.hpp"

namespace pm500::mqttc {

class TopicTemplate {
 public:
  // An error names the bad placeholder or character; "" when the template is valid.
  static std::string validate(std::string_view text, std::string_view allowed = "site asset device assembly");
  explicit TopicTemplate(std::string_view text);

  // Appends the topic for this device and assembly. Substituted values have '/', '+', '#' and
  // control characters replaced by '_': a device name must not add topic levels or wildcards.
  void render(std::string& out, const DeviceMeta* meta, std::uint32_t device, std::uint16_t assembly) const;
  bool uses(std::string_view placeholder) const;

 private:
  enum class Part : std::uint8_t { text, site, asset, device, assembly };
  struct Piece {
    Part part;
    std::string text;
  };
  std::vector<Piece> pieces_;
};

// A placeholder-free topic with "{client_id}" replaced (status topics).
std::string substitute(std::string_view text, std::string_view key, std::string_view value);

}  // namespace pm500::mqttc
