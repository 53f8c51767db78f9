// Timeline: plays a Dopesheet one step at a time, with the semantics of docs/schedule.md.
//
// Contract. After construction the timeline is at step 0; step() moves to the next step by
// (1) incrementing the step, (2) advancing every property's clock by one, (3) processing the
// keyframes of the new step. Whatever is read at step s is what trains step s.
// - A property starts at the first value in its column (even a late one) and holds it until
//   its first keyframe.
// - At a keyframe with a later one, the property starts a transition (its timing function,
//   its space) toward the later value, lasting the steps between them; from the current state,
//   which without re-planning is exactly the keyframe value at rest. After the last one it holds.
// - retarget() re-plans a property mid-run from its current state (Transition::retarget); the
//   file's later keyframes still fire at their steps and re-plan from wherever it then is.
// Reading by index (value(i), values()) is an array read: no lookup, no allocation.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schedule/dopesheet.hpp"
#include "schedule/timing.hpp"

namespace sg::schedule {

class Timeline {
 public:
  explicit Timeline(Dopesheet sheet);

  void step();
  int current_step() const { return step_; }
  int length() const { return sheet_.length; }  // steps to train: 0 .. length-1
  const Dopesheet& dopesheet() const { return sheet_; }

  std::size_t index(std::string_view name) const;  // throws std::out_of_range for an unknown name
  double value(std::size_t index) const { return values_[index]; }
  double value(std::string_view name) const { return values_[index(name)]; }
  std::span<const double> values() const { return values_; }  // in column order
  const Transition& transition(std::size_t index) const { return curves_[index]; }

  // Phase instance holding the current step; "" before the first PHASE row.
  std::string_view phase() const { return phase_ < 0 ? std::string_view() : sheet_.phases[phase_].name; }
  int phase_instance() const { return phase_; }  // index into dopesheet().phases, -1 before the first
  bool phase_started() const { return phase_ >= 0 && sheet_.phases[phase_].start == step_; }
  bool phase_ended() const { return phase_ >= 0 && sheet_.phases[phase_].end == step_; }

  std::span<const std::string> events() const;  // fired at exactly this step
  bool fired(std::string_view event) const;

  // Re-plan: reach `target` `duration` steps from now (see Transition::retarget).
  void retarget(std::size_t index, double target, double duration);
  void retarget(std::string_view name, double target, double duration) { retarget(index(name), target, duration); }

 private:
  void enter_step();

  Dopesheet sheet_;
  std::vector<Transition> curves_;
  std::vector<std::size_t> next_keyframe_;
  std::vector<double> values_;
  int step_ = 0;
  int phase_ = -1;
  std::size_t action_ = 0;  // first entry of sheet_.actions not before step_
};

}  // namespace sg::schedule
