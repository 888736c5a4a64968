// `pm500-gateway check` for the InfluxDB sink: the server answers /ping (over verified TLS for
// https), the credentials are accepted with write access, the database (v1) or bucket (v2)
// exists, and its retention is not infinite. Writes nothing: the write check sends an empty body,
// which InfluxDB authenticates and routes like a real write (1.x answers 204, 404 "database not
// found", 500 "retention policy not found") without storing a point.
#pragma once

#include <vector>

#include "pipeline/sink_plugin.hpp"
#include "sinks/influxdb/influxdb_config.hpp"

namespace pm500::sinks {

std::vector<SinkProbeResult> probe_influxdb(const InfluxSinkConfig& cfg);

}  // namespace pm500::sinks
