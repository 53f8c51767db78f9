// losses/losses.cpp -- the composed loss terms (formulas and geometry in losses.hpp).
//
// Each term is a handful of primitive ops; the backward comes from theirs. Constants (masks,
// anchors, captured latents) are tape leaves filled in place, so nothing here touches the heap
// during a training step. Pairwise terms build B x B matrices: fine at the batch sizes of the
// experiments, and the reason angular repulsion also has a fused kernel (repulsion_fused.cpp).
#include "losses/losses.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace sg::loss {
namespace {

std::string shape(int rows, int cols) {
  return "(" + std::to_string(rows) + "," + std::to_string(cols) + ")";
}

// Throws unless the anchor has one entry per column of z.
void check_anchor(const std::vector<double>& a, int k, const char* term) {
  if (int(a.size()) != k)
    throw ShapeError(std::string(term) + ": the anchor has " + std::to_string(a.size()) +
                     " entries but z has " + std::to_string(k) + " columns");
}

// cos(z_i, a) for every row as (B,1): normalize the rows, then one product with the constant
// column a / (||a|| + eps).
template <class T>
Tensor<T> cosine_to(Tensor<T> z, const std::vector<double>& a, const char* term) {
  const int k = z.cols();
  check_anchor(a, k, term);
  double norm = 0;
  for (double v : a) norm += v * v;
  norm = std::sqrt(norm);
  Tensor<T> direction = z.tape().tensor(k, 1);
  for (int c = 0; c < k; ++c) direction.data()[c] = T(a[c] / (norm + kCosEps));
  return matmul(normalize_rows(z, kCosEps), direction);
}

}  // namespace

void AngularRepulsion::check(const char* term) const {
  if (!(power >= 1) || !std::isfinite(power))
    throw std::invalid_argument(std::string(term) + ": power must be >= 1, got " + std::to_string(power));
  if (!shift && power != std::floor(power))
    throw std::invalid_argument(std::string(term) + ": a fractional power (" + std::to_string(power) +
                                ") needs shift, since unshifted similarities can be negative");
}

std::vector<double> axis(int dims, int index, double sign) {
  if (dims < 1 || index < 0 || index >= dims)
    throw std::invalid_argument("axis: index " + std::to_string(index) + " is out of range for " +
                                std::to_string(dims) + " dimensions");
  std::vector<double> a(std::size_t(dims), 0.0);
  a[std::size_t(index)] = sign;
  return a;
}

// ---------------------------------------------------------------- fidelity and radius

template <class T> Tensor<T> reconstruction(Tensor<T> output, Tensor<T> target) {
  if (output.rows() != target.rows() || output.cols() != target.cols())
    throw ShapeError("reconstruction: output " + shape(output.rows(), output.cols()) +
                     " and target " + shape(target.rows(), target.cols()) + " differ");
  return row_mean(pow(output - target, 2.0));
}

template <class T> Tensor<T> mse(Tensor<T> output, Tensor<T> target) {
  if (output.rows() != target.rows() || output.cols() != target.cols())
    throw ShapeError("mse: output " + shape(output.rows(), output.cols()) + " and target " +
                     shape(target.rows(), target.cols()) + " differ");
  return mean(pow(output - target, 2.0));
}

template <class T> Tensor<T> unitarity(Tensor<T> z) { return pow(row_norm(z) - 1.0, 2.0); }

// ---------------------------------------------------------------- subspaces

// The mask multiplies z before squaring, so the gradient on the kept dims is an exact 0.
template <class T> Tensor<T> subspace(Tensor<T> z, const std::vector<int>& dims, bool invert) {
  const int k = z.cols();
  Tensor<T> penalized = z.tape().tensor(1, k);
  T* m = penalized.data();
  for (int c = 0; c < k; ++c) m[c] = invert ? T(0) : T(1);
  for (int d : dims) {
    if (d < 0 || d >= k)
      throw std::invalid_argument("subspace: dim " + std::to_string(d) + " is out of range for z " +
                                  shape(z.rows(), k));
    m[d] = invert ? T(1) : T(0);
  }
  return row_sum(pow(z * penalized, 2.0));
}

template <class T> Tensor<T> planarity(Tensor<T> z) {
  if (z.cols() < 2) throw ShapeError("planarity: z " + shape(z.rows(), z.cols()) + " has fewer than 2 columns");
  static const std::vector<int> hue_plane = {0, 1};
  return subspace(z, hue_plane);
}

// ---------------------------------------------------------------- repulsion

// The reference composition, step for step as docs/losses.md writes it: the mask is decided on the
// raw similarities and applied before the shift, so with shift a masked entry contributes the
// constant 0.5^p (zero gradient), as in the original.
template <class T> Tensor<T> angular_repulsion(Tensor<T> z, AngularRepulsion options) {
  options.check("angular_repulsion");
  const Tensor<T> similarity = cosine_similarity(z, kCosEps);
  const long n = similarity.size();
  Tensor<T> keep = z.tape().tensor(similarity.rows(), similarity.cols());
  for (long e = 0; e < n; ++e)
    keep.data()[e] = std::fabs(double(similarity.data()[e]) - 1.0) <= kSameDirection ? T(0) : T(1);
  Tensor<T> s = similarity * keep;
  if (options.shift) s = affine(s, 0.5, 0.5);
  return row_sum(pow(s, options.power));
}

// Differences per channel, (B,1) - (1,B) -> (B,B), rather than ||a||^2 + ||b||^2 - 2 a.b: exact 0
// for coincident points, so 1/(D + 1e-6) is never evaluated at a cancelled, slightly negative D.
template <class T> Tensor<T> euclidean_repulsion(Tensor<T> z, EuclideanRepulsion options) {
  if (z.cols() < 2)
    throw ShapeError("euclidean_repulsion: z " + shape(z.rows(), z.cols()) + " has fewer than 2 columns");
  const int B = z.rows(), k = z.cols();
  const Tensor<T> x = slice_cols(z, 0, 1), y = slice_cols(z, 1, 1);
  const Tensor<T> dx = x - transpose(x), dy = y - transpose(y);
  const Tensor<T> D = pow(dx, 2.0) + pow(dy, 2.0);

  // keep_ij: 1 for the pairs that count. The diagonal never does; in the correct form,
  // duplicates (over all channels, not only {0,1}) do not either.
  Tensor<T> keep = z.tape().tensor(B, B);
  const bool drop_duplicates = options.form == EuclideanForm::Correct && options.mask_duplicates;
  const T* v = z.data();
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) {
      bool counts = i != j;
      if (counts && drop_duplicates) {
        double d2 = 0;
        for (int c = 0; c < k; ++c) {
          const double d = double(v[i * k + c]) - double(v[j * k + c]);
          d2 += d * d;
        }
        counts = d2 > kDuplicateDistance * kDuplicateDistance;
      }
      keep.data()[long(i) * B + j] = counts ? T(1) : T(0);
    }

  if (options.form == EuclideanForm::Original)  // diagonal set to 0 *before* the 1e-6: 1e6 each
    return row_mean(pow(D * keep + kRepulsionEps, -1.0));
  const double pairs_per_row = B > 1 ? B - 1 : 1;  // a lone sample has nothing to repel: 0
  return row_sum(pow(D + kRepulsionEps, -1.0) * keep) * (1.0 / pairs_per_row);
}

// ---------------------------------------------------------------- anchors

template <class T> Tensor<T> anchor(Tensor<T> z, const std::vector<double>& a) {
  check_anchor(a, z.cols(), "anchor");
  Tensor<T> point = z.tape().tensor(1, z.cols());
  for (int c = 0; c < z.cols(); ++c) point.data()[c] = T(a[c]);
  return row_sum(pow(z - point, 2.0));
}

template <class T> Tensor<T> angular_anchor(Tensor<T> z, const std::vector<double>& a) {
  return 1.0 - cosine_to(z, a, "angular_anchor");
}

template <class T> Tensor<T> anti_anchor(Tensor<T> z, const std::vector<double>& a, bool hemi) {
  const Tensor<T> c = cosine_to(z, a, "anti_anchor");
  return hemi ? relu(c) : affine(c, 0.5, 0.5);
}

template <class T> Tensor<T> DriftAnchor<T>::loss(Tensor<T> current) const {
  if (!captured()) throw std::logic_error("drift_anchor: loss() before the first capture()");
  if (current.rows() != reference_.rows() || current.cols() != reference_.cols())
    throw ShapeError("drift_anchor: current latents " + shape(current.rows(), current.cols()) +
                     " differ from the captured " + shape(int(reference_.rows()), int(reference_.cols())));
  Tensor<T> captured_latents = current.tape().tensor(current.rows(), current.cols());
  captured_latents.value() = reference_;
  return row_mean(pow(current - captured_latents, 2.0));
}

// ---------------------------------------------------------------- uniformity

// D = ||z_i||^2 + ||z_j||^2 - 2 z_i.z_j over all channels (a cancelled D near 0 is harmless
// inside exp). The mean over i<j equals the mean over i != j (D is symmetric), which keeps the
// gradient symmetric too.
template <class T> Tensor<T> uniformity(Tensor<T> z, double t) {
  const int B = z.rows();
  if (B < 2) throw ShapeError("uniformity: needs at least 2 rows, z is " + shape(B, z.cols()));
  if (!(t > 0)) throw std::invalid_argument("uniformity: t must be > 0, got " + std::to_string(t));
  const Tensor<T> sq = row_sum(pow(z, 2.0));
  const Tensor<T> D = sq + transpose(sq) - 2.0 * matmul(z, z, false, true);
  Tensor<T> off_diagonal = z.tape().tensor(B, B);
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) off_diagonal.data()[long(i) * B + j] = i == j ? T(0) : T(1);
  const Tensor<T> total = sum(exp(D * -t) * off_diagonal);
  return log(total * (1.0 / (double(B) * (B - 1))));
}

// ---------------------------------------------------------------- gradient geometry

template <class T> GradientParts<T> split_gradient(const Matrix<T>& z, const Matrix<T>& grad) {
  if (z.rows() != grad.rows() || z.cols() != grad.cols())
    throw ShapeError("split_gradient: z " + shape(int(z.rows()), int(z.cols())) + " and gradient " +
                     shape(int(grad.rows()), int(grad.cols())) + " differ");
  GradientParts<T> parts{Matrix<T>::Zero(z.rows(), z.cols()), grad, std::vector<double>(z.rows(), 0.0)};
  for (long i = 0; i < z.rows(); ++i) {
    double zz = 0, zg = 0, gg = 0;
    for (long c = 0; c < z.cols(); ++c) {
      zz += double(z(i, c)) * z(i, c);
      zg += double(z(i, c)) * grad(i, c);
      gg += double(grad(i, c)) * grad(i, c);
    }
    if (zz == 0) continue;
    for (long c = 0; c < z.cols(); ++c) {
      parts.radial(i, c) = T(zg / zz * z(i, c));
      parts.tangential(i, c) = grad(i, c) - parts.radial(i, c);
    }
    if (gg > 0) parts.cosine[i] = std::fabs(zg) / std::sqrt(zz * gg);
  }
  return parts;
}

#define SG_INSTANTIATE_LOSSES(T)                                                      \
  template Tensor<T> reconstruction(Tensor<T>, Tensor<T>);                            \
  template Tensor<T> mse(Tensor<T>, Tensor<T>);                                       \
  template Tensor<T> unitarity(Tensor<T>);                                            \
  template Tensor<T> subspace(Tensor<T>, const std::vector<int>&, bool);              \
  template Tensor<T> planarity(Tensor<T>);                                            \
  template Tensor<T> angular_repulsion(Tensor<T>, AngularRepulsion);                  \
  template Tensor<T> euclidean_repulsion(Tensor<T>, EuclideanRepulsion);              \
  template Tensor<T> anchor(Tensor<T>, const std::vector<double>&);                   \
  template Tensor<T> angular_anchor(Tensor<T>, const std::vector<double>&);           \
  template Tensor<T> anti_anchor(Tensor<T>, const std::vector<double>&, bool);        \
  template class DriftAnchor<T>;                                                      \
  template Tensor<T> uniformity(Tensor<T>, double);                                   \
  template GradientParts<T> split_gradient(const Matrix<T>&, const Matrix<T>&);

SG_INSTANTIATE_LOSSES(float)
SG_INSTANTIATE_LOSSES(double)

}  // namespace sg::loss
