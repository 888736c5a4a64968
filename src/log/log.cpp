#include "log/log.hpp"

#include "pm500/json_text.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace pm500::log {
namespace {

// One JSON object per line: {"ts":"2026-11-23T01:02:03.456Z","level":"info","logger":"scanner","msg":"..."}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto t = msg.time;
    auto secs = time_point_cast<seconds>(t);
    auto ms = duration_cast<milliseconds>(t - secs).count();
    std::time_t tt = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    std::string line = "{\"ts\":\"";
    line += ts;
    line += "\",\"level\":\"";
    auto lv = spdlog::level::to_string_view(msg.level);
    line.append(lv.data(), lv.size());
    line += "\",\"logger\":";
    json::append_string(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += ",\"msg\":";
    json::append_string(line, std::string_view(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

spdlog::sink_ptr& shared_sink() {
  static spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  return sink;
}

}  // namespace

Format resolve_format(std::string_view word) {
  if (word == "json") return Format::json;
  if (word == "text") return Format::text;
  return isatty(STDERR_FILENO) ? Format::text : Format::json;
}

void setup(std::string_view level, Format format) {
  auto& sink = shared_sink();
  if (format == Format::json) sink->set_formatter(std::make_unique<JsonFormatter>());
  else sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v"));
  auto lv = spdlog::level::from_str(std::string(level));
  spdlog::drop_all();
  auto logger = std::make_shared<spdlog::logger>("gateway", sink);
  spdlog::set_default_logger(logger);
  spdlog::set_level(lv);
  spdlog::flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  static std::mutex m;
  std::lock_guard lock(m);
  if (auto l = spdlog::get(name)) return l;
  auto l = std::make_shared<spdlog::logger>(name, shared_sink());
  l->set_level(spdlog::get_level());
  spdlog::register_logger(l);
  return l;
}

}  // namespace pm500::log
