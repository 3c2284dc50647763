#include "threads/local_key.h"

#include <atomic>

#include "runtime/check.h"
#include "threads/scheduler_impl.h"

namespace weft::threads {
namespace {

constexpr int kMaxKeys = 1024;
std::atomic<int> next_key{0};
std::atomic<void (*)(void*)> destructors[kMaxKeys];

}  // namespace

LocalKey::LocalKey(void (*destructor)(void*)) : index_(next_key.fetch_add(1)) {
  WEFT_CHECK(index_ < kMaxKeys, "weft: too many LocalKeys (at most 1024)");
  destructors[index_].store(destructor);
}

void* LocalKey::Get() const {
  GreenThread* t = internal::CurrentThread();
  WEFT_CHECK(t != nullptr, "weft: LocalKey::Get outside a green thread");
  return index_ < static_cast<int>(t->locals.size()) ? t->locals[index_] : nullptr;
}

void LocalKey::Set(void* value) const {
  GreenThread* t = internal::CurrentThread();
  WEFT_CHECK(t != nullptr, "weft: LocalKey::Set outside a green thread");
  if (index_ >= static_cast<int>(t->locals.size())) t->locals.resize(index_ + 1, nullptr);
  t->locals[index_] = value;
}

void RunLocalDestructors(GreenThread* t) {
  // A destructor may set other keys: repeat a few rounds, as pthreads does.
  for (int round = 0; round < 4 && !t->locals.empty(); ++round) {
    std::vector<void*> values;
    values.swap(t->locals);
    for (size_t i = 0; i < values.size(); ++i) {
      auto d = destructors[i].load();
      if (values[i] != nullptr && d != nullptr) d(values[i]);
    }
  }
  t->locals.clear();
}

}  // namespace weft::threads
