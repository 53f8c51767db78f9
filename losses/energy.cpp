// losses/energy.cpp -- the pairwise energies (Riesz s-energy, log energy) as one fused op.
//
// Contract: per-sample values y_i = 1/2 sum_{j != i} e_ij, so that sum_i y_i is the energy over
// unordered pairs, the quantity of the Thomson problem. O(B^2 k) time, O(B k) memory: no B x B
// matrix is stored, the backward recomputes each pair. Rows run in parallel; row i's sums go over
// blocks of columns in order on one thread (par::sum_span within a block), so the bits do not
// depend on the thread count. tests/test_sphere.cpp
// checks it against a composed reference, by finite differences, and across thread counts.
//
// Per pair, with r = d + eps:
//   kernel      f(r)          f'(r)
//   Riesz s     r^-s          -s r^-s / r
//   log         -log r        -1 / r
//   distance    d_ij                              d+_ij (half-space partner: x_i and -x_j)
//   Euclidean   ||x_i - x_j||                     ||x_i + x_j||
//   angular     acos(u_i . u_j), u unit rows      pi - acos(u_i . u_j)
//   e_ij = f(d_ij) [+ f(d+_ij) with half_space]
// backward, with w_ij = (g_i + g_j) / 2 (e_ij = e_ji appears in y_i and in y_j):
//   Euclidean   dx_i = sum_j w_ij [f'(d)/d (x_i - x_j) + f'(d+)/d+ (x_i + x_j)]
//   angular     du_i = sum_j w_ij [-f'(d) + f'(d+)] / sqrt(1 - c^2) u_j,   c = u_i . u_j
// and for the angular distance normalize_rows' backward takes du to dz. Where the derivative of
// the distance does not exist (d = 0; |c| = 1), the pair adds 0 to the gradient; with
// mask_duplicates, a pair of coinciding rows adds 0 to both.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autodiff/kernels/parallel.hpp"
#include "losses/losses.hpp"

namespace sg::loss {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Columns j are taken in blocks of this many: the block's pairs are computed into buffers by
// loops over j that the compiler vectorizes, then summed with par::sum_span, block after block.
constexpr long kBlock = 256;

template <class T>
struct EnergyProblem {
  const T* x_t;  // (k, B), transposed: z for the Euclidean distance, its unit rows for the angular one
  long B;
  int k;
  Energy options;
};

// The value and the derivative of the kernel at distance d.
template <class T>
void kernel(const Energy& o, T d, T& f, T& df) {
  const T r = d + T(o.eps);
  if (o.log) {
    f = -std::log(r);
    df = T(-1) / r;
  } else {
    f = o.s == 1 ? T(1) / r : std::pow(r, T(-o.s));
    df = T(-o.s) * f / r;
  }
}

// Row i against columns [j0, j0 + n): e[j] = e_ij and, unless a is null (the forward), the
// pair's gradient coefficients: Euclidean a[j] = f'(d)/d and b[j] = f'(d+)/d+ (0 where the
// distance is 0, and b = 0 without half_space); angular a[j] = (f'(d+) - f'(d)) / sqrt(1 - c^2)
// (0 where |c| = 1) and b = 0. Column i gives 0 throughout.
template <class T>
void block(const EnergyProblem<T>& q, long i, long j0, long n, T* e, T* a = nullptr, T* b = nullptr) {
  const Energy& o = q.options;
  const bool euclidean = o.distance == Distance::Euclidean, half = o.half_space;
  alignas(64) T minus[kBlock] = {}, plus[kBlock] = {};  // squared distances, or the cosines
  for (int c = 0; c < q.k; ++c) {
    const T xi = q.x_t[c * q.B + i], *xj = q.x_t + c * q.B + j0;
    if (!euclidean) {
      for (long j = 0; j < n; ++j) minus[j] += xi * xj[j];
      continue;
    }
    for (long j = 0; j < n; ++j) minus[j] += (xi - xj[j]) * (xi - xj[j]);
    if (half)
      for (long j = 0; j < n; ++j) plus[j] += (xi + xj[j]) * (xi + xj[j]);
  }
  const bool grad = a != nullptr;
  if (grad) std::fill(b, b + n, T(0));
  if (euclidean && !half && !o.log && o.s == 1) {  // Coulomb: loops of square roots and divisions
    const T eps = T(o.eps);
    for (long j = 0; j < n; ++j) e[j] = T(1) / (std::sqrt(minus[j]) + eps);
    if (grad)
      for (long j = 0; j < n; ++j) {
        const T d = std::sqrt(minus[j]);
        a[j] = d > 0 ? -e[j] * e[j] / d : T(0);
      }
  } else {
    for (long j = 0; j < n; ++j) {
      T f, df, fp = 0, dfp = 0;
      if (euclidean) {
        const T d = std::sqrt(minus[j]), dp = half ? std::sqrt(plus[j]) : T(0);
        kernel(o, d, f, df);
        if (half) kernel(o, dp, fp, dfp);
        if (grad) a[j] = d > 0 ? df / d : T(0), b[j] = dp > 0 ? dfp / dp : T(0);
      } else {
        const T cosine = std::clamp(minus[j], T(-1), T(1)), theta = std::acos(cosine);
        kernel(o, theta, f, df);
        if (half) kernel(o, T(kPi) - theta, fp, dfp);
        const T sine = std::sqrt(T(1) - cosine * cosine);
        if (grad) a[j] = sine > 0 ? (dfp - df) / sine : T(0);
      }
      e[j] = f + fp;
    }
  }
  const auto drop = [&](long j) {
    e[j] = 0;
    if (grad) a[j] = b[j] = 0;
  };
  if (o.mask_duplicates) {  // decided on the squared distance, or on the cosine before clamping
    const T limit = euclidean ? T(kDuplicateDistance * kDuplicateDistance) : T(kSameDirection);
    for (long j = 0; j < n; ++j)
      if (euclidean ? minus[j] <= limit : std::fabs(minus[j] - T(1)) <= limit) drop(j);
  }
  if (i >= j0 && i < j0 + n) drop(i - j0);
}

// A pair costs about 3k flops plus a square root and a division (or a power, a log, an acos).
bool worth_parallel(long B, int k) { return B * B * (3 * k + 20) > 2 * par::kParallelWork; }

template <class T>
struct EnergyOp {
  static constexpr const char* name = "pairwise_energy";
  const EnergyProblem<T>* problem;
  // dx_i = sum_j w_ij [a_ij (x_i - x_j) + b_ij (x_i + x_j)] = x_i sum_j w (a + b) + sum_j w (b - a) x_j
  // (Euclidean), du_i = sum_j w_ij a_ij u_j (angular), w_ij = (g_i + g_j) / 2; block after block.
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const EnergyProblem<T>& q = *y.template saved<EnergyOp>().problem;
    const Node<T>& x = tape.node(y.a);
    const bool euclidean = q.options.distance == Distance::Euclidean;
    par::for_each(q.B, worth_parallel(q.B, q.k), [&](long i) {
      T* dx = x.grad + i * q.k;  // row i of dx is written by this task alone
      for (long j0 = 0; j0 < q.B; j0 += kBlock) {
        const long n = std::min(kBlock, q.B - j0);
        alignas(64) T e[kBlock], a[kBlock], b[kBlock];
        block(q, i, j0, n, e, a, b);
        for (long j = 0; j < n; ++j) {
          const T w = (y.grad[i] + y.grad[j0 + j]) * T(0.5);
          const T wa = w * a[j], wb = w * b[j];
          a[j] = euclidean ? wb - wa : wa;  // the weight of x_j
          b[j] = wa + wb;                   // the weight of x_i (Euclidean)
        }
        const T self = euclidean ? par::sum_span(b, n) : T(0);
        for (int c = 0; c < q.k; ++c)
          dx[c] += q.x_t[c * q.B + i] * self + par::dot_span(a, q.x_t + c * q.B + j0, n);
      }
    });
  }
};

}  // namespace

void Energy::check(const char* term) const {
  if (!log && !(s > 0 && std::isfinite(s)))
    throw std::invalid_argument(std::string(term) + ": the Riesz exponent s must be > 0, got " + std::to_string(s));
  if (!(eps >= 0 && std::isfinite(eps)))
    throw std::invalid_argument(std::string(term) + ": eps must be >= 0, got " + std::to_string(eps));
}

template <class T> Tensor<T> pairwise_energy(Tensor<T> z, Energy options) {
  options.check("pairwise_energy");
  if (z.rows() < 2)
    throw ShapeError("pairwise_energy: needs at least 2 rows, z is (" + std::to_string(z.rows()) + "," +
                     std::to_string(z.cols()) + ")");
  const Tensor<T> x = options.distance == Distance::Angular ? normalize_rows(z, kCosEps) : z;
  Tape<T>& tape = z.tape();
  const long B = x.rows();
  const int k = x.cols();
  T* x_t = tape.template alloc<T>(std::size_t(k) * B);
  for (long i = 0; i < B; ++i)
    for (int c = 0; c < k; ++c) x_t[c * B + i] = x.data()[i * k + c];
  EnergyProblem<T>* q = tape.template alloc<EnergyProblem<T>>(1);
  *q = {x_t, B, k, options};
  Node<T>& y = tape.node(tape.record(op_kind<EnergyOp<T>>, int(B), 1, x.id()));
  y.template saved<EnergyOp<T>>() = {q};
  T* out = y.value;
  par::for_each(B, worth_parallel(B, k), [&](long i) {
    T total = 0;
    for (long j0 = 0; j0 < B; j0 += kBlock) {
      const long n = std::min(kBlock, B - j0);
      alignas(64) T e[kBlock];
      block(*q, i, j0, n, e);
      total += par::sum_span(e, n);
    }
    out[i] = T(0.5) * total;
  });
  return {&tape, int(tape.size()) - 1};
}

template <class T> Tensor<T> alignment(Tensor<T> z, Tensor<T> positives, double alpha) {
  if (z.rows() != positives.rows() || z.cols() != positives.cols())
    throw ShapeError("alignment: z (" + std::to_string(z.rows()) + "," + std::to_string(z.cols()) +
                     ") and its positives (" + std::to_string(positives.rows()) + "," +
                     std::to_string(positives.cols()) + ") differ");
  if (!(alpha > 0) || !std::isfinite(alpha))
    throw std::invalid_argument("alignment: alpha must be > 0, got " + std::to_string(alpha));
  // alpha = 2 without the square root: the gradient exists where a pair coincides.
  const Tensor<T> difference = z - positives;
  return alpha == 2 ? row_sum(pow(difference, 2.0)) : pow(row_norm(difference), alpha);
}

template Tensor<float> pairwise_energy(Tensor<float>, Energy);
template Tensor<double> pairwise_energy(Tensor<double>, Energy);
template Tensor<float> alignment(Tensor<float>, Tensor<float>, double);
template Tensor<double> alignment(Tensor<double>, Tensor<double>, double);

}  // namespace sg::loss
