#include "app/commands.hpp"

#include <csignal>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "app/check.hpp"
#include "app/commission.hpp"
#include "app/exit_codes.hpp"
#include "app/gateway.hpp"
#include "config/config.hpp"
#include "health/failure_modes.hpp"
#include "health/restart_history.hpp"
#include "log/log.hpp"
#include "pipeline/sink_plugin.hpp"

namespace pm500::app {
namespace {

std::optional<config::GatewayConfig> load(const Options& opt, std::string* first_error = nullptr) {
  auto schemas = sink_schemas();
  auto cfg = config::load_file(opt.config_file, schemas);
  if (!cfg) {
    if (first_error && !cfg.error().empty()) *first_error = cfg.error().front().str();
    for (const auto& d : cfg.error()) std::cerr << d.str() << '\n';
    std::cerr << cfg.error().size() << (cfg.error().size() == 1 ? " error" : " errors") << " in " << opt.config_file
              << "; see `pm500-gateway config --reference` for every key\n";
    return std::nullopt;
  }
  return std::move(*cfg);
}

void setup_logging(const Options& opt, const config::GatewayConfig& cfg) {
  log::setup(opt.log_level.empty() ? cfg.logging.level : opt.log_level,
             log::resolve_format(opt.log_format.empty() ? cfg.logging.format : opt.log_format));
}

// A configuration error ends a run too: in a container that restarts the gateway, a missing
// environment variable becomes a restart loop. The error goes into the restart history (when the
// state directory named by the file, or the default one, exists), so once the file is fixed the
// first good start shows the loop and its cause as ops.restart_loop.
void record_config_error(const std::string& file, const std::string& error) {
  std::filesystem::path dir = config::state_dir_hint(file);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto history = health::RestartHistory::open(dir / "restart-history", now);
  std::string line = error.substr(0, 300);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';  // one history line per entry
  history.record_stop(std::string(health::RestartHistory::kConfigError) + line, now);
}

}  // namespace

int cmd_run(const Options& opt) {
  // Block the stop signals before any thread starts (the logger's flusher is the first): every
  // thread inherits the mask, so a SIGTERM during start-up waits for run_until_signalled's
  // sigtimedwait and an orderly stop, instead of killing the process from whichever thread
  // the kernel picked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reload: taken by the main loop too, never by a worker thread
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::string error;
  auto cfg = load(opt, &error);
  if (!cfg) {
    if (!error.empty()) record_config_error(opt.config_file, error);
    return kExitConfig;
  }
  setup_logging(opt, *cfg);
  return run_until_signalled(*cfg);
}

int cmd_check(const Options& opt) { return cmd_check(opt, CheckOptions{}); }

int cmd_check(const Options& opt, const CheckOptions& check) {
  auto cfg = load(opt);
  if (!cfg) return kExitConfig;
  // Only warnings and worse on stderr unless asked: the check's own lines are the output.
  log::setup(opt.log_level.empty() ? "warn" : opt.log_level,
             log::resolve_format(opt.log_format.empty() ? cfg->logging.format : opt.log_format));
  std::vector<CheckLine> lines = check_configuration(*cfg);
  auto append = [&](std::vector<CheckLine> more) {
    for (auto& l : more) lines.push_back(std::move(l));
  };
  if (check.offline) {
    lines.push_back({CheckLine::Result::skipped, "devices and sinks", "not probed (--offline)", "", ""});
  } else {
    append(check_devices_and_sinks(*cfg));
    append(check_alerts(*cfg));
  }
  return render_check(std::cout, lines) == 0 ? kExitOk : kExitCheckFailed;
}

int cmd_commission(const Options& opt, const CommissionOptions& commission) {
  auto cfg = load(opt);
  if (!cfg) return kExitConfig;
  // Only warnings and worse on stderr unless asked: the meters' report is the output.
  log::setup(opt.log_level.empty() ? "warn" : opt.log_level,
             log::resolve_format(opt.log_format.empty() ? cfg->logging.format : opt.log_format));
  return run_commission(std::move(*cfg), commission);
}

int cmd_config(const Options& opt) {
  auto schemas = sink_schemas();
  if (opt.reference) {
    std::cout << config::markdown_reference(schemas);
    return kExitOk;
  }
  if (opt.example) {
    std::cout << config::example_toml(schemas);
    return kExitOk;
  }
  auto cfg = load(opt);
  if (!cfg) return kExitConfig;
  std::cout << config::dump(*cfg, schemas);
  return kExitOk;
}

int cmd_alert_test(const Options& opt) {
  auto cfg = load(opt);
  if (!cfg) return kExitConfig;
  const auto& a = cfg->alerts;
  if (a.url.empty()) {
    std::cerr << "pm500-gateway alert-test: " << opt.config_file
              << " has no [alerts] url; set url (and enabled = true) to the webhook first\n";
    return kExitConfig;
  }
  // The same line `check` prints for the webhook, sent whether or not alerts are enabled.
  std::vector<CheckLine> lines{webhook_check(*cfg)};
  if (!a.enabled)
    lines.push_back({CheckLine::Result::warn, "alerts", "enabled = false",
                     "the running gateway sends no alerts until [alerts] enabled = true", ""});
  return render_check(std::cout, lines) == 0 ? kExitOk : kExitCheckFailed;
}

int cmd_troubleshooting(const Options& opt) {
  std::cout << (opt.markdown ? health::troubleshooting_markdown() : health::troubleshooting_text());
  return kExitOk;
}

}  // namespace pm500::app
