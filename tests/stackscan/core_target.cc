// core_target: a Weft process that dies with a Weft core, for core_test.sh.
//
//   core_target build            prints the build (default, asan, tsan)
//   core_target check            a failed WEFT_CHECK (core path from WEFT_CORE)
//   core_target overflow         a native stack overflow in thread "deep"
//   core_target deadlock PATH    every thread blocked; Options::core_path = PATH
//   core_target image PATH       saves a plain heap image (no thread sections), exits 0
//
// Every mode but `build` first starts a "consumer" blocked on a channel receive (frame
// consumer-frame: fixnum 7 and a list) and, except in deadlock mode, a "sleeper";
// main's frame core-main (info 7) holds fixnum 42, string "abc", a pair, a vector[3]
// and a record Point.
#include <cstdio>
#include <cstring>
#include <string>

#include "runtime/check.h"
#include "runtime/weft.h"

namespace {

__attribute__((noinline)) int64_t RecurseForever(int64_t n) {
  volatile char pad[512];
  pad[0] = static_cast<char>(n);
  if (n == -1) return pad[0];
  return RecurseForever(n + 1) + pad[0];
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "build") {
#if defined(WEFT_TSAN)
    std::puts("tsan");
#elif defined(WEFT_ASAN)
    std::puts("asan");
#else
    std::puts("default");
#endif
    return 0;
  }
  if (mode != "check" && mode != "overflow" && mode != "deadlock" && mode != "image") {
    std::fprintf(stderr, "usage: core_target build|check|overflow|deadlock PATH|image PATH\n");
    return 2;
  }
  std::string path = argc > 2 ? argv[2] : "";
  weft::Options o;
  o.workers = 2;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  if (mode == "deadlock") o.core_path = path;
  auto rt = weft::Runtime::Create(o);
  if (!rt.ok()) {
    std::fprintf(stderr, "core_target: %s\n", std::string(rt.status().message()).c_str());
    return 2;
  }
  auto r = (*rt)->Run([&]() -> int {
    weft::Scope scope("core-main");
    scope.SetInfo(7);
    weft::Local answer = weft::Fixnum(42);
    weft::Local text = weft::MakeString("abc");
    weft::Local pair = weft::Cons(weft::Fixnum(1), weft::Fixnum(2));
    weft::Local vec = weft::MakeVector(3, answer);
    weft::RecordType point = weft::RegisterRecordType("Point", 2, 0);
    weft::Local rec = weft::MakeRecord(point);
    weft::RecordSet(rec, 0, answer);
    weft::Collect(0);  // the pair, vector and record move to generation 1
    if (mode == "image") {
      weft::Local roots[] = {answer, text, pair, vec, rec};
      absl::Status s = weft::SaveImage(path, roots);
      if (!s.ok()) std::fprintf(stderr, "core_target: %s\n", std::string(s.message()).c_str());
      return s.ok() ? 0 : 1;
    }
    weft::Channel ch = weft::Channel::Make();
    weft::Thread consumer = weft::Spawn(
        [ch]() mutable {
          weft::Scope s("consumer-frame");
          weft::Local seven = weft::Fixnum(7);
          weft::Local list = weft::Cons(seven, weft::Local::Nil());
          ch.Recv();
          (void)list;
          return s.Escape(s.Nil());  // [runtime.inv.result-live]
        },
        {.name = "consumer"});
    if (mode != "deadlock") {
      weft::Spawn(
          [] {
            weft::Scope s("sleeper-frame");
            weft::SleepFor(absl::Seconds(60));
            return s.Escape(s.Nil());
          },
          {.name = "sleeper"})
          .Detach();
    }
    weft::SleepFor(absl::Milliseconds(50));
    if (mode == "check") {
      WEFT_CHECK(weft::FixnumValue(answer) == 0, "weft: core test invariant broken");
    } else if (mode == "overflow") {
      weft::Thread deep = weft::Spawn(
          [] {
            weft::Scope s("deep-frame");
            weft::Local ninety_nine = weft::Fixnum(99);
            (void)ninety_nine;
            // Let main block in Join first: the other worker keeps running while the
            // stderr dump and the core are written, so a main still on its way to
            // Join would show as running in one and blocked in the other.
            weft::SleepFor(absl::Milliseconds(200));
            return weft::Fixnum(RecurseForever(0));
          },
          {.name = "deep"});
      deep.Join();
    } else {
      weft::Channel never = weft::Channel::Make();
      never.Recv();  // deadlock: the consumer waits on `ch`, main on `never`
    }
    consumer.Join();
    return 0;
  });
  if (!r.ok()) {
    std::fprintf(stderr, "core_target: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  return *r;
}
