// examples/report/intervention_figures.cpp -- the intervention figures.
#include "examples/report/intervention_figures.hpp"

#include <algorithm>
#include <cmath>

#include "examples/report/svg.hpp"

namespace sg::figures {
namespace {

std::string css_rgb_of(const Matrix<float>& rgb, long row) {
  return css_rgb(rgb(row, 0), rgb(row, 1), rgb(row, 2));
}

// The error plots' area; the caller sets the data ranges.
Plot error_plot() { return {.left = 70, .top = 34, .width = 520, .height = 300}; }

// The error plots' axes: five steps up the y axis, `x_ticks` along x.
void draw_axes(Svg& svg, const Plot& plot, const std::string& x_label, const std::string& y_label, int x_ticks,
               const char* x_format) {
  svg.frame(plot);
  svg.y_ticks(plot, 5);
  for (int t = 0; t <= x_ticks; ++t) {
    const double v = plot.x0 + (plot.x1 - plot.x0) * t / x_ticks;
    svg.x_tick(plot, v, format(x_format, v));
  }
  svg.text(plot.left + plot.width / 2, plot.top + plot.height + 34, x_label, {.anchor = "middle"});
  svg.y_title(plot, y_label);
}

// The top of a y axis from 0 that shows every finite value.
double top_of(const std::vector<double>& v) {
  double m = 0;
  for (double e : v)
    if (std::isfinite(e)) m = std::max(m, e);
  return m > 0 ? m * 1.05 : 1;
}

}  // namespace

std::string patches_svg(const Matrix<float>& truth, const Matrix<float>& recon, int first, const std::string& title) {
  const double cell = 26, gap = 18, left = 30, top = 46;
  const double panel_w = cell * kSliceHues, width = left + kSliceSats * (panel_w + gap),
               height = top + cell * kSliceVals + 34;
  Svg svg(width, height);
  svg.heading(title);
  svg.text(8, 34, "outer square: reconstruction; inner: true color", {.fill = "#555"});
  for (int is = 0; is < kSliceSats; ++is) {
    const double x0 = left + is * (panel_w + gap);
    svg.text(x0 + panel_w / 2, top + cell * kSliceVals + 16, format("s = %.2g", double(is) / (kSliceSats - 1)),
             {.anchor = "middle"});
    for (int ih = 0; ih < kSliceHues; ++ih)
      for (int iv = 0; iv < kSliceVals; ++iv) {
        const long row = first + (long(ih) * kSliceSats + is) * kSliceVals + iv;
        const double x = x0 + ih * cell, y = top + (kSliceVals - 1 - iv) * cell;
        svg.rect(x, y, cell, cell, {.fill = css_rgb_of(recon, row)});
        svg.rect(x + cell / 4, y + cell / 4, cell / 2, cell / 2, {.fill = css_rgb_of(truth, row)});
      }
  }
  svg.text(left - 3, top + cell / 2 + 4, "v 1", {.fill = "#555", .anchor = "end"});
  svg.text(left - 3, top + cell * (kSliceVals - 0.5) + 4, "v 0", {.fill = "#555", .anchor = "end"});
  svg.text(left, height - 4, "hue 0..330 deg, left to right", {.fill = "#555"});
  return svg.done();
}

std::string mse_vs_hue_svg(const std::vector<double>& before, const std::vector<double>& after, int first,
                           const std::string& title) {
  struct Line {
    std::string name;
    const std::vector<double>* mse;
    int level;
    std::string color;
  };
  const std::vector<Line> lines = {{"before, s = v = 1", &before, 0, "#888888"},
                                   {"after, s = v = 1", &after, 0, "#d62728"},
                                   {"after, s = 1, v = 0.5", &after, 1, "#1f77b4"},
                                   {"after, s = 0.5, v = 1", &after, 2, "#2ca02c"}};
  Plot plot = error_plot();
  plot.x1 = 360;
  std::vector<double> shown(after.begin() + first, after.begin() + first + 3 * 360);
  shown.insert(shown.end(), before.begin() + first, before.begin() + first + 360);
  plot.y1 = top_of(shown);
  Svg svg(plot.left + plot.width + 170, plot.top + plot.height + 46);
  svg.heading(title);
  draw_axes(svg, plot, "hue (degrees)", "MSE", 6, "%.0f");
  for (std::size_t l = 0; l < lines.size(); ++l) {
    const double* mse = lines[l].mse->data() + first + lines[l].level * 360;
    std::vector<Point> points;
    for (int d = 0; d < 360; ++d) points.push_back({plot.px(d), plot.py(mse[d])});
    svg.polyline(points, {.stroke = lines[l].color, .stroke_width = 1.3});
    svg.legend(plot, int(l), lines[l].name, lines[l].color);
  }
  return svg.done();
}

std::string error_vs_similarity_svg(const std::vector<double>& sim_p, const std::vector<double>& mse,
                                    const Matrix<float>& rgb, const intervene::Fit& fit, const std::string& title,
                                    const std::string& x_label) {
  Plot plot = error_plot();
  plot.y1 = top_of(mse);
  Svg svg(plot.left + plot.width + 20, plot.top + plot.height + 46);
  svg.heading(title + format(": r = %.4g, R^2 = %.4g (n = %d)", fit.r, fit.r2, fit.n));
  draw_axes(svg, plot, x_label, "MSE after", 5, "%.1f");
  if (std::isfinite(fit.slope))
    svg.line(plot.px(0), plot.py(fit.intercept), plot.px(1), plot.py(fit.intercept + fit.slope),
             {.stroke = "#444", .dash = "5,4"});
  for (std::size_t i = 0; i < mse.size(); ++i)
    svg.circle(plot.px(sim_p[i]), plot.py(mse[i]), 3.2, {.fill = css_rgb_of(rgb, long(i)), .stroke = "#0004"});
  return svg.done();
}

}  // namespace sg::figures
