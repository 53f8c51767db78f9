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
    {"ex-1.3", 0, 9100, -1, 0x4682bac82ca41583ull, 0x931d70d59eb6424cull},
    {"ex-1.3", 1, 9100, -1, 0xeff5c137371f4d39ull, 0x0f38b08a62a96c93ull},
    {"ex-1.5", 0, 10100, -1, 0x2ba03a04a774af9full, 0x82a61fc7aa0f968full},
    {"ex-1.5", 1, 10100, -1, 0x77dc04d90e3d64f0ull, 0x5af7e55be76744adull},
    {"ex-1.5-original", 0, 10100, -1, 0xb1788aeff280db69ull, 0x3db0055247648fe2ull},
    {"ex-1.5-original", 1, 10100, -1, 0x03fe6ed219c441fcull, 0x36ddfe2cd4a034f9ull},
    {"ex-1.5-angular", 0, 10100, -1, 0x2f3819ff2a9535cdull, 0x6ad5323838a12b42ull},
    {"ex-1.5-angular", 1, 10100, -1, 0x2a21a53f48d8105bull, 0xb279ea6387d3047full},
    {"ex-1.6-smooth", 0, 5100, -1, 0x53767a32d21f399cull, 0x47c75d434d413b52ull},
    {"ex-1.6-smooth", 1, 5100, -1, 0x34416a498f3291acull, 0x124de6cb70b9a9e0ull},
    {"ex-1.6-stepped", 0, 5100, -1, 0xd19dfd2b358f548eull, 0x9aca67a99120c430ull},
    {"ex-1.6-stepped", 1, 5100, -1, 0xa57cd02fe4d0942aull, 0x84b262a419ae1a64ull},
    {"ex-1.7", 0, 300, -1, 0xc5207ec664573e66ull, 0x4c357e0034a00237ull},
    {"ex-1.7", 1, 300, -1, 0xff584e20e569792eull, 0xe4f5e2492f5d776full},
    {"ex-1.7-curriculum", 0, 5100, -1, 0x57487d66fcd379f1ull, 0x41c5eb2dc671a9f4ull},
    {"ex-1.7-curriculum", 1, 5100, -1, 0xd943fd5e37e974c8ull, 0x70a567e65e6cc51bull},
    {"ex-2.4.1", 0, 300, -1, 0x99d4390811a8fe32ull, 0xbf9348bfcebf4a38ull},
    {"ex-2.4.1", 1, 300, -1, 0x1bea3e407323ec0eull, 0x3db5da1d53876a08ull},
    {"ex-2.9.1", 0, 300, -1, 0x9d8b7dfb40ee5a86ull, 0x07979dc37f06f293ull},
    {"ex-2.9.1", 1, 300, -1, 0xbd3bff9606b24b48ull, 0xf1f736de442b769aull},
    {"ex-1.7", 0, 300, 512, 0x00ec025b92e89bcaull, 0x22e822e44e1cc456ull},
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
