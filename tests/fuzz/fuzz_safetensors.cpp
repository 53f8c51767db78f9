// libFuzzer harness for the checkpoint loader's file layer (make fuzz).
// Any bytes must either load or be rejected with a SafeTensorsError; a file that loads must
// serialize back without trouble.
#include <cstddef>
#include <cstdint>

#include "nn/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const sg::SafeTensors st = sg::SafeTensors::parse(data, size, "fuzz.safetensors");
    (void)st.serialize();
  } catch (const sg::SafeTensorsError&) {
  }
  return 0;
}
