# InfluxDB sink benchmarks: the line-protocol encoder against the encoder before its cache and a
# naive iostream encoder in the same run (and gzip on top; the JSON documents too), and end-to-end
# points/s into a local influxd the program starts itself.
pm500_bench(influxdb_encoder_bench
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/influxdb_encoder_bench.cpp
          ${PROJECT_SOURCE_DIR}/sinks/common/tests/reference_encoders.cpp
  DEPS pm500_sink_influxdb pm500_sink_common benchmark::benchmark_main)
pm500_bench(influxdb_e2e_bench
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/influxdb_e2e_bench.cpp
  DEPS pm500_sink_influxdb benchmark::benchmark_main)
