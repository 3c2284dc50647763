#include "runtime/fatal_core.h"

#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/debugging/stacktrace.h"
#include "absl/strings/str_cat.h"
#include "runtime/check.h"
#include "runtime/core_writer.h"
#include "runtime/log.h"
#include "runtime/runtime_impl.h"
#include "runtime/stderr_write.h"

namespace weft {
namespace {

// The core path of the running runtime, written by ConfigureCore before any green
// thread runs and read by the fatal hook, which must not allocate to find it.
char core_path[PATH_MAX];
int64_t core_timeout_ms = 0;
int64_t core_pid = 0;  // the process's, for the core: the writer is another process
std::atomic<bool> core_enabled{false};
std::atomic<void (*)()> writer_hook_for_testing{nullptr};

constexpr size_t kWriterStackBytes = size_t{8} << 20;
// Exit statuses of the core writer process.
constexpr int kWriterOk = 0;
constexpr int kWriterFailed = 1;  // it wrote why on stderr

// Line: one stderr line built without allocating (the fatal path may run in a signal
// handler, after the failing code took the allocator's lock).
class Line {
 public:
  Line& Add(std::string_view s) {
    for (char c : s) {
      if (n_ == sizeof(buf_)) Write();  // a long path: the line goes out in pieces
      buf_[n_++] = c;
    }
    return *this;
  }
  Line& Add(const char* s) { return Add(std::string_view(s)); }
  Line& Add(int64_t v) { return Add(DecimalDigits(v).view()); }
  void Write() {
    WriteStderr(std::string_view(buf_, n_));
    n_ = 0;
  }

 private:
  char buf_[512];  // small: this may run on a signal handler's alternate stack
  size_t n_ = 0;
};

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

struct WriterArgs {
  RuntimeImpl* rt;
  CoreCause cause;
  const char* message;
  const void* signal_context;
  void* self_pcs[64];  // the failing thread's backtrace, taken before the clone
  int self_depth;
};

// WriterMain runs in the core writer process, a copy of the process with only the
// calling thread, on its own stack. Whatever state the copy is in, it ends by _exit:
// never the parent's atexit handlers or stdio buffers.
int WriterMain(void* p) {
  const WriterArgs& a = *static_cast<const WriterArgs*>(p);
  EnterFatalChild();  // a failed check here exits the writer, not the hook
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGQUIT, SIGTERM, SIGINT, SIGPIPE}) {
    signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (auto hook = writer_hook_for_testing.load(); hook != nullptr) hook();
  CoreRequest request{core_path, a.cause, a.message, a.signal_context,
                      std::span<void* const>(a.self_pcs, a.self_depth), core_pid};
  absl::Status s = WriteCore(*a.rt, request);
  if (!s.ok()) {
    WriteStderr(absl::StrCat("weft: no Weft core: ", s.message(), "\n"));
    _exit(kWriterFailed);
  }
  _exit(kWriterOk);
}

// RunWriter clones the writer, waits for it at most core_timeout_ms, kills it after
// that, and reports the outcome in one stderr line ([runtime.core.fork]).
void RunWriter(WriterArgs& args, bool fatal) {
  // The writer's stack is its own: take the failing thread's backtrace here.
  args.self_depth = absl::GetStackTrace(args.self_pcs, 64, 1);
  void* stack = mmap(nullptr, kWriterStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    Line().Add("weft: no Weft core: cannot map the core writer's stack: ")
        .Add(strerror(errno)).Add("\n").Write();
    return;
  }
  // Our own child must not be reaped by an embedder's SIGCHLD handler (or SIG_IGN).
  struct sigaction dfl {}, old_chld {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGCHLD, &dfl, &old_chld);
  pid_t pid = clone(&WriterMain, static_cast<char*>(stack) + kWriterStackBytes, SIGCHLD, &args);
  if (pid < 0) {
    Line().Add("weft: no Weft core: cannot start the core writer: ").Add(strerror(errno))
        .Add("\n").Write();
  } else {
    // The fatal hook's own alarm (check.h) must not end the wait: move it past it.
    if (fatal) alarm(static_cast<unsigned>(core_timeout_ms / 1000 + 5));
    int64_t deadline = NowMs() + core_timeout_ms;
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && NowMs() < deadline) {
      timespec nap{0, 10 * 1000 * 1000};
      nanosleep(&nap, nullptr);
    }
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      Line().Add("weft: no Weft core: the core writer did not finish within ")
          .Add(core_timeout_ms).Add(" ms and was killed (a lock held when the process failed?); ")
          .Add("a temporary file beside ").Add(core_path).Add(" may remain\n").Write();
    } else if (r < 0) {
      Line().Add("weft: no Weft core: waiting for the core writer failed: ")
          .Add(strerror(errno)).Add("\n").Write();
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == kWriterOk) {
      Line().Add("weft: Weft core written to ").Add(core_path)
          .Add(" (read it with: stackscan --core ").Add(core_path).Add(")\n").Write();
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == kFatalChildExit) {
      Line().Add("weft: no Weft core: the core writer hit a fatal error (above)\n").Write();
    } else if (WIFSIGNALED(status)) {
      Line().Add("weft: no Weft core: the core writer died of signal ").Add(WTERMSIG(status))
          .Add(" (the heap may be corrupt)\n").Write();
    }  // kWriterFailed: the writer said why
  }
  sigaction(SIGCHLD, &old_chld, nullptr);
  munmap(stack, kWriterStackBytes);
}

}  // namespace

absl::StatusOr<std::string> ExpandCorePath(std::string_view pattern, int pid) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') {
      out += pattern[i];
      continue;
    }
    char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
    if (next == 'p') {
      absl::StrAppend(&out, pid);
    } else if (next == '%') {
      out += '%';
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "core path '", std::string(pattern), "': only %p (the process id) and %% may follow a %"));
    }
    ++i;
  }
  if (out.empty()) return absl::InvalidArgumentError("core path is empty");
  if (out.size() >= PATH_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("core path '", std::string(pattern), "' is too long"));
  }
  return out;
}

void ConfigureCore(const Options& options) {
  core_enabled.store(false);
  std::string pattern = options.core_path;
  const char* what = "core_path";
  if (pattern.empty()) {
    const char* env = std::getenv("WEFT_CORE");
    if (env == nullptr || *env == '\0') return;
    pattern = env;
    what = "WEFT_CORE";
  }
  absl::StatusOr<std::string> path = ExpandCorePath(pattern, getpid());
  if (path.ok() && (*path)[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) *path = absl::StrCat(cwd, "/", *path);
  }
  if (path.ok() && path->size() >= sizeof(core_path)) {
    path = absl::InvalidArgumentError(absl::StrCat("core path '", *path, "' is too long"));
  }
  if (!path.ok()) {
    // Options::core_path was validated at Create: only the environment gets here.
    Log().warn("{} ignored: {}", what, std::string(path.status().message()));
    return;
  }
  std::memcpy(core_path, path->c_str(), path->size() + 1);
  core_timeout_ms = absl::ToInt64Milliseconds(options.core_timeout);
  core_pid = getpid();
  core_enabled.store(true, std::memory_order_release);
}

void ClearCore() { core_enabled.store(false); }

void SetCoreWriterHookForTesting(void (*hook)()) { writer_hook_for_testing.store(hook); }

void WriteFatalCore(RuntimeImpl& rt, const char* message) {
  if (!core_enabled.load(std::memory_order_acquire)) return;
  WriterArgs args{&rt, CoreCause::kFatalError, message, FatalSignalContext(), {}, 0};
  RunWriter(args, true);
}

void WriteDeadlockCore(RuntimeImpl& rt) {
  if (!core_enabled.load(std::memory_order_acquire)) return;
  WriterArgs args{&rt, CoreCause::kDeadlock, "deadlock: all green threads are blocked",
                  nullptr, {}, 0};
  RunWriter(args, false);
}

}  // namespace weft
