// image.cc: Weft Lisp images (tools/lisp/DESIGN.md "Images").
//
// An image's one root is a vector:
//   [0] "weft-lisp-image/1"
//   [1] the sources: a vector of (file . text), every program text run, in order
//   [2] the number of compiled lambdas once those sources are compiled (a fixnum)
//   [3] the globals: a vector of (name . value), every global bound by the program
//   [4] the symbol names: a vector of strings, indexed by the saving process's ids
//   [5] the builtin names: a vector of strings, indexed as saved primitives refer to
// Records whose raw bytes hold native pointers are translated while saving and back
// afterwards: a procedure's Lambda* becomes its index in compilation order, a
// primitive's Prim* an index into [5]. Loading recompiles [1] without evaluating it
// (compilation is deterministic, so the lambdas come back in the same order), then
// translates the indexes back, re-interns symbols by name (reusing the symbol record
// this process already has, if any) and binds the globals. Threads, channels,
// mutexes and wait groups are native objects and cannot be saved.
#include <cstring>
#include <unordered_map>
#include "absl/container/flat_hash_set.h"

#include "absl/strings/str_cat.h"
#include "tools/lisp/ast.h"
#include "tools/lisp/compiler.h"
#include "tools/lisp/interp.h"
#include "tools/lisp/reader.h"

namespace weft::lisp {
namespace {

constexpr const char* kImageTag = "weft-lisp-image/1";
constexpr size_t kImageSlots = 6;

template <class T>
T ReadRawField(Local record) {
  T v;
  std::memcpy(&v, RecordRaw(record), sizeof v);
  return v;
}

template <class T>
void WriteRawField(Local record, T v) {
  std::memcpy(RecordRaw(record), &v, sizeof v);
}

struct ImageFailure {
  std::string message;
};

}  // namespace

// ImageWalk visits every object reachable from a root once, with no allocation on
// the way (so the raw words it remembers stay valid: nothing can collect).
// on_record(record) sees each record; canon(value) may replace a slot's value (the
// slot is rewritten through the write barrier).
class ImageWalk {
 public:
  explicit ImageWalk(Interp& in) : in_(in) {}

  template <class OnRecord, class Canon>
  void Run(Local root, OnRecord&& on_record, Canon&& canon) {
    std::vector<uint64_t> stack = {root.get().raw};
    while (!stack.empty()) {
      Scope step("image-walk");
      Local o = Local::New(Value{stack.back()});
      stack.pop_back();
      Kind k = o.kind();
      if (k != Kind::kPair && k != Kind::kVector && k != Kind::kRecord) continue;
      if (!seen_.insert(o.get().raw).second) continue;
      auto visit = [&](Local child, auto&& store) {
        Local c = canon(child);
        if (!c.Eq(child)) store(c);
        Kind ck = c.kind();
        if (ck == Kind::kPair || ck == Kind::kVector || ck == Kind::kRecord) stack.push_back(c.get().raw);
      };
      if (k == Kind::kPair) {
        visit(Car(o), [&](Local c) { SetCar(o, c); });
        visit(Cdr(o), [&](Local c) { SetCdr(o, c); });
      } else if (k == Kind::kVector) {
        size_t n = VectorLength(o);
        for (size_t i = 0; i < n; ++i) {
          Scope slot("image-slot");
          visit(VectorRef(o, i), [&](Local c) { VectorSet(o, i, c); });
        }
      } else {
        on_record(o);
        uint32_t refs = RefSlots(RecordTypeOf(o).id);
        for (uint32_t i = 0; i < refs; ++i) {
          visit(RecordRef(o, i), [&](Local c) { RecordSet(o, i, c); });
        }
      }
    }
  }

  // RefSlots: the reference slots of the interpreter's record types.
  uint32_t RefSlots(uint32_t type) const {
    if (type == in_.closure_type_.id) return 1;
    if (type == in_.condition_type_.id) return 4;
    return 0;
  }

 private:
  Interp& in_;
  absl::flat_hash_set<uint64_t> seen_;
};

namespace {

Local StringVector(const std::vector<std::string>& items) {
  Scope s("image-strings");
  Local v = MakeVector(items.size(), Local::Nil());
  for (size_t i = 0; i < items.size(); ++i) {
    Scope step("image-string");
    VectorSet(v, i, MakeString(items[i]));
  }
  return s.Escape(v);
}

}  // namespace

int Interp::SaveImage(const std::string& path) {
  Scope s("save-image");
  std::string prefix = absl::StrCat("weft: image ", path, ": ");
  // The globals the program bound (builtins still holding their primitive are not
  // saved: the loading process has them).
  std::vector<GlobalVar*> vars;
  for (GlobalVar& var : globals_) {
    if (var.prim.load() != nullptr) continue;
    Scope step("image-global");
    if (IsUnboundRaw(var.value.Get())) continue;
    vars.push_back(&var);
  }
  std::unordered_map<const Lambda*, uint64_t> lambda_index;
  for (size_t i = 0; i < lambdas_.size(); ++i) lambda_index[lambdas_[i].get()] = i;
  std::vector<std::string> prim_names;
  std::unordered_map<const Prim*, uint64_t> prim_index;
  // Pass 1: find the records to translate, refusing native objects. No allocation
  // happens until the translation is done, so the raw words stay valid.
  std::vector<uint64_t> closures, prims;
  std::string error;
  {
    ImageWalk walk(*this);
    for (GlobalVar* var : vars) {
      Scope step("image-global");
      walk.Run(
          var->value.Get(),
          [&](Local r) {
            uint32_t t = RecordTypeOf(r).id;
            if (t == closure_type_.id) {
              closures.push_back(r.get().raw);
            } else if (t == prim_type_.id) {
              prims.push_back(r.get().raw);
            } else if (error.empty() && (t == thread_type_.id || t == channel_type_.id ||
                                         t == mutex_type_.id || t == waitgroup_type_.id)) {
              error = absl::StrCat("global '", var->name, "' reaches a ", std::string(RecordTypeName(RecordTypeOf(r))),
                                   ", a native object that an image cannot hold");
            }
          },
          [](Local v) { return v; });
      // The global's own value, when it is itself a record, was seen by on_record.
    }
  }
  if (!error.empty()) {
    WriteErr(absl::StrCat(prefix, error, "\n"));
    return 1;
  }
  for (uint64_t raw : closures) {
    Scope step("image-closure");
    Local c = Local::New(Value{raw});
    WriteRawField<uint64_t>(c, lambda_index.at(ReadRawField<const Lambda*>(c)));
  }
  for (uint64_t raw : prims) {
    Scope step("image-prim");
    Local p = Local::New(Value{raw});
    const Prim* prim = ReadRawField<const Prim*>(p);
    auto [it, fresh] = prim_index.emplace(prim, prim_names.size());
    if (fresh) prim_names.push_back(prim->name);
    WriteRawField<uint64_t>(p, it->second);
  }
  // Build the root (allocation from here on; the translated records may move).
  std::vector<std::string> names(symbol_names_.begin(), symbol_names_.end());
  Local root = MakeVector(kImageSlots, Local::Nil());
  VectorSet(root, 0, MakeString(kImageTag));
  Local sources = MakeVector(sources_.size(), Local::Nil());
  VectorSet(root, 1, sources);
  for (size_t i = 0; i < sources_.size(); ++i) {
    Scope step("image-source");
    VectorSet(sources, i, Cons(MakeString(sources_[i].first), MakeString(sources_[i].second)));
  }
  VectorSet(root, 2, Fixnum(static_cast<int64_t>(lambdas_.size())));
  Local globals = MakeVector(vars.size(), Local::Nil());
  VectorSet(root, 3, globals);
  for (size_t i = 0; i < vars.size(); ++i) {
    Scope step("image-global");
    VectorSet(globals, i, Cons(MakeString(vars[i]->name), vars[i]->value.Get()));
  }
  VectorSet(root, 4, StringVector(names));
  VectorSet(root, 5, StringVector(prim_names));
  Local roots[] = {root};
  absl::Status status = weft::SaveImage(path, roots);
  // Translate back: this process may go on running its procedures.
  {
    std::vector<uint64_t> back_closures, back_prims;
    ImageWalk walk(*this);
    walk.Run(
        globals,
        [&](Local r) {
          uint32_t t = RecordTypeOf(r).id;
          if (t == closure_type_.id) back_closures.push_back(r.get().raw);
          if (t == prim_type_.id) back_prims.push_back(r.get().raw);
        },
        [](Local v) { return v; });
    for (uint64_t raw : back_closures) {
      Scope step("image-closure");
      Local c = Local::New(Value{raw});
      WriteRawField<const Lambda*>(c, lambdas_[ReadRawField<uint64_t>(c)].get());
    }
    std::vector<const Prim*> by_index(prim_names.size());
    for (auto& [prim, index] : prim_index) by_index[index] = prim;
    for (uint64_t raw : back_prims) {
      Scope step("image-prim");
      Local p = Local::New(Value{raw});
      WriteRawField<const Prim*>(p, by_index[ReadRawField<uint64_t>(p)]);
    }
  }
  if (!status.ok()) {
    WriteErr(absl::StrCat("weft: ", status.message(), "\n"));
    return 1;
  }
  return 0;
}

int Interp::LoadImage(const std::string& path) {
  Scope s("load-image");
  std::string prefix = absl::StrCat("weft: image ", path, ": ");
  // [lisp.image.fixups]: the loader lists the records whose raw bytes hold saved
  // indexes (procedures, primitives, symbols) or that cannot be saved (threads and
  // other native objects), and makes every reference to a saved eof or unspecified
  // object this process's, in its own relocation pass: no walk over the loaded graph.
  ImageLoadOptions options;
  options.list = {closure_type_, prim_type_, symbol_type_, thread_type_, channel_type_, mutex_type_,
                  waitgroup_type_};
  options.share = {{eof_type_, Eof()}, {void_type_, Void()}};
  absl::StatusOr<LoadedImage> loaded = weft::LoadImage(path, options);
  if (!loaded.ok()) {
    std::string m(loaded.status().message());
    WriteErr(absl::StrCat(m.rfind("weft:", 0) == 0 ? "" : "weft: ", m, "\n"));
    return 1;
  }
  std::vector<Local>* roots = &loaded->roots;
  Local listed = loaded->listed;
  try {
    auto fail = [&](const std::string& what) { throw ImageFailure{what}; };
    auto vector_of = [&](Local v, const char* what) {
      if (!v.Is(Kind::kVector)) fail(absl::StrCat("not a Weft Lisp image (", what, " is not a vector)"));
      return VectorLength(v);
    };
    auto string_of = [&](Local v, const char* what) {
      if (!v.Is(Kind::kString)) fail(absl::StrCat("not a Weft Lisp image (", what, " is not a string)"));
      return std::string(StringView(v));
    };
    if (roots->size() != 1) fail(absl::StrCat("not a Weft Lisp image (", roots->size(), " roots, expected 1)"));
    Local root = (*roots)[0];
    if (vector_of(root, "the root") != kImageSlots || !VectorRef(root, 0).Is(Kind::kString) ||
        StringView(VectorRef(root, 0)) != kImageTag) {
      fail(absl::StrCat("not a Weft Lisp image (no '", kImageTag, "' tag)"));
    }
    std::vector<std::string> symbol_names;
    Local sym_vec = VectorRef(root, 4), prim_vec = VectorRef(root, 5);
    for (size_t i = 0, n = vector_of(sym_vec, "the symbol names"); i < n; ++i) {
      Scope step("image-symbol");
      symbol_names.push_back(string_of(VectorRef(sym_vec, i), "a symbol name"));
    }
    std::vector<const Prim*> prims;
    for (size_t i = 0, n = vector_of(prim_vec, "the builtin names"); i < n; ++i) {
      Scope step("image-prim");
      std::string name = string_of(VectorRef(prim_vec, i), "a builtin name");
      auto it = prims_by_name_.find(name);
      if (it == prims_by_name_.end()) fail(absl::StrCat("builtin '", name, "' does not exist in this weft"));
      prims.push_back(it->second);
    }
    // Symbols first, so that recompiling the sources finds the loaded symbol records
    // for its quoted data. A saved symbol becomes this process's symbol of its name;
    // where this process already has a record for the name (or the image holds two),
    // every reference to the saved one is redirected by a walk (rare: the only
    // records made before a load are start-up's).
    const size_t nlisted = VectorLength(listed);
    // Held by Globals: recompiling allocates, and a collection may move the records.
    std::vector<std::pair<std::unique_ptr<weft::Global>, const weft::Global*>> symbol_redirects;
    for (size_t i = 0; i < nlisted; ++i) {
      Scope step("image-symbol");
      Local r = VectorRef(listed, i);
      if (RecordTypeOf(r).id != symbol_type_.id) continue;
      uint32_t old_id = ReadRawField<uint32_t>(r);
      if (old_id >= symbol_names.size()) {
        fail(absl::StrCat("not a valid Weft Lisp image (a symbol has id ", old_id, " of ", symbol_names.size(), ")"));
      }
      uint32_t id = Intern(symbol_names[old_id]);
      std::lock_guard<std::mutex> lock(mu_);
      if (!symbol_objects_[id]) {
        WriteRawField<uint32_t>(r, id);
        symbol_objects_[id] = std::make_unique<weft::Global>(r);
      } else {
        symbol_redirects.emplace_back(std::make_unique<weft::Global>(r), symbol_objects_[id].get());
      }
    }
    // Recompile the sources, in order, without evaluating them.
    Local sources = VectorRef(root, 1);
    size_t nsources = vector_of(sources, "the sources");
    std::vector<std::pair<std::string, std::string>> texts;
    for (size_t i = 0; i < nsources; ++i) {
      Scope step("image-source");
      Local entry = VectorRef(sources, i);
      if (!entry.Is(Kind::kPair)) fail("not a Weft Lisp image (a source entry is not a pair)");
      texts.emplace_back(string_of(Car(entry), "a source name"), string_of(Cdr(entry), "a source text"));
    }
    for (auto& [file, text] : texts) {
      Reader reader(text, file);
      Compiler compiler(*this, file);
      Datum d;
      while (reader.Read(&d)) {
        Scope form("image-compile");
        compiler.CompileToplevel(d);
      }
      sources_.emplace_back(file, text);
    }
    Local count = VectorRef(root, 2);
    if (!count.IsFixnum() || FixnumValue(count) != static_cast<int64_t>(lambdas_.size())) {
      fail(absl::StrCat("its sources compile to ", lambdas_.size(), " procedures, the image expects ",
                        count.IsFixnum() ? FixnumValue(count) : -1, " (saved by a different weft build?)"));
    }
    // Translate the other listed records back. A bad index leaves a valid pointer
    // behind (the first lambda or builtin) before the load is refused.
    std::string error;
    for (size_t i = 0; i < nlisted; ++i) {
      Scope step("image-record");
      Local r = VectorRef(listed, i);
      uint32_t t = RecordTypeOf(r).id;
      if (t == closure_type_.id) {
        uint64_t k = ReadRawField<uint64_t>(r);
        if (k >= lambdas_.size()) {
          if (error.empty()) error = absl::StrCat("a procedure refers to lambda ", k, " of ", lambdas_.size());
          k = 0;
        }
        WriteRawField<const Lambda*>(r, lambdas_.empty() ? nullptr : lambdas_[k].get());
      } else if (t == prim_type_.id) {
        uint64_t k = ReadRawField<uint64_t>(r);
        if (k >= prims.size()) {
          if (error.empty()) error = absl::StrCat("a primitive refers to builtin ", k, " of ", prims.size());
          k = 0;
        }
        WriteRawField<const Prim*>(r, prims.empty() ? nullptr : prims[k]);
      } else if (t != symbol_type_.id) {
        if (error.empty()) error = absl::StrCat("it holds a ", std::string(RecordTypeName(RecordTypeOf(r))));
      }
    }
    if (!error.empty()) fail(absl::StrCat("not a valid Weft Lisp image (", error, ")"));
    Local globals = VectorRef(root, 3);
    size_t nglobals = vector_of(globals, "the globals");
    if (!symbol_redirects.empty()) {
      // The walk allocates nothing, so raw addresses stay valid through it.
      std::unordered_map<uint64_t, const weft::Global*> symbol_canon;
      for (const auto& [saved, canon] : symbol_redirects) symbol_canon[saved->Get().get().raw] = canon;
      ImageWalk walk(*this);
      walk.Run(
          globals, [](Local) {},
          [&](Local v) -> Local {
            if (v.kind() != Kind::kRecord) return v;
            auto it = symbol_canon.find(v.get().raw);
            return it == symbol_canon.end() ? v : it->second->Get();
          });
    }
    for (size_t i = 0; i < nglobals; ++i) {
      Scope step("image-global");
      Local entry = VectorRef(globals, i);
      if (!entry.Is(Kind::kPair)) fail("not a Weft Lisp image (a global entry is not a pair)");
      GlobalVar* var = LookupGlobal(string_of(Car(entry), "a global name"));
      SetGlobal(var, Cdr(entry));
    }
  } catch (const ImageFailure& f) {
    WriteErr(absl::StrCat(prefix, f.message, "\n"));
    return 1;
  } catch (const ReadError& e) {
    WriteErr(absl::StrCat(prefix, "its sources do not read: ", e.what(), "\n"));
    return 1;
  }
  return 0;
}

}  // namespace weft::lisp
