// Fault injection at the arena's OS boundary (heap/os_memory.h).
//
// For each OsCall kind and each N over a range, a child process (this binary,
// re-executed with WEFT_FAULT_CHILD=kind,n) makes the Nth call of that kind fail with
// ENOMEM and runs a small allocating, spawning workload (workload.h). The parent
// classifies how the child ended. Clean endings:
//   - the workload completed (the failure was absorbed: a retry, a fallback);
//   - Runtime::Create returned an error status;
//   - a green thread caught weft::HeapExhausted, or Run returned an error status;
//   - abort() after one of the documented fatal messages (kDocumentedFatal), exactly.
// Anything else (another signal, another abort message, a sanitizer report, lost
// data) fails the test and prints the child's output.
//
// The range of N per kind covers every call the workload makes when nothing fails
// (counted by a dry run), up to kMaxPerKind values spread evenly over it.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "heap/os_memory.h"
#include "tests/reliability/workload.h"

extern char** environ;

namespace weft::reliability {
namespace {

using heap::OsCall;

#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
constexpr int kMaxPerKind = 12;
#else
constexpr int kMaxPerKind = 40;
#endif

const char* const kKindNames[] = {"reserve", "commit", "decommit", "protect",
                                   "release", "guard",  "populate"};
static_assert(std::size(kKindNames) == static_cast<size_t>(OsCall::kCount),
              "one name per OsCall kind");

// The fatal messages a fault at the OS boundary may legitimately end in: constant
// WEFT_CHECK messages of the layer that cannot recover (see heap/DESIGN.md "OS
// refusal" and threads/scheduler.cc AllocateStacks).
constexpr char kSurvivorsFatal[] = "weft: heap: out of memory copying nursery survivors";
const char* const kDocumentedFatal[] = {
    "weft: out of memory for a green thread's native stack",
    "weft: out of memory for a green thread's managed stack",
    kSurvivorsFatal,
    "weft: could not unprotect a native stack guard page",
};

constexpr int kWorkers = 2, kThreads = 4, kMessages = 40, kListLength = 200;

// ChildMain runs in the re-executed child: injects the fault, runs the workload,
// prints the call counts and exits with the outcome code.
int ChildMain(const char* spec) {
  std::vector<std::string> parts = absl::StrSplit(spec, ',');
  int kind = -1, nth = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &kind) ||
      !absl::SimpleAtoi(parts[1], &nth)) {
    std::fprintf(stderr, "bad WEFT_FAULT_CHILD %s\n", spec);
    return 2;
  }
  long before[static_cast<int>(OsCall::kCount)];
  for (int k = 0; k < static_cast<int>(OsCall::kCount); ++k) {
    before[k] = heap::OsCallCount(static_cast<OsCall>(k));
  }
  if (kind >= 0 && nth > 0) heap::OsInjectFault(static_cast<OsCall>(kind), nth);
  WorkloadResult r = RunWorkload(kWorkers, kThreads, kMessages, kListLength);
  std::printf("calls");
  for (int k = 0; k < static_cast<int>(OsCall::kCount); ++k) {
    std::printf(" %ld", heap::OsCallCount(static_cast<OsCall>(k)) - before[k]);
  }
  std::printf("\noutcome %d %s\n", static_cast<int>(r.outcome), r.detail.c_str());
  std::fflush(stdout);
  return static_cast<int>(r.outcome);
}

struct ChildResult {
  int status = 0;      // from waitpid
  std::string output;  // stdout and stderr interleaved
};

ChildResult RunChild(int kind, int nth) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "WEFT_FAULT_CHILD=", 17) != 0) env_strings.push_back(*e);
  }
  env_strings.push_back(absl::StrCat("WEFT_FAULT_CHILD=", kind, ",", nth));
  std::vector<char*> env;
  for (std::string& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  ChildResult result;
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn: " << std::strerror(rc);
    close(fds[0]);
    return result;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) result.output.append(buf, n);
  }
  close(fds[0]);
  while (waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

// Classification of one child's ending.
enum class Ending { kCompleted, kCleanError, kHeapExhausted, kDocumentedFatal, kBad };

Ending Classify(const ChildResult& r, std::string* why) {
  if (r.output.find("Sanitizer") != std::string::npos) {
    *why = "sanitizer report";
    return Ending::kBad;
  }
  if (WIFEXITED(r.status)) {
    switch (WEXITSTATUS(r.status)) {
      case static_cast<int>(WorkloadOutcome::kCompleted): return Ending::kCompleted;
      case static_cast<int>(WorkloadOutcome::kCreateFailed):
      case static_cast<int>(WorkloadOutcome::kRunFailed): return Ending::kCleanError;
      case static_cast<int>(WorkloadOutcome::kHeapExhausted): return Ending::kHeapExhausted;
      default:
        *why = absl::StrCat("exit code ", WEXITSTATUS(r.status));
        return Ending::kBad;
    }
  }
  if (WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT) {
    for (const char* m : kDocumentedFatal) {
      if (r.output.find(m) == std::string::npos) continue;
      // The survivors fatal is preceded by a line with the sizes involved.
      if (m == kSurvivorsFatal &&
          r.output.find("weft: heap: the OS refused memory for a ") == std::string::npos) {
        *why = "the survivors fatal came without the line giving the sizes";
        return Ending::kBad;
      }
      return Ending::kDocumentedFatal;
    }
    *why = "abort without a documented fatal message";
    return Ending::kBad;
  }
  *why = WIFSIGNALED(r.status) ? absl::StrCat("signal ", WTERMSIG(r.status), " (",
                                              strsignal(WTERMSIG(r.status)), ")")
                               : "unknown ending";
  return Ending::kBad;
}

// Counts of calls per kind in a run with no fault.
std::vector<long> DryRunCounts() {
  ChildResult r = RunChild(-1, 0);
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.output;
  std::vector<long> counts;
  size_t at = r.output.find("calls ");
  if (at == std::string::npos) return counts;
  std::string line = r.output.substr(at + 6, r.output.find('\n', at) - at - 6);
  for (absl::string_view w : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    long v = 0;
    if (absl::SimpleAtoi(w, &v)) counts.push_back(v);
  }
  return counts;
}

class FaultInjectionTest : public ::testing::TestWithParam<int> {};

TEST_P(FaultInjectionTest, EveryNthCallFailureEndsCleanly) {
  const int kind = GetParam();
  std::vector<long> counts = DryRunCounts();
  ASSERT_EQ(counts.size(), static_cast<size_t>(OsCall::kCount));
  // One past the last call too: a fault that never fires must change nothing.
  long calls = counts[kind];
  std::vector<int> ns;
  long span = calls + 1;
  if (span <= kMaxPerKind) {
    for (long n = 1; n <= span; ++n) ns.push_back(static_cast<int>(n));
  } else {
    for (int i = 0; i < kMaxPerKind; ++i) {
      ns.push_back(static_cast<int>(1 + i * (span - 1) / (kMaxPerKind - 1)));
    }
  }
  std::map<Ending, int> endings;
  std::map<std::string, int> fatal_messages;
  for (int n : ns) {
    ChildResult r = RunChild(kind, n);
    std::string why;
    Ending e = Classify(r, &why);
    ++endings[e];
    if (e == Ending::kDocumentedFatal) {
      for (const char* m : kDocumentedFatal) {
        if (r.output.find(m) != std::string::npos) ++fatal_messages[m];
      }
    }
    EXPECT_NE(e, Ending::kBad) << kKindNames[kind] << " call " << n << " failing: " << why
                               << "\n--- child output ---\n" << r.output;
  }
  std::printf("fault-injection %s: %ld calls in a clean run, %zu faults injected: "
              "%d completed, %d clean error, %d HeapExhausted, %d documented fatal, "
              "%d bad\n",
              kKindNames[kind], calls, ns.size(), endings[Ending::kCompleted],
              endings[Ending::kCleanError], endings[Ending::kHeapExhausted],
              endings[Ending::kDocumentedFatal], endings[Ending::kBad]);
  for (const auto& [m, count] : fatal_messages) {
    std::printf("  %d x fatal \"%s\"\n", count, m.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, FaultInjectionTest,
                         ::testing::Range(0, static_cast<int>(OsCall::kCount)),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(kKindNames[info.param]);
                         });

}  // namespace
}  // namespace weft::reliability

int main(int argc, char** argv) {
  if (const char* spec = std::getenv("WEFT_FAULT_CHILD"); spec != nullptr) {
    return weft::reliability::ChildMain(spec);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
