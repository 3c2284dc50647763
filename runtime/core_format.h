// core_format.h: the sections a Weft core adds to a heap image. Private to //runtime
// and //tools:stackscan.
//
// A Weft core is a heap image (heap/image_format.h) whose roots are every saved
// managed-stack slot, then every global slot and every value in flight in a channel
// (both counted as global roots), plus three sections
// ([runtime.core.format]):
//
//   kOpaque "weft.core"            u32 version (kCoreVersion), u8 cause (CoreCause),
//                                  u8 heap_saved, i64 pid, i64 now_ns (CLOCK_MONOTONIC
//                                  when taken), u64 stack_roots, u64 global_roots,
//                                  str message
//   kThreads "weft.threads"        u32 count, then per thread: u64 id, str name,
//                                  u8 state, u8 wait_reason, u8 flags (kCoreDetached,
//                                  kCoreRunningUnstopped), i32 worker, u64 wait_object,
//                                  i64 blocked_since_ns, str native_note, u32 count,
//                                  then per native frame: u64 pc, str symbol
//   kManagedStacks "weft.stacks"   u32 count, then per thread (same order): u64 id,
//                                  u32 frames, then per frame: str name, i64 info,
//                                  u32 slots, then per slot: u64 index, u64 raw (the
//                                  Value in the process that died), u64 root (index in
//                                  the image's roots, or kCoreNoRoot), i32 generation
//
// Integers are little-endian and unaligned; a str is a u32 byte count and the bytes.
// A slot's root holds the same Value as an image reference, so `stackscan --core`
// decodes every reference from the image's heap segments; `raw` and `generation` only
// let it print the object's address and generation as the live dump did.
#ifndef WEFT_RUNTIME_CORE_FORMAT_H_
#define WEFT_RUNTIME_CORE_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace weft {

inline constexpr char kCoreSection[] = "weft.core";
inline constexpr char kCoreThreadsSection[] = "weft.threads";
inline constexpr char kCoreStacksSection[] = "weft.stacks";
inline constexpr uint32_t kCoreVersion = 1;
inline constexpr uint64_t kCoreNoRoot = ~uint64_t{0};
inline constexpr uint8_t kCoreDetached = 1;
inline constexpr uint8_t kCoreRunningUnstopped = 2;

enum class CoreCause : uint8_t {
  kFatalError = 1,  // a failed WEFT_CHECK, a native stack overflow, any Fatal
  kDeadlock = 2,    // every green thread blocked (Run returned FailedPrecondition)
};

// CoreEncoder appends the encodings above to a byte string.
class CoreEncoder {
 public:
  void U8(uint8_t v) { Raw(&v, 1); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I32(int32_t v) { Raw(&v, 4); }
  void I64(int64_t v) { Raw(&v, 8); }
  void Str(std::string_view s);
  std::string Take() { return std::move(out_); }

 private:
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

// CoreDecoder reads them back from untrusted bytes. The first read past the end
// fails the decoder: every later read returns zero, ok() turns false and error()
// says which field of which section, at which offset, was cut short.
class CoreDecoder {
 public:
  CoreDecoder(std::string_view bytes, std::string_view section)
      : bytes_(bytes), section_(section) {}
  uint8_t U8(const char* what);
  uint32_t U32(const char* what);
  uint64_t U64(const char* what);
  int32_t I32(const char* what) { return static_cast<int32_t>(U32(what)); }
  int64_t I64(const char* what) { return static_cast<int64_t>(U64(what)); }
  std::string_view Str(const char* what);
  // Count: a u32 element count, failed when even `min_bytes` per element cannot fit
  // in what is left (so a corrupt count cannot make the reader loop or allocate).
  uint32_t Count(const char* what, size_t min_bytes);
  // Fail: records a problem found in a decoded value (the first error wins).
  void Fail(std::string message);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t offset() const { return at_; }
  size_t left() const { return bytes_.size() - at_; }

 private:
  bool Take(void* out, size_t n, const char* what);
  std::string_view bytes_;
  std::string_view section_;
  size_t at_ = 0;
  std::string error_;
};

}  // namespace weft

#endif  // WEFT_RUNTIME_CORE_FORMAT_H_
