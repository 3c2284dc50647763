// The deadlock report and the safepoint watchdog print green threads in the
// stack-scan dump format ([threads.hook.format-thread], [runtime.dump]).
#include <atomic>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ostream_sink.h>

#include "absl/strings/str_split.h"
#include "runtime/log.h"
#include "runtime/weft.h"

namespace weft {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n');
}

// Every line of a dump has one of these shapes.
bool IsDumpLine(const std::string& l) {
  static const std::regex shapes(
      "weft: [0-9]+ green threads|"
      "|"
      "thread [0-9]+ \"[^\"]*\" (runnable|running|blocked|sleeping|done)"
      "( waiting on [a-z ]+( 0x[0-9a-f]+| fd [0-9]+)?( for [0-9]+\\.[0-9]{3}s)?)?"
      ", worker -?[0-9]+(, detached)?|"
      "  frame .* \\(info -?[0-9]+\\)|"
      "    \\[[0-9]+\\] .+|"
      "  managed stack: .+|"
      "  native: .+|"
      "  #[0-9 ]{2} 0x[0-9a-f]+ .+");
  return std::regex_match(l, shapes);
}

Options TestOptions(int workers) {
  Options o;
  o.workers = workers;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  return o;
}

TEST(DumpFormatTest, DeadlockReportIsTheDump) {
  auto rt = Runtime::Create(TestOptions(2));
  ASSERT_TRUE(rt.ok()) << rt.status();
  // A deadlock abandons every green thread without unwinding it, so nothing that owns
  // memory lives on their stacks: the channel is the test's, the handle is dropped.
  Channel ch;
  absl::StatusOr<int> r = (*rt)->Run([&ch] {
    Scope scope("deadlock-main");
    ch = Channel::Make();
    {
      Thread t = Spawn(
          [&ch] {
            Scope s("stuck-frame");
            Local v = Fixnum(99);
            ch.Recv();
            (void)v;
            return s.Escape(s.Nil());
          },
          {.name = "stuck"});
      t.Detach();
    }
    ch.Recv();
    return 0;
  });
  ch = Channel();
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  std::string text(r.status().message());
  std::vector<std::string> lines = Lines(text);
  ASSERT_GE(lines.size(), 8u) << r.status();
  EXPECT_EQ(lines[0], "deadlock: all green threads are blocked");
  EXPECT_EQ(lines[1], "weft: 2 green threads");
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_TRUE(IsDumpLine(lines[i])) << "line " << i << ": <" << lines[i] << ">\n" << r.status();
  }
  // Each thread: its line (state, what it waits on, since when), its frames with
  // their slots, and a native backtrace from its saved context.
  EXPECT_TRUE(std::regex_search(
      text, std::regex("\nthread [0-9]+ \"stuck\" blocked waiting on channel receive 0x[0-9a-f]+ "
                       "for [0-9]+\\.[0-9]{3}s, worker [0-9]+(, detached)?\n"
                       "(  frame [^\n]*\n(    [^\n]*\n)*)*"
                       "  frame stuck-frame \\(info 0\\)\n"
                       "    \\[[0-9]+\\] fixnum 99\n"
                       // Recv's destination ([runtime.channels.in-flight]).
                       "    \\[[0-9]+\\] nil\n"
                       "  #0  0x[0-9a-f]+ [^\n]+\n"
                       "  #1  0x[0-9a-f]+ [^\n]+\n")))
      << text;
  EXPECT_TRUE(std::regex_search(
      text, std::regex("\nthread 1 \"main\" blocked waiting on channel receive 0x[0-9a-f]+ for "
                       "[0-9]+\\.[0-9]{3}s, worker [0-9]+\n"
                       "(  frame [^\n]*\n(    [^\n]*\n)*)*"
                       "  frame deadlock-main \\(info 0\\)\n"
                       "(    [^\n]*\n)*"
                       "  #0  0x[0-9a-f]+ [^\n]+\n")))
      << text;
}

// A log sink that raises a flag once a message containing both `a` and `b` has been
// logged.
class FlagSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  FlagSink(std::string a, std::string b, std::atomic<bool>* flag)
      : a_(std::move(a)), b_(std::move(b)), flag_(flag) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    if (payload.find(a_) != std::string_view::npos && payload.find(b_) != std::string_view::npos) {
      flag_->store(true);
    }
  }
  void flush_() override {}

 private:
  std::string a_, b_;
  std::atomic<bool>* flag_;
};

TEST(DumpFormatTest, WatchdogNamesTheWorkerAndPrintsItsThread) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  std::atomic<bool> watchdog_spoke{false};
  auto flag_sink =
      std::make_shared<FlagSink>("safepoint watchdog", "\"spinner\" running", &watchdog_spoke);
  Log().sinks().push_back(sink);
  Log().sinks().push_back(flag_sink);
  Options o = TestOptions(2);
  o.safepoint_watchdog = absl::Milliseconds(50);
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  bool gave_up = false;
  absl::StatusOr<int> r = (*rt)->Run([&watchdog_spoke, &gave_up] {
    std::atomic<bool> started{false};
    // Spins without a safepoint until the watchdog has named it: the world cannot
    // stop meanwhile, however late main's stop begins. (30 s at most: then the regex
    // below fails.)
    Thread spinner = Spawn(
        [&started, &watchdog_spoke, &gave_up] {
          Scope s("spin-frame");
          started.store(true);
          absl::Time give_up = absl::Now() + absl::Seconds(30);
          while (!watchdog_spoke.load()) {
            if (absl::Now() > give_up) {
              gave_up = true;
              break;
            }
          }
          return s.Escape(s.Nil());
        },
        {.name = "spinner"});
    while (!started.load()) weft::SleepFor(absl::Milliseconds(1));
    Collect(0);
    spinner.Join();
    return 0;
  });
  Log().sinks().pop_back();
  Log().sinks().pop_back();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(gave_up) << "the watchdog did not name the spinner within 30 s of its start";
  std::string text = log.str();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      text, m,
      std::regex("safepoint watchdog: worker ([0-9]+) has not reached a safepoint after "
                 "[0-9]+ ms; running:\n"
                 "thread [0-9]+ \"spinner\" running, worker ([0-9]+)\n"
                 "  managed stack: not read \\(running on worker ([0-9]+), not stopped\\)\n"
                 "  native: running on worker ([0-9]+), not stopped \\(no saved context\\)\n"
                 "  \\(a safepoint is any allocation, block, yield or spawn; a loop that does "
                 "none of them must poll: weft::Safepoint\\(\\), "
                 "threads::this_thread::Safepoint\\(\\)\\)\n")))
      << text;
  EXPECT_EQ(m[1], m[2]);
  EXPECT_EQ(m[1], m[3]);
  EXPECT_EQ(m[1], m[4]);
}

}  // namespace
}  // namespace weft
