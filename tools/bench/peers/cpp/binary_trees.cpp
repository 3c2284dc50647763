// binary-trees (the Computer Language Benchmarks Game algorithm) in C++, Weft peer.
//
//   binary_trees_new   N [T]   every node from operator new, freed with delete
//   binary_trees_arena N [T]   (-DWEFT_PEER_ARENA) bump allocation from 1 MiB chunks,
//                              one arena per worker, reset after each tree: the
//                              "no memory manager at all" lower bound
//
// T (default 1) splits each depth's iterations evenly over T std::threads; with
// T = 1 everything runs on the main thread. Output lines are the standard
// binary-trees text, so every system's output can be compared byte for byte.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace {

struct Tree {
  Tree* l;
  Tree* r;
};

#ifdef WEFT_PEER_ARENA
// Chunks are kept across reset(), so a reset arena allocates without calling malloc.
class Bump {
 public:
  Bump() { grab(); }
  ~Bump() {
    for (char* c : chunks_) std::free(c);
  }
  Bump(const Bump&) = delete;
  Bump& operator=(const Bump&) = delete;

  Tree* make(Tree* l, Tree* r) {
    if (left_ < sizeof(Tree)) grab();
    Tree* t = reinterpret_cast<Tree*>(top_);
    top_ += sizeof(Tree);
    left_ -= sizeof(Tree);
    t->l = l;
    t->r = r;
    return t;
  }
  void reset() {
    next_ = 0;
    grab();
  }

 private:
  static constexpr std::size_t kChunk = std::size_t{1} << 20;
  void grab() {
    if (next_ == chunks_.size()) chunks_.push_back(static_cast<char*>(std::malloc(kChunk)));
    top_ = chunks_[next_++];
    left_ = kChunk;
  }
  std::vector<char*> chunks_;
  std::size_t next_ = 0;
  char* top_ = nullptr;
  std::size_t left_ = 0;
};
using Heap = Bump;
Tree* build(Heap& h, int depth) {
  if (depth == 0) return h.make(nullptr, nullptr);
  Tree* l = build(h, depth - 1);
  Tree* r = build(h, depth - 1);
  return h.make(l, r);
}
void release(Heap& h, Tree*) { h.reset(); }
#else
struct Heap {};  // the C++ runtime's operator new / delete
Tree* build(Heap& h, int depth) {
  if (depth == 0) return new Tree{nullptr, nullptr};
  Tree* l = build(h, depth - 1);
  Tree* r = build(h, depth - 1);
  return new Tree{l, r};
}
void free_tree(Tree* t) {
  if (t->l) {
    free_tree(t->l);
    free_tree(t->r);
  }
  delete t;
}
void release(Heap&, Tree* t) { free_tree(t); }
#endif

long count(const Tree* t) { return t->l ? 1 + count(t->l) + count(t->r) : 1; }

long run_range(Heap& h, int depth, long from, long to) {
  long sum = 0;
  for (long i = from; i < to; ++i) {
    Tree* t = build(h, depth);
    sum += count(t);
    release(h, t);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10;
  const int workers = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  constexpr int kMin = 4;
  const int max_depth = n < kMin + 2 ? kMin + 2 : n;

  {
    Heap stretch_heap;
    Tree* s = build(stretch_heap, max_depth + 1);
    std::printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, count(s));
    release(stretch_heap, s);
  }

  Heap long_heap;
  Tree* long_lived = build(long_heap, max_depth);
  std::vector<std::unique_ptr<Heap>> heaps;
  for (int w = 0; w < workers; ++w) heaps.push_back(std::make_unique<Heap>());

  for (int d = kMin; d <= max_depth; d += 2) {
    const long iters = 1L << (max_depth - d + kMin);
    long total = 0;
    if (workers == 1) {
      total = run_range(*heaps[0], d, 0, iters);
    } else {
      std::vector<long> part(workers, 0);
      std::vector<std::thread> pool;
      for (int w = 0; w < workers; ++w) {
        pool.emplace_back([&, w] {
          part[w] = run_range(*heaps[w], d, iters * w / workers, iters * (w + 1) / workers);
        });
      }
      for (int w = 0; w < workers; ++w) {
        pool[w].join();
        total += part[w];
      }
    }
    std::printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, total);
  }
  std::printf("long lived tree of depth %d\t check: %ld\n", max_depth, count(long_lived));
  return 0;
}
