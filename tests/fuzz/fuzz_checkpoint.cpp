// libFuzzer harness for the code that turns a checkpoint into a run (make fuzz): the input is a
// resume.safetensors file. The harness seals it again, so that the fuzzer reaches past the
// checksum into what a checkpoint holds: the stored experiment and options, the step, the
// metrics length, the parameters, the optimizer's moments and step count, the random streams,
// the curves and the snapshots. It resumes the run in a scratch folder beside a metrics file in
// which every byte ends a row, for one step (a stop is requested, as SIGTERM would), or to its
// end when the checkpoint holds its last step. A clean rejection is a std::runtime_error
// (ExperimentError and SafeTensorsError are ones); anything else -- a crash, another
// exception, a sanitizer report -- is a bug. SPHEREGRAD_FUZZ_VERBOSE=1 prints each rejection
// (e.g. ./build/fuzz/checkpoint FILE).
//
// Experiments far larger than the seed (batch, width, depth, data sets) are skipped: their
// parsing is the experiment fuzzer's work, and their cost would only slow this one down.
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "examples/experiment/train.hpp"
#include "nn/checkpoint.hpp"

namespace {

struct Scratch {  // the run folder, removed when the fuzzer exits
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("spheregrad-fuzz-checkpoint-" + std::to_string(getpid()));
  ~Scratch() { std::filesystem::remove_all(dir); }
};

bool small(const sg::train::Experiment& e) {
  if (e.batch > 256 || e.model.hidden > 64 || e.model.depth > 4 || e.model.bottleneck > 16) return false;
  for (const sg::train::PhaseData& d : e.data)
    if (d.set.size() > 5000) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  static const Scratch scratch;
  const fs::path& dir = scratch.dir;
  static const bool stop_requested = [] {
    sg::train::stop_on_signals();
    std::raise(SIGTERM);  // the loop sees a stop request after the first step it takes
    return true;
  }();
  (void)stop_requested;
  sg::SafeTensors st;
  sg::train::Experiment experiment;
  try {
    st = sg::SafeTensors::parse(data, size, "fuzz.safetensors");
    const auto stored = st.metadata.find("experiment.json");
    if (stored == st.metadata.end()) return 0;
    experiment = sg::train::parse_experiment(stored->second, "fuzz (its experiment)");
  } catch (const std::runtime_error&) {
    return 0;
  } catch (const sg::train::ExperimentError&) {
    return 0;
  }
  if (!small(experiment)) return 0;
  fs::remove_all(dir);
  fs::create_directories(dir);
  sg::seal(st);
  st.save((dir / "resume.safetensors").string());
  std::ofstream(dir / "experiment.json") << sg::train::to_text(experiment.resolved);
  std::ofstream(dir / "metrics.csv.tmp", std::ios::binary) << std::string(1 << 16, '\n');
  try {
    sg::train::Options o = sg::train::resume_options(dir.string());
    o.quiet = true;
    sg::train::run(o);
  } catch (const std::exception& e) {  // a clean rejection; anything else propagates
    if (!dynamic_cast<const std::runtime_error*>(&e) && !dynamic_cast<const sg::train::ExperimentError*>(&e)) throw;
    if (std::getenv("SPHEREGRAD_FUZZ_VERBOSE")) std::fprintf(stderr, "ended with: %s\n", e.what());
  }
  return 0;
}
