// local_key.h: green-thread local storage.
//
// A LocalKey names one void* slot in every green thread, null until Set. Unlike
// thread_local, the value follows the green thread across workers. The destructor
// given to the key (if any) runs on the thread's own stack when it ends, for
// non-null values. Keys are never reused; creating a key is thread-safe.
#ifndef WEFT_THREADS_LOCAL_KEY_H_
#define WEFT_THREADS_LOCAL_KEY_H_

namespace weft::threads {

class LocalKey {
 public:
  explicit LocalKey(void (*destructor)(void*) = nullptr);
  LocalKey(const LocalKey&) = delete;
  LocalKey& operator=(const LocalKey&) = delete;

  // Get and Set act on the calling green thread (must be one).
  void* Get() const;
  void Set(void* value) const;

 private:
  int index_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_LOCAL_KEY_H_
