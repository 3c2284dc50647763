// control_server.h: how a live Weft process answers SIGQUIT and `stackscan`.
//
// While a runtime runs, a ControlServer owns one OS thread that waits on two things:
// a self-pipe written by the SIGQUIT handler (the dump goes to stderr and the process
// keeps running, like Go and the JVM) and a Unix socket that `stackscan PID` connects
// to. The socket is `<dir>/<pid>.sock` with mode 0600, where <dir> is
// $WEFT_CONTROL_DIR or /tmp/weft-<uid>, a directory created on demand with mode 0700
// and refused if it is owned by another user or open to others
// ([runtime.control.private]). Requests are one line; the answer is the text, then the
// connection closes.
//
//   dump [json] [roots] [native] [thread=ID|NAME] [state=STATE]
//   census [json]
//   path ADDRESS [json]     who keeps the object at ADDRESS (hex, as a dump prints
//                           it) alive: the root, each hop, the object
//
// An answer that starts with `error:` is a refused request (an unknown word, an
// address that is not an object's start) or one that failed in the pause.
//
// Serving a request stops the world from the control thread (Scheduler::StopTheWorld
// accepts a caller that is not a worker) with RuntimeImpl::WithWorldStopped, so
// nothing is allocated in the managed heap and the world runs again however the
// request ends ([runtime.stw.resume]).
#ifndef WEFT_RUNTIME_CONTROL_SERVER_H_
#define WEFT_RUNTIME_CONTROL_SERVER_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace weft {

class ControlServer {
 public:
  // Handler: answers one request line (called on the control thread).
  using Handler = std::function<std::string(const std::string& request)>;

  // Start: with_socket opens the stackscan socket; with_sigquit installs the SIGQUIT
  // handler (restored by the destructor). A socket that cannot be created is logged and
  // skipped: the runtime still runs.
  static std::unique_ptr<ControlServer> Start(Handler handler, bool with_socket,
                                              bool with_sigquit);
  ~ControlServer();

  const std::string& socket_path() const { return socket_path_; }

  // SocketDirectory: the private directory (created if missing) or an error naming
  // what is wrong with it.
  static absl::StatusOr<std::string> SocketDirectory();
  static std::string SocketPathFor(const std::string& dir, int pid);

 private:
  ControlServer() = default;
  void Loop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // [0] read by the loop; [1] written by signals / stop
  bool sigquit_installed_ = false;
  std::string socket_path_;
  std::thread thread_;
};

}  // namespace weft

#endif  // WEFT_RUNTIME_CONTROL_SERVER_H_
