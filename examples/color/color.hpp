// examples/color/color.hpp -- the color domain of the experiments (docs/research.md).
//
// Contract:
// - Colors are RGB in [0,1]^3; HSV is the standard hexcone model with h, s, v in [0,1], h cyclic.
// - A ColorSet is a list of colors (one row each) with a sampling weight per color.
// - Labels are drawn per sample, per draw: label = 1 when U(0,1) < p(color), from the Labels
//   stream, so the same color can be labelled differently each time.
// - The sampler draws with replacement, probability proportional to weight, by inverting the
//   cumulative weights: one uniform draw per sample, and a guide table that starts the search
//   next to its answer (the same answer a binary search gives).
// - Metrics replace judging latent plots by eye; see hue_order for the exact definitions.
#pragma once

#include <string>
#include <vector>

#include "autodiff/tensor.hpp"
#include "nn/random.hpp"

namespace sg::color {

struct Rgb {
  double r, g, b;
};
struct Hsv {
  double h, s, v;
};
Hsv rgb_to_hsv(Rgb c);
Rgb hsv_to_rgb(Hsv c);

// Hues 0, step, 2 step, ... up to but excluding 1.
std::vector<double> arange_cyclic(double step);

struct ColorSet {
  Matrix<float> rgb;            // (n, 3)
  std::vector<double> weight;   // sampling weight per row
  std::vector<std::string> name;  // empty except for named colors
  int size() const { return int(rgb.rows()); }
};

// 36 hues x 10 saturations x 10 values, with the bias weights that undo the grid's
// over-representation of dark and gray cells: bias(s,v) = (1-v)/(n_s n_h) + (1-s) v / n_h + s v.
ColorSet hsv_cube(int n_hues = 36, int n_saturations = 10, int n_values = 10);
// n^3 colors on a regular RGB grid, uniform weights (8^3 is the validation set).
ColorSet rgb_cube(int n);
// The 12 named hues at s = v = 1, then the 5 grays (black .. white).
ColorSet named_colors();
// n vibrant hues (s = v = 1) evenly spaced in hue order, starting at red.
ColorSet hue_ring(int n);
// Every combination of the given hues, saturations and values (hue outermost, value innermost),
// uniform weights: the small, explicit data sets of Ex 1.2 and Ex 1.3.
ColorSet hsv_grid(const std::vector<double>& hues, const std::vector<double>& saturations,
                  const std::vector<double>& values);

double redness(const float* rgb);    // r (1 - g/2 - b/2): 1 only at pure red
double greenness(const float* rgb);  // g (1 - r/2 - b/2): 1 only at pure green
double blueness(const float* rgb);   // b (1 - r/2 - g/2): 1 only at pure blue
double vibrancy(const float* rgb);  // chroma = max - min = S V

// A label rule: p(label | color) = scale x base(color)^power, base one of redness, greenness,
// blueness, vibrancy and desaturation (1 - vibrancy). Milestone 1: red 0.5 redness^10, vibrant
// 0.5 vibrancy^100, desaturated 0.5 (1 - vibrancy)^10; milestone 2 ("redux"): red 0.08
// redness^8, vibrant 0.01 vibrancy^10.
struct LabelRule {
  enum class Base { Redness, Vibrancy, Desaturation, Greenness, Blueness };
  std::string name;
  Base base = Base::Redness;
  double scale = 1, power = 1;
  double quantity(const float* rgb) const;  // base(color), in [0, 1]
  double probability(const float* rgb) const;
  // The label without chance: the color has it when its quantity is 1 (red: pure red only;
  // vibrant: S V = 1) -- the exact validation labels of the paper's model selection.
  bool exact(const float* rgb) const { return quantity(rgb) >= 1.0; }
};

// ------------------------------------------------------------------ curriculum focus

// The "levels" filter of the curricula (docs/schedule.md), driven by a scheduled fraction f:
// out_low + clip((w - in_low) / (1 - in_low), 0, 1) (1 - out_low), with in_low = interp(f,
// [0, 0.5] -> [0.99, 0]) and out_low = interp(f, [0.5, 1] -> [0, 1]). f = 0 keeps only
// w >= 0.99 (as 1), f = 0.5 leaves w unchanged, f = 1 maps everything to 1.
double levels(double w, double fraction);
// The primary/secondary focus of a hue: (cos(pi d / 30) + 1) / 2, d = the distance in degrees
// to the nearest multiple of 60 (1 on a primary or secondary, 0 halfway between two).
double primary_secondary_focus(double hue);

// Weighted sampling with replacement.
class Sampler {
 public:
  explicit Sampler(const std::vector<double>& weights);
  int draw(Rng& rng) const;
  const std::vector<double>& cumulative() const { return cumulative_; }
  // New weights (as many as before), rewritten into the same cumulative array: no allocation,
  // so a curriculum can change them every step. Throws std::invalid_argument like the
  // constructor (a wrong count, a negative or non-finite weight, all zero).
  void reweight(const double* weights, std::size_t count);

 private:
  std::vector<double> cumulative_;
  // guide_[b]: the first cell whose cumulative weight exceeds b/n of the total -- where the
  // search for a draw in that n-th of the range starts, a step or two from its answer.
  std::vector<int> guide_;
};

// ------------------------------------------------------------------ metrics

// Latent angles atan2(z1, z0) of colors given in hue order. Each consecutive step (including
// the closing step from the last hue back to the first) is wrapped into (-pi, pi]; their sum is
// 2 pi times the winding number. The wheel's direction is the sign of the winding (or, for
// winding 0, of the summed steps); an inversion is a step that goes against that direction.
// A clean wheel has 0 inversions and winding +-1. Crumpled = inversions > 0 or |winding| != 1.
// Their sizes: a fold is a maximal run of consecutive inverted steps, and its size is the angle
// the run travels backwards; the largest gap is the largest step along the direction.
struct HueOrder {
  int inversions = 0;
  int winding = 0;
  std::vector<int> inverted;  // k for each inverted step from hue k to hue k+1
  double largest_fold_deg = 0, largest_gap_deg = 0;
  bool crumpled() const { return inversions > 0 || (winding != 1 && winding != -1); }
};
HueOrder hue_order(const Matrix<float>& latents_in_hue_order);

}  // namespace sg::color
