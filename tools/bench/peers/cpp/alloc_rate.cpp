// Allocation rate, C++ new/delete, Weft peer: allocate N (default 100M) 16-byte
// objects {long value; void* next}; a ring keeps the last 1000 alive and deletes the
// one it evicts after reading it. Prints "allocated N objects, checksum S" with
// S = sum of every value = N(N-1)/2, and "ns-per-alloc: X" (loop time / N) on stderr.
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {
struct Cell {
  long value;
  void* next;
};
constexpr int kKeep = 1000;
Cell* keep[kKeep];
}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000000L;
  long sum = 0;
  int slot = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    Cell* c = new Cell{i, nullptr};
    if (Cell* old = keep[slot]) {
      sum += old->value;
      delete old;
    }
    keep[slot] = c;
    if (++slot == kKeep) slot = 0;
  }
  const auto t1 = std::chrono::steady_clock::now();
  for (Cell* c : keep) {
    if (c) {
      sum += c->value;
      delete c;
    }
  }
  std::printf("allocated %ld objects, checksum %ld\n", n, sum);
  std::fprintf(stderr, "ns-per-alloc: %.3f\n",
               std::chrono::duration<double, std::nano>(t1 - t0).count() / double(n));
  return 0;
}
