#include "pipeline/pipeline.hpp"

#include <thread>

namespace pm500 {

pm500::expected<void, std::string> Pipeline::add_sink(std::unique_ptr<Sink> sink, SinkDelivery::Options options) {
  if (started_) return pm500::unexpected("sink " + options.name + ": sinks are added before the pipeline starts");
  for (const auto& s : sinks_)
    if (s->name() == options.name) return pm500::unexpected("sink " + options.name + " is configured twice");
  auto d = SinkDelivery::create(ring_, std::move(sink), std::move(options));
  if (!d) return pm500::unexpected(d.error());
  sinks_.push_back(std::move(*d));
  return {};
}

void Pipeline::start() {
  if (started_) return;
  started_ = true;
  for (auto& s : sinks_) s->start();
}

void Pipeline::stop() {
  std::vector<std::thread> stoppers;
  stoppers.reserve(sinks_.size());
  for (auto& s : sinks_) stoppers.emplace_back([&s] { s->stop(); });
  for (auto& t : stoppers) t.join();
}

std::vector<SinkStats> Pipeline::stats() const {
  std::vector<SinkStats> out;
  out.reserve(sinks_.size());
  for (const auto& s : sinks_) out.push_back(s->stats());
  return out;
}

}  // namespace pm500
