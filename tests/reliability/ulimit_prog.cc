// ulimit_prog: runs the reliability workload once, for ulimit_test.sh, which runs it
// under `ulimit -v` at several sizes. Prints "ok ..." and exits 0 when the workload
// completed, prints "clean-error: <status or message>" and exits 1 when it ended in a
// clean error. `ulimit_prog --sanitizer` prints "asan", "tsan" or "none" (sanitizers
// reserve terabytes of shadow memory and cannot run under `ulimit -v`).
#include <cstdio>
#include <cstring>

#include "tests/reliability/workload.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--sanitizer") == 0) {
#if defined(WEFT_ASAN)
    std::puts("asan");
#elif defined(WEFT_TSAN)
    std::puts("tsan");
#else
    std::puts("none");
#endif
    return 0;
  }
  using weft::reliability::WorkloadOutcome;
  weft::reliability::WorkloadResult r = weft::reliability::RunWorkload(2, 4, 50, 200);
  switch (r.outcome) {
    case WorkloadOutcome::kCompleted:
      std::printf("ok: workload completed\n");
      return 0;
    case WorkloadOutcome::kCreateFailed:
    case WorkloadOutcome::kRunFailed:
    case WorkloadOutcome::kHeapExhausted:
      std::printf("clean-error: %s\n", r.detail.c_str());
      return 1;
    case WorkloadOutcome::kEscaped:
      std::printf("ESCAPED: %s\n", r.detail.c_str());
      return 5;
    case WorkloadOutcome::kDataLost:
      std::printf("DATA LOST: %s\n", r.detail.c_str());
      return 3;
  }
  return 4;
}
