#include "tests/reliability/workload.h"

#include <atomic>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/weft.h"

namespace weft::reliability {
namespace {

Local BuildList(int n, int64_t base) {
  Scope scope("BuildList");
  Local list = Local::Nil();
  for (int i = 0; i < n; ++i) {
    Scope inner("cons");
    list.Set(Cons(Fixnum(base + i), list));
  }
  return scope.Escape(list);
}

int64_t SumList(Local list) {
  Scope scope("SumList");
  int64_t sum = 0;
  Local p = Local::New(list.get());
  while (!p.IsNil()) {
    Scope inner("step");
    sum += FixnumValue(Car(p));
    p.Set(Cdr(p));
  }
  return sum;
}

}  // namespace

WorkloadResult RunWorkload(int workers, int threads, int messages, int list_length) {
  WorkloadResult result;
  Options o;
  o.workers = workers;
  o.nursery_bytes = 256 << 10;
  o.heap_initial_bytes = 1 << 20;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  absl::StatusOr<std::unique_ptr<Runtime>> rt = absl::UnknownError("not created");
  try {
    rt = Runtime::Create(o);
  } catch (const std::exception& e) {
    result.outcome = WorkloadOutcome::kEscaped;
    result.detail = absl::StrCat("exception escaped Runtime::Create: ", e.what());
    return result;
  }
  if (!rt.ok()) {
    result.outcome = WorkloadOutcome::kCreateFailed;
    result.detail = rt.status().ToString();
    return result;
  }
  std::atomic<int> exhausted{0};
  std::atomic<bool> lost{false};
  std::string lost_detail;
  absl::StatusOr<int> run = absl::UnknownError("not run");
  try {
  run = (*rt)->Run([&]() -> int {
    try {
      Scope scope("workload-main");
      Channel ch = Channel::Make(4);
      std::vector<Thread> producers;
      for (int p = 0; p < threads; ++p) {
        producers.push_back(Spawn(
            [&, ch, p]() mutable -> Local {
              Scope s("producer");
              int sent = 0;
              for (int i = 0; i < messages; ++i) {
                Scope m("message");
                try {
                  Local body = BuildList(list_length, i);
                  Local tag = MakeString(absl::StrCat("p", p, "m", i));
                  Local v = MakeVector(3, Local::Nil());
                  VectorSet(v, 0, Fixnum(p * 100000 + i));
                  VectorSet(v, 1, body);
                  VectorSet(v, 2, tag);
                  ch.Send(v);
                  ++sent;
                } catch (const HeapExhausted&) {
                  exhausted.fetch_add(1);
                  // Send a placeholder so the receiver's count stays exact.
                  ch.Send(Fixnum(-1));
                }
              }
              return s.Escape(s.Fixnum(sent));
            },
            {.name = "producer"}));
      }
      std::set<int64_t> seen;
      int placeholders = 0;
      for (int k = 0; k < threads * messages; ++k) {
        Scope r("receive");
        std::optional<Local> msg = ch.Recv();
        if (!msg.has_value()) {
          lost = true;
          break;
        }
        if (msg->IsFixnum()) {
          ++placeholders;
          continue;
        }
        int64_t id = FixnumValue(VectorRef(*msg, 0));
        int64_t i = id % 100000;
        int64_t want = list_length * i + int64_t{list_length} * (list_length - 1) / 2;
        std::string tag = absl::StrCat("p", id / 100000, "m", i);
        if (!seen.insert(id).second || SumList(VectorRef(*msg, 1)) != want ||
            StringView(VectorRef(*msg, 2)) != tag) {
          lost = true;
        }
        if (k % 16 == 0) Collect(k % 32 == 0 ? -1 : 0);
      }
      // Large objects then full collections, which free them, and ReleaseFreeMemory,
      // which decommits what the arena kept for reuse ([heap.arena.retain]).
      {
        Scope big("large-objects");
        Local keep = Local::Nil();
        for (int i = 0; i < 24; ++i) {
          Scope one("large");
          keep.Set(Cons(MakeVector(128 << 10, Fixnum(i)), keep));  // 1 MiB each
        }
        keep.Set(Local::Nil());
        Collect(-1);
        Collect(-1);
        ReleaseFreeMemory();
      }
      int64_t sent = 0;
      for (Thread& t : producers) {
        Scope j("join");
        sent += FixnumValue(t.Join());
      }
      if (sent != static_cast<int64_t>(seen.size()) ||
          static_cast<int>(seen.size()) + placeholders != threads * messages) {
        lost = true;
      }
    } catch (const HeapExhausted& e) {
      exhausted.fetch_add(1);
      return 12;
    }
    return 0;
  });
  } catch (const std::exception& e) {
    result.outcome = WorkloadOutcome::kEscaped;
    result.detail = absl::StrCat("exception escaped Runtime::Run: ", e.what());
    return result;
  }
  if (!run.ok()) {
    result.outcome = WorkloadOutcome::kRunFailed;
    result.detail = run.status().ToString();
  } else if (lost) {
    result.outcome = WorkloadOutcome::kDataLost;
    result.detail = "a message was lost, duplicated or corrupted";
  } else if (exhausted.load() > 0 || *run == 12) {
    result.outcome = WorkloadOutcome::kHeapExhausted;
    result.detail = absl::StrCat(exhausted.load(), " HeapExhausted caught");
  }
  result.heap_exhausted = exhausted.load();
  return result;
}

}  // namespace weft::reliability
