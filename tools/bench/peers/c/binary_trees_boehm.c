/* binary-trees, C with the Boehm-Demers-Weiser GC, Weft peer.
 *   binary_trees_boehm    N       one mutator thread, one marker
 *   binary_trees_boehm_mt N T     (-DWEFT_PEER_THREADS, GC_THREADS) T pthreads
 *                                 registered with the GC, parallel marking
 * Nodes come from GC_MALLOC and are never freed by hand. Prints the standard
 * binary-trees lines on stdout and the pause figures on stderr. */
#ifdef WEFT_PEER_THREADS
#define GC_THREADS 1
#include <pthread.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include "gc_pause.h"

typedef struct Tree {
  struct Tree* l;
  struct Tree* r;
} Tree;

static Tree* build(int depth) {
  Tree* t = (Tree*)GC_MALLOC(sizeof(Tree));
  if (depth > 0) {
    t->l = build(depth - 1);
    t->r = build(depth - 1);
  } /* GC_MALLOC returns cleared memory: leaves keep l = r = NULL */
  return t;
}

static long count(const Tree* t) { return t->l ? 1 + count(t->l) + count(t->r) : 1; }

static long run_range(int depth, long from, long to) {
  long sum = 0;
  for (long i = from; i < to; i++) sum += count(build(depth));
  return sum;
}

#ifdef WEFT_PEER_THREADS
typedef struct Job {
  int depth;
  long from, to, sum;
} Job;
static void* job_main(void* p) {
  Job* j = (Job*)p;
  j->sum = run_range(j->depth, j->from, j->to);
  return NULL;
}
#endif

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10;
  int workers = argc > 2 ? atoi(argv[2]) : 1;
  if (workers < 1) workers = 1;
  const int min_depth = 4;
  int max_depth = n < min_depth + 2 ? min_depth + 2 : n;
  pause_start();

  printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, count(build(max_depth + 1)));
  Tree* long_lived = build(max_depth);
  for (int d = min_depth; d <= max_depth; d += 2) {
    long iters = 1L << (max_depth - d + min_depth), total = 0;
#ifdef WEFT_PEER_THREADS
    if (workers > 1) {
      pthread_t tid[64];
      Job jobs[64];
      if (workers > 64) workers = 64;
      for (int w = 0; w < workers; w++) {
        jobs[w].depth = d;
        jobs[w].from = iters * w / workers;
        jobs[w].to = iters * (w + 1) / workers;
        pthread_create(&tid[w], NULL, job_main, &jobs[w]);
      }
      for (int w = 0; w < workers; w++) {
        pthread_join(tid[w], NULL);
        total += jobs[w].sum;
      }
    } else
#endif
      total = run_range(d, 0, iters);
    printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, total);
  }
  printf("long lived tree of depth %d\t check: %ld\n", max_depth, count(long_lived));
  fflush(stdout);
  pause_report();
  return 0;
}
