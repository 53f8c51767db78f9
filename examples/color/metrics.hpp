// examples/color/metrics.hpp -- the measurements that replace judging latent plots by eye.
//
// Contract: measure() runs a trained model (in evaluation mode, no gradients, nothing left on
// the tape) over fixed probe sets -- the RGB 8^3 validation cube, the 17 named colors, 360 and
// 36 vibrant hues, the 6 primaries and secondaries -- and reports reconstruction errors and the
// geometry of the latent space: hue order and winding (color::hue_order), red's alignment with
// +dim 0, the radius, planarity, spacing of the primaries, and for 3+ dims the dome.
#pragma once

#include <optional>
#include <vector>

#include "examples/color/color.hpp"
#include "nn/models.hpp"

namespace sg::color {

// A band of hues held out of the training data (Ex 1.2), in whole degrees, inclusive.
struct HueBand {
  int first_deg, last_deg;
  bool contains(int deg) const { return deg >= first_deg && deg <= last_deg; }
};

// The measurements of a trained model (docs/findings.md, "metrics").
struct FinalMetrics {
  double recon_mse_validation = 0;          // RGB 8^3 cube
  std::vector<double> recon_mse_named;      // the 17 named colors
  int hue_inversions = 0, hue_winding = 0;  // 360 vibrant hues
  std::vector<int> hue_inversions_at_deg;   // where: the hue (degrees) each inverted step starts at
  int hue_inversions_36 = 0, hue_winding_36 = 0;
  bool crumpled = false;
  double red_cosine = 0;        // cos(z_red, e0) in the full space
  double red_angle_deg = 0;     // atan2(z1, z0) of red in the hue plane
  double radius_mean = 0, radius_std = 0;  // ||z|| over the validation cube
  double planarity_vibrant = 0;            // mean sum_{d>=2} z_d^2 over 360 vibrant hues
  std::vector<double> spacing_deg;         // angles between consecutive primaries/secondaries
  double separate_final = 0;               // angular repulsion (p=10, no shift) per-sample mean, last batch
  // |mean of the unit hue-plane directions| of the 360 vibrant hues: 0 for a wheel spread all
  // round, 1 when every hue points the same way ("bunched on one side").
  double hue_resultant = 0;
  // Dome (3+ dims): the 360 hues at s = 1, v = 0.5, off the hue plane along dim 2: the mean
  // |z_2| (height) and |mean z_2| / mean |z_2| (1 = every darker hue on the same side).
  double dome_height = 0, dome_consistency = 0;
  // With a held-out hue band: the hue order of the trained hues alone (v = 1, in hue order),
  // and the largest angle between consecutive trained hues (the gap) and the hue it opens after.
  int train_hue_inversions = 0, train_hue_winding = 0;
  double train_gap_deg = 0;
  int train_gap_after_deg = -1;
  // Crumpling with a size, on the rings of 360 hues at (s, v) = (1, 1), (1, 0.5) and (0.5, 1)
  // (color::HueOrder): the largest fold, the largest step between hues 1 deg apart, and the
  // largest departure from 60 deg of the angle between a primary and the next secondary.
  double fold_deg = 0, gap_deg = 0, spacing_error_deg = 0;
  // A fold of at least one cell of the 36-hue grid the models are trained on: folds below it lie
  // between two training hues, where no data constrains the order, and at the size of a latent
  // plot (a unit circle some 10 cm across) they are under 9 mm of arc -- the published crumple
  // rate was judged by eye on such plots.
  // The organization loss of the paper's model selection, on the RGB 8^3 cube with exact labels
  // (probes.cpp, Run::organization_validation); NaN for a run without organization terms.
  double organization_validation = NAN;
  static constexpr double kVisibleFoldDeg = 10;
  bool visible_fold() const { return fold_deg >= kVisibleFoldDeg; }
};

// The measurements of `model` (set back to training mode afterwards); `heldout` adds those of
// the trained hues alone.
FinalMetrics measure(Autoencoder<float>& model, Tape<float>& tape, const std::optional<HueBand>& heldout);

// The encoder's output for `rgb` (n, 3), computed without gradients, leaving nothing on the tape.
Matrix<float> encode(Autoencoder<float>& model, Tape<float>& tape, const Matrix<float>& rgb);

}  // namespace sg::color
