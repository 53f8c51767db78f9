// Timing functions and a re-plannable Transition: one scalar easing toward a target.
//
// Contract. A Transition holds a value, and on retarget(target, duration) moves from its
// current state to `target` over `duration` clock units (steps, for the Timeline), with one
// of three timing functions (docs/schedule.md):
//   minjerk   the quintic that starts from the current (value, velocity, acceleration) and
//             arrives at rest; re-planning mid-flight is continuous in all three;
//   linear    a straight line from the current value (continuous in value only);
//   step_end  holds the current value and jumps to the target when the clock reaches duration.
// In log space the curve runs over ln(max(v, 1e-10)) and the value is its exp, so velocity and
// acceleration are those of the log. The endpoints are returned exactly as given (no
// exp(log(v)) round trip), so a keyframe reads back as the number written in the file.
// Depends on the standard library only; usable alone by a training loop.
#pragma once

#include <array>

namespace sg::schedule {

enum class Timing { minjerk, linear, step_end };
enum class Space { linear, log };

const char* to_string(Timing timing);
const char* to_string(Space space);

struct MotionState {
  double position = 0.0;
  double velocity = 0.0;      // per clock unit
  double acceleration = 0.0;  // per clock unit squared
};

// Minimum-jerk quintic y(tau) = sum c[k] tau^k, tau = t / duration clamped to [0, 1], from
// `start` to rest at `target`. Closed form of the six boundary conditions (docs/schedule.md).
struct MinJerk {
  std::array<double, 6> c{};
  double target = 0.0;
  double duration = 0.0;

  static MinJerk plan(MotionState start, double target, double duration);
  MotionState at(double t) const;  // exactly (target, 0, 0) once tau reaches 1
};

// Below this a duration is a jump: dividing by it would only amplify rounding.
inline constexpr double kJumpDuration = 1e-12;
// Log space cannot hold 0 or negatives; like the original tool, clamp to this floor.
inline constexpr double kLogFloor = 1e-10;

class Transition {
 public:
  explicit Transition(double value = 0.0, Timing timing = Timing::minjerk,
                      Space space = Space::linear);

  // Move the clock; a transition arrives (and then holds) once the clock reaches its duration.
  void advance(double dt = 1.0);

  // Start toward `target`, arriving `duration` clock units from now, from the current state.
  // No effect when already at rest at `target`, or when the running transition already has this
  // target and this duration (so a loop may repeat the call every step without restarting it).
  // duration <= kJumpDuration jumps now. Throws std::invalid_argument on a negative or
  // non-finite argument.
  void retarget(double target, double duration);

  double value() const;
  MotionState curve_state() const;  // in curve space (ln of the value in log space)
  double target() const { return to_value_; }
  double duration() const { return duration_; }
  double elapsed() const { return elapsed_; }
  double remaining() const { return moving_ ? duration_ - elapsed_ : 0.0; }
  bool at_rest() const { return !moving_; }
  Timing timing() const { return timing_; }
  Space space() const { return space_; }

 private:
  double to_curve(double value) const;

  Timing timing_;
  Space space_;
  bool moving_ = false;
  double from_value_, to_value_;  // user space, returned exactly at the two ends
  double from_curve_, to_curve_;  // curve space
  double duration_ = 0.0, elapsed_ = 0.0;
  MinJerk jerk_;
};

}  // namespace sg::schedule
