// Tests for fd waits (epoll), the TCP echo server example on loopback, and
// RunBlocking.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "threads/blocking.h"
#include "threads/examples/echo_server.h"
#include "threads/io.h"
#include "threads/scheduler.h"
#include "threads/test_util.h"
#include "threads/this_thread.h"

namespace weft::threads {
namespace {

using testing::SchedulerTest;

class IoTest : public SchedulerTest {};

TEST_P(IoTest, WaitReadableWithDeadline) {
  ASSERT_TRUE(RunMain([] {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    SetNonBlocking(p[0]);
    absl::Time t0 = absl::Now();
    EXPECT_FALSE(WaitReadable(p[0], absl::Now() + absl::Milliseconds(10)));
    EXPECT_GE(absl::Now() - t0, absl::Milliseconds(10));
    Thread writer = Spawn([&] {
      this_thread::SleepFor(absl::Milliseconds(2));
      EXPECT_EQ(write(p[1], "x", 1), 1);
      return int64_t{0};
    });
    EXPECT_TRUE(WaitReadable(p[0], absl::Now() + absl::Seconds(30)));
    char c;
    EXPECT_EQ(Read(p[0], &c, 1), 1);
    writer.Join();
    close(p[0]);
    close(p[1]);
    return int64_t{0};
  }).ok());
}

TEST_P(IoTest, EchoServerOnLoopback) {
  ASSERT_TRUE(RunMain([] {
    EchoServer server;
    absl::Status s = server.Listen(0);
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return int64_t{1};
    Thread srv = Spawn([&] { return server.Serve(); }, SpawnOptions{"echo-server"});
    std::vector<Thread> clients;
    const int kClients = 8, kMessages = 50;
    for (int c = 0; c < kClients; ++c) {
      clients.push_back(Spawn([&, c] {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(server.port());
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
          if (errno != EINPROGRESS) return int64_t{1};
          WaitWritable(fd);
        }
        int64_t bad = 0;
        for (int m = 0; m < kMessages; ++m) {
          std::string msg = "client " + std::to_string(c) + " message " + std::to_string(m) + "\n";
          if (WriteAll(fd, msg.data(), msg.size()) < 0) return int64_t{1};
          std::string got;
          char buf[256];
          while (got.size() < msg.size()) {
            ssize_t n = Read(fd, buf, sizeof(buf));
            if (n <= 0) return int64_t{1};
            got.append(buf, n);
          }
          bad += got != msg;
        }
        close(fd);
        return bad;
      }));
    }
    int64_t bad = 0;
    for (auto& t : clients) bad += t.Join().value;
    server.Shutdown();
    EXPECT_EQ(srv.Join().value, kClients);
    return bad;
  }).ok());
  EXPECT_EQ(sched_->main_result().value, 0);
}

TEST_P(IoTest, RunBlockingKeepsOtherThreadsRunning) {
  ASSERT_TRUE(RunMain([] {
    int p[2];
    EXPECT_EQ(pipe(p), 0);  // blocking read end
    std::atomic<int> ticks{0};
    Thread ticker = Spawn([&] {
      for (int i = 0; i < 20; ++i) {
        ticks.fetch_add(1);
        this_thread::SleepFor(absl::Milliseconds(1));
      }
      EXPECT_EQ(write(p[1], "y", 1), 1);
      return int64_t{0};
    });
    char c = 0;
    ssize_t n = RunBlocking([&] { return read(p[0], &c, 1); });  // blocks ~20 ms
    EXPECT_EQ(n, 1);
    EXPECT_EQ(c, 'y');
    EXPECT_EQ(ticks.load(), 20);
    std::string host = RunBlocking([] {
      addrinfo* res = nullptr;
      int rc = getaddrinfo("localhost", nullptr, nullptr, &res);
      std::string s = rc == 0 ? "ok" : gai_strerror(rc);
      if (res != nullptr) freeaddrinfo(res);
      return s;
    });
    EXPECT_EQ(host, "ok");
    EXPECT_THROW(RunBlocking([]() -> int { throw std::runtime_error("x"); }), std::runtime_error);
    ticker.Join();
    close(p[0]);
    close(p[1]);
    return int64_t{0};
  }).ok());
}

INSTANTIATE_TEST_SUITE_P(Workers, IoTest, ::testing::Values(1, 2, 4), testing::WorkersName);

}  // namespace
}  // namespace weft::threads
