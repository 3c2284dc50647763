// api_ops_fuzzer: fuzz bytes -> a sequence of weft API operations on 8 registers
// (Locals in main's frame), checked against a shadow model after every few steps and
// at the end, before and after a full collection.
//
// Operations: fixnum, cons, vector, string, bytes, set-car, set-cdr, vector-set,
// collect(gen), spawn+join (the thread builds a list), channel send/recv through an
// echo thread (identity must survive), copy. The heap is bounded (hard limit 8 MiB,
// nursery 256 KiB) and the sequence to kMaxSteps; a HeapExhausted leaves the model
// unchanged (the operation had no effect) and is allowed.
//
// The shadow model keeps nodes in a vector indexed by id (no reference counting, so
// cycles made by set-car do not leak).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/weft.h"
#include "tests/fuzz/byte_reader.h"

namespace weft::fuzz {
namespace {

constexpr int kRegisters = 8;
constexpr int kMaxSteps = 400;
constexpr size_t kMaxCheckNodes = 2000;

struct Node {
  Kind kind;
  int64_t fixnum = 0;
  std::string bytes;         // string or bytes contents
  std::vector<int> refs;     // pair: {car, cdr}; vector: elements (shadow ids)
};

// Shadow ids: -1 is nil; fixnums are nodes too (immutable), for simplicity.
class Model {
 public:
  int Fix(int64_t v) { return Add({Kind::kFixnum, v, {}, {}}); }
  int Add(Node n) {
    nodes_.push_back(std::move(n));
    return static_cast<int>(nodes_.size()) - 1;
  }
  Node& at(int id) { return nodes_[id]; }
  size_t size() const { return nodes_.size(); }

 private:
  std::vector<Node> nodes_;
};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "api_ops_fuzzer: model mismatch: %s\n", what.c_str());
  std::abort();
}

// Check compares the managed value v with shadow id `id`, breadth first, visiting at
// most kMaxCheckNodes nodes (cycles made by set-car end there). Iterative: deep lists
// must not overflow the green thread's native stack. Nothing here allocates in the
// heap, so the Locals on the work list stay valid.
void Check(Model& m, Local v, int id) {
  Scope scope("Check");
  std::vector<std::pair<Local, int>> work = {{v, id}};
  for (size_t visited = 0; visited < work.size() && visited < kMaxCheckNodes; ++visited) {
    auto [value, node_id] = work[visited];
    if (node_id < 0) {
      if (!value.IsNil()) Fail(absl::StrCat("expected nil, got ", KindName(value.kind())));
      continue;
    }
    const Node& n = m.at(node_id);
    if (value.kind() != n.kind) {
      Fail(absl::StrCat("expected ", KindName(n.kind), ", got ", KindName(value.kind())));
    }
    switch (n.kind) {
      case Kind::kFixnum:
        if (FixnumValue(value) != n.fixnum) Fail("fixnum value");
        break;
      case Kind::kString:
        if (StringView(value) != n.bytes) Fail("string contents");
        break;
      case Kind::kBytes:
        if (BytesLength(value) != n.bytes.size() ||
            std::string(reinterpret_cast<char*>(BytesData(value)), n.bytes.size()) !=
                n.bytes) {
          Fail("bytes contents");
        }
        break;
      case Kind::kPair:
        work.push_back({Car(value), n.refs[0]});
        work.push_back({Cdr(value), n.refs[1]});
        break;
      case Kind::kVector:
        if (VectorLength(value) != n.refs.size()) Fail("vector length");
        for (size_t i = 0; i < n.refs.size() && work.size() < 2 * kMaxCheckNodes; ++i) {
          work.push_back({VectorRef(value, i), n.refs[i]});
        }
        break;
      default:
        Fail("unexpected kind in the model");
    }
  }
}

void CheckAll(Model& m, Local* regs, const int* shadow) {
  for (int r = 0; r < kRegisters; ++r) {
    Check(m, regs[r], shadow[r]);
  }
}

void Program(ByteReader& in) {
  Scope scope("fuzz-main");
  Model m;
  Local regs[kRegisters];
  int shadow[kRegisters];
  for (int r = 0; r < kRegisters; ++r) {
    regs[r] = Local::Nil();
    shadow[r] = -1;
  }
  Channel to_echo = Channel::Make(0), from_echo = Channel::Make(0);
  for (int step = 0; step < kMaxSteps && !in.empty(); ++step) {
    Scope op_scope("op");
    uint8_t op = in.Byte() % 13;
    int d = in.Byte() % kRegisters, a = in.Byte() % kRegisters, b = in.Byte() % kRegisters;
    try {
      switch (op) {
        case 0: {  // fixnum
          int64_t v = static_cast<int16_t>(in.Bits(2));
          regs[d].Set(Fixnum(v));
          shadow[d] = m.Fix(v);
          break;
        }
        case 1: {  // cons
          Local c = Cons(regs[a], regs[b]);
          regs[d].Set(c);
          shadow[d] = m.Add({Kind::kPair, 0, {}, {shadow[a], shadow[b]}});
          break;
        }
        case 2: {  // vector
          size_t len = in.Byte() % 16;
          if (in.Byte() % 16 == 0) len = 1000 + in.Bits(2) * 8;  // sometimes large
          Local v = MakeVector(len, regs[a]);
          regs[d].Set(v);
          shadow[d] = m.Add({Kind::kVector, 0, {}, std::vector<int>(len, shadow[a])});
          break;
        }
        case 3: {  // string
          std::string s = in.String(24);
          Local v = MakeString(s);
          regs[d].Set(v);
          shadow[d] = m.Add({Kind::kString, 0, s, {}});
          break;
        }
        case 4: {  // bytes, pinned or not
          std::string s = in.String(24);
          bool pinned = in.Byte() & 1;
          Local v = MakeBytes(s.size(), pinned);
          if (!s.empty()) std::memcpy(BytesData(v), s.data(), s.size());
          regs[d].Set(v);
          shadow[d] = m.Add({Kind::kBytes, 0, s, {}});
          break;
        }
        case 5:    // set-car
        case 6: {  // set-cdr
          if (shadow[d] < 0 || m.at(shadow[d]).kind != Kind::kPair) break;
          (op == 5 ? SetCar : SetCdr)(regs[d], regs[a]);
          m.at(shadow[d]).refs[op == 5 ? 0 : 1] = shadow[a];
          break;
        }
        case 7: {  // vector-set
          if (shadow[d] < 0 || m.at(shadow[d]).kind != Kind::kVector) break;
          size_t len = m.at(shadow[d]).refs.size();
          if (len == 0) break;
          size_t i = in.Below(len);
          VectorSet(regs[d], i, regs[a]);
          m.at(shadow[d]).refs[i] = shadow[a];
          break;
        }
        case 8:  // collect
          Collect(static_cast<int>(in.Byte() % 4) - 1);
          break;
        case 9: {  // spawn + join: the thread builds a list of n fixnums
          int n = in.Byte() % 64;
          Thread t = Spawn([n] {
            Scope s("builder");
            Local list = Local::Nil();
            for (int i = 0; i < n; ++i) {
              Scope c("cons");
              list.Set(Cons(Fixnum(i), list));
            }
            return s.Escape(list);
          });
          Local got = t.Join();
          int id = -1;
          for (int i = 0; i < n; ++i) id = m.Add({Kind::kPair, 0, {}, {m.Fix(i), id}});
          regs[d].Set(got);
          shadow[d] = id;
          break;
        }
        case 10: {  // channel round trip through an echo thread: identity survives
          Thread echo = Spawn([to_echo, from_echo]() mutable {
            Scope s("echo");
            std::optional<Local> v = to_echo.Recv();
            from_echo.Send(*v);
            return Fixnum(0);
          });
          to_echo.Send(regs[a]);
          std::optional<Local> back = from_echo.Recv();
          echo.Join();
          if (!back.has_value() || !back->Eq(regs[a])) Fail("channel round trip lost identity");
          regs[d].Set(*back);
          shadow[d] = shadow[a];
          break;
        }
        case 11:  // copy
          regs[d].Set(regs[a]);
          shadow[d] = shadow[a];
          break;
        case 12:
          CheckAll(m, regs, shadow);
          break;
      }
    } catch (const HeapExhausted&) {
      // The operation had no effect; the model is unchanged.
    }
    if (step % 32 == 31) CheckAll(m, regs, shadow);
  }
  CheckAll(m, regs, shadow);
  Collect(-1);
  CheckAll(m, regs, shadow);
}

}  // namespace
}  // namespace weft::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weft;
  weft::fuzz::ByteReader in(data, size);
  Options o;
  o.workers = 1 + in.Byte() % 2;
  o.nursery_bytes = 256 << 10;
  o.heap_initial_bytes = 1 << 20;
  o.heap_hard_limit_bytes = 8 << 20;
  o.control_socket = false;
  o.gc_stress_every = in.Byte() % 4 == 0 ? 1 + in.Byte() % 64 : 0;
  auto rt = Runtime::Create(o);
  if (!rt.ok()) {
    std::fprintf(stderr, "api_ops_fuzzer: Create: %s\n", rt.status().ToString().c_str());
    std::abort();
  }
  auto r = (*rt)->Run([&in] {
    weft::fuzz::Program(in);
    return 0;
  });
  if (!r.ok() || *r != 0) {
    std::fprintf(stderr, "api_ops_fuzzer: Run: %s\n",
                 r.ok() ? "nonzero" : r.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
