// stackscan: print every green thread of a live Weft process, or of a Weft core,
// precisely.
//
//   stackscan PID [--thread ID|NAME] [--state STATE] [--json] [--roots]
//                 [--nonative] [--census]
//   stackscan PID --path ADDRESS [--json]
//   stackscan --core FILE [--thread ID|NAME] [--state STATE] [--json] [--roots]
//                 [--nonative]
//
// With a PID it connects to the process's control socket (<dir>/<pid>.sock, mode 0600
// in a 0700 directory: see runtime/control_server.h), sends one request line and
// prints the answer. --path asks who keeps the object at ADDRESS (as a dump prints
// it: `pair 0x7f3a2c001040 gen 0`) alive: one line for the root (thread, frame and
// slot; `global slot`; `channel (in flight)`), one per hop (`vector[4] 0x... gen 1
// .[2]`: the object and the field followed), then the object; or `unreachable: ...`.
// An address that is no object's start is an error (exit 1): addresses in a dump are
// valid until the next collection moves their objects ([runtime.dump.path]).
//
// With --core it reads a Weft core written when a process died
// (Options::core_path, WEFT_CORE; runtime/DESIGN.md [runtime.core]) and prints the
// same dump, preceded by one line naming the process and why it died (JSON: a "core"
// member). Exit status: 0 on success, 1 when the process cannot be reached or answers
// with an error, or the core cannot be read or is invalid (the message says what is
// wrong), 2 for bad usage.
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/control_server.h"
#include "runtime/core_reader.h"
#include "runtime/dump_format.h"

ABSL_FLAG(std::string, thread, "", "only the green thread with this id or name");
ABSL_FLAG(std::string, state, "", "only threads in this state (runnable, running, blocked, sleeping, done)");
ABSL_FLAG(bool, json, false, "print JSON instead of text");
ABSL_FLAG(bool, roots, false, "for each managed slot, the bytes it keeps alive");
ABSL_FLAG(bool, native, true, "include native backtraces (--nonative to omit)");
ABSL_FLAG(bool, census, false, "print the heap census instead of the threads");
ABSL_FLAG(std::string, path, "",
          "print the path from a root to the object at this address (from a dump)");
ABSL_FLAG(std::string, core, "", "read this Weft core file instead of a live process");

namespace {

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "stackscan: %s\n", message.c_str());
  return code;
}

bool ValidWord(const std::string& s) {
  return s.find_first_of(" \n\r\t") == std::string::npos;
}

// ScanCore: the dump of a Weft core, offline.
int ScanCore(const std::string& path) {
  if (absl::GetFlag(FLAGS_census)) return Fail("--census needs a live process, not --core", 2);
  if (!absl::GetFlag(FLAGS_path).empty()) {
    return Fail("--path needs a live process, not --core", 2);
  }
  weft::CoreReadOptions options;
  options.thread_filter = absl::GetFlag(FLAGS_thread);
  options.state_filter = absl::GetFlag(FLAGS_state);
  options.roots = absl::GetFlag(FLAGS_roots);
  absl::StatusOr<weft::Core> core = weft::ReadCore(path, options);
  if (!core.ok()) return Fail(std::string(core.status().message()), 1);
  weft::DumpStyle style{absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_native),
                        absl::GetFlag(FLAGS_roots)};
  std::string out = weft::FormatDump(core->dump, style, weft::CoreTextPreamble(core->info),
                                     weft::CoreJsonMembers(core->info));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "stackscan PID [--thread ID|NAME] [--state STATE] [--json] [--roots] [--nonative] "
      "[--census]\n"
      "       stackscan PID --path ADDRESS [--json]\n"
      "       stackscan --core FILE [--thread ID|NAME] [--state STATE] [--json] [--roots] "
      "[--nonative]\n"
      "A Weft core is written when a process dies of a fatal error or a deadlock with\n"
      "Options::core_path or WEFT_CORE=PATH (%p: the pid) set.");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::string core = absl::GetFlag(FLAGS_core);
  if (!core.empty()) {
    if (args.size() != 1) return Fail("usage: stackscan --core FILE [flags] (no PID)", 2);
    return ScanCore(core);
  }
  if (args.size() != 2) {
    return Fail("usage: stackscan PID [flags] or stackscan --core FILE [flags] (see --help)", 2);
  }
  int pid = 0;
  if (!absl::SimpleAtoi(args[1], &pid) || pid <= 0) {
    return Fail(absl::StrCat("not a process id: '", args[1], "'"), 2);
  }
  const std::string path_to = absl::GetFlag(FLAGS_path);
  const bool census = absl::GetFlag(FLAGS_census);
  std::string request;
  if (!path_to.empty()) {
    if (census || absl::GetFlag(FLAGS_roots) || !absl::GetFlag(FLAGS_thread).empty() ||
        !absl::GetFlag(FLAGS_state).empty()) {
      return Fail("--path takes only --json (no --census, --roots, --thread or --state)", 2);
    }
    if (!ValidWord(path_to)) {
      return Fail("--path takes one address, as a dump prints it (0x7f3a2c001040)", 2);
    }
    request = "path " + path_to;
  } else {
    request = census ? "census" : "dump";
  }
  if (absl::GetFlag(FLAGS_json)) request += " json";
  if (!census && path_to.empty()) {
    if (absl::GetFlag(FLAGS_roots)) request += " roots";
    if (absl::GetFlag(FLAGS_native)) request += " native";
    std::string thread = absl::GetFlag(FLAGS_thread), state = absl::GetFlag(FLAGS_state);
    if (!ValidWord(thread) || !ValidWord(state)) {
      return Fail("--thread and --state take a single word", 2);
    }
    if (!thread.empty()) request += " thread=" + thread;
    if (!state.empty()) request += " state=" + state;
  }
  absl::StatusOr<std::string> dir = weft::ControlServer::SocketDirectory();
  if (!dir.ok()) return Fail(std::string(dir.status().message()), 1);
  std::string path = weft::ControlServer::SocketPathFor(*dir, pid);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return Fail("socket path too long: " + path, 1);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(absl::StrCat("socket: ", std::strerror(errno)), 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (kill(pid, 0) != 0 && errno == ESRCH) {
      return Fail(absl::StrCat("no process with pid ", pid), 1);
    }
    return Fail(absl::StrCat("process ", pid, " is not a Weft process listening at ", path,
                             " (", std::strerror(err), ")"),
                1);
  }
  request += "\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    return Fail(absl::StrCat("write: ", std::strerror(errno)), 1);
  }
  std::string answer;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (answer.empty()) return Fail("the process closed the connection without answering", 1);
  std::fwrite(answer.data(), 1, answer.size(), stdout);
  return answer.rfind("error:", 0) == 0 ? 1 : 0;
}
