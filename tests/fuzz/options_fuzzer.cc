// options_fuzzer: fuzz bytes -> weft::Options -> Runtime::Create must return OK or
// InvalidArgument (with a message naming an option); when OK, a tiny program (a
// spawned thread, a channel, lists, collections) must run and give the right answer.
//
// Sizes are drawn from a table of boundary values (each range's ends and one past
// them) or from raw bits. control_socket stays off (each runtime would open a socket).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "runtime/weft.h"
#include "tests/fuzz/byte_reader.h"

namespace weft::fuzz {
namespace {

constexpr size_t kKiB = size_t{1} << 10, kMiB = size_t{1} << 20, kGiB = size_t{1} << 30;

// Boundary values; the huge ones are all invalid for the fields they could be
// valid for only up to 1 GiB, so a valid runtime never commits more than it touches.
constexpr size_t kSizes[] = {
    0,          1,         4 * kKiB - 1, 4 * kKiB,      16 * kKiB,   32 * kKiB - 1,
    32 * kKiB,  64 * kKiB, 256 * kKiB - 1, 256 * kKiB, 1 * kMiB,    1 * kMiB + 1,
    3 * kMiB,   4 * kMiB,  8 * kMiB,     16 * kMiB,     64 * kMiB,   64 * kMiB + 1,
    kGiB,       kGiB + 1,  size_t{1} << 46, (size_t{1} << 46) + 1, ~size_t{0},
};

size_t Size(ByteReader& in) {
  uint8_t b = in.Byte();
  if (b < 200) return kSizes[b % (sizeof kSizes / sizeof kSizes[0])];
  if (b < 240) return in.Bits(3) << (in.Byte() % 24);  // up to 2^48
  return in.Bits(8);
}

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "options_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

int64_t SumList(Local list) {
  Scope scope("SumList");
  int64_t sum = 0;
  Local p = Local::New(list.get());
  while (!p.IsNil()) {
    Scope step("step");  // Car and Cdr slots die here: the loop runs in constant stack
    sum += FixnumValue(Car(p));
    p.Set(Cdr(p));
  }
  return sum;
}

}  // namespace
}  // namespace weft::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weft;
  using namespace weft::fuzz;
  ByteReader in(data, size);
  Options o;
  o.control_socket = false;
  uint8_t present = in.Byte();  // which fields to set; others keep their defaults
  uint8_t present2 = in.Byte();
  if (present & 1) {
    uint8_t w = in.Byte();
    o.workers = w < 250 ? w % 5 : static_cast<int>(static_cast<int8_t>(in.Byte())) * 3;
  } else {
    o.workers = 2;
  }
  if (present & 2) o.native_stack_bytes = Size(in);
  if (present & 4) o.managed_stack_max_bytes = Size(in);
  if (present & 8) o.nursery_bytes = Size(in);
  else o.nursery_bytes = 256 * kKiB;
  if (present & 16) o.generations = static_cast<int8_t>(in.Byte()) % 9;
  if (present & 32) o.promotion_age = static_cast<int8_t>(in.Byte()) % 18;
  if (present & 64) o.heap_initial_bytes = Size(in);
  if (present & 128) o.heap_soft_limit_bytes = Size(in);
  if (present2 & 1) o.heap_hard_limit_bytes = Size(in);
  if (present2 & 2) {
    uint8_t b = in.Byte();
    o.gc_stress_every = b < 128 ? b % 64 : b < 250 ? in.Bits(4) : in.Bits(8);
  }
  if (present2 & 4) o.dump_stacks_on_sigquit = in.Byte() & 1;
  if (present2 & 8) {
    int64_t ns = static_cast<int64_t>(in.Bits(8));
    if (in.Byte() & 1) ns %= int64_t{4} * 3600 * 1000000000;
    o.safepoint_watchdog = absl::Nanoseconds(ns);
  }
  // A valid but huge native stack or nursery makes the tiny program slow without
  // testing anything more: keep valid runs small.
  auto rt = Runtime::Create(o);
  if (!rt.ok()) {
    if (rt.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("Create returned neither OK nor InvalidArgument", rt.status().ToString());
    }
    if (rt.status().message().find("weft: option ") == std::string::npos &&
        rt.status().message().find("_bytes") == std::string::npos &&
        rt.status().message().find("generations") == std::string::npos &&
        rt.status().message().find("stress") == std::string::npos &&
        rt.status().message().find("workers") == std::string::npos) {
      Fail("InvalidArgument does not name an option", rt.status().ToString());
    }
    return 0;
  }
  const int n = o.gc_stress_every > 0 && o.gc_stress_every < 8 ? 20 : 200;
  auto r = (*rt)->Run([n] {
    Scope scope("fuzz-main");
    Channel ch = Channel::Make(1);
    Thread t = Spawn([ch, n]() mutable {
      Scope s("builder");
      Local list = Local::Nil();
      for (int i = 0; i < n; ++i) {
        Scope c("cons");
        list.Set(Cons(Fixnum(i), list));
      }
      ch.Send(list);
      return Fixnum(n);
    });
    std::optional<Local> got = ch.Recv();
    Collect(0);
    Collect(-1);
    if (!got.has_value() || SumList(*got) != int64_t{n} * (n - 1) / 2) return 1;
    if (FixnumValue(t.Join()) != n) return 2;
    return 0;
  });
  // A tiny managed stack (4 KiB is valid) may overflow even this program: that is a
  // StackOverflow exception, a clean ending.
  if (!r.ok() && r.status().message().find("managed stack overflow") == std::string::npos) {
    Fail("Run failed", r.status().ToString());
  }
  if (!r.ok()) return 0;
  if (*r != 0) Fail("tiny program gave a wrong answer", std::to_string(*r));
  return 0;
}
