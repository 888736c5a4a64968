// TLS settings shared by the MQTT and AWS IoT sinks, and what both hand to paho and to the probe.
#pragma once

#include <string>
#include <vector>

namespace pm500::mqttc {

struct TlsSettings {
  std::string ca_file;       // PEM bundle of trusted CAs; "" = ca_dir or the system store
  std::string ca_dir;        // c_rehash'ed directory of CAs
  bool verify = true;        // verify the broker's certificate chain and host name
  std::string cert_file;     // client certificate (PEM), optional
  std::string key_file;      // its private key (PEM)
  std::string key_password;  // secret: never logged
  std::vector<std::string> alpn;  // e.g. {"x-amzn-mqtt-ca"} for AWS IoT on port 443
};

}  // namespace pm500::mqttc
