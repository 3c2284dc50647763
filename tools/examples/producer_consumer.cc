// producer_consumer.cc: a pipeline of green threads passing managed lists over
// channels, through the public API (runtime/weft.h) only.
//
//   producer_consumer [--producers=4] [--messages=2000] [--stages=3] [--fanout=2]
//                     [--length=16] [--workers=0] [--capacity=8] [--gc_stress=0]
//
// Producers send messages (id . values), values being the list id, id+1, ...,
// id+length-1. Each of `stages` transform stages (`fanout` green threads reading one
// channel) builds a fresh list with `stage` added to every value, appending through
// SetCdr (a barriered store into the growing list). The consumer checks every value
// and that every message arrived exactly once. Shutdown closes the channels in order:
// producers joined, close channel 0, stage 1 joined, close channel 1, and so on.
// Prints a summary and the collections per generation from weft::GetStats; exits 0
// on success, 1 with a message on the first failure.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "runtime/weft.h"

ABSL_FLAG(int, producers, 4, "producer green threads");
ABSL_FLAG(int, messages, 2000, "messages per producer");
ABSL_FLAG(int, stages, 3, "transform stages between producers and the consumer");
ABSL_FLAG(int, fanout, 2, "green threads per transform stage");
ABSL_FLAG(int, length, 16, "values per message list");
ABSL_FLAG(int, workers, 0, "runtime workers (0: one per core)");
ABSL_FLAG(int, capacity, 8, "channel capacity (0: unbuffered)");
ABSL_FLAG(uint64_t, gc_stress, 0, "collect every N allocations (0: off)");

namespace {

constexpr int64_t kIdsPerProducer = 1'000'000;

struct Config {
  int producers, messages, stages, fanout, length;
};

// MakeValues returns the list (first first+1 ... first+length-1).
weft::Local MakeValues(int64_t first, int length) {
  weft::Scope scope("make-values");
  weft::Local list = weft::Local::Nil();
  for (int j = length - 1; j >= 0; --j) {
    weft::Scope step("cons");
    list.Set(weft::Cons(weft::Fixnum(first + j), list));
  }
  return scope.Escape(list);
}

// Transform returns a fresh message (id . values + add), built front to back.
weft::Local Transform(weft::Local message, int64_t add) {
  weft::Scope scope("transform");
  weft::Local head = weft::Cons(weft::Car(message), weft::Local::Nil());
  weft::Local tail = weft::Local::New(head.get());
  weft::Local p = weft::Cdr(message);
  while (!p.IsNil()) {
    weft::Scope step("append");
    weft::Local cell =
        weft::Cons(weft::Fixnum(weft::FixnumValue(weft::Car(p)) + add), weft::Local::Nil());
    weft::SetCdr(tail, cell);
    tail.Set(cell);
    p.Set(weft::Cdr(p));
  }
  return scope.Escape(head);
}

// Consumer state, written only by the consumer thread and read after it is joined.
struct Result {
  std::vector<bool> seen;
  int64_t received = 0;
  int64_t values = 0;
  std::string error;  // the first failure
};

void Fail(Result* r, std::string message) {
  if (r->error.empty()) r->error = std::move(message);
}

// Check verifies one message arriving at the consumer.
void Check(weft::Local message, const Config& c, int64_t added, Result* r) {
  weft::Scope scope("check");
  if (!message.Is(weft::Kind::kPair)) return Fail(r, "a message is not a pair");
  int64_t id = weft::FixnumValue(weft::Car(message));
  int64_t producer = id / kIdsPerProducer, seq = id % kIdsPerProducer;
  if (id < 0 || producer >= c.producers || seq >= c.messages) {
    return Fail(r, absl::StrCat("message with an unknown id ", id));
  }
  size_t index = static_cast<size_t>(producer * c.messages + seq);
  if (r->seen[index]) return Fail(r, absl::StrCat("message ", id, " arrived twice"));
  r->seen[index] = true;
  ++r->received;
  int j = 0;
  for (weft::Local p = weft::Cdr(message); !p.IsNil(); p.Set(weft::Cdr(p)), ++j) {
    weft::Scope step("value");
    int64_t v = weft::FixnumValue(weft::Car(p));
    if (v != id + j + added) {
      return Fail(r, absl::StrCat("message ", id, " value ", j, " is ", v, ", expected ",
                                  id + j + added));
    }
    ++r->values;
  }
  if (j != c.length) {
    Fail(r, absl::StrCat("message ", id, " has ", j, " values, expected ", c.length));
  }
}

int Pipeline(const Config& c, size_t capacity) {
  weft::Scope scope("pipeline");
  const absl::Time start = absl::Now();
  std::vector<weft::Channel> channels;
  for (int s = 0; s <= c.stages; ++s) channels.push_back(weft::Channel::Make(capacity));

  std::vector<weft::Thread> producers;
  for (int p = 0; p < c.producers; ++p) {
    producers.push_back(weft::Spawn(
        [out = channels[0], p, c]() mutable {
          weft::Scope s("producer");
          for (int i = 0; i < c.messages; ++i) {
            weft::Scope m("message");
            int64_t id = p * kIdsPerProducer + i;
            out.Send(weft::Cons(weft::Fixnum(id), MakeValues(id, c.length)));
          }
          return s.Escape(s.Fixnum(c.messages));  // outlives s ([runtime.inv.result-live])
        },
        {.name = absl::StrCat("producer-", p)}));
  }

  std::vector<std::vector<weft::Thread>> stages(c.stages);
  for (int s = 1; s <= c.stages; ++s) {
    for (int f = 0; f < c.fanout; ++f) {
      stages[s - 1].push_back(weft::Spawn(
          [in = channels[s - 1], out = channels[s], s]() mutable {
            weft::Scope st("stage");
            int64_t forwarded = 0;
            while (true) {
              weft::Scope m("message");
              std::optional<weft::Local> message = in.Recv();
              if (!message) break;
              out.Send(Transform(*message, s));
              ++forwarded;
            }
            return st.Escape(st.Fixnum(forwarded));
          },
          {.name = absl::StrCat("stage-", s, "-", f)}));
    }
  }

  Result result;
  result.seen.assign(static_cast<size_t>(c.producers) * c.messages, false);
  const int64_t added = int64_t{c.stages} * (c.stages + 1) / 2;
  weft::Thread consumer = weft::Spawn(
      [in = channels[c.stages], &c, added, &result]() mutable {
        weft::Scope st("consumer");
        while (true) {
          weft::Scope m("message");
          std::optional<weft::Local> message = in.Recv();
          if (!message) break;
          Check(*message, c, added, &result);
        }
        return st.Escape(st.Fixnum(result.received));
      },
      {.name = "consumer"});

  // Shut down in order: each channel closes once everything writing it has ended.
  int64_t sent = 0;
  for (weft::Thread& t : producers) {
    weft::Scope j("join");
    sent += weft::FixnumValue(t.Join());
  }
  channels[0].Close();
  for (int s = 1; s <= c.stages; ++s) {
    int64_t forwarded = 0;
    for (weft::Thread& t : stages[s - 1]) {
      weft::Scope j("join");
      forwarded += weft::FixnumValue(t.Join());
    }
    channels[s].Close();
    if (forwarded != sent) {
      Fail(&result, absl::StrCat("stage ", s, " forwarded ", forwarded, " of ", sent));
    }
  }
  int64_t consumed = weft::FixnumValue(consumer.Join());
  const int64_t expected = int64_t{c.producers} * c.messages;
  if (consumed != expected || sent != expected) {
    Fail(&result, absl::StrCat("sent ", sent, ", consumed ", consumed, ", expected ", expected));
  }
  for (size_t i = 0; i < result.seen.size() && result.error.empty(); ++i) {
    if (!result.seen[i]) Fail(&result, absl::StrCat("message #", i, " never arrived"));
  }
  if (!result.error.empty()) {
    std::fprintf(stderr, "producer_consumer: FAILED: %s\n", result.error.c_str());
    return 1;
  }
  const weft::Stats stats = weft::GetStats();
  std::printf("producer_consumer: %lld messages (%lld values) through %d stages x %d threads "
              "in %.1f ms, each exactly once\n",
              static_cast<long long>(consumed), static_cast<long long>(result.values),
              c.stages, c.fanout, absl::ToDoubleMilliseconds(absl::Now() - start));
  std::printf("collections per generation: [%s], max pause %.3f ms, %llu threads spawned\n",
              absl::StrJoin(stats.collections, ", ").c_str(),
              absl::ToDoubleMilliseconds(stats.max_pause),
              static_cast<unsigned long long>(stats.threads_total_spawned));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const Config c{absl::GetFlag(FLAGS_producers), absl::GetFlag(FLAGS_messages),
                 absl::GetFlag(FLAGS_stages), absl::GetFlag(FLAGS_fanout),
                 absl::GetFlag(FLAGS_length)};
  if (c.producers < 1 || c.messages < 1 || c.messages > kIdsPerProducer || c.stages < 0 ||
      c.fanout < 1 || c.length < 0 || absl::GetFlag(FLAGS_capacity) < 0) {
    std::fprintf(stderr, "producer_consumer: bad flags (see --help)\n");
    return 2;
  }
  weft::Options options;
  options.workers = absl::GetFlag(FLAGS_workers);
  options.gc_stress_every = absl::GetFlag(FLAGS_gc_stress);
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "producer_consumer: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  const size_t capacity = static_cast<size_t>(absl::GetFlag(FLAGS_capacity));
  absl::StatusOr<int> code = (*runtime)->Run([&c, capacity] { return Pipeline(c, capacity); });
  if (!code.ok()) {
    std::fprintf(stderr, "producer_consumer: FAILED: %s\n", code.status().ToString().c_str());
    return 1;
  }
  return *code;
}
