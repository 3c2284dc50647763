// Tests for fd waits (epoll), including several waiters on one fd
// ([threads.inv.fd-waiters]), the TCP echo server example on loopback, and
// RunBlocking. The seeded stress test prints its seed; replay with --seed=N or
// WEFT_SEED=N.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
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

class IoTest : public SchedulerTest {
 protected:
  // Green threads blocked in an fd wait (a racy registry snapshot).
  int FdWaiters() {
    int n = 0;
    sched_->ForEachThread([&](const ThreadInfo& i) {
      n += i.state == ThreadState::kBlocked && (i.wait_reason == WaitReason::kFdReadable ||
                                                i.wait_reason == WaitReason::kFdWritable);
    });
    return n;
  }
  // Until n threads are blocked in fd waits and registered with the poller (a thread
  // shows as blocked just before its after-switch action registers it): the waits then
  // overlap, which is what the tests below are about, however slowly workers run.
  void AwaitFdWaiters(int n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (FdWaiters() < n || sched_->Stats().fd_waiters < static_cast<uint64_t>(n)) {
      if (absl::Now() > give_up) {
        ADD_FAILURE() << "fewer than " << n << " fd waits registered after 60 s";
        return;
      }
      this_thread::Yield();
    }
  }
};

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The fd waits' deadlines are absl::Time, turned into a monotonic deadline when the
// wait starts; a steady-clock measurement of the wait may be short of the requested
// duration by what absl::Now drifted from it in between (a few microseconds).
constexpr int64_t kClockSlackNs = 100'000;

// --seed=N on the command line or WEFT_SEED=N, else random; printed.
uint64_t StressSeed() {
  uint64_t seed = std::random_device{}();
  seed = (seed << 32) ^ std::random_device{}();
  if (const char* env = std::getenv("WEFT_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  }
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(cmdline, arg, '\0')) {
    if (arg.rfind("--seed=", 0) == 0) seed = std::strtoull(arg.c_str() + 7, nullptr, 0);
  }
  std::printf("seed %llu (replay with --seed=%llu or WEFT_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

// A non-blocking AF_UNIX stream pair whose fd [0] is neither readable nor writable:
// its send buffer is full (the peer's receive queue) and nothing was sent to it.
void MakeQuietPair(int sv[2]) {
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  char buf[4096] = {};
  while (write(sv[0], buf, sizeof(buf)) > 0) {
  }
  ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;
}

// Drain: read fd until it would block.
void Drain(int fd) {
  char buf[4096];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

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

// The full-duplex pattern of tools/examples/echo_server.cc: one thread waits to read
// and another to write on the same socket; each is woken by its own readiness, in
// either order. (With one waiter per fd, the second registration replaced the first,
// and the first waiter was never woken.)
TEST_P(IoTest, ReaderAndWriterOnOneSocketBothWake) {
  ASSERT_TRUE(RunMain([this] {
    for (int round = 0; round < 2; ++round) {
      int sv[2];
      MakeQuietPair(sv);
      std::atomic<int> reader_saw{-1}, writer_saw{-1};
      Thread reader = Spawn([&] {
        reader_saw = WaitReadable(sv[0]);
        return int64_t{0};
      });
      Thread writer = Spawn([&] {
        writer_saw = WaitWritable(sv[0]);
        return int64_t{0};
      });
      AwaitFdWaiters(2);
      if (round == 0) {
        EXPECT_EQ(write(sv[1], "x", 1), 1);  // sv[0] readable
        reader.Join();
        EXPECT_EQ(reader_saw.load(), 1);
        EXPECT_EQ(writer_saw.load(), -1);  // still waiting: sv[0] is not writable
        Drain(sv[1]);                      // sv[0] writable
        writer.Join();
      } else {
        Drain(sv[1]);
        writer.Join();
        EXPECT_EQ(writer_saw.load(), 1);
        EXPECT_EQ(reader_saw.load(), -1);
        EXPECT_EQ(write(sv[1], "x", 1), 1);
        reader.Join();
      }
      EXPECT_EQ(reader_saw.load(), 1) << round;
      EXPECT_EQ(writer_saw.load(), 1) << round;
      close(sv[0]);
      close(sv[1]);
    }
    return int64_t{0};
  }).ok());
}

// Readiness wakes every waiter whose events it matches, as poll(2) would report it to
// each: two, then three readers of one pipe all return true for one byte nobody reads.
TEST_P(IoTest, SeveralReadersOfOneFdAllWake) {
  ASSERT_TRUE(RunMain([this] {
    for (int n : {2, 3}) {
      int p[2];
      EXPECT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
      std::vector<std::atomic<int>> saw(n);
      std::vector<Thread> readers;
      for (int i = 0; i < n; ++i) {
        saw[i] = -1;
        readers.push_back(Spawn([&, i] {
          saw[i] = WaitReadable(p[0]);
          return int64_t{0};
        }));
      }
      AwaitFdWaiters(n);
      EXPECT_EQ(write(p[1], "x", 1), 1);  // never read: p[0] stays readable
      for (auto& t : readers) t.Join();
      for (int i = 0; i < n; ++i) EXPECT_EQ(saw[i].load(), 1) << n << " readers, reader " << i;
      close(p[0]);
      close(p[1]);
    }
    return int64_t{0};
  }).ok());
}

// Readers that consume: all are woken by the first byte, one gets it, the others find
// EAGAIN and wait again (Read retries); each of three bytes reaches exactly one reader.
TEST_P(IoTest, ReadersOfOneFdEachGetOneByte) {
  ASSERT_TRUE(RunMain([this] {
    const int kReaders = 3;
    int p[2];
    EXPECT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    std::vector<Thread> readers;
    for (int i = 0; i < kReaders; ++i) {
      readers.push_back(Spawn([&] {
        char c = 0;
        return Read(p[0], &c, 1) == 1 ? int64_t{c} : int64_t{-1};
      }));
    }
    AwaitFdWaiters(kReaders);
    for (int i = 0; i < kReaders; ++i) {
      char c = static_cast<char>('a' + i);
      EXPECT_EQ(write(p[1], &c, 1), 1);
      this_thread::SleepFor(absl::Milliseconds(1));
    }
    int64_t sum = 0;
    for (auto& t : readers) {
      int64_t got = t.Join().value;
      EXPECT_GE(got, 'a');
      EXPECT_LT(got, 'a' + kReaders);
      sum += got;
    }
    EXPECT_EQ(sum, 'a' + 'b' + 'c');
    close(p[0]);
    close(p[1]);
    return int64_t{0};
  }).ok());
}

// Waiters that time out leave, and the waiter that stays (registered first, no
// deadline) is still woken: a timed-out writer narrows the socket's registration to
// reading, a timed-out second reader leaves it as it is. Then nothing is pending
// ([threads.inv.deadlock]): main blocking forever is reported as a deadlock.
TEST_P(IoTest, TimedOutWaitersLeaveTheOthersRegistered) {
  absl::Status s = RunMain([this] {
    int sv[2];
    MakeQuietPair(sv);
    std::atomic<int> stayer_saw{-1};
    Thread stayer = Spawn([&] {
      stayer_saw = WaitReadable(sv[0]);
      return int64_t{0};
    });
    AwaitFdWaiters(1);
    const absl::Duration d = absl::Milliseconds(20);
    auto timed = [&](bool write_side) {
      return Spawn([&, write_side] {
        int64_t t0 = SteadyNs();
        bool got = write_side ? WaitWritable(sv[0], absl::Now() + d)
                              : WaitReadable(sv[0], absl::Now() + d);
        EXPECT_GE(SteadyNs() - t0, absl::ToInt64Nanoseconds(d) - kClockSlackNs);
        return int64_t{got};
      });
    };
    Thread writer = timed(true);
    Thread reader = timed(false);
    EXPECT_EQ(writer.Join().value, 0);
    EXPECT_EQ(reader.Join().value, 0);
    EXPECT_EQ(stayer_saw.load(), -1);
    EXPECT_EQ(write(sv[1], "x", 1), 1);
    stayer.Join();
    EXPECT_EQ(stayer_saw.load(), 1);
    close(sv[0]);
    close(sv[1]);
    this_thread::SleepFor(absl::InfiniteDuration());
    return int64_t{0};
  });
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("deadlock: all green threads are blocked"), std::string::npos) << s;
}

// A hang-up (EPOLLHUP) wakes every waiter, whatever it waits for.
TEST_P(IoTest, HangUpWakesReaderAndWriter) {
  ASSERT_TRUE(RunMain([this] {
    int sv[2];
    MakeQuietPair(sv);
    std::atomic<int> saw[2] = {-1, -1};
    Thread reader = Spawn([&] {
      saw[0] = WaitReadable(sv[0]);
      return int64_t{0};
    });
    Thread writer = Spawn([&] {
      saw[1] = WaitWritable(sv[0]);
      return int64_t{0};
    });
    AwaitFdWaiters(2);
    close(sv[1]);
    reader.Join();
    writer.Join();
    EXPECT_EQ(saw[0].load(), 1);
    EXPECT_EQ(saw[1].load(), 1);
    close(sv[0]);
    return int64_t{0};
  }).ok());
}

// An error with none of the awaited events wakes the waiter: a writer blocked on a
// full pipe whose read end is closed gets EPOLLERR alone (no EPOLLOUT: the pipe is
// still full). Without the rule that an error or hang-up wakes every waiter it would
// wait out its deadline and see false.
TEST_P(IoTest, ErrorAloneWakesAWriter) {
  ASSERT_TRUE(RunMain([this] {
    int p[2];
    EXPECT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    char buf[4096] = {};
    while (write(p[1], buf, sizeof(buf)) > 0) {
    }
    std::atomic<int> saw{-1};
    Thread writer = Spawn([&] {
      saw = WaitWritable(p[1], absl::Now() + absl::Seconds(60));
      return int64_t{0};
    });
    AwaitFdWaiters(1);
    close(p[0]);
    writer.Join();
    EXPECT_EQ(saw.load(), 1);
    close(p[1]);
    return int64_t{0};
  }).ok());
}

// Fds closed under their waiters. epoll drops a registration when the fd's file is
// closed, silently, so such a waiter cannot be woken by its file.
// 1. The number reused by another file: the next wait on that number finds the
//    registration gone (ENOENT) and ends the old waiter's wait as ready (before, it
//    hung for good); the new waiter is woken by its own file.
// 2. A dup kept the file open, so its registration under the closed number outlives
//    the waiter (which times out); the number dup'ed back to that file: a new wait
//    finds the registration there (EEXIST) and takes it over, and is woken only when
//    the file is ready.
TEST_P(IoTest, ClosedAndReusedFdNumbers) {
  ASSERT_TRUE(RunMain([this] {
    int old_pair[2], new_pair[2];
    MakeQuietPair(old_pair);
    MakeQuietPair(new_pair);
    const int fd = old_pair[0];
    std::atomic<int> old_saw{-1}, new_saw{-1};
    Thread old_waiter = Spawn([&] {
      old_saw = WaitReadable(fd);
      return int64_t{0};
    });
    AwaitFdWaiters(1);
    // A wait that returns at once (old_pair[1] is writable): its registration takes the
    // poller's lock after the old waiter's did, which orders that for TSan too.
    EXPECT_TRUE(WaitWritable(old_pair[1]));
    EXPECT_EQ(dup2(new_pair[0], fd), fd);  // closes the old socket's fd; fd names the new
    Thread new_waiter = Spawn([&] {
      new_saw = WaitReadable(fd);
      return int64_t{0};
    });
    old_waiter.Join();  // ended by the new waiter's registration
    EXPECT_EQ(old_saw.load(), 1);
    AwaitFdWaiters(1);
    EXPECT_EQ(new_saw.load(), -1);  // nothing was sent to the new socket
    EXPECT_EQ(write(new_pair[1], "x", 1), 1);
    new_waiter.Join();
    EXPECT_EQ(new_saw.load(), 1);
    close(fd);
    close(old_pair[1]);
    close(new_pair[0]);
    close(new_pair[1]);

    int sv[2];
    MakeQuietPair(sv);
    const int dup_fd = dup(sv[0]);
    EXPECT_GE(dup_fd, 0);
    std::atomic<int> first_saw{-1}, second_saw{-1};
    std::atomic<bool> sent{false};
    Thread first = Spawn([&] {
      // Long enough to be registered before it passes (AwaitFdWaiters below).
      first_saw = WaitReadable(sv[0], absl::Now() + absl::Seconds(1));
      return int64_t{0};
    });
    AwaitFdWaiters(1);
    EXPECT_TRUE(WaitWritable(sv[1]));  // ordering for TSan, as above
    close(sv[0]);                      // the file stays open through dup_fd
    first.Join();
    EXPECT_EQ(first_saw.load(), 0);  // timed out: nothing ever came
    EXPECT_EQ(dup2(dup_fd, sv[0]), sv[0]);
    Thread second = Spawn([&] {
      second_saw = WaitReadable(sv[0]);
      EXPECT_TRUE(sent.load()) << "woken before its socket was readable";
      return int64_t{0};
    });
    AwaitFdWaiters(1);
    this_thread::SleepFor(absl::Milliseconds(10));
    EXPECT_EQ(second_saw.load(), -1);
    sent = true;
    EXPECT_EQ(write(sv[1], "x", 1), 1);
    second.Join();
    EXPECT_EQ(second_saw.load(), 1);
    close(sv[0]);
    close(sv[1]);
    close(dup_fd);
    return int64_t{0};
  }).ok());
}

// Seeded stress: many green threads wait on the [0] ends of a few socket pairs, to
// read or to write, with no deadline, a past one or a random one, while a driver
// opens and closes each direction's readiness at random. Every wait returns once:
// true, or false no earlier than its deadline (never false without one); nothing is
// left registered or counted as pending afterwards (main blocking forever is reported
// as a deadlock), and fds epoll refuses (a regular file, -1) are still reported ready.
TEST_P(IoTest, ManyWaitersOnFewSocketsSeeded) {
  const uint64_t seed = StressSeed();
  struct Tally {
    int64_t waits = 0, woken = 0, timed_out = 0, untimed = 0, bad = 0;
  };
  const int kPairs = 3, kWaiters = 24, kRounds = std::max(16, 400 / testing::kScaleDown);
  std::vector<Tally> tallies(kWaiters);
  absl::Status s = RunMain([&] {
    {  // main is abandoned at the deadlock below without unwinding: free all first
      int sv[kPairs][2];
      for (auto& pair : sv) MakeQuietPair(pair);
      std::atomic<int> done{0};
      std::vector<Thread> waiters;
      for (int w = 0; w < kWaiters; ++w) {
        waiters.push_back(Spawn([&, w] {
          std::mt19937_64 rng(seed * 1000003 + w);
          Tally& t = tallies[w];
          for (int r = 0; r < kRounds; ++r) {
            int fd = sv[rng() % kPairs][0];
            bool read_side = rng() % 2 == 0;
            int kind = static_cast<int>(rng() % 3);  // 0: none, 1: past, 2: random
            absl::Duration d = kind == 2 ? absl::Microseconds(rng() % 3000) : absl::ZeroDuration();
            // t0 before the deadline is made: a pause between the two would otherwise
            // count against the wait and look like an early timeout.
            int64_t t0 = SteadyNs();
            absl::Time deadline = kind == 0 ? absl::InfiniteFuture() : absl::Now() + d;
            bool got = read_side ? WaitReadable(fd, deadline) : WaitWritable(fd, deadline);
            int64_t took = SteadyNs() - t0;
            ++t.waits;
            t.untimed += kind == 0;
            if (got) {
              ++t.woken;
            } else {
              ++t.timed_out;
              if (kind == 0 || took < absl::ToInt64Nanoseconds(d) - kClockSlackNs) ++t.bad;
            }
            if (rng() % 4 == 0) this_thread::Yield();
          }
          done.fetch_add(1);
          return int64_t{0};
        }));
      }
      // The driver: open or close one direction of one pair at a time; a readable window
      // is a byte from the peer (closed by draining it), a writable one the peer's
      // receive queue drained (closed by filling it again).
      Thread driver = Spawn([&] {
        std::mt19937_64 rng(seed);
        bool readable[kPairs] = {}, writable[kPairs] = {};
        int64_t toggles = 0;
        while (done.load() < kWaiters) {
          int i = static_cast<int>(rng() % kPairs);
          if (rng() % 2 == 0) {
            if (readable[i]) {
              Drain(sv[i][0]);
            } else {
              EXPECT_EQ(write(sv[i][1], "r", 1), 1);
            }
            readable[i] = !readable[i];
          } else {
            if (writable[i]) {
              char buf[4096] = {};
              while (write(sv[i][0], buf, sizeof(buf)) > 0) {
              }
            } else {
              Drain(sv[i][1]);
            }
            writable[i] = !writable[i];
          }
          ++toggles;
          this_thread::SleepFor(absl::Microseconds(100 + rng() % (toggles % 16 == 0 ? 3000 : 400)));
        }
        return toggles;
      });
      for (auto& t : waiters) t.Join();
      int64_t toggles = driver.Join().value;
      Tally all;
      for (const Tally& t : tallies) {
        all.waits += t.waits;
        all.woken += t.woken;
        all.timed_out += t.timed_out;
        all.untimed += t.untimed;
        all.bad += t.bad;
      }
      std::printf("%lld waits: %lld woken (%lld without a deadline), %lld timed out; "
                  "%lld toggles\n",
                  static_cast<long long>(all.waits), static_cast<long long>(all.woken),
                  static_cast<long long>(all.untimed), static_cast<long long>(all.timed_out),
                  static_cast<long long>(toggles));
      EXPECT_EQ(all.waits, int64_t{kWaiters} * kRounds);
      EXPECT_EQ(all.woken + all.timed_out, all.waits);
      EXPECT_GE(all.woken, all.untimed);
      EXPECT_EQ(all.bad, 0) << "a wait returned false before its deadline, or without one";
      for (auto& pair : sv) {
        close(pair[0]);
        close(pair[1]);
      }
      // Refused by epoll: reported ready at once, as before.
      const char* dir = std::getenv("TEST_TMPDIR");
      std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/weft_io_test_XXXXXX";
      int file = mkstemp(path.data());
      EXPECT_GE(file, 0);
      unlink(path.c_str());
      EXPECT_TRUE(WaitReadable(file));
      EXPECT_TRUE(WaitWritable(file, absl::Now() + absl::Milliseconds(1)));
      close(file);
      EXPECT_TRUE(WaitReadable(-1));
    }
    this_thread::SleepFor(absl::InfiniteDuration());  // nothing pending: a deadlock
    return int64_t{0};
  });
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("deadlock: all green threads are blocked"), std::string::npos) << s;
}

INSTANTIATE_TEST_SUITE_P(Workers, IoTest, ::testing::Values(1, 2, 4), testing::WorkersName);

}  // namespace
}  // namespace weft::threads
