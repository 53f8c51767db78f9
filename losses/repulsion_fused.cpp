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
// Past kStoreLimit pairs (B > 1024), where the pairs are computed twice (forward, and again in
// backward), each pair is computed once for both of its rows: S_ij = S_ji has the same bits, and
// so does every quantity of the pair. The columns are cut into tiles of 32; tile pairs (I, J),
// I <= J, are computed in order of I and then J. The pairs of tile (I, J) add into the rows of
// I -- eight lanes per row, column l of a tile into lane l % 8, kept over all J and combined
// (par::combine8) once I is done -- and, for I < J, into the rows of J (each column summed over
// the rows of I, then added to the row's sum). To run in parallel the outer tiles are cut into kParts parts of about equal
// pair counts (fixed by B alone), each with its own partial sums, and every row adds the parts'
// partial sums in part order: the bits differ from the small-B order, but not with the thread
// count. tests/test_losses.cpp has both orders as scalar loops.
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
// Up to this many pairs (4 MiB of floats), the forward keeps the pairwise weights for the backward;
// past it, each pair is computed once for both its rows, in kParts parts.
constexpr long kStoreLimit = 1L << 20;
constexpr int kParts = 8;

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
  bool symmetric;      // past kStoreLimit pairs: tile pairs in parts (above)
  long part_end[kParts];  // symmetric: the outer tiles of part p are [part_end[p - 1], part_end[p])
};

// Cuts the nt outer tiles into kParts parts of about equal pair counts (outer tile I has nt - I
// tile pairs): part p ends at the first I whose cumulative count reaches p + 1 kParts-ths.
template <class T>
void cut_parts(Pairs<T>& q) {
  const long nt = q.stride / (8 * 4), total = nt * (nt + 1) / 2;
  long I = 0, done = 0;
  for (int p = 0; p < kParts; ++p) {
    while (I < nt && done * kParts < total * (p + 1)) done += nt - I, ++I;
    q.part_end[p] = I;
  }
}

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

  if (q.symmetric) {
    // Per part, du transposed (k, stride): du_i gains sum_j w_ij u_j, du_j gains w_ij u_i.
    // The rows of the current outer tile keep eight lanes per channel over all its tile pairs,
    // combined once at the end.
    T* part_du = tape.template alloc<T>(std::size_t(kParts) * k * stride);
    std::fill(part_du, part_du + std::size_t(kParts) * k * stride, T(0));
    V* lanes = tape.template alloc<V>(std::size_t(kParts) * kGroupCols * k);
    par::for_each(kParts, worth_parallel(B, k), [&](long p) {
      T* acc = part_du + p * k * stride;
      V* row = lanes + p * kGroupCols * k;
      for (long I = p ? q.part_end[p - 1] : 0; I < q.part_end[p]; ++I) {
        const long i0 = I * kGroupCols, i1 = std::min(B, i0 + kGroupCols);
        std::fill(row, row + kGroupCols * k, V{});
        for (long J = I; J < stride / kGroupCols; ++J) {
          const long j = J * kGroupCols;
          V w[kGroupCols][kGroup];  // w_ij = (g_i + g_j) h_ij for the rows of I and the columns of J
          for (long i = i0; i < i1; ++i) {
            Group<T> pair;
            pairs(q, i, j, pair);
            V* wi = w[i - i0];
            for (int gr = 0; gr < kGroup; ++gr)
              wi[gr] = (g[i] + load8(g + j + 8 * gr)) * (pair.keep[gr] * q.power * pair.f_pm1[gr] * q.slope);
            for (int c = 0; c < k; ++c) {
              const T* uc = q.unit_t + c * stride + j;
              row[(i - i0) * k + c] += (wi[0] * load8(uc) + wi[1] * load8(uc + 8)) + (wi[2] * load8(uc + 16) + wi[3] * load8(uc + 24));
            }
          }
          if (I == J) continue;
          for (int c = 0; c < k; ++c) {  // the rows of J, each column over the rows of I
            V column[kGroup] = {};
            for (long i = i0; i < i1; ++i) {
              const T ui = q.unit_t[c * stride + i];
              for (int gr = 0; gr < kGroup; ++gr) column[gr] += w[i - i0][gr] * ui;
            }
            for (int gr = 0; gr < kGroup; ++gr)
              store8(acc + c * stride + j + 8 * gr, load8(acc + c * stride + j + 8 * gr) + column[gr]);
          }
        }
        for (long i = i0; i < i1; ++i)
          for (int c = 0; c < k; ++c) acc[c * stride + i] += par::combine8<T>(row[(i - i0) * k + c]);
      }
    });
    par::for_each(B, worth_parallel(B, k), [&](long i) {
      for (int c = 0; c < k; ++c) {
        T total = 0;
        for (int p = 0; p < kParts; ++p) total += part_du[(p * k + c) * stride + i];
        u.grad[i * k + c] += total;
      }
    });
    return;
  }

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
        T(options.power) == std::floor(T(options.power)), B * B > kStoreLimit, {}};
  if (q->symmetric) cut_parts(*q);

  Node<T>& y = tape.node(tape.record(op_kind<AngularRepulsionOp<T>>, int(B), 1, unit.id()));
  y.template saved<AngularRepulsionOp<T>>() = {q};
  T* out = y.value;
  if (q->symmetric) {
    // Per part, y's partial sums: row i gains its 32 columns' sum, row j its column's sum over i.
    T* part_y = tape.template alloc<T>(std::size_t(kParts) * stride);
    std::fill(part_y, part_y + std::size_t(kParts) * stride, T(0));
    par::for_each(kParts, worth_parallel(B, k), [&](long p) {
      T* acc = part_y + p * stride;
      for (long I = p ? q->part_end[p - 1] : 0; I < q->part_end[p]; ++I) {
        const long i0 = I * kGroupCols, i1 = std::min(B, i0 + kGroupCols);
        V row[kGroupCols] = {};  // the rows of tile I: eight lanes over all its tile pairs
        for (long J = I; J < stride / kGroupCols; ++J) {
          const long j = J * kGroupCols;
          V column[kGroup] = {};
          for (long i = i0; i < i1; ++i) {
            Group<T> pair;
            pairs(*q, i, j, pair);
            V t[kGroup];
            for (int g = 0; g < kGroup; ++g) t[g] = pair.f_pm1[g] * pair.f[g], column[g] += t[g];
            row[i - i0] += (t[0] + t[1]) + (t[2] + t[3]);
          }
          if (I != J)
            for (int g = 0; g < kGroup; ++g) store8(acc + j + 8 * g, load8(acc + j + 8 * g) + column[g]);
        }
        for (long i = i0; i < i1; ++i) acc[i] += par::combine8<T>(row[i - i0]);
      }
    });
    par::for_each(B, worth_parallel(B, k), [&](long i) {
      T total = 0;
      for (int p = 0; p < kParts; ++p) total += part_y[p * stride + i];
      out[i] = total;
    });
    return {&tape, int(tape.size()) - 1};
  }
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
