// Timing functions and Transition (see timing.hpp for the contract).
#include "schedule/timing.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sg::schedule {

const char* to_string(Timing timing) {
  switch (timing) {
    case Timing::minjerk: return "minjerk";
    case Timing::linear: return "linear";
    case Timing::step_end: return "step-end";
  }
  return "?";
}

const char* to_string(Space space) { return space == Space::log ? "log" : "linear"; }

// Boundary conditions in tau (d/dtau = T d/dt): y(0) = y0, y'(0) = v0 T, y''(0) = a0 T^2,
// y(1) = y1, y'(1) = 0, y''(1) = 0. The first three fix c0..c2; the last three are a 3x3
// system in c3..c5 whose inverse is written out below.
MinJerk MinJerk::plan(MotionState start, double target, double duration) {
  MinJerk mj;
  mj.target = target;
  mj.duration = duration;
  if (duration <= kJumpDuration) return mj;
  const double T = duration;
  const double c0 = start.position, c1 = start.velocity * T, c2 = start.acceleration * T * T / 2;
  const double b1 = (target - c0) - c1 - c2;  // position still to cover
  const double b2 = -c1 - 2 * c2;             // y'(1) = 0
  const double b3 = -2 * c2;                  // y''(1) = 0
  mj.c = {c0, c1, c2, 10 * b1 - 4 * b2 + b3 / 2, -15 * b1 + 7 * b2 - b3, 6 * b1 - 3 * b2 + b3 / 2};
  return mj;
}

MotionState MinJerk::at(double t) const {
  if (duration <= kJumpDuration) return {target, 0.0, 0.0};
  const double tau = std::clamp(t / duration, 0.0, 1.0);
  if (tau >= 1.0) return {target, 0.0, 0.0};  // exact arrival, not a rounded polynomial
  const auto& k = c;
  const double y = k[0] + tau * (k[1] + tau * (k[2] + tau * (k[3] + tau * (k[4] + tau * k[5]))));
  const double dy = k[1] + tau * (2 * k[2] + tau * (3 * k[3] + tau * (4 * k[4] + tau * 5 * k[5])));
  const double ddy = 2 * k[2] + tau * (6 * k[3] + tau * (12 * k[4] + tau * 20 * k[5]));
  return {y, dy / duration, ddy / (duration * duration)};
}

Transition::Transition(double value, Timing timing, Space space)
    : timing_(timing), space_(space), from_value_(value), to_value_(value) {
  from_curve_ = to_curve_ = to_curve(value);
}

double Transition::to_curve(double value) const {
  return space_ == Space::log ? std::log(std::max(value, kLogFloor)) : value;
}

void Transition::advance(double dt) {
  if (!moving_) return;
  elapsed_ += dt;
  if (elapsed_ >= duration_) moving_ = false;
}

MotionState Transition::curve_state() const {
  if (!moving_) return {to_curve_, 0.0, 0.0};
  switch (timing_) {
    case Timing::minjerk: return jerk_.at(elapsed_);
    case Timing::linear: {
      const double slope = (to_curve_ - from_curve_) / duration_;
      return {from_curve_ + elapsed_ * slope, slope, 0.0};
    }
    case Timing::step_end: break;
  }
  return {from_curve_, 0.0, 0.0};  // step-end holds until arrival
}

double Transition::value() const {
  if (!moving_) return to_value_;
  if (elapsed_ <= 0.0 || timing_ == Timing::step_end) return from_value_;
  const double y = curve_state().position;
  return space_ == Space::log ? std::exp(y) : y;
}

void Transition::retarget(double target, double duration) {
  if (!std::isfinite(target) || !std::isfinite(duration) || duration < 0.0)
    throw std::invalid_argument("Transition::retarget: expected a finite target and a duration >= 0");
  if (target == to_value_ && (!moving_ || duration == duration_)) return;
  const MotionState now = curve_state();
  from_value_ = value();
  from_curve_ = now.position;
  to_value_ = target;
  to_curve_ = to_curve(target);
  duration_ = duration;
  elapsed_ = 0.0;
  moving_ = duration > kJumpDuration;
  if (!moving_) duration_ = 0.0;
  if (moving_ && timing_ == Timing::minjerk) jerk_ = MinJerk::plan(now, to_curve_, duration);
}

}  // namespace sg::schedule
