// corpus_driver.cc: the main of every fuzz target's cc_test (fuzz.bzl).
//
// Runs every file under each directory (or each file) named on the command line
// through LLVMFuzzerTestOneInput, in sorted order, then a short unguided mutation
// pass over the same inputs: random byte flips, insertions, deletions and splices,
// for WEFT_FUZZ_MUTATIONS inputs (default 200; fewer under sanitizers) from a seed
// it prints (WEFT_SEED replays it). A crash is a crash of the test; the input that
// caused it is written to $TEST_UNDECLARED_OUTPUTS_DIR (or /tmp) first, as
// crash-<hash>, so it can be copied into regressions/.
//
// libFuzzer builds (tools/dev fuzz) do not link this file: they use libFuzzer's main.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
constexpr int kDefaultMutations = 50;
#else
constexpr int kDefaultMutations = 200;
#endif

void ListFiles(const std::string& path, std::vector<std::string>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  if (S_ISREG(st.st_mode)) {
    out->push_back(path);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == ".keep" || name == "README.md") continue;
    ListFiles(path + "/" + name, out);
  }
  closedir(dir);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Written before each mutated input runs, so a crash leaves it behind.
std::string PendingPath() {
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/weft-fuzz-pending-input";
}

std::string Mutate(std::mt19937_64& rng, const std::vector<std::string>& inputs) {
  std::string s = inputs.empty() ? std::string() : inputs[rng() % inputs.size()];
  int steps = 1 + static_cast<int>(rng() % 8);
  for (int k = 0; k < steps; ++k) {
    switch (rng() % 5) {
      case 0:
        if (!s.empty()) s[rng() % s.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        s.insert(s.begin() + static_cast<long>(s.empty() ? 0 : rng() % (s.size() + 1)),
                 static_cast<char>(rng()));
        break;
      case 2:
        if (!s.empty()) s.erase(rng() % s.size(), 1 + rng() % 4);
        break;
      case 3:
        if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng());
        break;
      case 4:
        if (!inputs.empty()) {
          const std::string& o = inputs[rng() % inputs.size()];
          if (!o.empty()) {
            size_t from = rng() % o.size();
            s.insert(s.empty() ? 0 : rng() % s.size(), o.substr(from, 1 + rng() % 16));
          }
        }
        break;
    }
  }
  if (s.size() > 4096) s.resize(4096);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) ListFiles(argv[i], &files);
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "corpus_driver: no input files under the given paths\n");
    return 1;
  }
  std::vector<std::string> inputs;
  for (const std::string& f : files) {
    std::string data = ReadFile(f);
    std::printf("replay %s (%zu bytes)\n", f.c_str(), data.size());
    std::fflush(stdout);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    inputs.push_back(std::move(data));
  }
  const char* env_seed = std::getenv("WEFT_SEED");
  uint64_t seed = env_seed != nullptr ? std::strtoull(env_seed, nullptr, 10)
                                      : std::random_device{}();
  const char* env_n = std::getenv("WEFT_FUZZ_MUTATIONS");
  int mutations = env_n != nullptr ? std::atoi(env_n) : kDefaultMutations;
  std::printf("mutation pass: seed %llu (replay with WEFT_SEED=%llu), %d inputs\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed),
              mutations);
  std::mt19937_64 rng(seed);
  std::string pending = PendingPath();
  for (int i = 0; i < mutations; ++i) {
    std::string m = Mutate(rng, inputs);
    {
      std::ofstream out(pending, std::ios::binary | std::ios::trunc);
      out.write(m.data(), static_cast<std::streamsize>(m.size()));
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(m.data()), m.size());
  }
  std::remove(pending.c_str());
  std::printf("corpus_driver: %zu corpus files and %d mutations ran clean\n", files.size(),
              mutations);
  return 0;
}
