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
// DecimalDigits: the decimal text of `v` ("-" first when negative), formatted
// without allocating. Async-signal-safe.
class DecimalDigits {
 public:
  explicit DecimalDigits(int64_t v);
  explicit DecimalDigits(uint64_t v) { Format(v, false); }
  std::string_view view() const { return std::string_view(buf_ + start_, sizeof(buf_) - start_); }

 private:
  void Format(uint64_t magnitude, bool negative);
  char buf_[24];  // a sign and 20 digits for 2^64-1
  size_t start_ = sizeof(buf_);
};
// WriteStderrDecimal writes `v` in decimal. Async-signal-safe, allocates nothing.
void WriteStderrDecimal(uint64_t v);

}  // namespace weft

#endif  // WEFT_RUNTIME_STDERR_WRITE_H_
