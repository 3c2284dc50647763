// fifo_watchdog_testing.h: FifoWatchdog, for tests that check that opening a FIFO
// with no writer does not block ([heap.image.regular-file]).
//
// Should the code under test block in the open, the watchdog opens the FIFO's write
// end after `patience` (and keeps opening it until Done), so the test fails with
// released() instead of hanging until the test runner's timeout.
#ifndef WEFT_HEAP_FIFO_WATCHDOG_TESTING_H_
#define WEFT_HEAP_FIFO_WATCHDOG_TESTING_H_

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

namespace weft::heap::testing {

class FifoWatchdog {
 public:
  explicit FifoWatchdog(std::string fifo,
                        std::chrono::milliseconds patience = std::chrono::seconds(10))
      : fifo_(std::move(fifo)), thread_([this, patience] { Watch(patience); }) {}
  FifoWatchdog(const FifoWatchdog&) = delete;
  FifoWatchdog& operator=(const FifoWatchdog&) = delete;
  ~FifoWatchdog() { Stop(); }

  // Done: the code under test returned from its open; the watchdog stops.
  void Done() { done_.store(true); }
  // Stop: Done, then waits for the watchdog to end. Idempotent.
  void Stop() {
    Done();
    if (thread_.joinable()) thread_.join();
  }
  // released: the watchdog had to open the write end, i.e. the open blocked.
  bool released() const { return released_.load(); }

 private:
  void Watch(std::chrono::milliseconds patience) {
    const auto start = std::chrono::steady_clock::now();
    while (!done_.load() && std::chrono::steady_clock::now() - start < patience) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    while (!done_.load()) {
      int fd = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) {
        released_.store(true);
        ::close(fd);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  const std::string fifo_;
  std::atomic<bool> done_{false};
  std::atomic<bool> released_{false};
  std::thread thread_;  // last: starts after the members it reads
};

}  // namespace weft::heap::testing

#endif  // WEFT_HEAP_FIFO_WATCHDOG_TESTING_H_
