# fuzz_ack_request: the body of POST /api/acknowledge (src/status/detail/ack_request.cpp). Only
# that file and simdjson are compiled in, so the target builds with clang without the server.
find_package(simdjson REQUIRED)
add_executable(fuzz_ack_request ack_request_fuzz.cpp ${PROJECT_SOURCE_DIR}/src/status/detail/ack_request.cpp)
target_compile_options(fuzz_ack_request PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS}
  -fno-omit-frame-pointer -fno-sanitize-recover=all)
target_link_options(fuzz_ack_request PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS})
target_link_libraries(fuzz_ack_request PRIVATE pm500_build_flags simdjson::simdjson)
