#include "runtime/stderr_write.h"

#include <unistd.h>

#include <cerrno>

namespace weft {

void WriteAllFd(int fd, std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void WriteStderr(std::string_view s) { WriteAllFd(STDERR_FILENO, s); }

DecimalDigits::DecimalDigits(int64_t v) {
  Format(v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v), v < 0);
}

void DecimalDigits::Format(uint64_t magnitude, bool negative) {
  do {
    buf_[--start_] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude > 0);
  if (negative) buf_[--start_] = '-';
}

void WriteStderrDecimal(uint64_t v) { WriteStderr(DecimalDigits(v).view()); }

}  // namespace weft
