"""weft_fuzz_target: one fuzz target, built two ways from the same sources.

weft_fuzz_target(name, srcs, deps, corpus, regressions) defines:

  <name>_test   a cc_test built with the default toolchain (gcc) in every config
                (default, checked, asan, tsan). Its main (corpus_driver.cc) runs every
                file under `corpus` and `regressions` through LLVMFuzzerTestOneInput,
                so each committed seed and every crash ever found is replayed by
                `tools/dev test`.
  <name>        a cc_binary linked with -fsanitize=fuzzer (libFuzzer's main), tagged
                manual so `bazel build //...` with gcc skips it. `tools/dev fuzz` builds
                it with `--config=fuzz` (clang, ASan + UBSan, coverage) in its own
                output base and runs it, saving new crashes into `regressions`.

srcs define `extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t)` and
nothing else with external linkage named main. To add a fuzzer (the Lisp reader, the
evaluator, the heap-image loader), write <thing>_fuzzer.cc, commit a few seeds under
corpus/<thing>/, create an empty regressions/<thing>/ (with a .keep file), and add:

  weft_fuzz_target(
      name = "<thing>_fuzzer",
      srcs = ["<thing>_fuzzer.cc"],
      deps = [...],
      corpus = "corpus/<thing>",
      regressions = "regressions/<thing>",
  )

tools/dev fuzz discovers targets with `bazel query 'attr(tags, weft_fuzz, //...)'`.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def weft_fuzz_target(name, srcs, deps = [], corpus = None, regressions = None, size = "medium", copts = []):
    """Defines <name>_test (corpus replay, every config) and <name> (libFuzzer, manual)."""
    corpus_dirs = [d for d in [corpus, regressions] if d]
    data = native.glob([d + "/**" for d in corpus_dirs], exclude_directories = 1)
    cc_test(
        name = name + "_test",
        size = size,
        srcs = srcs,
        copts = copts,
        deps = deps + ["//tests/fuzz:corpus_driver"],
        data = data,
        args = [native.package_name() + "/" + d for d in corpus_dirs],
        tags = ["fuzz_replay"],
    )
    cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        copts = copts,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual", "weft_fuzz"],
    )
