// Dopesheet: the keyframe CSV of docs/schedule.md, parsed and resolved to absolute steps.
//
// Contract. parse_dopesheet() reads the format of the original tool unchanged: a header of
// reserved columns (STEP, PHASE, ACTION) and properties `name[:space[:timing]]`; STEP cells
// absolute, +N / -N, or +F / -F (0 < F < 1, measured between the bracketing absolute rows and
// rounded half to even); empty cells are no keyframe. It returns keyframes sorted by step,
// phase instances with their inclusive step ranges, and the events of each step. Anything it
// cannot read exactly throws DopesheetError, "file:line:column: expected ..., got ...": a
// dopesheet never loads with a silently guessed value. docs/schedule.md lists the rules.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "schedule/timing.hpp"

namespace sg::schedule {

class DopesheetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Keyframe {
  int step;
  double value;
};

struct Property {
  std::string name;  // without the :space:timing suffix
  Space space = Space::linear;
  Timing timing = Timing::minjerk;
  std::vector<Keyframe> keyframes;  // sorted by step, at least one
};

struct PhaseInstance {
  std::string name;
  int start;  // first step
  int end;    // last step, inclusive
};

struct StepEvents {
  int step;
  std::vector<std::string> events;  // in row order
};

struct Dopesheet {
  std::string source;                 // file name used in messages
  std::vector<Property> properties;   // in column order
  std::vector<PhaseInstance> phases;  // by start
  std::vector<StepEvents> actions;    // by step, one entry per step that has events
  int length = 0;                     // last STEP + 1

  int property_index(std::string_view name) const;  // -1 when absent
};

// Resolved STEPs are capped so that length and step arithmetic fit in an int.
inline constexpr int kMaxStep = 1'000'000'000;
// load_dopesheet reads at most this many bytes (the experiments' files are about 1 KB).
inline constexpr std::size_t kMaxFileBytes = std::size_t(16) << 20;

Dopesheet parse_dopesheet(std::string_view text, const std::string& source = "<dopesheet>");
Dopesheet load_dopesheet(const std::string& path);

}  // namespace sg::schedule
