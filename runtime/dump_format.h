// dump_format.h: the stack-scan dump as data, and its one text and JSON formatter.
// Private to //runtime and //tools:stackscan.
//
// A Dump is what every dump prints ([runtime.dump.format]): per green thread its
// registry entry, its managed stack frame by frame with each slot already described,
// and its native backtrace. The live dumps (stack_dump.h: DumpStacks, SIGQUIT,
// stackscan PID, the fatal dump, the deadlock report, the watchdog) build one from the
// running process; `stackscan --core` builds one from a Weft core (core_reader.h).
// Both print it with FormatDump, so a core reads exactly like a live dump.
//
// DescribeImmediate and DescribeObject are the two halves of a slot's description
// (`fixnum 42`, `pair 0x... gen 1`, `string "abc"`, `vector[3] 0x... gen 0`,
// `record Point 0x... gen 2`); the live heap and a core's image each supply an
// object's ObjectFacts.
#ifndef WEFT_RUNTIME_DUMP_FORMAT_H_
#define WEFT_RUNTIME_DUMP_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/functional/function_ref.h"
#include "heap/object.h"
#include "heap/value.h"
#include "threads/thread_info.h"

namespace weft {

struct DumpSlot {
  size_t index = 0;       // position in the managed stack, from its bottom
  std::string text;       // DescribeImmediate / DescribeObject
  uint64_t retained = 0;  // bytes it keeps alive (printed with DumpStyle::roots)
  uint64_t raw = 0;       // the slot's Value (the core writer saves it)
};

struct DumpFrame {
  std::string name;
  int64_t info = 0;
  std::vector<DumpSlot> slots;
};

struct DumpNativeFrame {
  uintptr_t pc = 0;
  const std::string* symbol = nullptr;  // owned by the Dump's `symbols`
};

struct ThreadDump {
  threads::ThreadInfo info;  // info.name is empty: the name is `name`
  std::string name;
  std::vector<DumpFrame> frames;
  std::vector<DumpNativeFrame> native;
  std::string native_note;  // why there is no backtrace, or empty
};

struct Dump {
  std::vector<ThreadDump> threads;
  // Symbol of each distinct return address, symbolized once per dump (100k blocked
  // threads share a handful); node map: the frames keep pointers to the names.
  absl::node_hash_map<uintptr_t, std::string> symbols;
  int64_t now_ns = 0;  // CLOCK_MONOTONIC when taken: "blocked for" is now - since
};

struct DumpStyle {
  bool json = false;
  bool native_backtraces = true;
  bool roots = false;
};

// MatchesFilters: the --thread (id or name) and --state filters; empty matches all.
bool MatchesFilters(uint64_t id, std::string_view name, threads::ThreadState state,
                    std::string_view thread_filter, std::string_view state_filter);

// FormatDump prints `dump` as text (`weft: N green threads`, then each thread's
// block) or JSON (`{"threads":[...]}`). `text_preamble` (whole lines) goes before the
// text; `json_members` (`"key":value,` pairs, each ending in a comma) before
// "threads".
std::string FormatDump(const Dump& dump, const DumpStyle& style,
                       std::string_view text_preamble = "", std::string_view json_members = "");
// AppendThreadText: one thread's text block, as in FormatDump.
void AppendThreadText(std::string& out, const ThreadDump& d, const DumpStyle& style,
                      int64_t now_ns);

// JsonString: `s` as a JSON string literal, quotes included.
std::string JsonString(std::string_view s);

// DescribeImmediate: a slot that is not a reference (`fixnum 42`, `nil`, `char
// U+0041`, `frame-marker`, `invalid 0x...`).
std::string DescribeImmediate(heap::Value v);

// ObjectFacts: what a slot's description says about the object it refers to.
struct ObjectFacts {
  heap::ObjectKind kind = heap::ObjectKind::kInvalid;
  uint64_t address = 0;          // printed: the address in the process that died
  int generation = 0;
  uint32_t length = 0;           // vector slots, string and byte-array bytes
  std::string_view string;       // a string's bytes
  std::string_view record_name;  // empty: unknown ("?")
};
std::string DescribeObject(const ObjectFacts& f);

// RetainedBytes: the bytes of every object reachable from `v`, following references
// through `resolve` (a Value to its object, or nullptr to stop there).
uint64_t RetainedBytes(heap::Value v,
                       absl::FunctionRef<const heap::Object*(heap::Value)> resolve);

}  // namespace weft

#endif  // WEFT_RUNTIME_DUMP_FORMAT_H_
