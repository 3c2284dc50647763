// core_reader_test.cc: Weft cores in one process. WriteCore from a running runtime
// reads back (ReadCore) as the fatal dump printed it; hand-made cores whose
// checksums are right but whose core sections lie (counts, enums, thread ids, root
// indices, references, versions) are refused with a message naming what is wrong
// ([runtime.core.untrusted]). Truncated, corrupted and foreign files are covered by
// tests/stackscan:core_test.
#include "runtime/core_reader.h"

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "heap/image_writer.h"
#include "runtime/core_format.h"
#include "runtime/core_writer.h"
#include "runtime/runtime_impl.h"
#include "runtime/stack_dump.h"

namespace weft {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + name;  // TEST_TMPDIR under Bazel
}

// InRuntime runs fn on the main green thread of a one-worker runtime: nothing else
// runs on the heap, as WriteCore and ImageWriter::AddHeap require.
void InRuntime(const std::function<void(RuntimeImpl&)>& fn) {
  Options o;
  o.workers = 1;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  absl::StatusOr<int> code = (*rt)->Run([&] {
    fn(RuntimeImpl::Current());
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
}

// Lines of a text dump that must match between the live dump and the core.
std::vector<std::string> StackLines(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    std::string line = text.substr(at, nl - at);
    if (line.rfind("  frame ", 0) == 0 || line.rfind("    [", 0) == 0) out.push_back(line);
    at = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

TEST(CoreReaderTest, WrittenCoreReadsLikeTheFatalDump) {
  std::string path = TempPath("roundtrip.core");
  std::string live;
  InRuntime([&](RuntimeImpl& rt) {
    Scope s("roundtrip");
    s.SetInfo(3);
    Local n = Fixnum(-5);
    Local str = MakeString("line\n\"quoted\"");
    Local list = Cons(n, Cons(str, Local::Nil()));
    RecordType t = RegisterRecordType("Pair2", 2, 8);
    Local rec = MakeRecord(t);
    RecordSet(rec, 0, list);
    Local big = MakeVector(2000, str);  // a large object: its own segment
    Local c = Char(U'λ');
    live = BuildFatalDump(rt.heap(), rt.scheduler(), nullptr);
    CoreRequest request{path, CoreCause::kFatalError, "weft: test message", nullptr, {}, 77};
    ASSERT_TRUE(WriteCore(rt, request).ok());
    (void)big, (void)c;
  });
  absl::StatusOr<Core> core = ReadCore(path, {});
  ASSERT_TRUE(core.ok()) << core.status();
  EXPECT_EQ(core->info.pid, 77);
  EXPECT_EQ(core->info.message, "weft: test message");
  EXPECT_TRUE(core->info.heap_saved);
  std::string text = FormatDump(core->dump, DumpStyle{});
  EXPECT_EQ(StackLines(text), StackLines(live)) << text << "\n---\n" << live;
  EXPECT_NE(text.find("record Pair2 0x"), std::string::npos) << text;
  EXPECT_NE(text.find("vector[2000] 0x"), std::string::npos) << text;
  EXPECT_NE(text.find("string \"line\\n\\\"quoted\\\"\""), std::string::npos) << text;
  EXPECT_NE(text.find("char U+03BB"), std::string::npos) << text;
  EXPECT_NE(text.find("frame roundtrip (info 3)"), std::string::npos) << text;
  EXPECT_EQ(CoreTextPreamble(core->info),
            "weft: core of process 77 (fatal error): weft: test message\n");

  absl::StatusOr<Core> roots = ReadCore(path, CoreReadOptions{"main", "running", true});
  ASSERT_TRUE(roots.ok()) << roots.status();
  ASSERT_EQ(roots->dump.threads.size(), 1u);
  std::string with_roots = FormatDump(roots->dump, DumpStyle{false, false, true});
  // The list: two pairs (32 bytes) and the string (8 + 16).
  EXPECT_NE(with_roots.find("pair 0x"), std::string::npos);
  EXPECT_NE(with_roots.find("(keeps 56 bytes alive)"), std::string::npos) << with_roots;
  absl::StatusOr<Core> none = ReadCore(path, CoreReadOptions{"nobody", "", false});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->dump.threads.empty());
}

// A hand-made core: roots [fixnum 5, a pair], and the three sections as given.
struct Sections {
  std::string core, threads, stacks;
  bool with_stacks = true;
};

// The encoding of a consistent core with one thread and one frame of two slots
// (fixnum 5 in root 0, the pair in root 1); `edit` changes the fields first.
struct Fields {
  uint32_t version = kCoreVersion;
  uint8_t cause = 1;
  uint64_t stack_roots = 2, global_roots = 0;
  uint32_t thread_count = 1;
  uint64_t thread_id = 1;
  uint8_t state = 2, reason = 0, flags = 0;
  uint32_t stack_count = 1;
  uint64_t stack_id = 1;
  uint64_t pair_root = 1;
  uint64_t pair_raw = 0;  // the pair's Value (set by the test)
  int32_t generation = 1;
  std::string threads_suffix;
};

Sections Encode(const Fields& f) {
  Sections s;
  CoreEncoder core;
  core.U32(f.version);
  core.U8(f.cause);
  core.U8(1);
  core.I64(1234);
  core.I64(0);
  core.U64(f.stack_roots);
  core.U64(f.global_roots);
  core.Str("weft: crafted");
  s.core = core.Take();
  CoreEncoder threads;
  threads.U32(f.thread_count);
  threads.U64(f.thread_id);
  threads.Str("crafted");
  threads.U8(f.state);
  threads.U8(f.reason);
  threads.U8(f.flags);
  threads.I32(0);
  threads.U64(0);
  threads.I64(0);
  threads.Str("");
  threads.U32(0);
  s.threads = threads.Take() + f.threads_suffix;
  CoreEncoder stacks;
  stacks.U32(f.stack_count);
  stacks.U64(f.stack_id);
  stacks.U32(1);
  stacks.Str("crafted-frame");
  stacks.I64(0);
  stacks.U32(2);
  stacks.U64(3);
  stacks.U64(heap::Value::Fixnum(5).raw);
  stacks.U64(0);
  stacks.I32(0);
  stacks.U64(4);
  stacks.U64(f.pair_raw);
  stacks.U64(f.pair_root);
  stacks.I32(f.generation);
  s.stacks = stacks.Take();
  return s;
}

// WriteCrafted saves roots [fixnum 5, a new pair] with `make(pair_raw)`'s sections.
std::string WriteCrafted(const std::string& name,
                         const std::function<Sections(uint64_t pair_raw)>& make) {
  std::string path = TempPath(name);
  InRuntime([&](RuntimeImpl& rt) {
    Scope s("crafted");
    Local pair = Cons(Fixnum(1), Local::Nil());
    heap::image::ImageWriter writer(rt.heap());
    heap::Value roots[] = {heap::Value::Fixnum(5), ToHeap(pair.get())};
    writer.AddHeap(roots);
    Sections sec = make(pair.get().raw);
    using heap::image::SectionKind;
    ASSERT_TRUE(writer.AddSection(SectionKind::kOpaque, kCoreSection, sec.core).ok());
    ASSERT_TRUE(writer.AddSection(SectionKind::kThreads, kCoreThreadsSection, sec.threads).ok());
    if (sec.with_stacks) {
      ASSERT_TRUE(
          writer.AddSection(SectionKind::kManagedStacks, kCoreStacksSection, sec.stacks).ok());
    }
    ASSERT_TRUE(writer.Write(path).ok());
  });
  return path;
}

std::string ReadError(const std::string& path) {
  absl::StatusOr<Core> core = ReadCore(path, {});
  if (core.ok()) return "(read fine)";
  EXPECT_EQ(core.status().code(), absl::StatusCode::kInvalidArgument) << core.status();
  return std::string(core.status().message());
}

std::string Crafted(const std::string& name, const std::function<void(Fields&)>& edit) {
  return WriteCrafted(name, [&](uint64_t pair_raw) {
    Fields f;
    f.pair_raw = pair_raw;
    edit(f);
    return Encode(f);
  });
}

TEST(CoreReaderTest, ConsistentCraftedCoreReads) {
  std::string path = Crafted("crafted-ok.core", [](Fields&) {});
  absl::StatusOr<Core> core = ReadCore(path, {});
  ASSERT_TRUE(core.ok()) << core.status();
  std::string text = FormatDump(core->dump, DumpStyle{});
  EXPECT_NE(text.find("thread 1 \"crafted\" blocked, worker 0"), std::string::npos) << text;
  EXPECT_NE(text.find("    [3] fixnum 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    [4] pair 0x"), std::string::npos) << text;
}

TEST(CoreReaderTest, LyingSectionsAreRefused) {
  struct Case {
    const char* name;
    std::function<void(Fields&)> edit;
    const char* message;
  } cases[] = {
      {"version", [](Fields& f) { f.version = 99; }, "core format version 99"},
      {"cause", [](Fields& f) { f.cause = 7; }, "unknown cause 7"},
      {"root-counts", [](Fields& f) { f.stack_roots = 5; },
       "counts 5 stack roots and 0 global roots, but the image has 2 roots"},
      {"thread-count", [](Fields& f) { f.thread_count = 1000000; },
       "the thread count is 1000000"},
      {"state", [](Fields& f) { f.state = 9; }, "thread 1 (entry 0 of 'weft.threads'): unknown state 9"},
      {"reason", [](Fields& f) { f.reason = 200; }, "unknown wait reason 200"},
      {"flags", [](Fields& f) { f.flags = 0x80; }, "unknown flags 0x80"},
      {"trailing", [](Fields& f) { f.threads_suffix = "xyz"; },
       "section 'weft.threads' has 3 bytes after its last thread"},
      {"stack-count", [](Fields& f) { f.stack_count = 2; },
       "section 'weft.stacks' has 2 stacks for 1 threads"},
      {"stack-id", [](Fields& f) { f.stack_id = 9; }, "stack 0 belongs to thread 9, not to thread 1"},
      {"root-range", [](Fields& f) { f.pair_root = 7; },
       "thread 1 frame 'crafted-frame' slot [4]: root index 7 is out of range (2 stack roots)"},
      {"not-a-reference", [](Fields& f) { f.pair_root = 0; },
       "slot [4]: root 0 (0xa) is not a reference to an object of the image"},
      {"immediate-mismatch", [](Fields& f) { f.pair_raw = heap::Value::Fixnum(6).raw; f.pair_root = 0; },
       "slot [4] holds 0xc but its root 0 holds 0xa"},
      {"generation", [](Fields& f) { f.generation = 42; }, "generation 42 is out of range"},
  };
  for (const Case& c : cases) {
    std::string path = Crafted(std::string("crafted-") + c.name + ".core", c.edit);
    std::string error = ReadError(path);
    EXPECT_NE(error.find(c.message), std::string::npos) << c.name << ": " << error;
    EXPECT_NE(error.find("core " + path), std::string::npos) << c.name << ": " << error;
  }
}

TEST(CoreReaderTest, TruncatedAndMissingSectionsAreRefused) {
  std::string cut = WriteCrafted("crafted-cut.core", [](uint64_t pair_raw) {
    Fields f;
    f.pair_raw = pair_raw;
    Sections s = Encode(f);
    s.threads.resize(47);  // in the middle of the native note's length
    return s;
  });
  EXPECT_NE(ReadError(cut).find("section 'weft.threads' is truncated: a native note needs 4 bytes at offset 46, 1 left"),
            std::string::npos)
      << ReadError(cut);
  std::string missing = WriteCrafted("crafted-missing.core", [](uint64_t pair_raw) {
    Fields f;
    f.pair_raw = pair_raw;
    Sections s = Encode(f);
    s.with_stacks = false;
    return s;
  });
  EXPECT_NE(ReadError(missing).find("no managed stacks section (managed stacks, named "
                                    "'weft.stacks'): a heap image, not a Weft core"),
            std::string::npos)
      << ReadError(missing);
}

}  // namespace
}  // namespace weft
