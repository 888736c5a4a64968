# fuzz_http_request: the status server's HTTP/1.1 request head parser
# (src/status/detail/http_request.cpp). Only that file is compiled in -- no sockets, zlib or
# renderers -- so the target builds with clang without the rest of the server.
add_executable(fuzz_http_request http_request_fuzz.cpp ${PROJECT_SOURCE_DIR}/src/status/detail/http_request.cpp)
target_compile_options(fuzz_http_request PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS}
  -fno-omit-frame-pointer -fno-sanitize-recover=all)
target_link_options(fuzz_http_request PRIVATE -fsanitize=fuzzer,${PM500_FUZZ_SANITIZERS})
target_link_libraries(fuzz_http_request PRIVATE pm500_build_flags)
