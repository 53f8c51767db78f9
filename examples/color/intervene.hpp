// examples/color/intervene.hpp -- interventions on a trained color autoencoder's bottleneck, and the
// score that says how precisely they hit a concept (docs/research.md, "Interventions").
//
// Contract:
// - Latent edits act at evaluation time on bottleneck rows x (n, k) and a unit concept
//   direction v (k entries): the model encodes, the edit changes the latents, the model decodes
//   -- under NoGrad, in evaluation mode (CNColorMLP clamps its output to [0, 1]). Rows an edit
//   does not select are copied bit for bit.
//     suppress: x' = x - g(a) (x.v) v, a = clamp(x.v, 0, 1): shrinks the component along v.
//     repel:    with a = clamp(cos(x, v), 0, 1), rows with g(a) > 0 are turned in the plane of
//               (x, v), keeping |x|, until their cosine to v is m(a) = a (1 - g(a)) -- the
//               alignment suppression would leave, reached by rotating instead of shrinking.
//   g is the bounded falloff: g(a) = b ((a - a0) / (1 - a0))^p for a > a0, else 0; it lies in
//   [0, b], so x'.v lies between 0 and x.v (an edit never flips or grows the component).
//   p = 0 gives g = b on the whole open hemisphere a > a0: with b = 1, a full projection-out.
// - Weight edits act on the bottleneck's producer (the encoder's last Linear) and consumer (the
//   decoder's first Linear). ablate() zeroes the producer's rows and bias entries and the
//   consumer's columns of the chosen dims, in place; prune() builds a model without them. In
//   CNColorMLP the L2 normalization sits between the two: an ablated dim is 0 before the
//   normalization, so the remaining dims are renormalized among themselves -- exactly what a
//   model that never had the dim computes. Ablation and pruning therefore agree (up to the
//   rounding of sums of different lengths; tested), and both differ from zeroing a latent
//   after the normalization, which would leave the other dims shorter than 1.
// - Score: over a color set (published: the RGB 8^3 cube), r is the Pearson correlation between
//   sim(color, concept)^p and the per-color MSE after the intervention, and R^2 = r^2 -- which
//   equals the coefficient of determination of the least-squares line MSE ~ c0 + c1 sim^p.
//   sim = eff (1 - |s1 - s2|) (1 - |v1 - v2|), eff = r hue_sim + (1 - r), r = (s1 v1 + s2 v2)/2,
//   hue_sim = max(0, (90 - dhue) / 90), dhue the cyclic hue difference in degrees.
// - Bad arguments throw std::invalid_argument naming the argument and the allowed range.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "examples/color/color.hpp"
#include "nn/models.hpp"

namespace sg::train {
struct Experiment;
}

namespace sg::intervene {

// ------------------------------------------------------------------ latent edits

struct Falloff {
  double a0 = 0, b = 1, p = 2;  // the published typical values
  double operator()(double a) const;
  void check() const;  // 0 <= a0 < 1, 0 <= b <= 1, p >= 0 (finite)
};

// x (n, k) and v (k, unit length) -> the edited rows. Throws when v has the wrong length or is
// not a unit vector (|v| off 1 by more than 1e-6).
Matrix<float> suppress(const Matrix<float>& x, const std::vector<double>& v, const Falloff& g);
Matrix<float> repel(const Matrix<float>& x, const std::vector<double>& v, const Falloff& g);

// ------------------------------------------------------------------ weight edits

// The layers on either side of the bottleneck, and its width k.
struct Bottleneck {
  Linear<float>* producer = nullptr;  // encoder's last Linear: (k, hidden) weight, (1, k) bias
  Linear<float>* consumer = nullptr;  // decoder's first Linear: (hidden, k) weight
  int k = 0;
};
// Throws std::invalid_argument when the model has no Linear at one end of the bottleneck.
Bottleneck find_bottleneck(Autoencoder<float>& model);

// Sorted, checked: each dim in [0, k), no repeats, and at least one dim left over.
std::vector<int> check_dims(std::vector<int> dims, int k);

void ablate(Autoencoder<float>& model, const std::vector<int>& dims);
// A new model on `tape` without `dims`: every parameter copied, the producer's rows and bias
// entries and the consumer's columns of `dims` left out. The model must be named with its
// width ("ColorMLP(k)" or "CNColorMLP(k,N)"); the pruned one is named with k - |dims|.
Autoencoder<float> prune(Tape<float>& tape, Autoencoder<float>& model, const std::vector<int>& dims);

// ------------------------------------------------------------------ evaluation

using LatentEdit = std::function<Matrix<float>(const Matrix<float>&)>;

// The bottleneck rows of `rgb` (n, 3), and the reconstruction with `edit` applied to them (an
// empty edit: none), in evaluation mode and under NoGrad; the tape is rewound afterwards. The
// model's training flag is restored.
Matrix<float> encode(Autoencoder<float>& model, Tape<float>& tape, const Matrix<float>& rgb);
Matrix<float> reconstruct(Autoencoder<float>& model, Tape<float>& tape, const Matrix<float>& rgb,
                          const LatentEdit& edit = {});

// Per row: the mean over channels of (out - rgb)^2.
std::vector<double> per_color_mse(const Matrix<float>& out, const Matrix<float>& rgb);

// ------------------------------------------------------------------ concepts and the score

// A concept an intervention can name: its label, its direction in a run's bottleneck and the
// color the score compares against.
struct Concept {
  std::string label;
  std::vector<double> direction;  // unit, k entries
  color::Hsv hsv;
};
// The concept `label` of a run of `preset` with a k-dim bottleneck: its direction is the axis
// the preset anchors the label to (red: +dim 0 -- the trained geometry puts it there by
// construction, so it needs no data to find). Throws std::invalid_argument for a label that is
// not a concept (listing the known ones) or one the preset does not anchor.
Concept find_concept(const train::Experiment& experiment, const std::string& label, int k);
// The colors that concepts stand for (HSV): red = (0, 1, 1).
std::vector<std::pair<std::string, color::Hsv>> concept_colors();

// The score's similarity (docs/research.md, section 5) of two HSV colors (hemi form, angular hue), in [0, 1].
double hsv_similarity(color::Hsv a, color::Hsv b);

// Least squares y ~ intercept + slope x, the Pearson r and R^2 = r^2. NaN where x or y is
// constant (or fewer than 2 points).
struct Fit {
  double r = 0, r2 = 0, slope = 0, intercept = 0;
  int n = 0;
};
Fit linear_fit(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace sg::intervene
