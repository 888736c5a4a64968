# Sparkplug B: the DDATA encoder (nanopb) against the MQTT sink's JSON document in the same run.
pm500_bench(sparkplug_encoder_bench
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sparkplug/encoder_bench.cpp
  DEPS pm500_sparkplug_payload pm500_sink_common benchmark::benchmark_main)
