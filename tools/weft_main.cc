// The main job of `tools/dev run`: a demo until the program runner replaces it.
#include <cstdio>

#include <boost/context/fiber.hpp>

#include "runtime/log.h"

int main() {
  namespace ctx = boost::context;
  int count = 0;
  ctx::fiber f([&](ctx::fiber&& back) {
    for (;;) {
      ++count;
      back = std::move(back).resume();
    }
    return std::move(back);
  });
  for (int i = 0; i < 1000; ++i) f = std::move(f).resume();
  weft::Log().info("demo finished");
  std::printf("weft demo: %d fiber round trips\n", count);
  return count == 1000 ? 0 : 1;
}
