#pragma once

#include <string>

namespace pm500::app {

struct Options {
  std::string config_file;
  std::string log_level;   // overrides [logging] level when set
  std::string log_format;  // overrides [logging] format when set
  bool reference = false;
  bool example = false;
  bool markdown = false;
};

int cmd_run(const Options& opt);
int cmd_check(const Options& opt);
int cmd_config(const Options& opt);
int cmd_troubleshooting(const Options& opt);
int cmd_alert_test(const Options& opt);

}  // namespace pm500::app
