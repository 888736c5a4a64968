// Test helper for the kill -9 test in mqtt_broker_test.cpp: one delivery thread (SinkDelivery)
// with the MQTT sink, replaying the spool the test filled under STATE_DIR, until SIGTERM (an
// orderly stop) or SIGKILL (a crash, which is the point). At most 30 s.
//
//   pm500_mqtt_replay_child STATE_DIR URL CA_FILE USER PASSWORD REPLAY_RATE BATCH_SIZE FSYNC_MS
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

#include "pipeline/delivery.hpp"
#include "pipeline/ring.hpp"
#include "sinks/mqtt/mqtt_sink.hpp"
#include "sinks/mqtt/tests/fixtures.hpp"

using namespace pm500;

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s STATE_DIR URL CA_FILE USER PASSWORD REPLAY_RATE BATCH_SIZE FSYNC_MS\n", argv[0]);
    return 64;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts: only sigtimedwait sees them

  const Catalog cat = test::mqtt::two_devices();  // as mqtt_broker_test.cpp's

  sinks::mqtt::MqttSinkConfig cfg;
  cfg.url = argv[2];
  cfg.ca_file = argv[3];
  cfg.username = argv[4];
  cfg.password = argv[5];
  cfg.client_id = "pm500-test-replay";
  cfg.status_topic = "";
  cfg.connect_timeout_ms = 3000;
  cfg.ack_timeout_ms = 3000;

  SinkDelivery::Options o;
  o.name = "mqtt";
  o.state_dir = argv[1];
  o.delivery.replay_rate = std::atoll(argv[6]);
  o.delivery.batch_size = std::atoll(argv[7]);
  o.delivery.spool_fsync_interval_ms = std::atoll(argv[8]);
  o.delivery.retry_initial_ms = 100;
  o.delivery.retry_max_ms = 500;
  Ring ring(1024);
  auto d = SinkDelivery::create(ring, std::make_unique<sinks::mqtt::MqttSink>(cfg, cat, nullptr), o);
  if (!d) {
    std::fprintf(stderr, "%s\n", d.error().c_str());
    return 1;
  }
  (*d)->start();
  std::printf("replaying\n");
  std::fflush(stdout);
  const timespec limit{30, 0};
  sigtimedwait(&set, nullptr, &limit);
  (*d)->stop();
  const SinkStats s = (*d)->stats();
  std::printf("stopped: replayed %llu, backlog %llu, retries %llu, last error: %s\n",
              static_cast<unsigned long long>(s.replayed), static_cast<unsigned long long>(s.spool_backlog),
              static_cast<unsigned long long>(s.retries), s.last_error.c_str());
  return 0;
}
