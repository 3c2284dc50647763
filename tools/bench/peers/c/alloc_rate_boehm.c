/* Allocation rate, C with the Boehm GC, Weft peer: allocate N (default 100M)
 * 16-byte objects {long value; void *next} with GC_MALLOC; a ring in static data
 * (a GC root) keeps the last 1000 alive, each evicted object is read once.
 * Prints "allocated N objects, checksum S" (S = N(N-1)/2) and, on stderr,
 * ns-per-alloc and the pause figures. */
#include <stdio.h>
#include <stdlib.h>
#include "gc_pause.h"

typedef struct Cell {
  long value;
  void* next;
} Cell;
enum { KEEP = 1000 };
static Cell* keep[KEEP];

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000000L;
  pause_start();
  long sum = 0;
  int slot = 0;
  double t0 = pause_clock_ms();
  for (long i = 0; i < n; i++) {
    Cell* c = (Cell*)GC_MALLOC(sizeof(Cell));
    c->value = i;
    if (keep[slot]) sum += keep[slot]->value;
    keep[slot] = c;
    if (++slot == KEEP) slot = 0;
  }
  double t1 = pause_clock_ms();
  for (int k = 0; k < KEEP; k++)
    if (keep[k]) sum += keep[k]->value;
  printf("allocated %ld objects, checksum %ld\n", n, sum);
  fflush(stdout);
  fprintf(stderr, "ns-per-alloc: %.3f\n", (t1 - t0) * 1e6 / (double)n);
  pause_report();
  return 0;
}
