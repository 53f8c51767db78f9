// examples/report/schedule_figure.cpp -- a dopesheet drawn over its whole length.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "examples/report/figures.hpp"
#include "examples/report/svg.hpp"
#include "schedule/timeline.hpp"

namespace sg::figures {

using schedule::Dopesheet;
using schedule::Space;
using schedule::Timeline;

std::string schedule_svg(const Dopesheet& sheet) {
  constexpr double kWidth = 960, kLeft = 170, kRight = 24, kTop = 52, kPanel = 72, kGap = 14, kBottom = 40;
  constexpr int kColumns = int(kWidth - kLeft - kRight);  // one min/max bucket per pixel column
  const double plot_width = kWidth - kLeft - kRight;
  const std::size_t n = sheet.properties.size();
  const double panels_bottom = kTop + std::max<double>(1, n) * (kPanel + kGap) - kGap;
  const double height = panels_bottom + kBottom;
  const int last = sheet.length - 1;
  // Step s trains with one value over [s, s+1): the x axis spans [0, length] and curves are stairs.
  auto x_of = [&](double step) { return kLeft + std::min(step / sheet.length, 1.0) * plot_width; };
  auto plotted = [&](std::size_t p, double v) {
    return sheet.properties[p].space == Space::log ? std::log10(std::max(v, schedule::kLogFloor)) : v;
  };

  // First, min, max and last value per pixel column (M4): exact corners, bounded output size.
  struct Bucket {
    int first_step = -1, last_step = 0, min_step = 0, max_step = 0;
    double first = 0, last = 0, min = 0, max = 0;
  };
  std::vector<std::vector<Bucket>> buckets(n, std::vector<Bucket>(kColumns));
  std::vector<double> lo(n, std::numeric_limits<double>::infinity()), hi(n, -std::numeric_limits<double>::infinity());
  Timeline timeline(sheet);
  for (int s = 0; s <= last; ++s, timeline.step()) {
    const int column = std::min(kColumns - 1, int(double(s) / sheet.length * kColumns));
    for (std::size_t p = 0; p < n; ++p) {
      const double y = plotted(p, timeline.value(p));
      Bucket& b = buckets[p][column];
      if (b.first_step < 0) b = {s, s, s, s, y, y, y, y};
      b.last_step = s, b.last = y;
      if (y < b.min) b.min = y, b.min_step = s;
      if (y > b.max) b.max = y, b.max_step = s;
      lo[p] = std::min(lo[p], y), hi[p] = std::max(hi[p], y);
    }
  }

  Svg svg(kWidth, height);
  svg.title(sheet.source);

  for (std::size_t i = 0; i < sheet.phases.size(); ++i) {
    const auto& phase = sheet.phases[i];
    const double x0 = x_of(phase.start), x1 = x_of(phase.end + 1.0);
    svg.rect(x0, kTop - 40, x1 - x0, panels_bottom - kTop + 40,
             {.fill = i % 2 ? "#fbf3e6" : "#e9f0fa",
              .tooltip = format("%s (steps %d-%d)", phase.name.c_str(), phase.start, phase.end)});
    if (x1 - x0 > 6.0 * phase.name.size())  // roughly the width of the label at 11px
      svg.text(x0 + 4, kTop - 28, phase.name, {.fill = "#334"});
  }
  for (const auto& action : sheet.actions) {
    std::string names;
    for (const auto& e : action.events) names += (names.empty() ? "" : ", ") + e;
    const double x = x_of(action.step);
    svg.line(x, kTop - 18, x, panels_bottom,
             {.stroke = "#b03030", .dash = "4 3", .tooltip = names + " at step " + std::to_string(action.step)});
    svg.text(x + 3, kTop - 10, names, {.fill = "#b03030"});
  }

  for (std::size_t p = 0; p < n; ++p) {
    const auto& property = sheet.properties[p];
    const double top = kTop + p * (kPanel + kGap), bottom = top + kPanel;
    const double span = hi[p] - lo[p];
    auto y_of = [&](double v) {
      return span > 0 ? bottom - 4 - (v - lo[p]) / span * (kPanel - 8) : (top + bottom) / 2;
    };
    auto shown = [&](double v) { return property.space == Space::log ? std::pow(10.0, v) : v; };
    svg.rect(kLeft, top, plot_width, kPanel, {.fill = "none", .stroke = "#999"});
    svg.text(8, top + kPanel / 2, property.name, {.font_size = 12, .bold = true});
    svg.text(8, top + kPanel / 2 + 14,
             format("%s, %s", schedule::to_string(property.space), schedule::to_string(property.timing)),
             {.fill = "#666"});
    svg.text(kLeft - 6, top + 10, format("%.3g", shown(hi[p])), {.fill = "#444", .anchor = "end"});
    if (span > 0)
      svg.text(kLeft - 6, bottom - 2, format("%.3g", shown(lo[p])), {.fill = "#444", .anchor = "end"});
    if (property.space == Space::log)  // decade grid lines make a log axis readable
      for (double decade = std::ceil(lo[p]); decade <= hi[p] && span > 0; ++decade)
        svg.line(kLeft, y_of(decade), kLeft + plot_width, y_of(decade), {.stroke = "#ddd"});
    std::vector<Point> stairs;
    int previous_step = -1;
    double previous_y = 0.0;
    for (const Bucket& b : buckets[p]) {
      if (b.first_step < 0) continue;
      std::pair<int, double> corners[4] = {
          {b.first_step, b.first}, {b.min_step, b.min}, {b.max_step, b.max}, {b.last_step, b.last}};
      std::sort(corners, corners + 4);
      for (const auto& [step, y] : corners) {
        if (step == previous_step) continue;
        if (previous_step >= 0) stairs.push_back({x_of(step), y_of(previous_y)});
        stairs.push_back({x_of(step), y_of(y)});
        previous_step = step, previous_y = y;
      }
    }
    stairs.push_back({x_of(sheet.length), y_of(previous_y)});
    svg.polyline(stairs, {.stroke = "#1f5fa8", .stroke_width = 1.5});
  }

  // Step axis at 1, 2 or 5 times a power of ten, about eight ticks.
  const double raw = std::max(1.0, last / 8.0), magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double interval = raw <= magnitude ? magnitude : raw <= 2 * magnitude ? 2 * magnitude
                        : raw <= 5 * magnitude ? 5 * magnitude : 10 * magnitude;
  for (double s = 0; s <= std::max(last, 0); s += interval) {
    svg.line(x_of(s), panels_bottom, x_of(s), panels_bottom + 5, {.stroke = "#999"});
    svg.text(x_of(s), panels_bottom + 17, format("%.0f", s), {.anchor = "middle"});
  }
  svg.text(kLeft + plot_width / 2, panels_bottom + 33, "step", {.fill = "#444", .anchor = "middle"});
  return svg.done();
}

}  // namespace sg::figures
