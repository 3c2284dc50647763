// soak: a long random mix over the public API with end-to-end checks.
//
//   soak [--seconds N | --minutes M] [--seed S] [--workers W] [--rss-growth-mb B]
//        [--report-every-seconds R]
//
// Each round spawns a random mix of green threads and waits for them:
//   - producers and consumers over a channel; consumers use Select with a timeout;
//     every message carries an id and a checksummed payload list, and each id must be
//     delivered exactly once;
//   - mutators that replace slots of an old shared vector with fresh young lists under
//     a weft::Mutex (old-to-young stores), keeping each slot's expected checksum;
//   - sleepers (SleepFor, checked against the monotonic clock it promises);
//   - socketpair byte streams (non-blocking, WaitReadable / WaitWritable), checked byte
//     by byte;
//   - explicit collections of random generations;
//   - heap images: a random structure (lists in a vector, a string) is saved with
//     SaveImage while other threads allocate, loaded back with LoadImage and checked
//     slot by slot against the original's checksums; a copy with one byte changed
//     must be refused with InvalidArgument;
//   - now and then a soft-limit recovery: a hog lowers the soft limit, allocates until
//     HeapExhausted, and restores it; every allocating step elsewhere retries after a
//     HeapExhausted, so nothing is lost.
// After each round the shared structure is verified, and every R seconds the RSS is
// reported (after a full collection). After the warm-up (the first fifth of the run,
// at least 5 s) the RSS must not grow more than B MiB (default 48) above the first
// post-warm-up figure (1024 under ASan/TSan, whose quarantine and shadow grow).
//
// Prints its seed first and a closing verdict line "soak: PASS ..." or "soak: FAIL
// ..."; exits 0 only on PASS.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "runtime/weft.h"

namespace weft::soak {
namespace {

#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
constexpr int kScale = 4;
// Sanitizer quarantine and shadow memory grow with the run; the bound is not about them.
constexpr double kDefaultRssGrowthMb = 1024;
#else
constexpr int kScale = 1;
constexpr double kDefaultRssGrowthMb = 48;
#endif

constexpr size_t kRegistrySlots = 64;

struct Config {
  double seconds = 60;
  uint64_t seed = 0;
  int workers = 0;
  double rss_growth_mb = kDefaultRssGrowthMb;
  double report_every_seconds = 10;
};

struct Figures {
  std::atomic<uint64_t> rounds{0}, messages{0}, duplicated{0}, lost{0}, corrupted{0};
  std::atomic<uint64_t> select_timeouts{0}, mutations{0}, sleeps{0}, early_wakeups{0};
  // Sleeps that looked short on absl::Now (the real-time clock, read through absl's
  // cycle-counter interpolation) but not on CLOCK_MONOTONIC, which SleepFor promises;
  // reported, not a failure. The largest shortfall seen on each clock, in ns.
  std::atomic<uint64_t> realtime_short{0}, worst_early_ns{0}, worst_realtime_short_ns{0};
  std::atomic<uint64_t> io_bytes{0}, io_errors{0}, collections{0}, spawned{0};
  std::atomic<uint64_t> heap_exhausted{0}, soft_limit_recoveries{0}, registry_errors{0};
  std::atomic<uint64_t> images_saved{0}, images_loaded{0}, images_refused{0};
  std::atomic<uint64_t> images_skipped{0}, image_errors{0};
  std::atomic<uint64_t> progress{0};  // bumped by every round; read by the watchdog
};

Figures figures;

double RssMiB() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1 << 20);
}

// Retry runs f until it does not throw HeapExhausted (a soft-limit recovery elsewhere
// restores the limit within a bounded time).
template <typename F>
auto Retry(F f) -> decltype(f()) {
  for (int attempt = 0;; ++attempt) {
    try {
      return f();
    } catch (const HeapExhausted&) {
      figures.heap_exhausted.fetch_add(1);
      weft::SleepFor(absl::Milliseconds(1 + std::min(attempt, 20)));
    }
  }
}

Local BuildList(std::mt19937_64& rng, int n, int64_t* sum) {
  Scope scope("BuildList");
  Local list = Local::Nil();
  *sum = 0;
  for (int i = 0; i < n; ++i) {
    Scope c("cons");
    int64_t v = static_cast<int64_t>(rng() % 1000000);
    *sum += v;
    list.Set(Cons(Fixnum(v), list));
  }
  return scope.Escape(list);
}

bool ListMatches(Local list, int n, int64_t sum) {
  Scope scope("ListMatches");
  int count = 0;
  int64_t s = 0;
  for (Local p = Local::New(list.get()); !p.IsNil(); p.Set(Cdr(p))) {
    Scope step("step");
    if (!p.Is(Kind::kPair)) return false;
    s += FixnumValue(Car(p));
    ++count;
  }
  return count == n && s == sum;
}

// The shared structure: an old vector of lists, with the expected length and sum of
// each slot, both guarded by `mu`.
struct Registry {
  Global vector;
  Mutex mu;
  std::vector<int> lengths = std::vector<int>(kRegistrySlots, 0);
  std::vector<int64_t> sums = std::vector<int64_t>(kRegistrySlots, 0);
};

void Mutate(Registry* reg, uint64_t seed, int count) {
  Scope scope("mutator");
  std::mt19937_64 rng(seed);
  for (int i = 0; i < count; ++i) {
    Scope step("mutate");
    size_t slot = rng() % kRegistrySlots;
    int n = static_cast<int>(rng() % 40);
    int64_t sum = 0;
    Local list = Retry([&] { return BuildList(rng, n, &sum); });
    reg->mu.Lock();
    Local v = reg->vector.Get();
    VectorSet(v, slot, list);  // old -> young
    reg->lengths[slot] = n;
    reg->sums[slot] = sum;
    reg->mu.Unlock();
    figures.mutations.fetch_add(1);
    if (rng() % 4 == 0) Yield();
  }
}

void VerifyRegistry(Registry* reg) {
  Scope scope("verify-registry");
  reg->mu.Lock();
  Local v = reg->vector.Get();
  for (size_t i = 0; i < kRegistrySlots; ++i) {
    Scope step("slot");
    if (!ListMatches(VectorRef(v, i), reg->lengths[i], reg->sums[i])) {
      figures.registry_errors.fetch_add(1);
      std::fprintf(stderr, "soak: registry slot %zu does not match its checksum\n", i);
    }
  }
  reg->mu.Unlock();
}

// One producer/consumer batch: `producers` x `per` messages, `consumers` readers.
void MessageBatch(std::mt19937_64& rng) {
  Scope scope("message-batch");
  const int producers = 1 + static_cast<int>(rng() % 6);
  const int consumers = 1 + static_cast<int>(rng() % 4);
  const int per = (20 + static_cast<int>(rng() % 200)) / kScale;
  const int total = producers * per;
  Channel ch = Channel::Make(rng() % 3 == 0 ? 0 : rng() % 16);
  auto seen = std::make_shared<std::vector<std::atomic<uint8_t>>>(total);
  WaitGroup producers_done;
  producers_done.Add(producers);
  uint64_t base_seed = rng();
  for (int p = 0; p < producers; ++p) {
    Spawn(
        [=]() mutable -> Local {
          Scope s("producer");
          std::mt19937_64 prng(base_seed + p);
          for (int i = 0; i < per; ++i) {
            Scope m("message");
            int id = p * per + i;
            Local msg = Retry([&] {
              int n = static_cast<int>(prng() % 16);
              int64_t sum = 0;
              Local body = BuildList(prng, n, &sum);
              Local header = MakeVector(3, Fixnum(0));
              VectorSet(header, 0, Fixnum(id));
              VectorSet(header, 1, Fixnum(n));
              VectorSet(header, 2, Fixnum(sum));
              return Cons(header, body);
            });
            ch.Send(msg);
          }
          producers_done.Done();
          return s.Escape(s.Fixnum(0));
        },
        {.name = "producer"})
        .Detach();
    figures.spawned.fetch_add(1);
  }
  std::vector<Thread> readers;
  for (int c = 0; c < consumers; ++c) {
    readers.push_back(Spawn(
        [=]() -> Local {
          Scope s("consumer");
          int64_t got = 0;
          for (;;) {
            Scope m("receive");
            SelectCase cases[] = {{SelectCase::kRecv, ch, {}}};
            std::optional<Local> msg;
            int which = Select(cases, &msg, absl::Milliseconds(2));
            if (which < 0) {
              figures.select_timeouts.fetch_add(1);
              continue;
            }
            if (!msg.has_value()) break;  // closed and drained
            Local header = Car(*msg);
            int64_t id = FixnumValue(VectorRef(header, 0));
            if (id < 0 || id >= total) {
              figures.corrupted.fetch_add(1);
              continue;
            }
            if ((*seen)[id].fetch_add(1) != 0) figures.duplicated.fetch_add(1);
            if (!ListMatches(Cdr(*msg), static_cast<int>(FixnumValue(VectorRef(header, 1))),
                             FixnumValue(VectorRef(header, 2)))) {
              figures.corrupted.fetch_add(1);
            }
            ++got;
          }
          return s.Escape(s.Fixnum(got));
        },
        {.name = "consumer"}));
    figures.spawned.fetch_add(1);
  }
  producers_done.Wait();
  ch.Close();
  int64_t received = 0;
  for (Thread& t : readers) {
    Scope j("join");
    received += FixnumValue(t.Join());
  }
  int missing = 0;
  for (auto& s : *seen) missing += s.load() == 0;
  figures.lost.fetch_add(missing);
  figures.messages.fetch_add(received);
}

// A byte stream over a non-blocking socketpair, checked byte by byte.
void IoPair(std::mt19937_64& rng) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    figures.io_errors.fetch_add(1);
    return;
  }
  const size_t total = (64 << 10) + rng() % (256 << 10);
  const uint8_t salt = static_cast<uint8_t>(rng());
  auto pattern = [salt](size_t i) { return static_cast<uint8_t>(i * 31 + salt + (i >> 9)); };
  Thread writer = Spawn(
      [=]() -> Local {
        uint8_t buf[4096];
        size_t sent = 0;
        while (sent < total) {
          size_t n = std::min(sizeof buf, total - sent);
          for (size_t i = 0; i < n; ++i) buf[i] = pattern(sent + i);
          ssize_t w = write(fds[0], buf, n);
          if (w > 0) {
            sent += static_cast<size_t>(w);
          } else if (w < 0 && errno == EAGAIN) {
            if (!WaitWritable(fds[0], absl::Now() + absl::Seconds(30))) {
              figures.io_errors.fetch_add(1);
              break;
            }
          } else if (w < 0 && errno != EINTR) {
            figures.io_errors.fetch_add(1);
            break;
          }
        }
        close(fds[0]);
        return Fixnum(0);
      },
      {.name = "io-writer"});
  Thread reader = Spawn(
      [=]() -> Local {
        uint8_t buf[4096];
        size_t got = 0;
        for (;;) {
          ssize_t r = read(fds[1], buf, sizeof buf);
          if (r > 0) {
            for (ssize_t i = 0; i < r; ++i) {
              if (buf[i] != pattern(got + i)) {
                figures.io_errors.fetch_add(1);
                break;
              }
            }
            got += static_cast<size_t>(r);
          } else if (r == 0) {
            break;
          } else if (errno == EAGAIN) {
            if (!WaitReadable(fds[1], absl::Now() + absl::Seconds(30))) {
              figures.io_errors.fetch_add(1);
              break;
            }
          } else if (errno != EINTR) {
            figures.io_errors.fetch_add(1);
            break;
          }
        }
        close(fds[1]);
        if (got != total) figures.io_errors.fetch_add(1);
        figures.io_bytes.fetch_add(got);
        return Fixnum(0);
      },
      {.name = "io-reader"});
  figures.spawned.fetch_add(2);
  writer.Join();
  reader.Join();
}

// ImageError counts an image round trip that went wrong and says why.
void ImageError(const std::string& what) {
  figures.image_errors.fetch_add(1);
  std::fprintf(stderr, "soak: image: %s\n", what.c_str());
}

// Saves a random structure (a vector of lists and a string), loads it back and checks
// every list against its checksum; then a copy of the file with one byte changed must
// be refused. A save or load that finds no room (a soft-limit recovery elsewhere) is
// skipped, not failed: ResourceExhausted is the documented answer then.
void ImageRoundTrip(std::mt19937_64& rng, const std::string& dir, uint64_t id) {
  Scope scope("image");
  const int slots = 1 + static_cast<int>(rng() % 24);
  std::vector<int> lengths(slots);
  std::vector<int64_t> sums(slots);
  std::string text(static_cast<size_t>(rng() % 200), 'x');
  for (char& c : text) c = static_cast<char>('a' + rng() % 26);
  Local vec = Retry([&] { return MakeVector(slots, Local::Nil()); });
  for (int i = 0; i < slots; ++i) {
    Scope step("image-slot");
    lengths[i] = static_cast<int>(rng() % 60);
    Local list = Retry([&] { return BuildList(rng, lengths[i], &sums[i]); });
    VectorSet(vec, i, list);
  }
  Local str = Retry([&] { return MakeString(text); });
  const std::string path = dir + "/image-" + std::to_string(id) + ".img";
  Local roots[] = {vec, str};
  absl::Status saved = SaveImage(path, roots);
  if (saved.code() == absl::StatusCode::kResourceExhausted) {
    figures.images_skipped.fetch_add(1);
    return;
  }
  if (!saved.ok()) return ImageError("save " + path + ": " + saved.ToString());
  figures.images_saved.fetch_add(1);
  if (rng() % 2 == 0) Collect(static_cast<int>(rng() % 3) - 1);  // the originals move
  absl::StatusOr<std::vector<Local>> loaded = LoadImage(path);
  if (loaded.status().code() == absl::StatusCode::kResourceExhausted) {
    figures.images_skipped.fetch_add(1);
  } else if (!loaded.ok()) {
    ImageError("load " + path + ": " + loaded.status().ToString());
  } else if (loaded->size() != 2) {
    ImageError("load " + path + ": " + std::to_string(loaded->size()) + " roots, expected 2");
  } else {
    figures.images_loaded.fetch_add(1);
    Local lvec = (*loaded)[0];
    if (!lvec.Is(Kind::kVector) || VectorLength(lvec) != static_cast<size_t>(slots)) {
      ImageError("loaded vector has the wrong kind or length");
    } else {
      for (int i = 0; i < slots; ++i) {
        Scope step("image-check");
        if (!ListMatches(VectorRef(lvec, i), lengths[i], sums[i]) ||
            !ListMatches(VectorRef(vec, i), lengths[i], sums[i])) {
          ImageError("slot " + std::to_string(i) + " does not match its checksum");
        }
      }
    }
    Local lstr = (*loaded)[1];
    if (!lstr.Is(Kind::kString) || StringView(lstr) != text) ImageError("loaded string differs");
  }
  // An image is untrusted input: one changed byte must be refused, never loaded.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::remove(path.c_str());
  if (bytes.empty()) return ImageError("could not read back " + path);
  bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
  const std::string bad = path + ".bad";
  {
    std::ofstream out(bad, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  absl::StatusOr<std::vector<Local>> refused = LoadImage(bad);
  std::remove(bad.c_str());
  if (refused.ok()) return ImageError("an image with a changed byte was loaded");
  if (refused.status().code() != absl::StatusCode::kInvalidArgument) {
    return ImageError("a changed image gave " + refused.status().ToString());
  }
  figures.images_refused.fetch_add(1);
}

void RaiseTo(std::atomic<uint64_t>& worst, uint64_t v) {
  uint64_t w = worst.load();
  while (v > w && !worst.compare_exchange_weak(w, v)) {
  }
}

// SleepFor promises at least `d` on the monotonic clock (weft.h); that is what fails
// the soak. absl::Now is read too, to report how far the real-time clock disagrees.
void Sleeper(uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 4; ++i) {
    absl::Duration d = absl::Microseconds(100 + rng() % 3000);
    int64_t want = absl::ToInt64Nanoseconds(d);
    absl::Time real_start = absl::Now();
    auto mono_start = std::chrono::steady_clock::now();
    weft::SleepFor(d);
    int64_t mono = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - mono_start)
                       .count();
    int64_t real = absl::ToInt64Nanoseconds(absl::Now() - real_start);
    if (mono < want) {
      figures.early_wakeups.fetch_add(1);
      RaiseTo(figures.worst_early_ns, want - mono);
    }
    if (real < want) {
      figures.realtime_short.fetch_add(1);
      RaiseTo(figures.worst_realtime_short_ns, want - real);
    }
    figures.sleeps.fetch_add(1);
  }
}

// Lowers the soft limit just above the current heap, allocates garbage and kept data
// until HeapExhausted, then restores the limit. Other threads retry meanwhile.
void SoftLimitRecovery(std::mt19937_64& rng) {
  Scope scope("hog");
  size_t before = SoftHeapLimit();
  Collect(-1);
  Stats s = GetStats();
  size_t live = 0;
  for (uint64_t b : s.generation_bytes) live += b;
  SetSoftHeapLimit(std::max<size_t>(live + (4 << 20), 8 << 20));
  Local kept = Local::Nil();
  bool hit = false;
  for (int i = 0; i < 4000 && !hit; ++i) {
    Scope step("hog-step");
    try {
      kept.Set(Cons(MakeVector(1024 + rng() % 4096, Fixnum(i)), kept));
    } catch (const HeapExhausted&) {
      hit = true;
    }
  }
  kept.Set(Local::Nil());
  SetSoftHeapLimit(before);
  if (hit) figures.soft_limit_recoveries.fetch_add(1);
}

int SoakMain(const Config& cfg, std::string* verdict) {
  Scope scope("soak-main");
  std::mt19937_64 rng(cfg.seed);
  // Images go to a private directory, removed at the end.
  std::string tmpl = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                     "/weft-soak.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    *verdict = "soak: FAIL: mkdtemp " + tmpl + ": " + std::strerror(errno);
    return 1;
  }
  const std::string image_dir = tmpl;
  std::atomic<uint64_t> image_ids{0};
  Registry reg;
  reg.vector.Set(MakeVector(kRegistrySlots, Local::Nil()));
  Collect(-1);
  Collect(-1);  // the registry vector is old from here on
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double warmup = std::max(5.0, cfg.seconds / 5);
  double next_report = 0, baseline_rss = -1, max_rss_after = 0;
  int rss_samples = 0;
  bool failed = false;
  while (elapsed() < cfg.seconds) {
    Scope round("round");
    std::vector<Thread> tasks;
    WaitGroup detached;
    int mix = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < mix; ++k) {
      uint64_t seed = rng();
      switch (rng() % 6) {
        case 0:
        case 1:
          tasks.push_back(Spawn([seed] {
            std::mt19937_64 r(seed);
            MessageBatch(r);
            return Fixnum(0);
          }, {.name = "batch"}));
          break;
        case 2:
          tasks.push_back(Spawn([&reg, seed] {
            Mutate(&reg, seed, 50 / kScale);
            return Fixnum(0);
          }, {.name = "mutator"}));
          break;
        case 3:
          tasks.push_back(Spawn([seed] {
            Sleeper(seed);
            return Fixnum(0);
          }, {.name = "sleeper"}));
          break;
        case 4:
          tasks.push_back(Spawn([seed] {
            std::mt19937_64 r(seed);
            IoPair(r);
            return Fixnum(0);
          }, {.name = "io"}));
          break;
        case 5: {
          uint64_t id = image_ids.fetch_add(1);
          tasks.push_back(Spawn([seed, id, &image_dir] {
            std::mt19937_64 r(seed);
            ImageRoundTrip(r, image_dir, id);
            return Fixnum(0);
          }, {.name = "image"}));
          break;
        }
      }
      figures.spawned.fetch_add(1);
    }
    if (rng() % 3 == 0) {
      tasks.push_back(Spawn([&reg] {
        VerifyRegistry(&reg);
        return Fixnum(0);
      }, {.name = "verifier"}));
    }
    if (rng() % 12 == 0) {
      uint64_t seed = rng();
      tasks.push_back(Spawn([seed] {
        std::mt19937_64 r(seed);
        SoftLimitRecovery(r);
        return Fixnum(0);
      }, {.name = "hog"}));
    }
    if (rng() % 2 == 0) {
      Collect(static_cast<int>(rng() % 4) - 1);
      figures.collections.fetch_add(1);
    }
    for (Thread& t : tasks) {
      Scope j("join");
      t.Join();
    }
    VerifyRegistry(&reg);
    figures.rounds.fetch_add(1);
    figures.progress.fetch_add(1);
    double now = elapsed();
    if (now >= next_report || now >= cfg.seconds) {
      Collect(-1);
      double rss = RssMiB();
      Stats st = GetStats();
      uint64_t collections = 0;
      for (uint64_t c : st.collections) collections += c;
      const char* phase = now < warmup ? "warm-up" : "steady";
      if (now >= warmup) {
        if (baseline_rss < 0) baseline_rss = rss;
        max_rss_after = std::max(max_rss_after, rss);
        ++rss_samples;
      }
      std::printf(
          "soak: t=%.0fs %s rss=%.1fMiB committed=%.1fMiB rounds=%llu messages=%llu "
          "mutations=%llu io=%.1fMiB spawned=%llu collections=%llu heap_exhausted=%llu "
          "soft_limit_recoveries=%llu images=%llu max_pause=%s\n",
          now, phase, rss, st.heap_committed_bytes / 1048576.0,
          static_cast<unsigned long long>(figures.rounds.load()),
          static_cast<unsigned long long>(figures.messages.load()),
          static_cast<unsigned long long>(figures.mutations.load()),
          figures.io_bytes.load() / 1048576.0,
          static_cast<unsigned long long>(figures.spawned.load()),
          static_cast<unsigned long long>(collections),
          static_cast<unsigned long long>(figures.heap_exhausted.load()),
          static_cast<unsigned long long>(figures.soft_limit_recoveries.load()),
          static_cast<unsigned long long>(figures.images_loaded.load()),
          absl::FormatDuration(st.max_pause).c_str());
      std::fflush(stdout);
      next_report = now + cfg.report_every_seconds;
    }
    if (figures.lost.load() + figures.duplicated.load() + figures.corrupted.load() +
            figures.registry_errors.load() + figures.io_errors.load() +
            figures.image_errors.load() >
        0) {
      failed = true;
      break;
    }
  }
  double growth = baseline_rss < 0 ? 0 : max_rss_after - baseline_rss;
  bool rss_ok = growth <= cfg.rss_growth_mb;
  if (!rss_ok) failed = true;
  if (figures.early_wakeups.load() > 0) failed = true;
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "soak: %s seed=%llu seconds=%.0f rounds=%llu messages=%llu lost=%llu "
      "duplicated=%llu corrupted=%llu registry_errors=%llu io_errors=%llu "
      "sleeps=%llu early_wakeups=%llu (worst %lluns) realtime_short=%llu (worst %lluns) "
      "select_timeouts=%llu heap_exhausted=%llu "
      "soft_limit_recoveries=%llu images_saved=%llu images_loaded=%llu "
      "images_refused=%llu images_skipped=%llu image_errors=%llu "
      "rss_after_warmup=%.1fMiB rss_max=%.1fMiB "
      "growth=%.1fMiB (bound %.0fMiB, %d samples)",
      failed ? "FAIL" : "PASS", static_cast<unsigned long long>(cfg.seed), elapsed(),
      static_cast<unsigned long long>(figures.rounds.load()),
      static_cast<unsigned long long>(figures.messages.load()),
      static_cast<unsigned long long>(figures.lost.load()),
      static_cast<unsigned long long>(figures.duplicated.load()),
      static_cast<unsigned long long>(figures.corrupted.load()),
      static_cast<unsigned long long>(figures.registry_errors.load()),
      static_cast<unsigned long long>(figures.io_errors.load()),
      static_cast<unsigned long long>(figures.sleeps.load()),
      static_cast<unsigned long long>(figures.early_wakeups.load()),
      static_cast<unsigned long long>(figures.worst_early_ns.load()),
      static_cast<unsigned long long>(figures.realtime_short.load()),
      static_cast<unsigned long long>(figures.worst_realtime_short_ns.load()),
      static_cast<unsigned long long>(figures.select_timeouts.load()),
      static_cast<unsigned long long>(figures.heap_exhausted.load()),
      static_cast<unsigned long long>(figures.soft_limit_recoveries.load()),
      static_cast<unsigned long long>(figures.images_saved.load()),
      static_cast<unsigned long long>(figures.images_loaded.load()),
      static_cast<unsigned long long>(figures.images_refused.load()),
      static_cast<unsigned long long>(figures.images_skipped.load()),
      static_cast<unsigned long long>(figures.image_errors.load()),
      baseline_rss < 0 ? 0 : baseline_rss, max_rss_after, growth, cfg.rss_growth_mb,
      rss_samples);
  *verdict = buf;
  reg.vector.Set(Local::Nil());
  rmdir(image_dir.c_str());  // empty: every round trip removes its files
  return failed ? 1 : 0;
}

bool ParseArgs(int argc, char** argv, Config* cfg) {
  bool have_seed = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--seconds" && (v = value())) cfg->seconds = std::atof(v);
    else if (a == "--minutes" && (v = value())) cfg->seconds = std::atof(v) * 60;
    else if (a == "--seed" && (v = value())) cfg->seed = std::strtoull(v, nullptr, 10), have_seed = true;
    else if (a == "--workers" && (v = value())) cfg->workers = std::atoi(v);
    else if (a == "--rss-growth-mb" && (v = value())) cfg->rss_growth_mb = std::atof(v);
    else if (a == "--report-every-seconds" && (v = value())) cfg->report_every_seconds = std::atof(v);
    else {
      std::fprintf(stderr, "soak: unknown or incomplete argument %s\n", a.c_str());
      return false;
    }
  }
  if (!have_seed) {
    if (const char* env = std::getenv("WEFT_SEED")) cfg->seed = std::strtoull(env, nullptr, 10);
    else cfg->seed = std::random_device{}();
  }
  return cfg->seconds > 0;
}

}  // namespace
}  // namespace weft::soak

int main(int argc, char** argv) {
  using namespace weft::soak;
  Config cfg;
  if (!ParseArgs(argc, argv, &cfg)) {
    std::fprintf(stderr,
                 "usage: soak [--seconds N | --minutes M] [--seed S] [--workers W] "
                 "[--rss-growth-mb B] [--report-every-seconds R]\n");
    return 2;
  }
  std::printf("soak: seed %llu (replay with --seed %llu), %.0f s, workers %d\n",
              static_cast<unsigned long long>(cfg.seed),
              static_cast<unsigned long long>(cfg.seed), cfg.seconds, cfg.workers);
  std::fflush(stdout);
  // Watchdog: a round that makes no progress for 120 s is a hang.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    uint64_t last = figures.progress.load();
    int idle = 0;
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      uint64_t now = figures.progress.load();
      idle = now == last ? idle + 1 : 0;
      last = now;
      if (idle >= 120) {
        std::printf("soak: FAIL seed=%llu: no round finished for 120 s (hang)\n",
                    static_cast<unsigned long long>(cfg.seed));
        std::fflush(stdout);
        std::_Exit(3);
      }
    }
  });
  weft::Options o;
  o.workers = cfg.workers;
  o.control_socket = false;
  int rc = 1;
  std::string verdict = "soak: FAIL: did not run";
  {
    auto rt = weft::Runtime::Create(o);
    if (!rt.ok()) {
      verdict = "soak: FAIL: Runtime::Create: " + rt.status().ToString();
    } else {
      auto r = (*rt)->Run([&] { return SoakMain(cfg, &verdict); });
      if (!r.ok()) {
        verdict = "soak: FAIL: Run: " + r.status().ToString();
      } else {
        rc = *r;
      }
    }
  }
  done = true;
  watchdog.join();
  std::printf("%s\n", verdict.c_str());
  return rc;
}
