// examples/color/color.cpp -- colors, data sets, labels, sampling and the hue-order metric.
#include "examples/color/color.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sg::color {

Hsv rgb_to_hsv(Rgb c) {
  const double mx = std::max({c.r, c.g, c.b}), mn = std::min({c.r, c.g, c.b}), d = mx - mn;
  double h = 0;
  if (d > 0) {
    if (mx == c.r) h = std::fmod((c.g - c.b) / d, 6.0);
    else if (mx == c.g) h = (c.b - c.r) / d + 2;
    else h = (c.r - c.g) / d + 4;
    h /= 6;
    if (h < 0) h += 1;
  }
  return {h, mx > 0 ? d / mx : 0.0, mx};
}

Rgb hsv_to_rgb(Hsv c) {
  const double h6 = (c.h - std::floor(c.h)) * 6;
  const int sector = int(h6) % 6;
  const double f = h6 - std::floor(h6);
  const double p = c.v * (1 - c.s), q = c.v * (1 - c.s * f), t = c.v * (1 - c.s * (1 - f));
  switch (sector) {
    case 0: return {c.v, t, p};
    case 1: return {q, c.v, p};
    case 2: return {p, c.v, t};
    case 3: return {p, q, c.v};
    case 4: return {t, p, c.v};
    default: return {c.v, p, q};
  }
}

std::vector<double> arange_cyclic(double step) {
  std::vector<double> hues;
  // Count by index rather than accumulating, so 1/36 steps give exactly 36 hues.
  const int n = int(std::ceil(1.0 / step - 1e-9));
  for (int i = 0; i < n; ++i) hues.push_back(i * step);
  return hues;
}

namespace {

double linspace(int i, int n) { return n == 1 ? 0.0 : double(i) / (n - 1); }

void set_row(ColorSet& set, int row, Rgb c) {
  set.rgb(row, 0) = float(c.r);
  set.rgb(row, 1) = float(c.g);
  set.rgb(row, 2) = float(c.b);
}

}  // namespace

ColorSet hsv_cube(int n_hues, int n_saturations, int n_values) {
  ColorSet set;
  set.rgb.resize(n_hues * n_saturations * n_values, 3);
  int row = 0;
  for (int ih = 0; ih < n_hues; ++ih)
    for (int is = 0; is < n_saturations; ++is)
      for (int iv = 0; iv < n_values; ++iv) {
        const double h = double(ih) / n_hues, s = linspace(is, n_saturations), v = linspace(iv, n_values);
        set_row(set, row++, hsv_to_rgb({h, s, v}));
        set.weight.push_back((1 - v) / (n_saturations * n_hues) + (1 - s) * v / n_hues + s * v);
      }
  return set;
}

ColorSet rgb_cube(int n) {
  ColorSet set;
  set.rgb.resize(n * n * n, 3);
  int row = 0;
  for (int r = 0; r < n; ++r)
    for (int g = 0; g < n; ++g)
      for (int b = 0; b < n; ++b) set_row(set, row++, {linspace(r, n), linspace(g, n), linspace(b, n)});
  set.weight.assign(set.rgb.rows(), 1.0);
  return set;
}

ColorSet named_colors() {
  static const char* const hues[] = {"red",  "orange", "yellow", "lime",   "green",   "teal",
                                     "cyan", "azure",  "blue",   "purple", "magenta", "pink"};
  static const char* const grays[] = {"black", "dark gray", "gray", "light gray", "white"};
  ColorSet set;
  set.rgb.resize(17, 3);
  for (int i = 0; i < 12; ++i) {
    set_row(set, i, hsv_to_rgb({i * 30 / 360.0, 1, 1}));
    set.name.push_back(hues[i]);
  }
  for (int i = 0; i < 5; ++i) {
    set_row(set, 12 + i, {i * 0.25, i * 0.25, i * 0.25});
    set.name.push_back(grays[i]);
  }
  set.weight.assign(17, 1.0);
  return set;
}

ColorSet hue_ring(int n) {
  ColorSet set;
  set.rgb.resize(n, 3);
  for (int i = 0; i < n; ++i) set_row(set, i, hsv_to_rgb({double(i) / n, 1, 1}));
  set.weight.assign(n, 1.0);
  return set;
}

ColorSet hsv_grid(const std::vector<double>& hues, const std::vector<double>& saturations,
                  const std::vector<double>& values) {
  ColorSet set;
  set.rgb.resize(long(hues.size() * saturations.size() * values.size()), 3);
  int row = 0;
  for (double h : hues)
    for (double s : saturations)
      for (double v : values) set_row(set, row++, hsv_to_rgb({h, s, v}));
  set.weight.assign(set.rgb.rows(), 1.0);
  return set;
}

double redness(const float* c) { return c[0] * (1.0 - c[1] / 2.0 - c[2] / 2.0); }
double vibrancy(const float* c) {
  return double(std::max({c[0], c[1], c[2]})) - double(std::min({c[0], c[1], c[2]}));
}

double greenness(const float* c) { return c[1] * (1.0 - c[0] / 2.0 - c[2] / 2.0); }
double blueness(const float* c) { return c[2] * (1.0 - c[0] / 2.0 - c[1] / 2.0); }

double LabelRule::quantity(const float* rgb) const {
  switch (base) {
    case Base::Redness: return redness(rgb);
    case Base::Greenness: return greenness(rgb);
    case Base::Blueness: return blueness(rgb);
    case Base::Vibrancy: return vibrancy(rgb);
    case Base::Desaturation: return 1 - vibrancy(rgb);
  }
  return 0;
}

double LabelRule::probability(const float* rgb) const { return scale * std::pow(quantity(rgb), power); }

namespace {

// np.interp on two points, clamped outside them.
double interp(double x, double x0, double x1, double y0, double y1) {
  if (x <= x0) return y0;
  if (x >= x1) return y1;
  return y0 + (x - x0) * (y1 - y0) / (x1 - x0);
}

}  // namespace

double levels(double w, double fraction) {
  const double in_low = interp(fraction, 0.0, 0.5, 0.99, 0.0), out_low = interp(fraction, 0.5, 1.0, 0.0, 1.0);
  const double t = std::clamp((w - in_low) / (1 - in_low), 0.0, 1.0);
  return out_low + t * (1 - out_low);
}

double primary_secondary_focus(double hue) {
  constexpr double kPi = 3.14159265358979323846;
  const double degrees = (hue - std::floor(hue)) * 360;
  const double d = std::abs(degrees - 60 * std::round(degrees / 60));
  return (std::cos(kPi * d / 30) + 1) / 2;
}

Sampler::Sampler(const std::vector<double>& weights) {
  cumulative_.resize(weights.size());
  guide_.resize(weights.size());
  reweight(weights.data(), weights.size());
}

void Sampler::reweight(const double* weights, std::size_t count) {
  if (count != cumulative_.size())
    throw std::invalid_argument("Sampler: " + std::to_string(count) + " weights for " +
                                std::to_string(cumulative_.size()) + " cells");
  double total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!(weights[i] >= 0) || !std::isfinite(weights[i]))
      throw std::invalid_argument("Sampler: weight " + std::to_string(i) + " is negative or not finite");
    total += weights[i];
    cumulative_[i] = total;
  }
  if (!(total > 0)) throw std::invalid_argument("Sampler: all weights are zero");
  std::size_t i = 0;
  for (std::size_t b = 0; b < count; ++b) {
    const double edge = total * double(b) / double(count);
    while (i + 1 < count && cumulative_[i] <= edge) ++i;
    guide_[b] = int(i);
  }
}

int Sampler::draw(Rng& rng) const {
  const std::size_t n = cumulative_.size();
  const double total = cumulative_.back();
  const double u = rng.uniform() * total;
  // The answer is the first cell whose cumulative weight exceeds u (zero-weight cells are
  // never chosen). Start at the guide of u's n-th of the range; rounding may put u just below
  // that n-th's edge, so step back while the previous cell already exceeds u, then forward.
  std::size_t i = std::size_t(guide_[std::min(n - 1, std::size_t(u / total * double(n)))]);
  while (i > 0 && cumulative_[i - 1] > u) --i;
  while (i + 1 < n && cumulative_[i] <= u) ++i;
  return int(i);
}

HueOrder hue_order(const Matrix<float>& z) {
  const long n = z.rows();
  constexpr double kPi = 3.14159265358979323846;
  std::vector<double> steps;
  double total = 0;
  for (long k = 0; k < n; ++k) {
    const long next = (k + 1) % n;
    double d = std::atan2(double(z(next, 1)), double(z(next, 0))) - std::atan2(double(z(k, 1)), double(z(k, 0)));
    while (d > kPi) d -= 2 * kPi;
    while (d <= -kPi) d += 2 * kPi;
    steps.push_back(d);
    total += d;
  }
  HueOrder h;
  h.winding = int(std::lround(total / (2 * kPi)));
  const double direction = h.winding != 0 ? h.winding : (total >= 0 ? 1.0 : -1.0);
  for (long k = 0; k < n; ++k)
    if (steps[k] * direction < 0) h.inverted.push_back(int(k));
  h.inversions = int(h.inverted.size());
  // Walk the ring once from a step along the direction (if there is one), so that a fold that
  // wraps past the last hue is measured whole.
  long start = 0;
  while (start < n && steps[start] * direction < 0) ++start;
  double fold = 0;
  for (long i = 0; i < n; ++i) {
    const double along = steps[(start + i) % n] * direction * 180 / kPi;
    if (along < 0) fold -= along, h.largest_fold_deg = std::max(h.largest_fold_deg, fold);
    else fold = 0, h.largest_gap_deg = std::max(h.largest_gap_deg, along);
  }
  return h;
}

}  // namespace sg::color
