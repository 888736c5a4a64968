# Pipeline benchmarks: ring (vs a mutex + deque baseline in the same run) and spool.
pm500_bench(pipeline_bench
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/ring_bench.cpp ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/spool_bench.cpp
  DEPS pm500_pipeline benchmark::benchmark_main)
