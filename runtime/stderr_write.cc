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

void WriteStderrDecimal(uint64_t v) {
  char buf[24];  // 20 digits for 2^64-1
  size_t i = sizeof(buf);
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  WriteStderr(std::string_view(buf + i, sizeof(buf) - i));
}

}  // namespace weft
