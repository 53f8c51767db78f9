// losses/losses.hpp -- the hyperspherical loss terms (docs/losses.md).
//
// Contract:
// - Every term takes the bottleneck z (B,k), one row per sample, and returns one value per
//   sample as a (B,1) tensor on z's tape. The selective weighting of losses/selective.hpp reduces
//   those values to the scalar a training step adds up. The one exception is uniformity, a
//   batch-level (1,1) scalar (a log of a mean over pairs does not split into per-sample parts).
// - Terms are compositions of the autodiff primitives, so their gradients come from the ops'
//   backward functions -- except angular_repulsion_fused, a fused kernel with its own backward
//   (losses/repulsion_fused.cpp), tested against its composed reference angular_repulsion.
// - cos(a, b) = a.b / ((||a|| + 1e-8)(||b|| + 1e-8)) throughout, as in the original.
// - Constants the terms need (masks, anchors) are written into tape leaves, never into heap
//   matrices, so a training step that uses these terms allocates nothing after warm-up.
// - Bad arguments throw std::invalid_argument (ShapeError for shapes) naming the term.
// - docs/losses.md lists every formula, the geometry each term controls, and the choices made
//   where the published formulas are silent.
#pragma once

#include <vector>

#include "autodiff/ops.hpp"

namespace sg::loss {

// The epsilon of every cosine: a.b / ((||a|| + kCosEps)(||b|| + kCosEps)).
inline constexpr double kCosEps = 1e-8;
// Angular repulsion treats a pair as "the same direction" when |S_ij - 1| <= kSameDirection
// (torch.isclose(S, 1) with PyTorch's default tolerances, atol 1e-8 + rtol 1e-5).
inline constexpr double kSameDirection = 1e-8 + 1e-5;
// The softening of Euclidean repulsion, 1 / (D + kRepulsionEps).
inline constexpr double kRepulsionEps = 1e-6;
// Euclidean repulsion (correct form) treats rows closer than this, over all channels, as the
// same sample drawn twice (sampling is with replacement).
inline constexpr double kDuplicateDistance = 1e-5;

// Reconstruction: l_i = mean_c (output_ic - target_ic)^2. Fidelity, no geometry; its plain batch
// mean is the MSE over batch and channels. Shapes must match exactly (no broadcasting).
template <class T> Tensor<T> reconstruction(Tensor<T> output, Tensor<T> target);
// The MSE over batch and channels as one mean (the plain, unweighted reconstruction loss).
template <class T> Tensor<T> mse(Tensor<T> output, Tensor<T> target);

// Unitarity: l_i = (||z_i|| - 1)^2. Controls the radius: pulls every latent onto the unit
// sphere; its gradient is radial (parallel to z_i).
template <class T> Tensor<T> unitarity(Tensor<T> z);

// Axis-aligned subspace: l_i = sum over d not in `dims` of z_id^2 -- confines latents to the
// coordinate subspace spanned by `dims`; its gradient is zero on `dims`. With invert, l_i = sum
// over d in `dims` of z_id^2 -- keeps latents out of those axes ("anti-subspace").
template <class T> Tensor<T> subspace(Tensor<T> z, const std::vector<int>& dims, bool invert = false);
// Planarity: subspace(z, {0, 1}) -- l_i = sum_{d >= 2} z_id^2, flattens latents onto the hue
// plane of dims 0 and 1.
template <class T> Tensor<T> planarity(Tensor<T> z);

// Options of the angular repulsion ("separate").
struct AngularRepulsion {
  double power = 10;   // p: 10 in milestone 1, 100 (with shift) in milestone 2; p >= 1
  bool shift = false;  // S <- (S + 1) / 2, so that only near-parallel pairs matter
  // Throws std::invalid_argument unless p >= 1, and p is an integer when shift is off (a
  // negative similarity to a fractional power has no real value).
  void check(const char* term) const;
};

// Angular repulsion: S_ij = cos(z_i, z_j); pairs with |S_ij - 1| <= kSameDirection (the
// self-pair, duplicates, parallel rows) are set to 0; then the optional shift; l_i = sum_j
// S_ij^p. Controls angular spread: pushes directions apart (toward orthogonality for even p
// without shift); its gradient is tangential (z_i . grad_i = 0 up to the 1e-8 epsilon).
// This is the composed reference (it materializes B x B matrices); prefer the fused kernel.
template <class T> Tensor<T> angular_repulsion(Tensor<T> z, AngularRepulsion options = {});
// The same term as one fused op: O(B^2 k) time, O(B k) memory, row-parallel, deterministic.
template <class T> Tensor<T> angular_repulsion_fused(Tensor<T> z, AngularRepulsion options = {});

enum class EuclideanForm {
  Correct,   // l_i = 1/(B-1) sum_{j != i} 1/(D_ij + 1e-6): the geometric magnitude (the default)
  Original,  // l_i = 1/B sum_j 1/(Dm_ij + 1e-6), Dm_ii = 0: the published numbers, which carry
             // a constant 1e6/B with zero gradient from the self-pairs (docs/losses.md)
};

struct EuclideanRepulsion {
  EuclideanForm form = EuclideanForm::Correct;
  // Correct form only: pairs of rows within kDuplicateDistance of each other (over all
  // channels) contribute 0 instead of 1e6 -- the same sample drawn twice cannot be separated.
  bool mask_duplicates = true;
};

// Euclidean repulsion, on channels {0, 1} only: D_ij = (z_i0 - z_j0)^2 + (z_i1 - z_j1)^2, and
// per-sample the form's mean of 1 / (D_ij + 1e-6). Spreads latents apart in the hue plane;
// its gradient has radial and tangential parts, which is why it fights unitarity.
// The mean of l_i over the batch is the mean over pairs i != j (Correct) or over all B^2
// entries (Original). Needs k >= 2.
template <class T> Tensor<T> euclidean_repulsion(Tensor<T> z, EuclideanRepulsion options = {});

// The unit vector of `dims` dimensions along axis `index`, times sign: red is axis(k, 0),
// anti-red axis(k, 0, -1).
std::vector<double> axis(int dims, int index, double sign = 1);

// Anchor ("pin"): l_i = ||z_i - a||^2. Pins the position (direction and radius) of the selected
// samples to the point a. a has k entries.
template <class T> Tensor<T> anchor(Tensor<T> z, const std::vector<double>& a);

// Angular anchor: l_i = 1 - cos(z_i, a), 0 aligned and 2 opposite. Pins the direction only;
// its gradient is tangential.
template <class T> Tensor<T> angular_anchor(Tensor<T> z, const std::vector<double>& a);

// Anti-anchor: hemi: l_i = max(cos(z_i, a), 0) -- pushes latents out of the hemisphere around a,
// and is indifferent inside the other one; otherwise l_i = (cos(z_i, a) + 1) / 2 -- pushes them
// toward -a everywhere. The research's use: a = anti-red, axis(k, 0, -1).
template <class T> Tensor<T> anti_anchor(Tensor<T> z, const std::vector<double>& a, bool hemi);

// Drift anchor: capture() stores a copy of the latents of a reference set when an event fires
// (the dopesheet's `anchor` action); loss(current) is then l_i = mean_c (current_ic -
// captured_ic)^2. Holds a shape that has been learned in place while the rest keeps training.
// The captured copy is a plain matrix: no tape node, no gradient.
template <class T>
class DriftAnchor {
 public:
  void capture(const Matrix<T>& latents) { reference_ = latents; }
  void capture(const Tensor<T>& latents) { reference_ = latents.value(); }
  void reset() { reference_.resize(0, 0); }
  bool captured() const { return reference_.size() > 0; }
  const Matrix<T>& reference() const { return reference_; }
  // Throws std::logic_error before the first capture, ShapeError when the shape differs.
  Tensor<T> loss(Tensor<T> current) const;

 private:
  Matrix<T> reference_;
};

// Uniformity (Wang & Isola 2020): log mean_{i<j} exp(-t ||z_i - z_j||^2), a (1,1) scalar. Spreads
// the batch uniformly (over the sphere, when used with unitarity). Batch-level: it is not a
// mean of per-sample values and takes no label affinities -- to restrict it to a subset, gather
// those rows first. Needs B >= 2.
template <class T> Tensor<T> uniformity(Tensor<T> z, double t = 2);

// The pairwise energies of "minimum hyperspherical energy" (Liu et al. 2018) and of the Thomson
// problem: l_i = 1/2 sum_{j != i} e_ij, so that the sum of l over the batch is the energy over
// unordered pairs. e_ij = f(d_ij + eps) with f(r) = r^-s (Riesz, s > 0; s = 1 is Coulomb's) or
// f(r) = -log r (log energy), and d_ij the Euclidean distance ||z_i - z_j|| of the rows as given
// (pass unit rows, or constrain them, for points on the sphere) or the angular distance
// acos(cos(z_i, z_j)) in [0, pi] (scale-free). half_space adds the pair of z_i and -z_j
// (||z_i + z_j||, or pi - angle): a point and its antipode count as close, so that directions
// spread as lines rather than as rays. One fused op (losses/energy.cpp): O(B^2 k) time, O(B k)
// memory, row-parallel and deterministic. Coinciding rows (a duplicate sample) make the energy
// infinite unless eps > 0 or mask_duplicates (in double the cosine's 1e-8 epsilon leaves the
// angular distance of two equal rows near 2e-4, a large finite energy; in float it is often
// exactly 0); where the distance has no derivative (d = 0, angle 0 or pi) the pair adds nothing
// to the gradient. The angular version's gradient is tangential; the Euclidean
// one's sums to zero over the batch (it depends only on differences) and, for points on the
// sphere, pushes them outward too (a radial part), which a unit-norm constraint must hold.
enum class Distance { Euclidean, Angular };
struct Energy {
  double s = 1;        // the Riesz exponent; not used by the log energy
  bool log = false;    // f(r) = -log r instead of r^-s
  Distance distance = Distance::Euclidean;
  bool half_space = false;
  double eps = 0;      // softening: f(d + eps)
  // Pairs of the same sample drawn twice add nothing (sampling with replacement): rows within
  // kDuplicateDistance of each other (Euclidean), or with |cos - 1| <= kSameDirection (angular).
  bool mask_duplicates = false;
  // Throws std::invalid_argument unless s > 0 (Riesz) and eps >= 0, both finite.
  void check(const char* term) const;
};
template <class T> Tensor<T> pairwise_energy(Tensor<T> z, Energy options = {});

// Alignment (Wang & Isola 2020): l_i = ||z_i - p_i||^alpha for each row and its positive p_i (the
// same sample under another view or augmentation); the batch mean is their L_align, the partner
// of uniformity. alpha > 0 (2 by default).
template <class T> Tensor<T> alignment(Tensor<T> z, Tensor<T> positives, double alpha = 2);

// The radial and tangential parts of a gradient with respect to z, row by row:
// radial_i = (g_i . z_i / ||z_i||^2) z_i (0 where z_i = 0), tangential_i = g_i - radial_i, and
// cosine_i = |z_i . g_i| / (||z_i|| ||g_i||) (0 where either is 0): 1 for a purely radial
// gradient, 0 for a purely tangential one. Shows which terms move latents along the sphere and
// which change their radius -- and where two terms pull against each other.
template <class T>
struct GradientParts {
  Matrix<T> radial, tangential;
  std::vector<double> cosine;
};
template <class T> GradientParts<T> split_gradient(const Matrix<T>& z, const Matrix<T>& grad);

}  // namespace sg::loss
