# fuzz_aws_rule_error: the AWS IoT sink's parser of rule error-action messages
# (sinks/aws_iot/rule_error.cpp). Only that file and simdjson are compiled in -- no paho -- so
# the target builds with clang without the rest of the sink.
find_package(simdjson REQUIRED)
add_executable(fuzz_aws_rule_error aws_rule_error_fuzz.cpp ${PROJECT_SOURCE_DIR}/sinks/aws_iot/rule_error.cpp)
target_compile_options(fuzz_aws_rule_error PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS}
  -fno-omit-frame-pointer -fno-sanitize-recover=all)
target_link_options(fuzz_aws_rule_error PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS})
target_link_libraries(fuzz_aws_rule_error PRIVATE pm500_build_flags simdjson::simdjson)
