// log.h: the `weft` spdlog logger.
//
// Log() returns the process-wide logger named "weft", created on first use. Its level
// comes from the environment variable WEFT_LOG (trace, debug, info, warn, error,
// critical, off; default warn), read once at creation.
#ifndef WEFT_RUNTIME_LOG_H_
#define WEFT_RUNTIME_LOG_H_

#include <spdlog/spdlog.h>

namespace weft {

spdlog::logger& Log();

}  // namespace weft

#endif  // WEFT_RUNTIME_LOG_H_
