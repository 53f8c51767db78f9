// losses/repulsion_fused.cpp -- angular repulsion as a normalize_rows node and one pairwise op.
//
// Contract: the per-sample values of angular_repulsion (losses.cpp) up to rounding, with the
// same mask, shift and power, in O(B^2 k) time and O(B k) memory at large B: the B x B
// similarity matrix is never stored -- the backward recomputes each row of it. It exists because
// the composed version keeps about eight B x B matrices on the tape (bench/bench_losses.cpp,
// docs/losses.md). It is built from the engine's own pieces: u = normalize_rows(z) is an ordinary
// node, and AngularRepulsionOp is one op (the same kind of struct as the ops of
// autodiff/ops.cpp) on the unit rows. Both run over rows i in parallel; a row is computed by one
// thread, in a fixed order, so the results are bitwise identical at any thread count
// (autodiff/kernels/parallel.hpp).
//
// Shapes: u (B,k) -> y (B,1). Saved: the unit rows transposed, (k, B32) with B32 = B rounded up
// to 32 and zeros beyond B, so that the inner loops over j read contiguous memory eight columns
// at a time; at small B also the pairwise weights h (B, B32), so that the backward need not
// recompute the similarities and powers.
//
// The loops over j run on par::Lanes8 (eight lanes, one vector instruction per operation), and
// every sum over j is the eight-accumulator sum of par::sum_span, block of 256 columns after
// block: the bits are those of the straightforward scalar loops, at any thread count.
//
// forward:   S_ij = u_i . u_j
//            s_ij = keep_ij S_ij, keep_ij = [|S_ij - 1| > 1e-8 + 1e-5];   f = shift ? (s + 1)/2 : s
//            y_i = sum_j f_ij^p
// backward:  h_ij = dy_i/dS_ij = keep_ij p f_ij^(p-1) c   (c = 1/2 with shift, else 1)
//            du_i = sum_j (g_i + g_j) h_ij u_j           (S_ij = S_ji appears in y_i and in y_j)
// and normalize_rows' backward takes du to dz.
#include <algorithm>
#include <cmath>

#include "autodiff/kernels/parallel.hpp"
#include "losses/losses.hpp"

namespace sg::loss {
namespace {

using par::Lanes8;
using par::load8;
using par::store8;

// Columns j are processed in blocks of this many: the partial sums of a block are combined
// (par::combine8) and added to the row's total, block after block.
constexpr int kBlock = 256;
// Inside a block, kGroup groups of eight columns are computed together: independent work that
// the core overlaps (one group alone is a chain of dependent multiplications). Rows are padded
// to a multiple of kGroup * 8 columns.
constexpr int kGroup = 4;
constexpr long kGroupCols = kGroup * 8;
// Up to this many pairs (4 MiB of floats), the forward keeps the pairwise weights for the backward.
constexpr long kStoreLimit = 1L << 20;

// The largest T <= kSameDirection: |S - 1| <= it in T decides exactly as |S - 1| <= kSameDirection
// in double would. (For S in [0.5, 2], S - 1 is exact in T; below 0.5 both are far from it.)
template <class T>
T same_direction_threshold() {
  T t = T(kSameDirection);
  if (double(t) > kSameDirection) t = std::nextafter(t, T(0));
  return t;
}

// What the kernel needs to know of the problem: built once by the forward, kept for the backward.
template <class T>
struct Pairs {
  const T* unit_t;  // (k, stride): the unit rows transposed, zero beyond column B
  T* weights;       // (B, stride): h_ij, kept by the forward at small B; null otherwise
  long B, stride;
  int k;
  T power, slope, threshold;  // p, c (1/2 with shift, else 1), see same_direction_threshold
  bool shift;
  bool integer_power;  // p - 1 is a whole number, computed by repeated squaring
};

// The pairs (i, j .. j + 8 kGroup - 1), eight per Lanes8: keep (1, or 0 where masked), f (the
// masked, optionally shifted base) and f^(p-1). Columns j >= B get keep = f = f^(p-1) = 0.
template <class T>
struct Group {
  Lanes8<T> keep[kGroup], f[kGroup], f_pm1[kGroup];
};

template <class T>
[[gnu::always_inline]] inline void pairs(const Pairs<T>& q, long i, long j, Group<T>& out) {
  using V = Lanes8<T>;
  V s[kGroup] = {};  // S_ij summed over c in index order: S_ij and S_ji have the same bits
  for (int c = 0; c < q.k; ++c) {
    const T ui = q.unit_t[c * q.stride + i];
    for (int g = 0; g < kGroup; ++g) s[g] += ui * load8(q.unit_t + c * q.stride + j + 8 * g);
  }
  for (int g = 0; g < kGroup; ++g) {
    // The mask is decided on the raw similarity and applied before the shift (as docs/losses.md orders).
    const V d = s[g] - T(1);
    out.keep[g] = (d <= q.threshold && d >= -q.threshold) ? V{} : V{} + T(1);
    out.f[g] = s[g] * out.keep[g];
    if (q.shift) out.f[g] = T(0.5) * out.f[g] + T(0.5);
  }
  // f^(p-1): an integer exponent by repeated squaring -- the same multiplications as the pow
  // op, so the same bits -- any other with std::pow.
  const T e = q.power - 1;
  if (q.integer_power) {
    V base[kGroup];
    for (int g = 0; g < kGroup; ++g) base[g] = out.f[g], out.f_pm1[g] = V{} + T(1);
    for (unsigned long bits = static_cast<unsigned long>(e); bits;) {
      if (bits & 1)
        for (int g = 0; g < kGroup; ++g) out.f_pm1[g] *= base[g];
      bits >>= 1;
      if (bits)
        for (int g = 0; g < kGroup; ++g) base[g] *= base[g];
    }
  } else {
    for (int g = 0; g < kGroup; ++g)
      for (int l = 0; l < 8; ++l) out.f_pm1[g][l] = std::pow(out.f[g][l], e);
  }
  if (j + kGroupCols > q.B) {  // the last group of a row reaches into the padding
    for (int g = 0; g < kGroup; ++g) {
      V column;
      for (int l = 0; l < 8; ++l) column[l] = T(j + 8 * g + l);
      const V none = V{};
      out.keep[g] = column < T(q.B) ? out.keep[g] : none;
      out.f[g] = column < T(q.B) ? out.f[g] : none;
      out.f_pm1[g] = column < T(q.B) ? out.f_pm1[g] : none;
    }
  }
}

// Each (i, j) pair costs about k multiply-adds plus a dozen flops of mask and power.
// Twice the engine's threshold: below it, the fork and join cost about what the second thread
// saves (a batch of 64 stays on one thread).
bool worth_parallel(long B, int k) { return B * B * (k + 12) > 2 * par::kParallelWork; }

template <class T>
struct AngularRepulsionOp {
  static constexpr const char* name = "angular_repulsion";
  const Pairs<T>* problem;  // built once by the forward
  static void backward(Tape<T>& tape, const Node<T>& y);
};

template <class T>
void AngularRepulsionOp<T>::backward(Tape<T>& tape, const Node<T>& y) {
  using V = Lanes8<T>;
  const Pairs<T>& q = *y.template saved<AngularRepulsionOp>().problem;
  const Node<T>& u = tape.node(y.a);
  const long B = q.B, stride = q.stride;
  const int k = q.k;
  T* g = tape.template alloc<T>(std::size_t(stride));  // dy, zero beyond B
  std::copy(y.grad, y.grad + B, g);
  std::fill(g + B, g + stride, T(0));

  par::for_each(B, worth_parallel(B, k), [&](long i) {
    T* du = u.grad + i * k;  // row i of du is written by this task alone
    for (long j0 = 0; j0 < B; j0 += kBlock) {
      const long end = std::min(B, j0 + kBlock);
      alignas(64) T w[kBlock];  // w_j = (g_i + g_j) h_ij, the weight of u_j in du_i
      for (long j = j0; j < end; j += kGroupCols) {
        if (q.weights) {
          for (long jj = j; jj < j + kGroupCols; jj += 8)
            store8(w + (jj - j0), (g[i] + load8(g + jj)) * load8(q.weights + i * stride + jj));
        } else {
          Group<T> pair;
          pairs(q, i, j, pair);
          for (int gr = 0; gr < kGroup; ++gr) {
            const V h = pair.keep[gr] * q.power * pair.f_pm1[gr] * q.slope;
            store8(w + (j - j0 + 8 * gr), (g[i] + load8(g + j + 8 * gr)) * h);
          }
        }
      }
      // du_ic += sum_j w_j u_jc, four channels at a time: each w_j is loaded once for four
      // independent sums (a channel past k repeats channel k - 1 and is dropped).
      for (int c0 = 0; c0 < k; c0 += 4) {
        const T* uc[4];
        for (int c = 0; c < 4; ++c) uc[c] = q.unit_t + std::min(c0 + c, k - 1) * stride;
        V acc[4] = {};
        for (long j = j0; j < end; j += 8) {
          const V wj = load8(w + (j - j0));
          for (int c = 0; c < 4; ++c) acc[c] += wj * load8(uc[c] + j);
        }
        for (int c = 0; c < std::min(4, k - c0); ++c) du[c0 + c] += par::combine8<T>(acc[c]);
      }
    }
  });
}

}  // namespace

template <class T> Tensor<T> angular_repulsion_fused(Tensor<T> z, AngularRepulsion options) {
  using V = Lanes8<T>;
  options.check("angular_repulsion_fused");
  const Tensor<T> unit = normalize_rows(z, kCosEps);
  Tape<T>& tape = z.tape();
  const long B = z.rows(), stride = (B + kGroupCols - 1) / kGroupCols * kGroupCols;
  const int k = z.cols();
  // Small batches keep the weights h (B x stride, once) for the backward, which then skips
  // recomputing similarities and powers; large ones recompute them and stay O(B k).
  const bool keep = unit.requires_grad() && B * B <= kStoreLimit;
  T* unit_t = tape.template alloc<T>(std::size_t(k) * stride + (keep ? std::size_t(B * stride) : 0));
  for (long i = 0; i < B; ++i)
    for (int c = 0; c < k; ++c) unit_t[c * stride + i] = unit.data()[i * k + c];
  for (int c = 0; c < k; ++c) std::fill(unit_t + c * stride + B, unit_t + (c + 1) * stride, T(0));
  Pairs<T>* q = tape.template alloc<Pairs<T>>(1);
  *q = {unit_t, keep ? unit_t + k * stride : nullptr, B, stride, k, T(options.power),
        options.shift ? T(0.5) : T(1), same_direction_threshold<T>(), options.shift,
        T(options.power) == std::floor(T(options.power))};

  Node<T>& y = tape.node(tape.record(op_kind<AngularRepulsionOp<T>>, int(B), 1, unit.id()));
  y.template saved<AngularRepulsionOp<T>>() = {q};
  T* out = y.value;
  par::for_each(B, worth_parallel(B, k), [&](long i) {
    T total = 0;
    for (long j0 = 0; j0 < B; j0 += kBlock) {
      const long end = std::min(B, j0 + kBlock);
      V acc = V{};  // f^p = f^(p-1) f; the derivative needs p f^(p-1)
      for (long j = j0; j < end; j += kGroupCols) {
        Group<T> pair;
        pairs(*q, i, j, pair);
        for (int g = 0; g < kGroup; ++g) {
          acc += pair.f_pm1[g] * pair.f[g];
          if (q->weights)
            store8(q->weights + i * stride + j + 8 * g, pair.keep[g] * q->power * pair.f_pm1[g] * q->slope);
        }
      }
      total += par::combine8<T>(acc);
    }
    out[i] = total;
  });
  return {&tape, int(tape.size()) - 1};
}

template Tensor<float> angular_repulsion_fused(Tensor<float>, AngularRepulsion);
template Tensor<double> angular_repulsion_fused(Tensor<double>, AngularRepulsion);

}  // namespace sg::loss
