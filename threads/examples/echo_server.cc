#include "threads/examples/echo_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "threads/io.h"
#include "threads/scheduler.h"
#include "threads/wait_group.h"

namespace weft::threads {

EchoServer::~EchoServer() {
  if (listen_fd_ >= 0) close(listen_fd_);
}

absl::Status EchoServer::Listen(uint16_t port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 128) != 0) {
    return absl::InternalError(absl::StrCat("bind/listen: ", std::strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  return absl::OkStatus();
}

int64_t EchoServer::Serve() {
  WaitGroup connections;
  int64_t served = 0;
  while (!stop_.load()) {
    // Wake up now and then to notice Shutdown.
    if (!WaitReadable(listen_fd_, absl::Now() + absl::Milliseconds(20))) continue;
    int c = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) continue;
    ++served;
    connections.Add(1);
    SpawnOptions o;
    o.name = absl::StrCat("echo-conn-", c);
    Spawn(
        [c, &connections] {
          char buf[4096];
          for (;;) {
            ssize_t n = Read(c, buf, sizeof(buf));
            if (n <= 0 || WriteAll(c, buf, static_cast<size_t>(n)) < 0) break;
          }
          close(c);
          connections.Done();
          return int64_t{0};
        },
        o)
        .Detach();
  }
  connections.Wait();
  return served;
}

void EchoServer::Shutdown() { stop_.store(true); }

}  // namespace weft::threads
