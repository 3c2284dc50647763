#include "runtime/check.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace weft {
namespace {

std::atomic<FatalHook> fatal_hook{nullptr};
std::atomic<bool> in_fatal{false};

void WriteAll(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Formats a non-negative int without allocating.
void WriteInt(int v) {
  char buf[16];
  int i = sizeof(buf) - 1;
  buf[i] = '\0';
  if (v == 0) buf[--i] = '0';
  while (v > 0 && i > 0) {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  WriteAll(buf + i);
}

}  // namespace

void SetFatalHook(FatalHook hook) { fatal_hook.store(hook); }

void Fatal(const char* file, int line, const char* message) {
  // A second failure while handling the first (e.g. inside the hook) skips the hook.
  bool nested = in_fatal.exchange(true);
  WriteAll(file);
  WriteAll(":");
  WriteInt(line);
  WriteAll(": ");
  WriteAll(message);
  WriteAll("\n");
  FatalHook hook = fatal_hook.load();
  if (hook != nullptr && !nested) hook(message);
  std::abort();
}

}  // namespace weft
