# Scanner benchmarks: Class 1 datagram demultiplexing + decoding, against std::unordered_map
# as the baseline in the same run.
pm500_bench(scanner_bench
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/scanner/demux_bench.cpp
  DEPS pm500_cip benchmark::benchmark_main)
