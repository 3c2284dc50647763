#include "runtime/control_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "runtime/log.h"
#include "runtime/stderr_write.h"

namespace weft {
namespace {

// The pipe the SIGQUIT handler writes to: one server at a time ([runtime.inv.one-running]).
std::atomic<int> sigquit_pipe{-1};
struct sigaction old_sigquit;

constexpr char kSigquitByte = 'q';
constexpr char kStopByte = 's';
constexpr size_t kMaxRequest = 4096;

void OnSigquit(int) {
  int saved = errno;
  int fd = sigquit_pipe.load();
  if (fd >= 0) {
    char b = kSigquitByte;
    (void)!write(fd, &b, 1);
  }
  errno = saved;
}

}  // namespace

absl::StatusOr<std::string> ControlServer::SocketDirectory() {
  const char* env = std::getenv("WEFT_CONTROL_DIR");
  std::string dir = env != nullptr && *env != '\0' ? env : absl::StrCat("/tmp/weft-", getuid());
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot stat ", dir, ": ", std::strerror(errno)));
  }
  // [runtime.control.private]: a real directory, ours, closed to everyone else.
  if (!S_ISDIR(st.st_mode)) return absl::PermissionDeniedError(dir + " is not a directory");
  if (st.st_uid != getuid()) {
    return absl::PermissionDeniedError(dir + " belongs to another user");
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(dir + " is open to other users (mode must be 0700)");
  }
  return dir;
}

std::string ControlServer::SocketPathFor(const std::string& dir, int pid) {
  return absl::StrCat(dir, "/", pid, ".sock");
}

std::unique_ptr<ControlServer> ControlServer::Start(Handler handler, bool with_socket,
                                                    bool with_sigquit) {
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->handler_ = std::move(handler);
  if (pipe2(s->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    Log().error("control: pipe failed: {}", std::strerror(errno));
    return nullptr;
  }
  if (with_socket) {
    absl::StatusOr<std::string> dir = SocketDirectory();
    if (!dir.ok()) {
      Log().warn("control: no stackscan socket: {}", std::string(dir.status().message()));
    } else {
      std::string path = SocketPathFor(*dir, getpid());
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (path.size() >= sizeof(addr.sun_path)) {
        Log().warn("control: no stackscan socket: path too long: {}", path);
      } else {
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(path.c_str());  // a stale socket of an earlier process with our pid
        // umask makes the socket 0600 from birth; chmod again in case umask was odd.
        mode_t old = umask(0177);
        bool bound = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
        umask(old);
        if (bound && chmod(path.c_str(), 0600) == 0 && listen(fd, 8) == 0) {
          s->listen_fd_ = fd;
          s->socket_path_ = path;
        } else {
          Log().warn("control: no stackscan socket at {}: {}", path, std::strerror(errno));
          if (fd >= 0) close(fd);
        }
      }
    }
  }
  if (with_sigquit) {
    int expected = -1;
    if (sigquit_pipe.compare_exchange_strong(expected, s->wake_pipe_[1])) {
      struct sigaction sa{};
      sa.sa_handler = OnSigquit;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      sigaction(SIGQUIT, &sa, &old_sigquit);
      s->sigquit_installed_ = true;
    }
  }
  try {
    s->thread_ = std::thread([raw = s.get()] { raw->Loop(); });
  } catch (const std::system_error& e) {
    // No thread (e.g. under `ulimit -v`): run without the stackscan socket and the
    // SIGQUIT dump rather than fail the program; the destructor undoes the rest.
    Log().warn("control: no control thread, so no stackscan socket or SIGQUIT dump: {}",
               e.what());
    return nullptr;
  }
  return s;
}

ControlServer::~ControlServer() {
  if (sigquit_installed_) {
    sigaction(SIGQUIT, &old_sigquit, nullptr);
    sigquit_pipe.store(-1);
  }
  char b = kStopByte;
  (void)!write(wake_pipe_[1], &b, 1);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(socket_path_.c_str());
  }
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

void ControlServer::Loop() {
  for (;;) {
    pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    int n = poll(fds, listen_fd_ >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log().error("control: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) {
      char buf[16];
      ssize_t got = read(wake_pipe_[0], buf, sizeof(buf));
      bool stop = false, dump = false;
      for (ssize_t i = 0; i < got; ++i) {
        stop |= buf[i] == kStopByte;
        dump |= buf[i] == kSigquitByte;
      }
      if (stop) return;
      if (dump) WriteStderr(handler_("dump native"));
    }
    if (listen_fd_ >= 0 && (fds[1].revents & POLLIN)) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        Serve(fd);
        close(fd);
      }
    }
  }
}

void ControlServer::Serve(int fd) {
  // Only our own user can reach the socket (0600 in a 0700 directory); check the peer
  // anyway.
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
    WriteAllFd(fd, "error: permission denied\n");
    return;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string request;
  char c;
  while (request.size() < kMaxRequest) {
    ssize_t n = read(fd, &c, 1);
    if (n <= 0 || c == '\n') break;
    request += c;
  }
  WriteAllFd(fd, handler_(request));
}

}  // namespace weft
