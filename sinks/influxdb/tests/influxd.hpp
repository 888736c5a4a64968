// A real influxd (Debian's InfluxDB 1.6) for the integration tests: configuration and data in a
// temporary folder, HTTP and RPC on free loopback ports, stoppable and restartable in place.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "support/support.hpp"

namespace pm500::test {

class Influxd {
 public:
  struct Options {
    bool auth = false;               // [http] auth-enabled; an admin user is created at start
    std::int64_t max_body_size = 0;  // [http] max-body-size; 0 = influxd's default (25 MB)
  };
  Influxd() : Influxd(Options{}) {}
  explicit Influxd(Options o);
  ~Influxd();

  static bool available();  // /usr/bin/influxd exists
  void start();             // and waits until /ping answers
  void stop();              // SIGTERM and wait
  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  int port() const { return http_port_; }

  // Runs InfluxQL through POST /query (as the admin when auth is on); returns the JSON answer.
  std::string query(const std::string& q, const std::string& db = "");
  // POST /write of raw line protocol; returns the HTTP status.
  long write(const std::string& db, const std::string& lines);
  // SELECT COUNT(field) FROM measurement: the number of points (identical points overwrite).
  std::int64_t count(const std::string& db, const std::string& measurement, const std::string& field);
  std::string log() const { return proc_ ? proc_->log() : std::string(); }

  static constexpr const char* kAdmin = "admin";
  static constexpr const char* kAdminPassword = "admin-pass";

 private:
  Options opt_;
  TempDir dir_;
  int http_port_ = 0, rpc_port_ = 0;
  std::unique_ptr<Process> proc_;
  bool admin_created_ = false;
};

}  // namespace pm500::test
