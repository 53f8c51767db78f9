// libFuzzer harness for experiment files (make fuzz): any input must either load as an
// experiment or be rejected with an ExperimentError naming what is wrong. Anything else (a
// crash, another exception, a sanitizer report, a runaway allocation) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "examples/experiment/experiment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const sg::train::Experiment e =
        sg::train::parse_experiment(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    (void)sg::train::to_text(e.resolved);
  } catch (const sg::train::ExperimentError&) {
  }
  return 0;
}
