// runtime_impl_test.cc: RuntimeImpl's own protocol, below the public API.
#include "runtime/runtime_impl.h"

#include <atomic>
#include <new>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace weft {
namespace {

// [runtime.stw.resume]: an exception thrown while the world is stopped reaches the
// caller with the other workers running again, and later stops work.
TEST(RuntimeImplTest, AnExceptionInThePauseResumesTheWorld) {
  Options o;
  o.workers = 2;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  absl::StatusOr<int> code = (*rt)->Run([] {
    RuntimeImpl& impl = RuntimeImpl::Current();
    std::atomic<bool> stop{false};
    std::atomic<int64_t> steps{0};
    Thread spinner = Spawn([&] {
      while (!stop.load()) {
        steps.fetch_add(1);
        Yield();
      }
      return Local::Nil();
    });
    bool caught = false;
    try {
      impl.WithWorldStopped([] { throw std::runtime_error("failed in the pause"); });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "failed in the pause";
    }
    EXPECT_TRUE(caught);
    // The spinner runs again (on either worker: main sleeps, so it may take this one).
    const int64_t before = steps.load();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (steps.load() < before + 1000 && absl::Now() < deadline) weft::SleepFor(absl::Milliseconds(1));
    EXPECT_GE(steps.load(), before + 1000) << "the world stayed stopped";
    // And the world can be stopped again: a collection, then another pause.
    Collect(0);
    int ran = 0;
    impl.WithWorldStopped([&] { ++ran; });
    EXPECT_EQ(ran, 1);
    stop.store(true);
    spinner.Join();
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

Options ControlTestOptions() {
  Options o;
  o.workers = 2;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  return o;
}

// Ask sends one control request as the control thread does: from an OS thread that is
// not a worker (a RunBlocking helper), while the asking green thread waits parked.
std::string Ask(RuntimeImpl& impl, const std::string& request) {
  std::string answer;
  RunBlocking([&] { answer = impl.HandleControlRequest(request); });
  return answer;
}

// AddressOf: the object's address as a dump prints it.
std::string AddressOf(Local v) {
  return absl::StrFormat("%p", RuntimeImpl::SlotOf(v)->AsObject());
}

bool Matches(const std::string& s, const char* pattern) {
  return std::regex_match(s, std::regex(pattern));
}

// `stackscan PID --path ADDRESS` ([runtime.dump.path]): the control request names the
// root (thread, frame, slot), every hop with the field it follows, then the object;
// an object nothing keeps is `unreachable:`; an address that is no object's start, or
// no address, is an error, and the world runs on.
TEST(RuntimeImplTest, ControlPathRequestNamesTheRootAndEveryHop) {
  auto rt = Runtime::Create(ControlTestOptions());
  ASSERT_TRUE(rt.ok()) << rt.status();
  // The answers are matched after Run: std::regex recurses deeply, too deeply for a
  // green thread's native stack under ASan.
  std::string pair, dropped, answer, json, unreachable, unreachable_json;
  absl::StatusOr<int> code = (*rt)->Run([&] {
    RuntimeImpl& impl = RuntimeImpl::Current();
    Scope scope("path-main");
    RecordType box = RegisterRecordType("PathBox", 1, 0);
    Local b = MakeRecord(box);
    {
      Scope fill("fill");
      Local v = MakeVector(2, Local::Nil());
      RecordSet(b, 0, v);
      Local p = Cons(Fixnum(5), Local::Nil());
      VectorSet(v, 1, p);
      pair = AddressOf(p);
      dropped = AddressOf(Cons(Fixnum(6), Local::Nil()));
    }
    // Nothing allocates from here on, so nothing moves: the addresses stay valid.
    answer = Ask(impl, "path " + pair);
    // The address without 0x; JSON; an object that nothing keeps (not yet collected).
    EXPECT_EQ(Ask(impl, "path " + pair.substr(2)), answer);
    json = Ask(impl, "path " + pair + " json");
    unreachable = Ask(impl, "path " + dropped);
    unreachable_json = Ask(impl, "path " + dropped + " json");
    // Addresses that are no object's start are validated, never read.
    const std::string inside = absl::StrFormat(
        "%p", reinterpret_cast<const char*>(RuntimeImpl::SlotOf(b)->AsObject()) + 8);
    EXPECT_EQ(Ask(impl, "path " + inside),
              "error: path: " + inside +
                  " is not the start of an object (an address in a dump is valid until the "
                  "next collection moves or frees its object)\n");
    EXPECT_EQ(Ask(impl, "path 0x10"), "error: path: 0x10 is not in the heap\n");
    EXPECT_EQ(Ask(impl, "path 0xffffffffffffffff"),
              "error: path: 0xffffffffffffffff is not in the heap\n");
    EXPECT_EQ(Ask(impl, "path pear"),
              "error: path: 'pear' is not an address (expected hexadecimal, as a dump prints "
              "it: 0x7f3a2c001040)\n");
    EXPECT_EQ(Ask(impl, "path 0x1g"),
              "error: path: '0x1g' is not an address (expected hexadecimal, as a dump prints "
              "it: 0x7f3a2c001040)\n");
    EXPECT_EQ(Ask(impl, "path 0x"),
              "error: path: '0x' is not an address (expected hexadecimal, as a dump prints "
              "it: 0x7f3a2c001040)\n");
    EXPECT_EQ(Ask(impl, "path 0x10000000000000000"),
              "error: path: '0x10000000000000000' is not an address (expected hexadecimal, as "
              "a dump prints it: 0x7f3a2c001040)\n");
    EXPECT_EQ(Ask(impl, "path"), "error: path needs an address: path ADDRESS [json]\n");
    EXPECT_EQ(Ask(impl, "path json"), "error: path needs an address: path ADDRESS [json]\n");
    EXPECT_EQ(Ask(impl, "path " + pair + " 0x10"), "error: unknown option '0x10' for path\n");
    EXPECT_EQ(Ask(impl, "path " + pair + " roots"), "error: unknown option 'roots' for path\n");
    EXPECT_EQ(Ask(impl, "census roots"), "error: unknown option 'roots' for census\n");
    EXPECT_EQ(Ask(impl, "frobnicate"),
              "error: unknown request 'frobnicate' (expected dump, census or path)\n");
    // The world ran on: other requests are answered, the census counts the box.
    EXPECT_NE(Ask(impl, "census").find("record PathBox"), std::string::npos);
    EXPECT_NE(Ask(impl, "dump").find("frame path-main"), std::string::npos);
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);

  std::vector<std::string> lines = absl::StrSplit(answer, '\n');
  ASSERT_EQ(lines.size(), 5u) << answer;
  EXPECT_TRUE(Matches(lines[0], "thread 1 \"main\" frame path-main slot \\[[0-9]+\\]")) << answer;
  EXPECT_TRUE(Matches(lines[1], "record PathBox 0x[0-9a-f]+ gen [0-9]+ \\.field 0")) << answer;
  EXPECT_TRUE(Matches(lines[2], "vector\\[2\\] 0x[0-9a-f]+ gen [0-9]+ \\.\\[1\\]")) << answer;
  EXPECT_TRUE(Matches(lines[3], ("pair " + pair + " gen [0-9]+").c_str())) << answer;
  EXPECT_EQ(lines[4], "");
  EXPECT_TRUE(Matches(json, ("\\{\"object\":\"pair " + pair +
                             " gen [0-9]+\",\"reachable\":true,\"path\":\\[\"thread 1 "
                             "\\\\\"main\\\\\" frame path-main slot \\[[0-9]+\\]\",\"record "
                             "PathBox [^\"]+\",\"vector[^\"]+\",\"pair " + pair +
                             " gen [0-9]+\"\\]\\}\n")
                                .c_str()))
      << json;
  EXPECT_TRUE(Matches(unreachable,
                      ("unreachable: pair " + dropped +
                       " gen [0-9]+: no root keeps it alive \\(the next collection of its "
                       "generation frees it\\)\n")
                          .c_str()))
      << unreachable;
  EXPECT_TRUE(Matches(unreachable_json,
                      ("\\{\"object\":\"pair " + dropped +
                       " gen [0-9]+\",\"reachable\":false,\"path\":\\[\\]\\}\n")
                          .c_str()))
      << unreachable_json;
}

// [runtime.stw.resume] for the control thread: a std::bad_alloc while a control request
// has the world stopped is answered as an error, with the other workers running again;
// with StopTheWorld/ResumeTheWorld called directly it escaped with every worker
// stopped (and, on the real control thread, ended the process).
TEST(RuntimeImplTest, AFailedControlRequestResumesTheWorld) {
  auto rt = Runtime::Create(ControlTestOptions());
  ASSERT_TRUE(rt.ok()) << rt.status();
  absl::StatusOr<int> code = (*rt)->Run([] {
    RuntimeImpl& impl = RuntimeImpl::Current();
    std::atomic<bool> stop{false};
    std::atomic<int64_t> steps{0};
    Thread spinner = Spawn([&] {
      while (!stop.load()) {
        steps.fetch_add(1);
        Yield();
      }
      return Local::Nil();
    });
    while (steps.load() == 0) weft::SleepFor(absl::Milliseconds(1));
    for (const char* request : {"dump", "census", "path 0x10"}) {
      impl.SetControlPauseHookForTesting([] { throw std::bad_alloc(); });
      std::string answer;
      bool threw = false, stuck = false;
      RunBlocking([&] {
        // As the control thread, which has nothing to catch with.
        try {
          answer = impl.HandleControlRequest(request);
        } catch (...) {
          threw = true;
        }
        // The spinner must run again. If the world stayed stopped, resume it from
        // this thread, which stopped it, so the test fails instead of hanging.
        const int64_t before = steps.load();
        const absl::Time deadline = absl::Now() + absl::Seconds(30);
        while (steps.load() < before + 100 && absl::Now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (steps.load() < before + 100) {
          stuck = true;
          impl.scheduler().ResumeTheWorld();
        }
      });
      impl.SetControlPauseHookForTesting(nullptr);
      const std::string verb = std::string(request).substr(0, std::string(request).find(' '));
      EXPECT_FALSE(threw) << request;
      EXPECT_FALSE(stuck) << request << ": the world stayed stopped";
      EXPECT_EQ(answer, "error: " + verb + " failed: std::bad_alloc\n");
      // Later requests stop and resume the world as before.
      EXPECT_NE(Ask(impl, "census").find("total"), std::string::npos) << request;
    }
    stop.store(true);
    spinner.Join();
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace weft
