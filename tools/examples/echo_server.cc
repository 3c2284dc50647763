// echo_server.cc: a TCP echo server on loopback and its clients, all green threads of
// one process, through the public API (runtime/weft.h) only.
//
//   echo_server [--clients=8] [--messages=50] [--max_message=8192] [--workers=0]
//               [--collect_every=4]
//
// Every socket is non-blocking; a green thread that would block waits in
// weft::WaitReadable / weft::WaitWritable, which parks the green thread, not the
// worker. The server's I/O buffers are pinned managed byte arrays: their data pointer
// stays valid across collections, so they can be handed to read(2) and write(2); the
// server collects the nursery every --collect_every chunks and checks that.
//
// Each client connection has a sender thread (messages of pseudo-random lengths and
// contents, then shutdown(SHUT_WR)) and a receiver thread, which checks the echoed
// stream byte for byte until EOF. Shutdown: once every client has finished, main sets
// the server's stop flag and connects once more to wake the accept loop; the server
// waits for its connection threads, closes its socket and returns. The program checks
// that every byte came back, that the server served exactly clients + 1 connections,
// and that no socket leaked; exits 0 on success, 1 with a message otherwise.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "runtime/weft.h"

ABSL_FLAG(int, clients, 8, "client connections");
ABSL_FLAG(int, messages, 50, "messages per client");
ABSL_FLAG(int, max_message, 8192, "largest message, bytes");
ABSL_FLAG(int, workers, 0, "runtime workers (0: one per core)");
ABSL_FLAG(int, collect_every, 4, "the server collects after every N chunks (0: never)");

namespace {

constexpr size_t kBufferBytes = 16 << 10;
const absl::Duration kIoTimeout = absl::Seconds(20);

// Failure: the first error of any thread; the program reports it and exits 1.
std::atomic<bool> failed{false};

void Fail(const std::string& message) {
  if (!failed.exchange(true)) std::fprintf(stderr, "echo_server: FAILED: %s\n", message.c_str());
}

std::string Errno(const char* what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

// CountSockets counts this process's open sockets (the runtime's own descriptors,
// such as its poller, are not sockets).
int CountSockets() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      char target[64];
      std::string path = absl::StrCat("/proc/self/fd/", e->d_name);
      ssize_t len = readlink(path.c_str(), target, sizeof(target) - 1);
      if (len > 0 && std::string_view(target, static_cast<size_t>(len)).starts_with("socket:")) {
        ++n;
      }
    }
    closedir(d);
  }
  return n;
}

// ReadSome reads up to `n` bytes, waiting while the socket has none. Returns the
// count, 0 at EOF, -1 on error or timeout (after Fail).
ssize_t ReadSome(int fd, uint8_t* data, size_t n) {
  for (;;) {
    ssize_t r = read(fd, data, n);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      Fail(Errno("read"));
      return -1;
    }
    if (!weft::WaitReadable(fd, absl::Now() + kIoTimeout)) {
      Fail("timed out waiting to read");
      return -1;
    }
  }
}

// WriteAll writes `n` bytes, waiting while the socket is full. `data` must not move
// while this runs: it is native memory or a pinned buffer.
bool WriteAll(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w > 0) {
      data += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      Fail(Errno("write"));
      return false;
    }
    if (!weft::WaitWritable(fd, absl::Now() + kIoTimeout)) {
      Fail("timed out waiting to write");
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------
// The server.

struct Server {
  int listen_fd = -1;
  uint16_t port = 0;
  int collect_every = 0;
  std::atomic<bool> stop{false};
};

bool Listen(Server* s) {
  s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->listen_fd < 0) return Fail(Errno("socket")), false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(s->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(s->listen_fd, 128) != 0 ||
      getsockname(s->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Fail(Errno("bind/listen"));
    close(s->listen_fd);
    s->listen_fd = -1;
    return false;
  }
  s->port = ntohs(addr.sin_port);
  return true;
}

// Echo copies the connection's input back until EOF, through a pinned buffer, and
// collects the nursery after every `collect_every` chunks to show that the buffer
// does not move. Returns the bytes echoed.
int64_t Echo(int fd, int collect_every) {
  weft::Scope scope("echo");
  weft::Local buffer = weft::MakeBytes(kBufferBytes, /*pinned=*/true);
  uint8_t* data = weft::BytesData(buffer);  // pinned: stable while `buffer` lives
  int64_t total = 0;
  for (int chunks = 1;; ++chunks) {
    ssize_t r = ReadSome(fd, data, kBufferBytes);
    if (r <= 0) break;
    if (!WriteAll(fd, data, static_cast<size_t>(r))) break;
    total += r;
    if (collect_every > 0 && chunks % collect_every == 0) {
      weft::Collect(0);
      if (weft::BytesData(buffer) != data) {
        Fail("a pinned buffer moved during a collection");
        break;
      }
    }
  }
  return total;
}

// Serve accepts until stopped; each connection gets its own green thread. Returns the
// number of connections accepted (the waking one included).
int64_t Serve(Server* s) {
  weft::Scope scope("serve");
  weft::WaitGroup connections;
  int64_t accepted = 0;
  while (!failed.load()) {
    int fd = accept4(s->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        Fail(Errno("accept"));
        break;
      }
      weft::WaitReadable(s->listen_fd);  // the stop connection wakes it
      continue;
    }
    ++accepted;
    if (s->stop.load()) {
      close(fd);
      break;
    }
    connections.Add(1);
    weft::Spawn(
        [fd, connections, collect_every = s->collect_every]() mutable {
          Echo(fd, collect_every);
          close(fd);
          connections.Done();
          return weft::Local::Nil();
        },
        {.name = "connection"})
        .Detach();
  }
  connections.Wait();
  close(s->listen_fd);
  s->listen_fd = -1;
  return accepted;
}

// ---------------------------------------------------------------------------------
// The clients.

// Connect opens a non-blocking connection to 127.0.0.1:port; -1 on failure.
int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Errno("socket")), -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      Fail(Errno("connect"));
      close(fd);
      return -1;
    }
    int error = 0;
    socklen_t len = sizeof(error);
    if (!weft::WaitWritable(fd, absl::Now() + kIoTimeout) ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      Fail(absl::StrCat("connect: ", std::strerror(error)));
      close(fd);
      return -1;
    }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Stream: the bytes client `c` sends, generated identically by its sender and its
// receiver (a 64-bit LCG; the message lengths come from the same generator).
struct Stream {
  uint64_t state;
  explicit Stream(int c) : state(0x9e3779b97f4a7c15ULL * (c + 1)) {}
  uint64_t Next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  }
};

std::string MakeMessages(int client, int messages, int max_message) {
  Stream lengths(client + 1000), bytes(client);
  std::string all;
  for (int m = 0; m < messages; ++m) {
    size_t n = 1 + lengths.Next() % static_cast<uint64_t>(max_message);
    for (size_t i = 0; i < n; ++i) all.push_back(static_cast<char>(bytes.Next()));
  }
  return all;
}

// Client sends its messages on one green thread and checks the echo on another;
// returns the bytes that came back correct.
int64_t Client(uint16_t port, int client, int messages, int max_message) {
  weft::Scope scope("client");
  const std::string sent = MakeMessages(client, messages, max_message);
  int fd = Connect(port);
  if (fd < 0) return 0;
  weft::Thread sender = weft::Spawn(
      [fd, &sent, messages, max_message, client] {
        // Message by message, as lengths were drawn.
        Stream lengths(client + 1000);
        size_t offset = 0;
        for (int m = 0; m < messages && !failed.load(); ++m) {
          size_t n = 1 + lengths.Next() % static_cast<uint64_t>(max_message);
          if (!WriteAll(fd, reinterpret_cast<const uint8_t*>(sent.data()) + offset, n)) break;
          offset += n;
        }
        shutdown(fd, SHUT_WR);
        return weft::Fixnum(static_cast<int64_t>(offset));
      },
      {.name = absl::StrCat("sender-", client)});
  std::vector<uint8_t> buffer(kBufferBytes);
  int64_t received = 0;
  while (!failed.load()) {
    ssize_t r = ReadSome(fd, buffer.data(), buffer.size());
    if (r <= 0) break;
    if (received + r > static_cast<int64_t>(sent.size()) ||
        std::memcmp(buffer.data(), sent.data() + received, static_cast<size_t>(r)) != 0) {
      Fail(absl::StrCat("client ", client, ": echo differs near byte ", received));
      break;
    }
    received += r;
  }
  int64_t written = weft::FixnumValue(sender.Join());
  close(fd);
  if (!failed.load() &&
      (received != static_cast<int64_t>(sent.size()) || written != received)) {
    Fail(absl::StrCat("client ", client, ": sent ", written, " of ", sent.size(),
                      " bytes, got ", received, " back"));
  }
  return received;
}

int Main(int clients, int messages, int max_message, int collect_every) {
  weft::Scope scope("main");
  const int fds_before = CountSockets();
  const absl::Time start = absl::Now();
  Server server;
  server.collect_every = collect_every;
  if (!Listen(&server)) return 1;
  weft::Thread serve =
      weft::Spawn([&server] { return weft::Fixnum(Serve(&server)); }, {.name = "server"});
  std::vector<weft::Thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.push_back(weft::Spawn(
        [port = server.port, c, messages, max_message] {
          return weft::Fixnum(Client(port, c, messages, max_message));
        },
        {.name = absl::StrCat("client-", c)}));
  }
  int64_t echoed = 0;
  for (weft::Thread& t : threads) {
    weft::Scope j("join");
    echoed += weft::FixnumValue(t.Join());
  }
  // Stop: set the flag, then wake the accept loop with one more connection.
  server.stop.store(true);
  int wake = Connect(server.port);
  int64_t accepted = weft::FixnumValue(serve.Join());
  if (wake >= 0) close(wake);
  if (failed.load()) return 1;
  if (accepted != clients + 1) {
    Fail(absl::StrCat("the server accepted ", accepted, " connections, expected ",
                      clients + 1));
    return 1;
  }
  const int fds_after = CountSockets();
  if (fds_after != fds_before) {
    Fail(absl::StrCat(fds_after - fds_before, " sockets leaked"));
    return 1;
  }
  const weft::Stats stats = weft::GetStats();
  std::printf("echo_server: %d clients x %d messages, %lld bytes echoed intact in %.1f ms\n",
              clients, messages, static_cast<long long>(echoed),
              absl::ToDoubleMilliseconds(absl::Now() - start));
  std::printf("collections per generation [%s]; %llu threads spawned\n",
              absl::StrJoin(stats.collections, ", ").c_str(),
              static_cast<unsigned long long>(stats.threads_total_spawned));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int clients = absl::GetFlag(FLAGS_clients), messages = absl::GetFlag(FLAGS_messages),
            max_message = absl::GetFlag(FLAGS_max_message);
  if (clients < 1 || messages < 1 || max_message < 1) {
    std::fprintf(stderr, "echo_server: --clients, --messages and --max_message must be >= 1\n");
    return 2;
  }
  weft::Options options;
  options.workers = absl::GetFlag(FLAGS_workers);
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  const int collect_every = absl::GetFlag(FLAGS_collect_every);
  absl::StatusOr<int> code = (*runtime)->Run([clients, messages, max_message, collect_every] {
    return Main(clients, messages, max_message, collect_every);
  });
  if (!code.ok()) {
    std::fprintf(stderr, "echo_server: FAILED: %s\n", code.status().ToString().c_str());
    return 1;
  }
  return *code;
}
