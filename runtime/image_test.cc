// image_test.cc: weft::SaveImage / weft::LoadImage through the public API: a graph
// with every kind (records, pinned and large objects, cycles, shared structure) saved
// by one runtime and loaded by another (a different arena, so every reference is
// relocated), used and collected there; bad images leave the heap unchanged.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "heap/fifo_watchdog_testing.h"
#include "heap/image_reader.h"
#include "heap/image_writer.h"
#include "runtime/weft.h"

namespace weft {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + name;  // TEST_TMPDIR under Bazel
}

std::unique_ptr<Runtime> Make() {
  Options o;
  o.workers = 2;
  o.control_socket = false;
  auto rt = Runtime::Create(o);
  EXPECT_TRUE(rt.ok()) << rt.status();
  return std::move(*rt);
}

std::unique_ptr<Runtime> MakeOneWorker() {
  Options o;
  o.workers = 1;
  o.control_socket = false;
  auto rt = Runtime::Create(o);
  EXPECT_TRUE(rt.ok()) << rt.status();
  return std::move(*rt);
}

// WaitFor polls `flag` for up to a minute. Only a deadlock breaker, for the code this
// file's blocking tests were written against (file I/O on the worker, so the thread
// that sets `flag` can never run); no test asserts how long anything took.
bool WaitFor(const std::atomic<bool>& flag) {
  for (int i = 0; i < 60000; ++i) {
    if (flag.load()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return flag.load();
}

int64_t SumList(Local list) {
  Scope s("sum");
  int64_t sum = 0;
  Local p = Local::New(list.get());
  while (!p.IsNil()) {
    Scope step("step");
    sum += FixnumValue(Car(p));
    p.Set(Cdr(p));
  }
  return sum;
}

TEST(RuntimeImageTest, SaveInOneRuntimeLoadInAnother) {
  std::string path = TempPath("runtime.img");
  auto a = Make();
  uintptr_t saved_address = 0;
  absl::StatusOr<int> code = a->Run([&] {
    Scope s("save");
    RecordType point = RegisterRecordType("point", 2, 16);
    Local list = Local::Nil();
    for (int i = 0; i < 5000; ++i) {
      Scope step("cons");
      list.Set(Cons(Fixnum(i), list));
    }
    Local shared = MakeString("shared text");
    Local rec = MakeRecord(point);
    RecordSet(rec, 0, shared);
    RecordSet(rec, 1, rec);  // a cycle through a record
    std::memcpy(RecordRaw(rec), "0123456789abcdef", 16);
    Local pinned = MakeBytes(100, true);
    for (int i = 0; i < 100; ++i) BytesData(pinned)[i] = static_cast<uint8_t>(i * 3);
    Local big = MakeVector(3000, shared);  // large, shares the string
    VectorSet(big, 2999, list);
    Local cyc = Cons(Fixnum(1), Local::Nil());
    SetCdr(cyc, cyc);
    // Garbage, and a collection, so the heap has holes.
    for (int i = 0; i < 20000; ++i) {
      Scope g("garbage");
      MakeVector(5, Local::Nil());
    }
    Collect(-1);
    Local roots[] = {list, rec, pinned, big, cyc, Fixnum(42), Char(U'é')};
    absl::Status st = SaveImage(path, roots);
    EXPECT_TRUE(st.ok()) << st;
    saved_address = reinterpret_cast<uintptr_t>(BytesData(pinned));
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();

  auto b = Make();  // `a` still holds its arena: `b`'s lies elsewhere
  code = b->Run([&] {
    Scope s("load");
    // Not registered yet: a clean error, the heap unchanged.
    Stats before = GetStats();
    absl::StatusOr<std::vector<Local>> bad = LoadImage(path);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(bad.status().message(),
              "image " + path + ": record layout 'point' (id 0 in the image) is not registered here");
    EXPECT_EQ(GetStats().heap_committed_bytes, before.heap_committed_bytes);

    RegisterRecordType("unrelated", 0, 0);  // the ids differ from the saver's
    RecordType point = RegisterRecordType("point", 2, 16);
    absl::StatusOr<std::vector<Local>> roots = LoadImage(path);
    EXPECT_TRUE(roots.ok()) << roots.status();
    if (!roots.ok()) return 1;
    EXPECT_EQ(roots->size(), 7u);
    Local list = (*roots)[0], rec = (*roots)[1], pinned = (*roots)[2], big = (*roots)[3],
          cyc = (*roots)[4];
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(SumList(list), 5000 * 4999 / 2);
      EXPECT_EQ(RecordTypeOf(rec).id, point.id);
      EXPECT_EQ(RecordTypeName(RecordTypeOf(rec)), "point");
      EXPECT_TRUE(RecordRef(rec, 1).Eq(rec));
      EXPECT_EQ(StringView(RecordRef(rec, 0)), "shared text");
      EXPECT_TRUE(VectorRef(big, 0).Eq(RecordRef(rec, 0)));  // still shared
      EXPECT_TRUE(VectorRef(big, 2999).Eq(list));
      EXPECT_EQ(std::string(reinterpret_cast<char*>(RecordRaw(rec)), 16), "0123456789abcdef");
      EXPECT_EQ(BytesLength(pinned), 100u);
      EXPECT_NE(reinterpret_cast<uintptr_t>(BytesData(pinned)), saved_address);
      uint8_t* data = BytesData(pinned);
      for (int i = 0; i < 100; ++i) EXPECT_EQ(data[i], static_cast<uint8_t>(i * 3));
      EXPECT_TRUE(Cdr(cyc).Eq(cyc));
      EXPECT_EQ(FixnumValue((*roots)[5]), 42);
      EXPECT_EQ(CharValue((*roots)[6]), U'é');
      uint8_t* before_gc = BytesData(pinned);
      Collect(-1);
      EXPECT_EQ(BytesData(pinned), before_gc) << "a loaded pinned buffer moved";
    }
    Stats st = GetStats();
    EXPECT_GT(st.generation_bytes.back(), 5000u * 16);  // 5000 pairs
    // Garbage files.
    std::string junk = TempPath("junk.img");
    std::ofstream(junk) << std::string(200, 'x');
    absl::StatusOr<std::vector<Local>> j = LoadImage(junk);
    EXPECT_EQ(j.status().message(), "image " + junk + ": wrong magic at offset 0 (not a Weft heap image)");
    EXPECT_EQ(LoadImage(TempPath("missing.img")).status().code(), absl::StatusCode::kNotFound);
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::remove(path.c_str());
}

// ImageLoadOptions: the loaded "code" records are listed (an embedder re-binds their
// native data), and every reference to the image's "eof" record, in its objects and
// its roots, becomes this runtime's own eof, which lives on through collections.
TEST(RuntimeImageTest, LoadListsAndSharesRecordTypes) {
  std::string path = TempPath("options.img");
  auto a = Make();
  absl::StatusOr<int> code = a->Run([&] {
    Scope s("save");
    RecordType fn = RegisterRecordType("code", 1, 8);
    RecordType eof = RegisterRecordType("eof", 0, 0);
    Local the_eof = MakeRecord(eof);
    Local table = MakeVector(40, Local::Nil());
    for (int i = 0; i < 40; ++i) {
      Scope step("fill");
      if (i % 2 == 0) {
        Local f = MakeRecord(fn);
        RecordSet(f, 0, Fixnum(i));
        int64_t native = 1000 + i;
        std::memcpy(RecordRaw(f), &native, 8);
        VectorSet(table, i, f);
      } else {
        VectorSet(table, i, the_eof);
      }
    }
    Local roots[] = {table, the_eof};
    absl::Status st = SaveImage(path, roots);
    EXPECT_TRUE(st.ok()) << st;
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();

  auto b = Make();
  code = b->Run([&] {
    Scope s("load");
    RecordType eof = RegisterRecordType("eof", 0, 0);
    RecordType fn = RegisterRecordType("code", 1, 8);
    Local my_eof = MakeRecord(eof);  // young
    ImageLoadOptions options;
    options.list = {fn};
    options.share = {{eof, my_eof}};
    absl::StatusOr<LoadedImage> loaded = LoadImage(path, options);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) return 1;
    EXPECT_EQ(loaded->roots.size(), 2u);
    EXPECT_TRUE(loaded->roots[1].Eq(my_eof));
    Local table = loaded->roots[0];
    Local listed = loaded->listed;
    EXPECT_EQ(VectorLength(listed), 20u);
    for (int round = 0; round < 2; ++round) {
      int64_t native_sum = 0;
      for (size_t i = 0; i < VectorLength(listed); ++i) {
        Scope step("listed");
        Local f = VectorRef(listed, i);
        EXPECT_EQ(RecordTypeOf(f).id, fn.id);
        int64_t native = 0;
        std::memcpy(&native, RecordRaw(f), 8);
        EXPECT_EQ(native, 1000 + FixnumValue(RecordRef(f, 0)));
        native_sum += native;
      }
      EXPECT_EQ(native_sum, 20 * 1000 + (0 + 38) * 20 / 2);
      for (int i = 1; i < 40; i += 2) {
        Scope step("shared");
        EXPECT_TRUE(VectorRef(table, i).Eq(my_eof)) << i;
      }
      Collect(0);  // my_eof moves; the loaded table's slots follow it
      Collect(-1);
    }
    // A type both listed and shared is refused.
    ImageLoadOptions both;
    both.list = {eof};
    both.share = {{eof, my_eof}};
    absl::StatusOr<LoadedImage> bad = LoadImage(path, both);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::remove(path.c_str());
}

// At the soft limit, LoadImage with records to list answers ResourceExhausted (its
// listing vector finds no room) rather than throwing HeapExhausted, and the heap keeps
// what it had.
TEST(RuntimeImageTest, ListingAtTheSoftLimitIsResourceExhausted) {
  std::string path = TempPath("listing.img");
  auto a = Make();
  absl::StatusOr<int> code = a->Run([&] {
    Scope s("save");
    RecordType fn = RegisterRecordType("code", 0, 8);
    Local all = MakeVector(20000, Local::Nil());  // listing them needs a 160 KB vector
    for (int i = 0; i < 20000; ++i) {
      Scope step("fill");
      VectorSet(all, i, MakeRecord(fn));
    }
    Local roots[] = {all};
    absl::Status st = SaveImage(path, roots);
    EXPECT_TRUE(st.ok()) << st;
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();

  Options o;
  o.workers = 2;
  o.control_socket = false;
  o.nursery_bytes = 1 << 20;
  o.heap_soft_limit_bytes = 16 << 20;
  o.heap_initial_bytes = 4 << 20;
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  code = (*rt)->Run([&] {
    Scope s("load");
    RecordType fn = RegisterRecordType("code", 0, 8);
    Local chunks = Local::Nil();
    int made = 0;
    bool full = false;
    for (int i = 0; i < 400 && !full; ++i) {
      Scope inner("grow");
      try {
        chunks.Set(Cons(MakeVector(16 << 10, Fixnum(i)), chunks));  // 128 KiB each
        ++made;
      } catch (const HeapExhausted&) {
        full = true;
      }
    }
    EXPECT_TRUE(full) << "the soft limit was never reached";
    ImageLoadOptions options;
    options.list = {fn};
    absl::StatusOr<LoadedImage> loaded = LoadImage(path, options);  // must not throw
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kResourceExhausted) << loaded.status();
    int n = 0;
    for (Local p = Local::New(chunks.get()); !p.IsNil(); p.Set(Cdr(p))) ++n;
    EXPECT_EQ(n, made);
    // With room again, the same load succeeds.
    SetSoftHeapLimit(SoftHeapLimit() + (64 << 20));
    loaded = LoadImage(path, options);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (loaded.ok()) EXPECT_EQ(VectorLength(loaded->listed), 20000u);
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::remove(path.c_str());
}

// An image is untrusted: a change of any single byte of a saved file must be refused
// with InvalidArgument, never loaded (the soak once loaded one: an uncovered padding
// byte between sections; [heap.image.untrusted]).
TEST(RuntimeImageTest, EverySingleChangedByteIsRefused) {
  std::string path = TempPath("flip.img");
  auto rt = Make();
  absl::StatusOr<int> code = rt->Run([&] {
    Scope s("flip");
    Local vec = MakeVector(7, Local::Nil());
    for (int i = 0; i < 7; ++i) {
      Scope step("list");
      Local list = Local::Nil();
      for (int j = 0; j < i * 3; ++j) list.Set(Cons(Fixnum(i * 100 + j), list));
      VectorSet(vec, i, list);
    }
    Local text = MakeString("an odd-length string: 37 bytes long.");
    Local roots[] = {vec, text};
    absl::Status st = SaveImage(path, roots);
    EXPECT_TRUE(st.ok()) << st;
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_GT(bytes.size(), 200u);
    std::string bad = TempPath("flipped.img");
    int accepted = 0;
    for (size_t at = 0; at < bytes.size(); ++at) {
      Scope step("flip-one");
      std::string b = bytes;
      b[at] ^= static_cast<char>(0x21);
      std::ofstream(bad, std::ios::binary | std::ios::trunc).write(b.data(), b.size());
      absl::StatusOr<std::vector<Local>> r = LoadImage(bad);
      if (r.ok()) {
        ++accepted;
        ADD_FAILURE() << "a change of the byte at file offset " << at << " of " << bytes.size()
                      << " was loaded";
      } else {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
      }
    }
    std::remove(bad.c_str());
    return accepted;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::remove(path.c_str());
}

// SaveImage's file I/O (write, fsync, rename) runs on a blocking-pool helper, not on
// the saver's worker ([runtime.stw.image]): with one worker, another green thread runs
// while the file is written. The write hook holds the write until that thread has
// run: it mutates the saved vector and collects (every saved object moves), and the
// image still holds the vector as it was when SaveImage was called. Run where the write
// happened on the worker itself, the hook cannot wait (nothing else could run) and
// the test fails on what ran.
struct WriteHold {
  static inline std::atomic<bool> armed{false};
  static inline std::thread::id saver;  // the worker's OS thread, set before `armed`
  static inline std::atomic<bool> other_ran{false};
  static inline std::atomic<bool> wrote_on_worker{false};
  static void Hook(const std::string&) {
    if (!armed.load()) return;
    if (std::this_thread::get_id() == saver) {
      wrote_on_worker = true;
      return;
    }
    WaitFor(other_ran);
  }
};

TEST(RuntimeImageTest, SaveWritesTheFileWhileOtherThreadsRun) {
  std::string path = TempPath("concurrent-save.img");
  constexpr int kCount = 2000;
  heap::image::ImageWriter::SetWriteHookForTesting(&WriteHold::Hook);
  auto rt = MakeOneWorker();
  absl::StatusOr<int> code = rt->Run([&] {
    Scope s("save");
    Local vec = MakeVector(kCount, Local::Nil());
    for (int i = 0; i < kCount; ++i) {
      Scope step("fill");
      VectorSet(vec, i, Cons(Fixnum(i), MakeString("element " + std::to_string(i))));
    }
    Global shared(vec);
    std::atomic<bool> saving{false}, done{false};
    std::atomic<int64_t> steps{0};
    Thread other = Spawn([&] {
      while (!done.load()) {
        steps.fetch_add(1);
        if (saving.load() && !WriteHold::other_ran.load()) {
          Scope m("mutate");
          Local v = shared.Get();
          for (int i = 0; i < kCount; ++i) VectorSet(v, i, Fixnum(-i));
          Collect(0);
          Collect(-1);
          WriteHold::other_ran = true;
        }
        Yield();
      }
      return Local();
    });
    while (steps.load() == 0) Yield();
    WriteHold::saver = std::this_thread::get_id();
    WriteHold::armed = true;
    // Nothing yields between setting `saving` and SaveImage, or between its return
    // and clearing it: `other` sees it set only while SaveImage has parked.
    saving = true;
    int64_t before = steps.load();
    Local roots[] = {vec};
    absl::Status st = SaveImage(path, roots);
    int64_t after = steps.load();
    saving = false;
    WriteHold::armed = false;
    EXPECT_TRUE(st.ok()) << st;
    EXPECT_FALSE(WriteHold::wrote_on_worker.load()) << "SaveImage wrote the file on its worker";
    EXPECT_GT(after, before) << "no other green thread ran while SaveImage wrote the file";
    EXPECT_TRUE(WriteHold::other_ran.load());
    done = true;
    other.Join();
    if (!st.ok() || !WriteHold::other_ran.load()) return 1;
    EXPECT_EQ(FixnumValue(VectorRef(vec, 1)), -1);  // the mutation is in the live heap
    // The image is the vector as it was at the save, not torn by the mutation.
    absl::StatusOr<std::vector<Local>> loaded = LoadImage(path);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) return 1;
    Local copy = (*loaded)[0];
    EXPECT_EQ(VectorLength(copy), static_cast<size_t>(kCount));
    for (int i = 0; i < kCount; ++i) {
      Scope step("check");
      Local p = VectorRef(copy, i);
      EXPECT_EQ(FixnumValue(Car(p)), i);
      EXPECT_EQ(StringView(Cdr(p)), "element " + std::to_string(i));
    }
    return 0;
  });
  heap::image::ImageWriter::SetWriteHookForTesting(nullptr);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::remove(path.c_str());
}

// LoadImage reads the file on a blocking-pool helper: with one worker, another green
// thread runs while the read waits. The read hook holds the read (on whatever thread
// reads) until that thread has run during the load; had the read happened on the
// worker itself, the hook cannot wait (nothing else could run) and the test fails on
// what ran, as SaveWritesTheFileWhileOtherThreadsRun does for the write. The load
// then completes: the image is read as saved.
struct ReadHold {
  static inline std::atomic<bool> armed{false};
  static inline std::thread::id loader;  // the worker's OS thread, set before `armed`
  static inline std::atomic<bool> other_ran{false};
  static inline std::atomic<bool> read_on_worker{false};
  static void Hook(const std::string&) {
    if (!armed.load()) return;
    if (std::this_thread::get_id() == loader) {
      read_on_worker = true;
      return;
    }
    WaitFor(other_ran);
  }
};

TEST(RuntimeImageTest, LoadReadsTheFileWhileOtherThreadsRun) {
  std::string path = TempPath("concurrent-load.img");
  heap::image::ImageReader::SetReadHookForTesting(&ReadHold::Hook);
  auto rt = MakeOneWorker();
  absl::StatusOr<int> code = rt->Run([&] {
    {
      Scope s("save");
      Local roots[] = {Cons(Fixnum(1), Cons(Fixnum(2), Local::Nil()))};
      absl::Status st = SaveImage(path, roots);
      EXPECT_TRUE(st.ok()) << st;
      if (!st.ok()) return 1;
    }
    std::atomic<bool> loading{false}, done{false};
    std::atomic<int64_t> steps{0};
    Thread other = Spawn([&] {
      while (!done.load()) {
        steps.fetch_add(1);
        if (loading.load()) ReadHold::other_ran = true;
        Yield();
      }
      return Local();
    });
    while (steps.load() == 0) Yield();
    ReadHold::loader = std::this_thread::get_id();
    ReadHold::armed = true;
    loading = true;  // nothing yields between this and LoadImage, nor after it
    int64_t before = steps.load();
    absl::StatusOr<std::vector<Local>> r = LoadImage(path);
    int64_t after = steps.load();
    loading = false;
    ReadHold::armed = false;
    EXPECT_FALSE(ReadHold::read_on_worker.load()) << "LoadImage read the file on its worker";
    EXPECT_GT(after, before) << "no other green thread ran while LoadImage read the file";
    EXPECT_TRUE(ReadHold::other_ran.load());
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      EXPECT_EQ(r->size(), 1u);
      EXPECT_EQ(SumList((*r)[0]), 3);
    }
    done = true;
    other.Join();
    return 0;
  });
  heap::image::ImageReader::SetReadHookForTesting(nullptr);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::remove(path.c_str());
}

// A FIFO with no writer, a directory: LoadImage refuses each by name, at once
// ([heap.image.regular-file]). The FIFO's open blocked the blocking-pool helper for
// ever before (RELIABILITY.md known bug 30), and since a blocking call in flight is a
// pending waker, Run never reported the deadlock either. Should the load block, a
// FifoWatchdog opens the write end after 10 s so that the test fails instead of hanging.
TEST(RuntimeImageTest, LoadOfAFifoOrADirectoryIsRefusedWithoutBlocking) {
  std::string fifo = TempPath("no-writer.fifo");
  std::string dir = TempPath("a-directory.img");
  ::unlink(fifo.c_str());
  ::rmdir(dir.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0) << std::strerror(errno);
  heap::testing::FifoWatchdog watchdog(fifo);
  auto rt = Make();
  absl::StatusOr<int> code = rt->Run([&] {
    absl::StatusOr<std::vector<Local>> f = LoadImage(fifo);
    watchdog.Done();
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << f.status();
    EXPECT_EQ(f.status().message(), "image " + fifo + ": not a regular file");
    absl::StatusOr<std::vector<Local>> d = LoadImage(dir);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << d.status();
    EXPECT_EQ(d.status().message(), "image " + dir + ": not a regular file");
    return 0;
  });
  watchdog.Stop();
  EXPECT_FALSE(watchdog.released()) << "LoadImage blocked in the open of a FIFO with no writer";
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  ::unlink(fifo.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace weft
