// run_queue.h: a worker's bounded local run queue (internal).
//
// A single-producer, multi-consumer ring (the Go runtime's runq): only the owning
// worker pushes (Push, and PushBatch after a steal); the owner pops from the head and
// other workers steal half from the head with a CAS. Slots are atomics so that a
// stealer's read of a slot the owner later reuses is not a data race; the CAS on
// head decides who got it ([threads.inv.run-once]).
#ifndef WEFT_THREADS_RUN_QUEUE_H_
#define WEFT_THREADS_RUN_QUEUE_H_

#include <atomic>
#include <cstdint>

namespace weft::threads {

struct GreenThread;

class LocalRunQueue {
 public:
  static constexpr uint32_t kCapacity = 256;

  // Push appends at the tail; false when full (the caller moves half to the global
  // queue). Owner only.
  bool Push(GreenThread* t) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t tl = tail_.load(std::memory_order_relaxed);
    if (tl - h >= kCapacity) return false;
    buf_[tl % kCapacity].store(t, std::memory_order_relaxed);
    tail_.store(tl + 1, std::memory_order_release);
    return true;
  }
  // Pop takes from the head. Owner only.
  GreenThread* Pop() {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t tl = tail_.load(std::memory_order_relaxed);
      if (tl == h) return nullptr;
      GreenThread* t = buf_[h % kCapacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) return t;
    }
  }
  // PopUnshared is Pop for a ring no other thread can touch
  // ([threads.inv.sole-worker]): a plain store of head instead of the CAS. Owner only.
  GreenThread* PopUnshared() {
    uint32_t h = head_.load(std::memory_order_relaxed);
    uint32_t tl = tail_.load(std::memory_order_relaxed);
    if (tl == h) return nullptr;
    GreenThread* t = buf_[h % kCapacity].load(std::memory_order_relaxed);
    head_.store(h + 1, std::memory_order_relaxed);
    return t;
  }
  // Grab moves up to half of the queue (rounded up) into out[]; any thread.
  uint32_t Grab(GreenThread** out, uint32_t max) {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t tl = tail_.load(std::memory_order_acquire);
      uint32_t n = tl - h;
      n = n - n / 2;
      if (n == 0) return 0;
      if (n > kCapacity / 2 || n > max) {
        if (tl - h > kCapacity) continue;  // inconsistent snapshot, retry
        n = std::min(n, max);
      }
      for (uint32_t i = 0; i < n; ++i) {
        out[i] = buf_[(h + i) % kCapacity].load(std::memory_order_relaxed);
      }
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel)) return n;
    }
  }
  uint32_t Size() const {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t tl = tail_.load(std::memory_order_acquire);
    return tl - h;
  }
  bool Empty() const { return Size() == 0; }

 private:
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  std::atomic<GreenThread*> buf_[kCapacity] = {};
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_RUN_QUEUE_H_
