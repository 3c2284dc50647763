// stackscan: print every green thread of a live Weft process, precisely.
//
//   stackscan PID [--thread ID|NAME] [--state STATE] [--json] [--roots]
//                 [--no-native] [--census]
//
// It connects to the process's control socket (<dir>/<pid>.sock, mode 0600 in a 0700
// directory: see runtime/control_server.h), sends one request line and prints the
// answer. Exit status: 0 on success, 1 when the process cannot be reached or answers
// with an error, 2 for bad usage.
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

ABSL_FLAG(std::string, thread, "", "only the green thread with this id or name");
ABSL_FLAG(std::string, state, "", "only threads in this state (runnable, running, blocked, sleeping, done)");
ABSL_FLAG(bool, json, false, "print JSON instead of text");
ABSL_FLAG(bool, roots, false, "for each managed slot, the bytes it keeps alive");
ABSL_FLAG(bool, native, true, "include native backtraces (--nonative to omit)");
ABSL_FLAG(bool, census, false, "print the heap census instead of the threads");

namespace {

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "stackscan: %s\n", message.c_str());
  return code;
}

bool ValidWord(const std::string& s) {
  return s.find_first_of(" \n\r\t") == std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "stackscan PID [--thread ID|NAME] [--state STATE] [--json] [--roots] [--nonative] "
      "[--census]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) return Fail("usage: stackscan PID [flags] (see --help)", 2);
  int pid = 0;
  if (!absl::SimpleAtoi(args[1], &pid) || pid <= 0) {
    return Fail(absl::StrCat("not a process id: '", args[1], "'"), 2);
  }
  std::string request = absl::GetFlag(FLAGS_census) ? "census" : "dump";
  if (absl::GetFlag(FLAGS_json)) request += " json";
  if (!absl::GetFlag(FLAGS_census)) {
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
