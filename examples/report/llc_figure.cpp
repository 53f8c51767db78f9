// examples/report/llc_figure.cpp -- the tempering spectrum of `spheregrad llc --sweep-nbeta`.
#include <algorithm>
#include <cmath>

#include "examples/report/figures.hpp"
#include "examples/report/svg.hpp"

namespace sg::figures {

std::string llc_spectrum_svg(const std::vector<llc::Estimate>& points, const std::string& title) {
  const double width = 640, height = 380;
  // x is log10(nbeta), widened to whole half decades; y always shows 0.
  Plot plot{.left = 70, .top = 34, .width = width - 70 - 20, .height = height - 34 - 46};
  plot.x0 = std::floor(std::log10(points.front().nbeta) * 2) / 2;
  plot.x1 = std::ceil(std::log10(points.back().nbeta) * 2) / 2;
  plot.y0 = plot.y1 = 0;
  for (const llc::Estimate& e : points) {
    plot.y0 = std::min(plot.y0, e.llc_mean - e.llc_std);
    plot.y1 = std::max(plot.y1, e.llc_mean + e.llc_std);
  }
  if (!(plot.x1 > plot.x0)) plot.x1 = plot.x0 + 1;
  if (!(plot.y1 > plot.y0)) plot.y1 = plot.y0 + 1;
  plot.y1 += 0.05 * (plot.y1 - plot.y0);

  Svg svg(width, height);
  svg.heading(title);
  svg.frame(plot);
  svg.y_ticks(plot, 5);
  for (double e = std::ceil(plot.x0 * 2) / 2; e <= plot.x1 + 1e-9; e += 0.5) {
    svg.line(plot.px(e), plot.top, plot.px(e), plot.top + plot.height, {.stroke = "#eee"});
    svg.x_tick(plot, e, format("%.3g", std::pow(10.0, e)));
  }
  svg.text(plot.left + plot.width / 2, height - 8, "nbeta (log scale)", {.anchor = "middle"});
  svg.y_title(plot, "LLC");
  if (plot.y0 < 0) svg.line(plot.left, plot.py(0), plot.left + plot.width, plot.py(0), {.stroke = "#888"});
  std::vector<Point> means;
  for (const llc::Estimate& e : points) {
    const double x = plot.px(std::log10(e.nbeta));
    svg.line(x, plot.py(e.llc_mean - e.llc_std), x, plot.py(e.llc_mean + e.llc_std), {.stroke = "#1f77b4"});
    svg.circle(x, plot.py(e.llc_mean), 3, {.fill = "#1f77b4"});
    means.push_back({x, plot.py(e.llc_mean)});
  }
  svg.polyline(means, {.stroke = "#1f77b4", .stroke_width = 1.2});
  return svg.done();
}

}  // namespace sg::figures
