#include "runtime/log.h"

#include <cstdlib>
#include <memory>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace weft {

spdlog::logger& Log() {
  static spdlog::logger* const logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto* l = new spdlog::logger("weft", std::move(sink));
    l->set_pattern("[%H:%M:%S.%e] [weft] [%l] %v");
    spdlog::level::level_enum level = spdlog::level::warn;
    if (const char* env = std::getenv("WEFT_LOG"); env != nullptr && *env != '\0') {
      level = spdlog::level::from_str(env);
    }
    l->set_level(level);
    l->flush_on(spdlog::level::warn);
    return l;
  }();
  return *logger;
}

}  // namespace weft
