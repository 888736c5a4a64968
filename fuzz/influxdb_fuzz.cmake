# fuzz_influxdb_response: the InfluxDB sink's parsers of server answers (sinks/influxdb/response.cpp):
# Retry-After, HTTP dates, JSON error bodies and read-back answers. Only that file and simdjson
# are compiled in, so the target builds with clang without the rest of the sink.
find_package(simdjson REQUIRED)
add_executable(fuzz_influxdb_response influxdb_response_fuzz.cpp ${PROJECT_SOURCE_DIR}/sinks/influxdb/response.cpp)
target_compile_options(fuzz_influxdb_response PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS}
  -fno-omit-frame-pointer -fno-sanitize-recover=all)
target_link_options(fuzz_influxdb_response PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS})
target_link_libraries(fuzz_influxdb_response PRIVATE pm500_build_flags simdjson::simdjson)
