#include "sinks/aws_iot/errors.hpp"

namespace pm500::sinks::aws_iot {

using mqttc::ErrorKind;

mqttc::Error explain(mqttc::Error e, std::string_view thing) {
  const std::string t(thing);
  switch (e.kind) {
    case ErrorKind::closed_after_connect:
      // AWS IoT answers a CONNECT its policy does not allow by closing the connection; it sends
      // no CONNACK refusal (AWS IoT developer guide, "Troubleshooting... connection").
      e.reason = "AWS IoT closed the connection right after CONNECT: the IoT policy attached to the certificate lacks "
                 "iot:Connect for client id \"" + t + "\" (or the certificate is inactive or not attached to thing \"" +
                 t + "\"); " + e.reason;
      break;
    case ErrorKind::closed_after_publish:
      e.reason = "AWS IoT closed the connection right after a PUBLISH: the IoT policy lacks iot:Publish on that topic; " +
                 e.reason;
      break;
    case ErrorKind::publish_refused:
      e.reason = "AWS IoT refused the publish (MQTT 5 PUBACK): the IoT policy lacks iot:Publish on that topic; " + e.reason;
      break;
    case ErrorKind::tls_client_rejected:
      e.reason = "AWS IoT rejected the device certificate: register and activate it in AWS IoT (or its CA); " + e.reason;
      break;
    case ErrorKind::tls_verify:
      e.reason = "the endpoint's certificate did not verify against ca_file (use AmazonRootCA1.pem and the -ats endpoint); " +
                 e.reason;
      break;
    default: break;
  }
  return e;
}

DeliveryResult to_delivery_result(const mqttc::Error& e) {
  const std::string reason = std::string(mqttc::to_string(e.kind)) + ": " + e.reason;
  if (e.kind == ErrorKind::publish_refused && e.evidence.find("reason code 0x95") != std::string::npos)
    return DeliveryResult::reject(reason, e.evidence);
  // Everything else can be fixed (files, policy, network) while the spool keeps the samples.
  return DeliveryResult::retry(reason, e.evidence);
}

std::string evidence_line(const mqttc::Error& e) {
  return std::string(mqttc::to_string(e.kind)) + ": " + e.reason + (e.evidence.empty() ? "" : " | " + e.evidence);
}

}  // namespace pm500::sinks::aws_iot
