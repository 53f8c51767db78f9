// Timeline (see timeline.hpp for the contract).
#include "schedule/timeline.hpp"

#include <algorithm>
#include <stdexcept>

namespace sg::schedule {

Timeline::Timeline(Dopesheet sheet) : sheet_(std::move(sheet)) {
  const std::size_t n = sheet_.properties.size();
  curves_.reserve(n);
  for (const Property& p : sheet_.properties) {
    if (p.keyframes.empty())  // parse_dopesheet never makes one; a hand-built sheet might
      throw std::invalid_argument("timeline of " + sheet_.source + ": property '" + p.name + "' has no keyframe");
    curves_.emplace_back(p.keyframes.front().value, p.timing, p.space);
  }
  next_keyframe_.assign(n, 0);
  values_.assign(n, 0.0);
  enter_step();
}

void Timeline::step() {
  ++step_;
  for (Transition& curve : curves_) curve.advance(1.0);
  enter_step();
}

void Timeline::enter_step() {
  for (std::size_t i = 0; i < curves_.size(); ++i) {
    const std::vector<Keyframe>& keys = sheet_.properties[i].keyframes;
    for (std::size_t& k = next_keyframe_[i]; k < keys.size() && keys[k].step <= step_; ++k)
      if (k + 1 < keys.size()) curves_[i].retarget(keys[k + 1].value, keys[k + 1].step - keys[k].step);
    values_[i] = curves_[i].value();
  }
  const auto& phases = sheet_.phases;
  while (phase_ + 1 < static_cast<int>(phases.size()) && phases[phase_ + 1].start <= step_) ++phase_;
  while (action_ < sheet_.actions.size() && sheet_.actions[action_].step < step_) ++action_;
}

std::size_t Timeline::index(std::string_view name) const {
  const int i = sheet_.property_index(name);
  if (i < 0) throw std::out_of_range("timeline of " + sheet_.source + " has no property '" + std::string(name) + "'");
  return static_cast<std::size_t>(i);
}

std::span<const std::string> Timeline::events() const {
  if (action_ < sheet_.actions.size() && sheet_.actions[action_].step == step_) return sheet_.actions[action_].events;
  return {};
}

bool Timeline::fired(std::string_view event) const {
  const auto now = events();
  return std::find(now.begin(), now.end(), event) != now.end();
}

void Timeline::retarget(std::size_t index, double target, double duration) {
  curves_.at(index).retarget(target, duration);
  values_[index] = curves_[index].value();  // a jump (duration 0) shows at this very step
}

}  // namespace sg::schedule
