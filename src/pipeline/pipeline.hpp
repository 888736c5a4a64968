// Pipeline: the ring plus one SinkDelivery per configured sink -- what the app wires between the
// scanner and the sinks.
//
//   pm500::Pipeline pipe(cfg.pipeline.ring_capacity);
//   for (const auto& section : cfg.sinks) {
//     const SinkPlugin* plugin = /* the entry of sink_plugins() whose schema.name == section.type */;
//     auto sink = plugin->create(section, SinkEnv{catalog, cfg.gateway.state_dir});
//     if (!sink) return fail(*sink.error());
//     auto added = pipe.add_sink(std::move(*sink), {.name = section.type, .state_dir = cfg.gateway.state_dir,
//                                                  .delivery = section.delivery, .conditions = &health});
//     if (!added) return fail(added.error());
//   }
//   pipe.start();
//   scanner thread:  pipe.publish(sample);       // never blocks, never allocates
//   shutdown:        stop the scanner, then pipe.stop();   // ring -> destinations or spools
//   status page:     for (auto& s : pipe.stats()) ...
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pipeline/delivery.hpp"
#include "pipeline/ring.hpp"

namespace pm500 {

class Pipeline {
 public:
  explicit Pipeline(std::size_t ring_capacity) : ring_(ring_capacity) {}
  ~Pipeline() { stop(); }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Before start(): the sink reads every sample published after this call.
  pm500::expected<void, std::string> add_sink(std::unique_ptr<Sink> sink, SinkDelivery::Options options);
  void start();
  // Producer (scanner thread) only.
  void publish(const Sample& s) noexcept { ring_.push(s); }
  // After the producer stopped: every sink delivers or spools what the ring holds. Sinks stop
  // in parallel, so the slowest one bounds the shutdown (stop_timeout).
  void stop();

  std::vector<SinkStats> stats() const;
  const Ring& ring() const noexcept { return ring_; }
  Ring& ring() noexcept { return ring_; }
  std::size_t sink_count() const noexcept { return sinks_.size(); }

 private:
  Ring ring_;
  std::vector<std::unique_ptr<SinkDelivery>> sinks_;
  bool started_ = false;
};

}  // namespace pm500
