// live_target: a Weft process for the stackscan and SIGQUIT tests. It starts named
// green threads blocked on a channel, on a mutex ("locker") and on a pipe ("reader",
// an fd wait), and a sleeper, prints "ready <pid>", and exits 0 when its standard
// input becomes readable (the test closes the pipe it holds) or after the given
// number of seconds (default 10), whichever comes first: a slow machine (a sanitizer
// build beside a busy CI) cannot outrun its lifetime. Main waits blocked on fd 0, so
// it stays on one worker between two dumps.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "runtime/weft.h"

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  static std::atomic<bool> stopping{false};
  weft::Options o;
  o.workers = 2;
  auto rt = weft::Runtime::Create(o);
  if (!rt.ok()) {
    std::fprintf(stderr, "live_target: %s\n", std::string(rt.status().message()).c_str());
    return 1;
  }
  auto r = (*rt)->Run([seconds] {
    weft::Scope scope("live-main");
    scope.SetInfo(7);
    weft::Local answer = weft::Fixnum(42);
    weft::Local text = weft::MakeString("hello stackscan");
    weft::Channel ch = weft::Channel::Make();
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return 1;
    std::vector<weft::Thread> threads;
    for (int i = 0; i < 3; ++i) {
      threads.push_back(weft::Spawn(
          [ch]() mutable {
            weft::Scope s("consumer-loop");
            weft::Local list = weft::Cons(weft::Fixnum(1), weft::Local::Nil());
            while (ch.Recv()) {
            }
            return s.Escape(list);  // [runtime.inv.result-live]
          },
          {.name = "consumer"}));
    }
    threads.push_back(weft::Spawn(
        [] {
          weft::Scope s("sleeper-frame");
          // Sleeps in 1 s steps until main stops: "sleeping" at almost any instant.
          while (!stopping.load()) weft::SleepFor(absl::Seconds(1));
          return s.Escape(s.Nil());
        },
        {.name = "sleeper"}));
    weft::Mutex mutex;
    mutex.Lock();
    threads.push_back(weft::Spawn(
        [mutex]() mutable {
          weft::Scope s("locker-frame");
          mutex.Lock();
          mutex.Unlock();
          return s.Escape(s.Nil());
        },
        {.name = "locker"}));
    threads.push_back(weft::Spawn(
        [fd = pipe_fds[0]] {
          weft::Scope s("reader-frame");
          weft::WaitReadable(fd);
          return s.Escape(s.Nil());
        },
        {.name = "reader"}));
    std::printf("ready %d\n", static_cast<int>(getpid()));
    std::fflush(stdout);
    weft::WaitReadable(STDIN_FILENO, absl::Now() + absl::Seconds(seconds));
    stopping.store(true);
    ch.Close();
    mutex.Unlock();
    if (write(pipe_fds[1], "x", 1) != 1) std::abort();  // else the reader never ends
    for (auto& t : threads) t.Join();
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    (void)answer, (void)text;
    return 0;
  });
  if (!r.ok()) {
    std::fprintf(stderr, "live_target: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  return *r;
}
