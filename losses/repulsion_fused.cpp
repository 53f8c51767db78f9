// losses/repulsion_fused.cpp -- angular repulsion as one fused op (Op::Custom).
//
// Contract: the per-sample values of angular_repulsion (losses.cpp) up to rounding, with the
// same mask, shift and power, in O(B^2 k) time and O(B k) memory: the B x B similarity matrix
// is never stored -- the backward recomputes each row of it. Forward and backward run over rows
// i in parallel; a row is computed by one thread, in a fixed order, so the results are bitwise
// identical at any thread count (autodiff/parallel.hpp). It exists because the composed version
// keeps about eight B x B matrices on the tape (bench/bench_losses.cpp, docs/losses.md).
//
// Shapes: z (B,k) -> y (B,1). Saved (aux): the unit rows transposed, (k,B), so that the inner
// loops over j read contiguous memory, then the norms n (B).
//
// forward:   u_i = z_i / d_i, d_i = n_i + eps;   S_ij = u_i . u_j
//            s_ij = keep_ij S_ij, keep_ij = [|S_ij - 1| > 1e-8 + 1e-5];   f = shift ? (s + 1)/2 : s
//            y_i = sum_j f_ij^p
// backward:  h_ij = dy_i/dS_ij = keep_ij p f_ij^(p-1) c   (c = 1/2 with shift, else 1)
//            du_i = sum_j (g_i + g_j) h_ij u_j           (S_ij = S_ji appears in y_i and in y_j)
//            dz_i = du_i / d_i - z_i (z_i . du_i) / (n_i d_i^2)   (second term 0 where n_i = 0)
#include <algorithm>
#include <cmath>

#include "autodiff/parallel.hpp"
#include "losses/losses.hpp"

namespace sg::loss {
namespace {

// Columns j are processed in blocks of this many, with the block's temporaries on the stack.
// A multiple of 8, so that the 8-lane sums below see the same lanes in every block.
constexpr int kBlock = 256;
// Up to this many pairs (4 MiB of floats), the forward keeps the pairwise weights for the backward.
constexpr long kStoreLimit = 1L << 20;

using par::dot_span;

// s[jj] = S_i,(j0+jj) for jj < n, summed over c in index order. The products commute exactly,
// so S_ij and S_ji have the same bits -- and so do keep_ij and keep_ji.
template <class T>
void similarity_block(const T* unit_t, long B, int k, long i, long j0, int n, T* s) {
  std::fill(s, s + n, T(0));
  for (int c = 0; c < k; ++c) {
    const T ui = unit_t[c * B + i];
    const T* uc = unit_t + c * B + j0;
    for (int jj = 0; jj < n; ++jj) s[jj] += ui * uc[jj];
  }
}

// keep[jj] = 1 unless the pair points the same way; f[jj] = the masked, optionally shifted base.
// The mask is decided on the raw similarity and applied before the shift (as SPEC.md orders it).
template <class T>
void base_block(const T* s, int n, bool shift, T* keep, T* f) {
  for (int jj = 0; jj < n; ++jj) {
    keep[jj] = std::fabs(double(s[jj]) - 1.0) <= kSameDirection ? T(0) : T(1);
    f[jj] = s[jj] * keep[jj];
    if (shift) f[jj] = T(0.5) * f[jj] + T(0.5);
  }
}

// out[jj] = x[jj]^e. An integer e uses the repeated squaring of the pow op (the same
// multiplications, so the same bits), run across the block so that it vectorizes.
template <class T>
void power_block(const T* x, int n, T e, T* out) {
  if (e != std::floor(e)) {
    for (int jj = 0; jj < n; ++jj) out[jj] = std::pow(x[jj], e);
    return;
  }
  T base[kBlock];
  std::copy(x, x + n, base);
  std::fill(out, out + n, T(1));
  for (unsigned long bits = static_cast<unsigned long>(e); bits;) {
    if (bits & 1)
      for (int jj = 0; jj < n; ++jj) out[jj] *= base[jj];
    bits >>= 1;
    if (bits)
      for (int jj = 0; jj < n; ++jj) base[jj] *= base[jj];
  }
}

// Each (i, j) pair costs about k multiply-adds plus a dozen flops of mask and power.
// Twice the engine's threshold: below it, the fork and join cost about what the second thread
// saves (a batch of 64 stays on one thread).
bool worth_parallel(long B, int k) { return B * B * (k + 12) > 2 * par::kParallelWork; }

template <class T>
void angular_repulsion_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  const long B = x.rows;
  const int k = x.cols;
  const T* unit_t = static_cast<const T*>(y.aux);
  const T* norm = unit_t + k * B;
  const T* stored = y.iarg ? norm + B : nullptr;  // dS-weights of the forward, when it kept them
  const T p = y.s0;
  const bool shift = y.s1 != 0;
  const T slope = shift ? T(0.5) : T(1);
  const T* g = y.grad;
  T* du_all = tape.template alloc<T>(std::size_t(B) * k);  // one row of du per i: disjoint writes

  par::for_each(B, worth_parallel(B, k), [&](long i) {
    T* du = du_all + i * k;
    std::fill(du, du + k, T(0));
    for (long j0 = 0; j0 < B; j0 += kBlock) {
      const int n = int(std::min<long>(kBlock, B - j0));
      T w[kBlock];
      if (stored) {
        const T* d = stored + i * B + j0;
        for (int jj = 0; jj < n; ++jj) w[jj] = (g[i] + g[j0 + jj]) * d[jj];
      } else {
        T s[kBlock], keep[kBlock], f[kBlock];
        similarity_block(unit_t, B, k, i, j0, n, s);
        base_block(s, n, shift, keep, f);
        power_block(f, n, p - 1, w);  // f^(p-1)
        for (int jj = 0; jj < n; ++jj) w[jj] = (g[i] + g[j0 + jj]) * (keep[jj] * p * w[jj] * slope);
      }
      for (int c = 0; c < k; ++c) du[c] += dot_span(w, unit_t + c * B + j0, n);
    }
    // Back through u_i = z_i / (n_i + eps), as the normalize_rows op does.
    const T* zi = x.value + i * k;
    const T d = norm[i] + T(kCosEps);
    const T radial = norm[i] > 0 ? dot_span(zi, du, k) / (norm[i] * d * d) : T(0);
    T* dzi = x.grad + i * k;
    for (int c = 0; c < k; ++c) dzi[c] += du[c] / d - zi[c] * radial;
  });
}

}  // namespace

template <class T> Tensor<T> angular_repulsion_fused(Tensor<T> z, AngularRepulsion options) {
  options.check("angular_repulsion_fused");
  Tape<T>& tape = z.tape();
  const long B = z.rows();
  const int k = z.cols();
  // Small batches keep the weights of dl/dS (B x B, once) for the backward, which then skips
  // recomputing similarities and powers; large ones recompute them and stay O(B k) in memory.
  const bool store = z.requires_grad() && tape.grad_enabled() && B * B <= kStoreLimit;
  T* unit_t = tape.template alloc<T>(std::size_t(k) * B + std::size_t(B) + (store ? std::size_t(B * B) : 0));
  T* norm = unit_t + k * B;
  T* stored = store ? norm + B : nullptr;
  const T* x = z.data();
  for (long i = 0; i < B; ++i) {
    norm[i] = std::sqrt(dot_span(x + i * k, x + i * k, k));
    const T inv = T(1) / (norm[i] + T(kCosEps));
    for (int c = 0; c < k; ++c) unit_t[c * B + i] = x[i * k + c] * inv;
  }

  const int id = tape.record(Op::Custom, int(B), 1, z.id());
  Node<T>& y = tape.node(id);
  y.aux = unit_t;
  y.iarg = store ? 1 : 0;
  y.s0 = T(options.power);
  y.s1 = options.shift ? T(1) : T(0);
  y.custom_backward = angular_repulsion_backward<T>;
  const T p = y.s0, slope = options.shift ? T(0.5) : T(1);
  T* out = y.value;

  par::for_each(B, worth_parallel(B, k), [&](long i) {
    T total = 0;
    for (long j0 = 0; j0 < B; j0 += kBlock) {
      const int n = int(std::min<long>(kBlock, B - j0));
      T s[kBlock], keep[kBlock], f[kBlock], f_pm1[kBlock];
      similarity_block(unit_t, B, k, i, j0, n, s);
      base_block(s, n, options.shift, keep, f);
      power_block(f, n, p - 1, f_pm1);  // f^(p-1): the loss needs f^p, its derivative p f^(p-1)
      for (int jj = 0; jj < n; ++jj) s[jj] = f_pm1[jj] * f[jj];
      total += par::sum_span(s, n);
      if (stored) {
        T* d = stored + i * B + j0;
        for (int jj = 0; jj < n; ++jj) d[jj] = keep[jj] * p * f_pm1[jj] * slope;
      }
    }
    out[i] = total;
  });
  return {&tape, id};
}

template Tensor<float> angular_repulsion_fused(Tensor<float>, AngularRepulsion);
template Tensor<double> angular_repulsion_fused(Tensor<double>, AngularRepulsion);

}  // namespace sg::loss
