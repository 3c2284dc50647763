/* Stop-the-world pause accounting for the Boehm GC peers: the wall time from
 * GC_EVENT_PRE_STOP_WORLD to GC_EVENT_POST_START_WORLD of each collection. Boehm
 * marks with the world stopped and sweeps lazily during allocation, so this is the
 * mutator-visible pause. pause_report() prints the figures run.py reads. */
#ifndef WEFT_PEER_GC_PAUSE_H
#define WEFT_PEER_GC_PAUSE_H
#include <gc/gc.h>
#include <stdio.h>
#include <time.h>

static double pause_started_ms, pause_max_ms, pause_sum_ms;
static long pause_count;

static double pause_clock_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void GC_CALLBACK pause_event(GC_EventType ev) {
  if (ev == GC_EVENT_PRE_STOP_WORLD) {
    pause_started_ms = pause_clock_ms();
  } else if (ev == GC_EVENT_POST_START_WORLD) {
    double d = pause_clock_ms() - pause_started_ms;
    pause_sum_ms += d;
    if (d > pause_max_ms) pause_max_ms = d;
    pause_count++;
  }
}

static void pause_start(void) {
  GC_INIT();
  GC_set_on_collection_event(pause_event);
}

static void pause_report(void) {
  fprintf(stderr, "gc-count: %lu\n", (unsigned long)GC_get_gc_no());
  fprintf(stderr, "total-pause-ms: %.3f\n", pause_sum_ms);
  fprintf(stderr, "max-pause-ms: %.3f\n", pause_max_ms);
}
#endif
