// weft: the Weft Lisp tool, the reference embedder of runtime/weft.h.
//
//   weft run FILE [options]    run a program; exit status 0, or 1 after an uncaught
//                              error, a failed check or a deadlock
//   weft test DIR [-j N] [--timeout S] [options]
//                              run every DIR/*.wl in its own process and runtime;
//                              one PASS/FAIL line each, then "N passed, N failed"
//   weft repl [options]        read-eval-print loop on stdin
//
// Options: --workers N, --heap-initial B, --heap-soft-limit B, --old-growth-percent P
// (weft::Options::old_generation_growth_percent), --gc-stress N,
// --managed-stack B (managed stack limit per thread), --thread-stack B (native stack
// of spawned threads). Sizes accept k, m and g
// suffixes. A bad option prints a message and exits 2. With WEFT_CORE=PATH (%p: the
// pid) a run that dies of a fatal error or ends in a deadlock also leaves a Weft core
// at PATH, read with `stackscan --core PATH` (runtime/DESIGN.md "Weft cores").
//
// Test program headers (comment lines at the top of a .wl file):
//   ;; expect-error: TEXT     the run must fail (exit 1) and its output contain TEXT
//   ;; expect-exit: N         the exit status must be N
//   ;; expect-output: TEXT    the output must contain TEXT
//   ;; args: ARGS...          extra options for `weft run`
//   ;; skip: asan tsan        not run in those sanitizer builds
//   ;; timeout: SECONDS       default 120
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/weft.h"
#include "tools/lisp/interp.h"

extern char** environ;

namespace {

constexpr const char* kUsage =
    "usage: weft run FILE [--workers N] [--heap-initial B] [--heap-soft-limit B] [--gc-stress N]\n"
    "                     [--old-growth-percent P] [--managed-stack B] [--thread-stack B]\n"
    "                     [--image IMAGE] [--save-image IMAGE]\n"
    "       weft test DIR [-j N] [--timeout SECONDS] [run options]\n"
    "       weft repl [run options]\n";

#if defined(WEFT_ASAN)
constexpr const char* kBuild = "asan";
#elif defined(WEFT_TSAN)
constexpr const char* kBuild = "tsan";
#else
constexpr const char* kBuild = "default";
#endif

[[noreturn]] void BadUsage(const std::string& message) {
  std::fprintf(stderr, "weft: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// ParseSize parses "123", "64k", "16m", "1g".
bool ParseSize(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + uint64_t(s[i++] - '0');
  }
  if (i == 0) return false;
  if (i < s.size()) {
    int shift = 0;
    switch (std::tolower(s[i])) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      default: return false;
    }
    if (i + 1 != s.size() || v > (UINT64_MAX >> shift)) return false;
    v <<= shift;
  }
  *out = v;
  return true;
}

struct RunOptions {
  weft::Options runtime;
  size_t thread_stack = 256 << 10;
  bool stress = false;
};

// ParseRunOption consumes argv[*i] (and its value) if it is a run option.
bool ParseRunOption(const std::vector<std::string>& args, size_t* i, RunOptions* o) {
  const std::string& a = args[*i];
  auto value = [&](const char* name) -> uint64_t {
    std::string v;
    std::string flag = a;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
    } else {
      if (*i + 1 >= args.size()) BadUsage(absl::StrCat("missing value for ", name));
      v = args[++*i];
    }
    uint64_t n;
    if (!ParseSize(v, &n)) BadUsage(absl::StrCat("bad value for ", name, ": '", v, "' (expected a non-negative integer)"));
    return n;
  };
  auto is = [&](const char* name) { return a == name || a.rfind(absl::StrCat(name, "="), 0) == 0; };
  if (is("--workers")) {
    uint64_t n = value("--workers");
    o->runtime.workers = n > 100000 ? 100000 : int(n);
  } else if (is("--heap-initial")) {
    o->runtime.heap_initial_bytes = value("--heap-initial");
  } else if (is("--heap-soft-limit")) {
    o->runtime.heap_soft_limit_bytes = value("--heap-soft-limit");
  } else if (is("--old-growth-percent")) {
    uint64_t n = value("--old-growth-percent");
    o->runtime.old_generation_growth_percent = n > 100000 ? 100000 : int(n);
  } else if (is("--gc-stress")) {
    o->runtime.gc_stress_every = value("--gc-stress");
    o->stress = o->runtime.gc_stress_every > 0;
  } else if (is("--managed-stack")) {
    o->runtime.managed_stack_max_bytes = value("--managed-stack");
  } else if (is("--thread-stack")) {
    o->thread_stack = value("--thread-stack");
    if (o->thread_stack < (64 << 10)) BadUsage("bad value for --thread-stack: at least 64k");
  } else {
    return false;
  }
  return true;
}

RunOptions DefaultRunOptions() {
  RunOptions o;
  o.runtime.native_stack_bytes = 64 << 20;       // main: deep non-tail recursion
  o.runtime.managed_stack_max_bytes = 16 << 20;  // main; spawned threads use the same max
  if (const char* s = std::getenv("WEFT_GC_STRESS")) o.stress = std::atoi(s) > 0;
  return o;
}

// WithPrefix prefixes a runtime message with "weft: " unless it has it already.
std::string WithPrefix(const std::string& message) {
  if (message.rfind("weft:", 0) == 0) return message;
  return absl::StrCat("weft: ", message);
}

// RunInRuntime runs body(interp) as the main green thread and returns the exit code.
// With save_image, a successful run (every thread finished) then saves the global
// environment there.
int RunInRuntime(const RunOptions& o, const std::function<int(weft::lisp::Interp&)>& body,
                 const std::string& save_image = "") {
  auto rt = weft::Runtime::Create(o.runtime);
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", WithPrefix(std::string(rt.status().message())).c_str());
    return 2;
  }
  // Static: after a deadlock main never finishes and the Interp stays reachable.
  static weft::lisp::Interp* interp = nullptr;
  absl::StatusOr<int> status = (*rt)->Run([&]() -> int {
    interp = new weft::lisp::Interp("weft");
    interp->main_native_stack = o.runtime.native_stack_bytes;
    interp->thread_native_stack = o.thread_stack;
    interp->stress = o.stress;
    interp->exit_on_error = true;
    int code = body(*interp);
    if (interp->FinishThreads() > 0 && code == 0) code = 1;
    // A thread may fail a check after main's forms were counted (RunForms).
    if (interp->check_failures() > 0 && code == 0) code = 1;
    if (code == 0 && !save_image.empty()) code = interp->SaveImage(save_image);
    delete interp;  // on the green thread: its Globals must be freed here
    return code;
  });
  int code;
  if (!status.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", WithPrefix(std::string(status.status().message())).c_str());
    code = 1;
  } else {
    code = *status;
  }
  std::fflush(stdout);
  return code;
}

int CmdRun(const std::vector<std::string>& args) {
  RunOptions o = DefaultRunOptions();
  std::string file, image, save_image;
  for (size_t i = 0; i < args.size(); ++i) {
    if (ParseRunOption(args, &i, &o)) continue;
    if (args[i] == "--image" || args[i] == "--save-image") {
      if (i + 1 >= args.size()) BadUsage(absl::StrCat("missing value for ", args[i]));
      (args[i] == "--image" ? image : save_image) = args[i + 1];
      ++i;
      continue;
    }
    if (args[i].rfind("--", 0) == 0) BadUsage(absl::StrCat("unknown option ", args[i]));
    if (!file.empty()) BadUsage(absl::StrCat("more than one program: ", file, " and ", args[i]));
    file = args[i];
  }
  if (file.empty()) BadUsage("run: missing FILE");
  if (!std::filesystem::is_regular_file(file)) {
    std::fprintf(stderr, "weft: cannot open %s\n", file.c_str());
    return 2;
  }
  return RunInRuntime(
      o,
      [&](weft::lisp::Interp& in) {
        if (!image.empty()) {
          if (int code = in.LoadImage(image); code != 0) return code;
        }
        return in.LoadFile(file);
      },
      save_image);
}

int CmdRepl(const std::vector<std::string>& args) {
  RunOptions o = DefaultRunOptions();
  for (size_t i = 0; i < args.size(); ++i) {
    if (!ParseRunOption(args, &i, &o)) BadUsage(absl::StrCat("unknown option ", args[i]));
  }
  return RunInRuntime(o, [&](weft::lisp::Interp& in) {
    in.exit_on_error = false;
    return in.Repl();
  });
}

// ---------------------------------------------------------------------------------
// weft test

struct TestSpec {
  std::string path, name;
  std::vector<std::string> expect_errors, expect_outputs, args;
  int expect_exit = 0;
  bool exit_given = false;
  std::string skip_reason;
  int timeout_s = 120;
};

TestSpec ParseHeader(const std::string& path) {
  TestSpec t;
  t.path = path;
  t.name = std::filesystem::path(path).filename().string();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(";;", 0) != 0) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      break;
    }
    std::string body = line.substr(2);
    body.erase(0, body.find_first_not_of(" \t"));
    auto take = [&](const char* key, std::string* value) {
      std::string k = absl::StrCat(key, ":");
      if (body.rfind(k, 0) != 0) return false;
      *value = body.substr(k.size());
      value->erase(0, value->find_first_not_of(" \t"));
      while (!value->empty() && (value->back() == '\r' || value->back() == ' ')) value->pop_back();
      return true;
    };
    std::string v;
    if (take("expect-error", &v)) {
      t.expect_errors.push_back(v);
      if (!t.exit_given) t.expect_exit = 1;
    } else if (take("expect-exit", &v)) {
      t.expect_exit = std::atoi(v.c_str());
      t.exit_given = true;
    } else if (take("expect-output", &v)) {
      t.expect_outputs.push_back(v);
    } else if (take("args", &v)) {
      for (auto part : absl::StrSplit(v, ' ', absl::SkipEmpty())) t.args.emplace_back(part);
    } else if (take("skip", &v)) {
      for (auto part : absl::StrSplit(v, ' ', absl::SkipEmpty()))
        if (part == kBuild) t.skip_reason = absl::StrCat("skipped in the ", kBuild, " build");
    } else if (take("timeout", &v)) {
      t.timeout_s = std::max(1, std::atoi(v.c_str()));
    }
  }
  return t;
}

struct TestResult {
  bool pass = false;
  std::string reason, output;
  double seconds = 0;
};

TestResult RunOne(const std::string& self, const TestSpec& t, const std::vector<std::string>& pass_args,
                  int timeout_scale) {
  TestResult r;
  auto start = std::chrono::steady_clock::now();
  // The child runs in the program's directory, so messages name "file.wl:line".
  std::filesystem::path path(t.path);
  std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  std::vector<std::string> argv_s = {self, "run", path.filename().string()};
  argv_s.insert(argv_s.end(), pass_args.begin(), pass_args.end());
  argv_s.insert(argv_s.end(), t.args.begin(), t.args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.reason = "pipe failed";
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
  pid_t pid;
  int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    r.reason = absl::StrCat("cannot start ", self, ": ", std::strerror(rc));
    return r;
  }
  auto deadline = start + std::chrono::seconds(t.timeout_s * timeout_scale);
  bool timed_out = false;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = poll(&p, 1, int(std::min<int64_t>(left.count(), 1000)));
    if (n <= 0) continue;
    ssize_t got = read(fds[0], buf, sizeof buf);
    if (got <= 0) break;
    r.output.append(buf, size_t(got));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (timed_out) {
    r.reason = absl::StrCat("timed out after ", t.timeout_s * timeout_scale, "s");
    return r;
  }
  if (WIFSIGNALED(status)) {
    r.reason = absl::StrCat("killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
    return r;
  }
  int code = WEXITSTATUS(status);
  if (code != t.expect_exit) {
    r.reason = absl::StrCat("exit status ", code, ", expected ", t.expect_exit);
    return r;
  }
  for (const auto& e : t.expect_errors) {
    if (r.output.find(e) == std::string::npos) {
      r.reason = absl::StrCat("expected error message not found: ", e);
      return r;
    }
  }
  for (const auto& e : t.expect_outputs) {
    if (r.output.find(e) == std::string::npos) {
      r.reason = absl::StrCat("expected output not found: ", e);
      return r;
    }
  }
  r.pass = true;
  return r;
}

std::string Tail(const std::string& s, int lines) {
  size_t pos = s.size();
  for (int i = 0; i < lines && pos > 0; ++i) {
    pos = s.rfind('\n', pos - 1);
    if (pos == std::string::npos) return s;
  }
  return s.substr(pos + 1);
}

int CmdTest(const std::vector<std::string>& args) {
  std::string dir;
  int jobs = int(std::min(4u, std::max(1u, std::thread::hardware_concurrency())));
  int timeout_scale = 1;
  std::vector<std::string> pass;
  RunOptions ignored = DefaultRunOptions();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-j" || a == "--jobs") {
      uint64_t n;
      if (i + 1 >= args.size() || !ParseSize(args[i + 1], &n) || n == 0 || n > 256)
        BadUsage("bad value for -j (expected 1..256)");
      jobs = int(n);
      ++i;
    } else if (a == "--timeout-scale") {
      uint64_t n;
      if (i + 1 >= args.size() || !ParseSize(args[i + 1], &n) || n == 0 || n > 100)
        BadUsage("bad value for --timeout-scale (expected 1..100)");
      timeout_scale = int(n);
      ++i;
    } else {
      size_t before = i;
      if (ParseRunOption(args, &i, &ignored)) {
        for (size_t k = before; k <= i; ++k) pass.push_back(args[k]);
        continue;
      }
      if (a.rfind("-", 0) == 0) BadUsage(absl::StrCat("unknown option ", a));
      if (!dir.empty()) BadUsage("test: more than one directory");
      dir = a;
    }
  }
  if (dir.empty()) BadUsage("test: missing DIR");
  if (!std::filesystem::is_directory(dir)) {
    std::fprintf(stderr, "weft: %s is not a directory\n", dir.c_str());
    return 2;
  }
  std::vector<TestSpec> specs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".wl") specs.push_back(ParseHeader(entry.path().string()));
  }
  std::sort(specs.begin(), specs.end(), [](const TestSpec& a, const TestSpec& b) { return a.name < b.name; });
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<TestResult> results(specs.size());
  std::atomic<size_t> next{0};
  std::mutex print_mu;
  int passed = 0, failed = 0, skipped = 0;
  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= specs.size()) return;
      const TestSpec& t = specs[i];
      TestResult r;
      if (!t.skip_reason.empty()) {
        std::lock_guard<std::mutex> lock(print_mu);
        std::printf("SKIP %s (%s)\n", t.name.c_str(), t.skip_reason.c_str());
        std::fflush(stdout);
        ++skipped;
        continue;
      }
      r = RunOne(self, t, pass, timeout_scale);
      std::lock_guard<std::mutex> lock(print_mu);
      if (r.pass) {
        std::printf("PASS %s (%.2fs)\n", t.name.c_str(), r.seconds);
        ++passed;
      } else {
        std::printf("FAIL %s: %s\n", t.name.c_str(), r.reason.c_str());
        std::string tail = Tail(r.output, 30);
        std::istringstream lines(tail);
        std::string line;
        while (std::getline(lines, line)) std::printf("    | %s\n", line.c_str());
        ++failed;
      }
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < jobs; ++j) pool.emplace_back(worker);
  for (auto& th : pool) th.join();
  if (skipped) std::printf("%d skipped\n", skipped);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) BadUsage("missing command");
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "run") return CmdRun(args);
  if (cmd == "test") return CmdTest(args);
  if (cmd == "repl") return CmdRepl(args);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  BadUsage(absl::StrCat("unknown command ", cmd));
}
