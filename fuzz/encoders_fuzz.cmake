# fuzz_encoders: the sample encoders (sinks/common: line protocol and JSON, cached and not) against
# the encoders before the cache (sinks/common/tests/reference_encoders.cpp), and the number text
# against std::to_chars. Only those sources are compiled in: no other dependency.
add_executable(fuzz_encoders encoders_fuzz.cpp ${PROJECT_SOURCE_DIR}/sinks/common/line_protocol.cpp
  ${PROJECT_SOURCE_DIR}/sinks/common/json_sample.cpp ${PROJECT_SOURCE_DIR}/sinks/common/tests/reference_encoders.cpp)
target_compile_options(fuzz_encoders PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS}
  -fno-omit-frame-pointer -fno-sanitize-recover=all)
target_link_options(fuzz_encoders PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS})
target_link_libraries(fuzz_encoders PRIVATE pm500_build_flags)
