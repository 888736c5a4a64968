# Device path benchmarks: what the scanner thread does per datagram after the demultiplexing
# (decode -> CT/PT scaling -> plausibility), healthy and with a finding active.
pm500_bench(device_bench
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/device/hot_path_bench.cpp
  DEPS pm500_device benchmark::benchmark_main)
