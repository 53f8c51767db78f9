// libFuzzer harness for the dopesheet parser and timeline (make fuzz).
// Any input must either parse -- and then play without trouble -- or be rejected with a
// DopesheetError. Anything else (a crash, another exception, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "schedule/dopesheet.hpp"
#include "schedule/timeline.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const sg::schedule::Dopesheet sheet =
        sg::schedule::parse_dopesheet(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv");
    sg::schedule::Timeline timeline(sheet);
    // Play a bounded number of steps: a valid sheet may be 10^9 steps long.
    for (int s = 0; s < 2000 && s + 1 < timeline.length(); ++s) {
      for (double v : timeline.values()) (void)v;
      timeline.step();
    }
  } catch (const sg::schedule::DopesheetError&) {
  }
  return 0;
}
