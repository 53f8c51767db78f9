// The pieces of `spheregrad schedule` (examples/cli/cmd_schedule.cpp), exposed so that tests can
// check them in-process instead of parsing a child process's output.
#pragma once

#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schedule/dopesheet.hpp"

namespace sg::cli {

// The realized schedule as CSV: `step,phase,<properties in column order>`, values as %.17g,
// one row per step of `steps` (ascending), or of every step when `steps` is empty.
void write_schedule_csv(const schedule::Dopesheet& sheet, std::span<const int> steps, std::FILE* out);

// "0,10,500" -> ascending, without repeats; throws std::invalid_argument naming a bad entry or
// a step outside 0 .. length-1.
std::vector<int> parse_step_list(std::string_view list, int length);

}  // namespace sg::cli
