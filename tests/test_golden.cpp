// Golden output hashes: every built-in experiment, run short at two seeds (and Ex 1.7 once at
// batch 512), must write the same metrics.csv and the same checkpoint tensors as when the hashes
// were recorded. A restructuring that moves code must keep them; a change meant to re-round
// (a faster kernel, a fused op) re-records them in the same commit and regenerates every
// documented number.
//
// What is hashed (64-bit FNV-1a): the bytes of metrics.csv, and every checkpoint tensor's name,
// dtype, shape and bytes -- parameters, Adam moments, random-stream states, curves, snapshots.
// The checkpoint's metadata (version, names, options) is left out: it describes the run, it is
// not its arithmetic.
//
// Bits are a contract within one build: the hashes were recorded with the default build
// (-O3 -march=native) on an AVX-512 machine, and are checked only where the build is the same
// kind (AVX-512, not a sanitizer build); elsewhere the case says so and checks nothing.
//
// To re-record: SPHEREGRAD_GOLDEN_PRINT=1 build/run_tests -tc='golden*' prints the table below.
#include <doctest/doctest.h>

#include "tests/test_util.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "examples/experiment/train.hpp"
#include "nn/safetensors.hpp"

using namespace sg;
namespace fs = std::filesystem;

namespace {

struct Golden {
  const char* preset;
  unsigned long long seed;
  int steps, batch;  // batch -1: the preset's
  std::uint64_t metrics, checkpoint;
};

// Steps: long enough to cross each curriculum's first phase boundary (and its `anchor` action).
const Golden kGolden[] = {
    {"ex-1.2", 0, 300, -1, 0x9b59b45b6367e7f7ull, 0x2b58498a675f632bull},
    {"ex-1.2", 1, 300, -1, 0x8da7aa678209c6dfull, 0x637781a5135154a1ull},
    {"ex-1.3", 0, 9100, -1, 0x4682bac82ca41583ull, 0xcb4a5c461eb5838full},
    {"ex-1.3", 1, 9100, -1, 0xeff5c137371f4d39ull, 0x071a9cd35c8d22d1ull},
    {"ex-1.5", 0, 10100, -1, 0x2ba03a04a774af9full, 0x64b59053be30e8b4ull},
    {"ex-1.5", 1, 10100, -1, 0x77dc04d90e3d64f0ull, 0x60c5a1e7f32d9c06ull},
    {"ex-1.5-original", 0, 10100, -1, 0xb1788aeff280db69ull, 0x3e4ad296b430148eull},
    {"ex-1.5-original", 1, 10100, -1, 0x03fe6ed219c441fcull, 0x865a0274558a741dull},
    {"ex-1.5-angular", 0, 10100, -1, 0x2f3819ff2a9535cdull, 0x33694b07625c0920ull},
    {"ex-1.5-angular", 1, 10100, -1, 0x2a21a53f48d8105bull, 0x6949d32bce8b6f57ull},
    {"ex-1.6-smooth", 0, 5100, -1, 0x53767a32d21f399cull, 0x5afed36301b61588ull},
    {"ex-1.6-smooth", 1, 5100, -1, 0x34416a498f3291acull, 0xb10ce2230f985e96ull},
    {"ex-1.6-stepped", 0, 5100, -1, 0xd19dfd2b358f548eull, 0x7105e08a5714e9b5ull},
    {"ex-1.6-stepped", 1, 5100, -1, 0xa57cd02fe4d0942aull, 0x414608b8e5530f64ull},
    {"ex-1.7", 0, 300, -1, 0xc5207ec664573e66ull, 0xbf3346cd1ee6be68ull},
    {"ex-1.7", 1, 300, -1, 0xff584e20e569792eull, 0x6b0c036c63bccbd2ull},
    {"ex-1.7-curriculum", 0, 5100, -1, 0x57487d66fcd379f1ull, 0x2f1ac25e7be8487cull},
    {"ex-1.7-curriculum", 1, 5100, -1, 0xd943fd5e37e974c8ull, 0xaaf30f4e0d9245c0ull},
    {"ex-2.4.1", 0, 300, -1, 0x99d4390811a8fe32ull, 0xe9b09038c2cfadccull},
    {"ex-2.4.1", 1, 300, -1, 0x1bea3e407323ec0eull, 0x70c17d9502a47a82ull},
    {"ex-2.9.1", 0, 300, -1, 0x9d8b7dfb40ee5a86ull, 0x40c61f29fa14264dull},
    {"ex-2.9.1", 1, 300, -1, 0xbd3bff9606b24b48ull, 0x750c502c48b50221ull},
    {"ex-1.7", 0, 300, 512, 0x00ec025b92e89bcaull, 0xe009d9719d3ea272ull},
};

struct Fnv {
  std::uint64_t h = 14695981039346656037ull;
  void add(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }  // with its terminator
};

std::uint64_t hash_checkpoint(const fs::path& path) {
  const SafeTensors st = SafeTensors::load(path.string());
  Fnv f;
  for (const std::string& name : st.names()) {
    const RawTensor& t = st.at(name);
    f.add(name);
    f.add(t.dtype);
    for (std::int64_t d : t.shape) f.add(&d, sizeof d);
    f.add(t.bytes.data(), t.bytes.size());
  }
  return f.h;
}

bool reference_build() {
#if defined(__AVX512F__) && !defined(__SANITIZE_ADDRESS__)
  return true;
#else
  return false;
#endif
}

}  // namespace

TEST_CASE("golden: every built-in experiment writes the recorded metrics and checkpoint") {
  const bool print = std::getenv("SPHEREGRAD_GOLDEN_PRINT") != nullptr;
  if (!reference_build() && !print) {
    MESSAGE("not the reference build (AVX-512, no sanitizer): the golden hashes are not checked");
    return;
  }
  const fs::path dir = test::temp_dir("golden");
  for (const Golden& g : kGolden) {
    CAPTURE(g.preset);
    CAPTURE(g.seed);
    CAPTURE(g.batch);
    train::Overrides overrides{{"seed=" + std::to_string(g.seed), "steps=" + std::to_string(g.steps)}, {}};
    if (g.batch > 0) overrides.set.push_back("batch=" + std::to_string(g.batch));
    train::Options o;
    o.experiment = train::load_experiment(g.preset, overrides);
    o.quiet = true;
    o.out = (dir / "run").string();
    o.overwrite = true;
    train::run(o);
    Fnv metrics;
    const std::string csv = test::read_file(dir / "run" / "metrics.csv");
    metrics.add(csv.data(), csv.size());
    const std::uint64_t checkpoint = hash_checkpoint(dir / "run" / "checkpoint.safetensors");
    if (print) {
      std::printf("    {\"%s\", %llu, %d, %d, 0x%016llxull, 0x%016llxull},\n", g.preset, g.seed, g.steps, g.batch,
                  (unsigned long long)metrics.h, (unsigned long long)checkpoint);
      continue;
    }
    CHECK(metrics.h == g.metrics);
    CHECK(checkpoint == g.checkpoint);
  }
  fs::remove_all(dir);
}
