// log_capture.h: for tests, the `weft` logger's lines while a LogCapture lives.
//
//   LogCapture capture(spdlog::level::debug);
//   ... code that logs ...
//   EXPECT_NE(capture.Text().find("gen 0: "), std::string::npos);
//
// The constructor adds a sink to Log() and sets its level; the destructor removes the
// sink and restores the level. Not thread-safe against another LogCapture.
#ifndef WEFT_RUNTIME_LOG_CAPTURE_H_
#define WEFT_RUNTIME_LOG_CAPTURE_H_

#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>

#include "runtime/log.h"

namespace weft {

class LogCapture {
 public:
  explicit LogCapture(spdlog::level::level_enum level)
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)),
        saved_level_(Log().level()) {
    Log().sinks().push_back(sink_);
    Log().set_level(level);
  }
  ~LogCapture() {
    Log().set_level(saved_level_);
    auto& sinks = Log().sinks();
    for (auto it = sinks.begin(); it != sinks.end(); ++it) {
      if (*it == sink_) {
        sinks.erase(it);
        break;
      }
    }
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Everything logged since the capture began.
  std::string Text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::level::level_enum saved_level_;
};

}  // namespace weft

#endif  // WEFT_RUNTIME_LOG_CAPTURE_H_
