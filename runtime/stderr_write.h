// stderr_write.h: writing to stderr from a fatal path.
//
// The fatal paths (check.cc's message, the native-stack overflow handler in
// threads/overflow.cc, the fatal dump) may run in a signal handler or with the
// allocator's locks held, so they write with write(2) alone: no allocation, no
// stdio, no formatting library. Short writes are retried; an error gives up silently
// (there is nowhere left to report it).
#ifndef WEFT_RUNTIME_STDERR_WRITE_H_
#define WEFT_RUNTIME_STDERR_WRITE_H_

#include <cstdint>
#include <string_view>

namespace weft {

// WriteAllFd writes all of `s` to `fd`, retrying short writes and EINTR; gives up
// silently on an error. Async-signal-safe.
void WriteAllFd(int fd, std::string_view s);
// WriteStderr writes all of `s` to stderr. Async-signal-safe.
void WriteStderr(std::string_view s);
// WriteStderrDecimal writes `v` in decimal. Async-signal-safe, allocates nothing.
void WriteStderrDecimal(uint64_t v);

}  // namespace weft

#endif  // WEFT_RUNTIME_STDERR_WRITE_H_
