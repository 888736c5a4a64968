# Pipeline benchmarks: ring (vs a mutex + deque baseline in the same run) and spool.
pm500_bench(pipeline_bench
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/ring_bench.cpp ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/spool_bench.cpp
  DEPS pm500_pipeline benchmark::benchmark_main)

# Stall and recover (a plain program, not a Google Benchmark): see BENCHMARKS.md.
add_executable(catchup_bench ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/catchup.cpp)
target_link_libraries(catchup_bench PRIVATE pm500_build_flags pm500_pipeline)

# Writes a spool backlog directly (bench/memory/run.sh: restart with a large backlog).
add_executable(spool_fill ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/spool_fill.cpp)
target_link_libraries(spool_fill PRIVATE pm500_build_flags pm500_pipeline)
