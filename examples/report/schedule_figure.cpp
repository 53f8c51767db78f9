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

  std::string svg;
  append(svg,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
         "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
         kWidth, height, kWidth, height);
  svg += "<title>" + escape(sheet.source) + "</title>\n";

  for (std::size_t i = 0; i < sheet.phases.size(); ++i) {
    const auto& phase = sheet.phases[i];
    const double x0 = x_of(phase.start), x1 = x_of(phase.end + 1.0);
    append(svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">", x0, kTop - 40, x1 - x0,
           panels_bottom - kTop + 40, i % 2 ? "#fbf3e6" : "#e9f0fa");
    append(svg, "<title>%s (steps %d-%d)</title></rect>\n", escape(phase.name).c_str(), phase.start, phase.end);
    if (x1 - x0 > 6.0 * phase.name.size())  // roughly the width of the label at 11px
      append(svg, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#334\">%s</text>\n", x0 + 4, kTop - 28,
             escape(phase.name).c_str());
  }
  for (const auto& action : sheet.actions) {
    std::string names;
    for (const auto& e : action.events) names += (names.empty() ? "" : ", ") + e;
    const double x = x_of(action.step);
    append(svg, "<g stroke=\"#b03030\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
           "stroke-dasharray=\"4 3\"/>", x, kTop - 18, x, panels_bottom);
    append(svg, "<title>%s at step %d</title></g>\n", escape(names).c_str(), action.step);
    append(svg, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#b03030\">%s</text>\n", x + 3, kTop - 10, escape(names).c_str());
  }

  for (std::size_t p = 0; p < n; ++p) {
    const auto& property = sheet.properties[p];
    const double top = kTop + p * (kPanel + kGap), bottom = top + kPanel;
    const double span = hi[p] - lo[p];
    auto y_of = [&](double v) {
      return span > 0 ? bottom - 4 - (v - lo[p]) / span * (kPanel - 8) : (top + bottom) / 2;
    };
    auto shown = [&](double v) { return property.space == Space::log ? std::pow(10.0, v) : v; };
    append(svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n", kLeft,
           top, plot_width, kPanel);
    append(svg, "<text x=\"8\" y=\"%.1f\" font-size=\"12\" font-weight=\"bold\">%s</text>\n", top + kPanel / 2,
           escape(property.name).c_str());
    append(svg, "<text x=\"8\" y=\"%.1f\" fill=\"#666\">%s, %s</text>\n", top + kPanel / 2 + 14,
           schedule::to_string(property.space), schedule::to_string(property.timing));
    append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%.3g</text>\n", kLeft - 6, top + 10,
           shown(hi[p]));
    if (span > 0)
      append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%.3g</text>\n", kLeft - 6,
             bottom - 2, shown(lo[p]));
    if (property.space == Space::log)  // decade grid lines make a log axis readable
      for (double decade = std::ceil(lo[p]); decade <= hi[p] && span > 0; ++decade)
        append(svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", kLeft, y_of(decade),
               kLeft + plot_width, y_of(decade));
    svg += "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\" points=\"";
    int previous_step = -1;
    double previous_y = 0.0;
    for (const Bucket& b : buckets[p]) {
      if (b.first_step < 0) continue;
      std::pair<int, double> corners[4] = {
          {b.first_step, b.first}, {b.min_step, b.min}, {b.max_step, b.max}, {b.last_step, b.last}};
      std::sort(corners, corners + 4);
      for (const auto& [step, y] : corners) {
        if (step == previous_step) continue;
        if (previous_step >= 0) append(svg, "%.1f,%.1f ", x_of(step), y_of(previous_y));
        append(svg, "%.1f,%.1f ", x_of(step), y_of(y));
        previous_step = step, previous_y = y;
      }
    }
    append(svg, "%.1f,%.1f\"/>\n", x_of(sheet.length), y_of(previous_y));
  }

  // Step axis at 1, 2 or 5 times a power of ten, about eight ticks.
  const double raw = std::max(1.0, last / 8.0), magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double interval = raw <= magnitude ? magnitude : raw <= 2 * magnitude ? 2 * magnitude
                        : raw <= 5 * magnitude ? 5 * magnitude : 10 * magnitude;
  for (double s = 0; s <= std::max(last, 0); s += interval) {
    append(svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>", x_of(s), panels_bottom,
           x_of(s), panels_bottom + 5);
    append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", x_of(s), panels_bottom + 17, s);
  }
  append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">step</text>\n</svg>\n",
         kLeft + plot_width / 2, panels_bottom + 33);
  return svg;
}

}  // namespace sg::figures
