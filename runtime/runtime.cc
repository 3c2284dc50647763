// weft::Runtime and the free functions of weft.h that act on the running runtime.
#include "runtime/runtime_impl.h"
#include "runtime/heap_inspect.h"
#include "runtime/stack_dump.h"

namespace weft {

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Create(const Options& options) {
  absl::StatusOr<std::unique_ptr<RuntimeImpl>> impl = RuntimeImpl::Create(options);
  if (!impl.ok()) return impl.status();
  return std::unique_ptr<Runtime>(new Runtime(std::move(*impl)));
}

Runtime::Runtime(std::unique_ptr<RuntimeImpl> impl) : impl_(std::move(impl)) {}
Runtime::~Runtime() = default;

absl::StatusOr<int> Runtime::Run(std::function<int()> main) { return impl_->Run(std::move(main)); }

Stats Runtime::GetStats() const { return impl_->GetStats(); }

void Collect(int generation) { RuntimeImpl::Current().Collect(generation, /*compact=*/false); }

void SetSoftHeapLimit(size_t bytes) {
  heap::Heap& h = RuntimeImpl::Current().heap();
  h.SetSoftLimit(bytes == 0 ? h.options().hard_limit_bytes : bytes);
}

size_t SoftHeapLimit() { return RuntimeImpl::Current().heap().soft_limit(); }

Stats GetStats() { return RuntimeImpl::Current().GetStats(); }

size_t ReleaseFreeMemory() { return RuntimeImpl::Current().arena().ReleaseFreeMemory(); }

std::string DumpStacks(const DumpOptions& options) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  std::string out;
  rt.WithWorldStopped([&] { out = BuildDump(rt.heap(), rt.scheduler(), options); });
  return out;
}

std::vector<CensusEntry> HeapCensus() {
  RuntimeImpl& rt = RuntimeImpl::Current();
  std::vector<CensusEntry> out;
  rt.WithWorldStopped([&] { out = BuildCensus(rt.heap()); });
  return out;
}

std::string HeapCensusText(bool json) { return FormatCensus(HeapCensus(), json); }

std::vector<std::string> PathFromRoot(Local v) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  std::vector<std::string> out;
  rt.WithWorldStopped([&] { out = rt.PathTo(ToHeap(v.get()), RuntimeImpl::SlotOf(v)); });
  return out;
}

}  // namespace weft
