#include "sinks/mqtt/errors.hpp"

namespace pm500::sinks::mqtt {

DeliveryResult to_delivery_result(const mqttc::Error& e) {
  const std::string reason = std::string(mqttc::to_string(e.kind)) + ": " + e.reason;
  if (e.kind == mqttc::ErrorKind::publish_refused) {
    for (std::string_view permanent : {"reason code 0x90", "reason code 0x95", "reason code 0x99"})
      if (e.evidence.find(permanent) != std::string::npos) return DeliveryResult::reject(reason, e.evidence);
  }
  return DeliveryResult::retry(reason, e.evidence);
}

std::string evidence_line(const mqttc::Error& e) {
  return std::string(mqttc::to_string(e.kind)) + ": " + e.reason + (e.evidence.empty() ? "" : " | " + e.evidence);
}

}  // namespace pm500::sinks::mqtt
