// autodiff/ops.cpp -- forward and backward of every primitive, side by side.
//
// Each op records one node with Tape::record, fills its value, and has a backward that adds
// d(loss)/d(input) into each input's gradient buffer given y.grad = d(loss)/d(output).
// Notation in the comments: x, a, b inputs; y output; g = dL/dy; shapes as (rows, cols).
// All loops follow the determinism rules of parallel.hpp.
#include "autodiff/ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "autodiff/kernels/gemm.hpp"
#include "autodiff/kernels/parallel.hpp"
#include "autodiff/kernels/vecmath.hpp"

namespace sg {
namespace {

using par::dot_span;
using par::kParallelWork;

std::string shape(int rows, int cols) {
  return "(" + std::to_string(rows) + "," + std::to_string(cols) + ")";
}

template <class T>
Tape<T>& same_tape(const char* op, const Tensor<T>& a, const Tensor<T>& b) {
  if (&a.tape() != &b.tape()) throw std::invalid_argument(std::string(op) + ": operands are on different tapes");
  return a.tape();
}

// x^e for an integer e by repeated squaring: exact for small integers, and a handful of
// multiplications for the powers 10 and 100 that the repulsion losses use.
template <class T>
T ipow(T x, long e) {
  const bool invert = e < 0;
  unsigned long n = invert ? -static_cast<unsigned long>(e) : static_cast<unsigned long>(e);
  T r = 1;
  while (n) {
    if (n & 1) r *= x;
    n >>= 1;
    if (n) x *= x;
  }
  return invert ? T(1) / r : r;
}

bool is_small_integer(double p) { return p == std::floor(p) && std::fabs(p) <= 1 << 20; }

// dst (dr,dc) += scale * src (R,C) summed over the dimensions where dst has size 1.
// dst is (R,C), (R,1), (1,C) or (1,1). Shared by the reductions and by the backward of
// broadcasting ops, so both sum in the same fixed order.
template <class T>
void reduce_add(Tape<T>& tape, const T* src, int R, int C, T* dst, int dr, int dc, T scale) {
  const long n = long(R) * C;
  const bool parallel = n >= kParallelWork;
  if (dr == R && dc == C) {
    par::for_range(n, 1, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) dst[i] += scale * src[i];
    });
  } else if (dr == R) {  // each row -> (R,1)
    par::for_each(R, parallel, [&](long i) { dst[i] += scale * par::sum_span(src + i * C, C); });
  } else if (dc == C) {  // each column -> (1,C): chunks of rows, partials combined in order
    const long chunks = (R + par::kRowChunk - 1) / par::kRowChunk;
    T* partial = tape.template alloc<T>(std::size_t(chunks) * C);
    par::for_each(chunks, parallel, [&](long c) {
      T* p = partial + c * C;
      std::fill(p, p + C, T(0));
      const long end = std::min<long>(R, (c + 1) * par::kRowChunk);
      for (long i = c * par::kRowChunk; i < end; ++i)
        for (long j = 0; j < C; ++j) p[j] += src[i * C + j];
    });
    for (long j = 0; j < C; ++j) {
      T s = 0;
      for (long c = 0; c < chunks; ++c) s += partial[c * C + j];
      dst[j] += scale * s;
    }
  } else {  // everything -> (1,1)
    const long chunks = (n + par::kChunk - 1) / par::kChunk;
    T* partial = tape.template alloc<T>(std::size_t(chunks));
    par::for_each(chunks, parallel, [&](long c) {
      partial[c] = par::sum_span(src + c * par::kChunk, std::min(par::kChunk, n - c * par::kChunk));
    });
    T s = 0;
    for (long c = 0; c < chunks; ++c) s += partial[c];
    dst[0] += scale * s;
  }
}

// An operand broadcast to the output shape: element (i, j) is at p[i * rs + j * cs].
struct Bcast {
  long rs, cs;
};
template <class T>
Bcast bcast(const Node<T>& n) {
  return {n.rows == 1 ? 0 : n.cols, n.cols == 1 ? 0 : 1};
}

// ---------------------------------------------------------------- products
// C (m,n) (+)= op(A) op(B). Products with every dimension at least kThin run on the engine's
// kernel (gemm.hpp: one fused multiply-add chain per element). Thinner ones -- every product
// of the color models, whose layers are at most 16 wide -- stay on Eigen's kernel, one call per
// block of 64 output rows (the blocks depend on the shape only, so the bits do not depend on
// the thread count). Eigen rounds these differently from a single chain (it splits some sums
// into two), and every number of docs/findings.md was measured with its rounding; our kernel
// is no faster on them (docs/performance.md). Eigen's packing buffers for a 64-row block stay
// on the stack (the Makefile's EIGEN_STACK_ALLOCATION_LIMIT), so a step allocates nothing.
constexpr long kThin = 32;

template <class T>
void product(bool ta, bool tb, const T* A, int ar, int ac, const T* B, int br, int bc, T* C, bool accumulate) {
  const long m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  if (std::min({m, n, k}) >= kThin) return gemm(ta, tb, A, ar, ac, B, br, bc, C, accumulate);
  constexpr long kRows = 64;
  const Eigen::Map<const Matrix<T>> a(A, ar, ac), b(B, br, bc);
  MatrixMap<T> c(C, m, n);
  const bool parallel = m * n * k >= kParallelWork;
  // Large enough to run in parallel but short: cut into 16 blocks, so both threads get work.
  const long rows_per_block = m > kRows ? kRows : parallel ? std::max(1L, m / 16) : std::max(1L, m);
  const long blocks = (m + rows_per_block - 1) / rows_per_block;
  par::for_each(blocks, parallel, [&](long blk) {
    const long r0 = blk * rows_per_block, nr = std::min(m, r0 + rows_per_block) - r0;
    if (nr <= 0) return;
    auto out = c.middleRows(r0, nr);
    auto run = [&](const auto& lhs, const auto& rhs) {
      if (accumulate) out.noalias() += lhs * rhs;
      else out.noalias() = lhs * rhs;
    };
    if (!ta && !tb) run(a.middleRows(r0, nr), b);
    else if (!ta) run(a.middleRows(r0, nr), b.transpose());
    else if (!tb) run(a.middleCols(r0, nr).transpose(), b);
    else run(a.middleCols(r0, nr).transpose(), b.transpose());
  });
}

// ---------------------------------------------------------------- elementwise binary
// Forward: y = f(a, b) with broadcasting. Backward: each input gets local(a, b, y, g) for every
// output element, summed over the dimensions along which that input was broadcast.

template <class T>
Tensor<T> binary_record(Op op, Tensor<T> a, Tensor<T> b) {
  Tape<T>& tape = same_tape(op_name(op), a, b);
  const Node<T>& A = a.node();
  const Node<T>& B = b.node();
  auto fits = [](int x, int y) { return x == y || x == 1 || y == 1; };
  if (!fits(A.rows, B.rows) || !fits(A.cols, B.cols))
    throw ShapeError(std::string(op_name(op)) + ": shapes " + shape(A.rows, A.cols) + " and " +
                     shape(B.rows, B.cols) + " do not broadcast");
  const int rows = A.rows == 1 ? B.rows : A.rows, cols = A.cols == 1 ? B.cols : A.cols;
  return {&tape, tape.record(op, rows, cols, a.id(), b.id())};
}

template <class T, class F>
Tensor<T> binary(Op op, Tensor<T> a, Tensor<T> b, F f) {
  Tensor<T> out = binary_record(op, a, b);
  Tape<T>& tape = out.tape();
  const Node<T>& y = tape.node(out.id());
  const Node<T>& A = tape.node(a.id());
  const Node<T>& B = tape.node(b.id());
  const Bcast ba = bcast(A), bb = bcast(B);
  const long C = y.cols;
  par::for_each(y.rows, long(y.rows) * C >= kParallelWork, [&](long i) {
    const T* pa = A.value + i * ba.rs;
    const T* pb = B.value + i * bb.rs;
    T* py = y.value + i * C;
    if (ba.cs && bb.cs) for (long j = 0; j < C; ++j) py[j] = f(pa[j], pb[j]);
    else if (ba.cs) for (long j = 0; j < C; ++j) py[j] = f(pa[j], pb[0]);
    else if (bb.cs) for (long j = 0; j < C; ++j) py[j] = f(pa[0], pb[j]);
    else for (long j = 0; j < C; ++j) py[j] = f(pa[0], pb[0]);
  });
  return out;
}

template <class T, class Local>
void binary_backward_into(Tape<T>& tape, const Node<T>& y, const Node<T>& target, Local local) {
  if (!target.requires_grad) return;
  const Node<T>& A = tape.node(y.a);
  const Node<T>& B = tape.node(y.b);
  const long R = y.rows, C = y.cols, n = R * C;
  const bool full = target.rows == R && target.cols == C;
  // Neither operand broadcast: one flat loop the compiler vectorizes.
  if (A.rows == R && A.cols == C && B.rows == R && B.cols == C) {
    par::for_range(n, 2, [&](long lo, long hi) {
      for (long k = lo; k < hi; ++k) target.grad[k] += local(A.value[k], B.value[k], y.value[k], y.grad[k]);
    });
    return;
  }
  const Bcast ba = bcast(A), bb = bcast(B);
  T* dst = full ? target.grad : tape.template alloc<T>(std::size_t(n));
  // One row at a time; the column strides (0 or 1) are compile-time constants in each of the
  // four variants, so every inner loop vectorizes.
  auto row = [&](auto ca, auto cb, long i) {
    const T* pa = A.value + i * ba.rs;
    const T* pb = B.value + i * bb.rs;
    const T* py = y.value + i * C;
    const T* pg = y.grad + i * C;
    T* pd = dst + i * C;
    for (long j = 0; j < C; ++j) {
      const T v = local(pa[j * ca], pb[j * cb], py[j], pg[j]);
      if (full) pd[j] += v;
      else pd[j] = v;
    }
  };
  using One = std::integral_constant<long, 1>;
  using Zero = std::integral_constant<long, 0>;
  par::for_each(R, n >= kParallelWork, [&](long i) {
    if (ba.cs && bb.cs) row(One(), One(), i);
    else if (ba.cs) row(One(), Zero(), i);
    else if (bb.cs) row(Zero(), One(), i);
    else row(Zero(), Zero(), i);
  });
  if (!full) reduce_add(tape, dst, int(R), int(C), target.grad, target.rows, target.cols, T(1));
}

// add: y = a + b          da = g, db = g
// sub: y = a - b          da = g, db = -g
// mul: y = a * b          da = g b, db = g a
// div: y = a / b          da = g / b, db = -g a / b^2 = -g y / b
template <class T>
void binary_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& A = tape.node(y.a);
  const Node<T>& B = tape.node(y.b);
  switch (y.op) {
    case Op::Add:  // the local gradient is g itself: reduce it straight into each input
      if (A.requires_grad) reduce_add(tape, y.grad, y.rows, y.cols, A.grad, A.rows, A.cols, T(1));
      if (B.requires_grad) reduce_add(tape, y.grad, y.rows, y.cols, B.grad, B.rows, B.cols, T(1));
      break;
    case Op::Sub:
      if (A.requires_grad) reduce_add(tape, y.grad, y.rows, y.cols, A.grad, A.rows, A.cols, T(1));
      if (B.requires_grad) reduce_add(tape, y.grad, y.rows, y.cols, B.grad, B.rows, B.cols, T(-1));
      break;
    case Op::Mul:
      binary_backward_into(tape, y, A, [](T, T b, T, T g) { return g * b; });
      binary_backward_into(tape, y, B, [](T a, T, T, T g) { return g * a; });
      break;
    default:  // Op::Div
      binary_backward_into(tape, y, A, [](T, T b, T, T g) { return g / b; });
      binary_backward_into(tape, y, B, [](T, T b, T yv, T g) { return -g * yv / b; });
      break;
  }
}

// ---------------------------------------------------------------- elementwise unary
// Each function object holds the forward f(x) and the derivative dy/dx(x, y) together;
// s0 and s1 are the op's scalar arguments. `cost` is a rough count of flops per element,
// used only to decide when a loop is worth splitting across threads.

// exp: y = e^x                                     dy/dx = y
struct ExpF {
  static constexpr long cost = 8;
  template <class T> static T f(T x, T, T) { return std::exp(x); }
  template <class T> static T df(T, T y, T, T) { return y; }
};
// log: y = ln x                                    dy/dx = 1 / x
struct LogF {
  static constexpr long cost = 8;
  template <class T> static T f(T x, T, T) { return std::log(x); }
  template <class T> static T df(T x, T, T, T) { return T(1) / x; }
};
// sqrt: y = x^(1/2)                                dy/dx = 1 / (2 y)
struct SqrtF {
  static constexpr long cost = 4;
  template <class T> static T f(T x, T, T) { return std::sqrt(x); }
  template <class T> static T df(T, T y, T, T) { return T(0.5) / y; }
};
// pow: y = x^p (p = s0)                            dy/dx = p x^(p-1)
struct PowF {
  static constexpr long cost = 8;
  template <class T> static T f(T x, T p, T) {
    return is_small_integer(p) ? ipow(x, long(p)) : std::pow(x, p);
  }
  template <class T> static T df(T x, T, T p, T) {
    if (p == 0) return 0;
    return p * (is_small_integer(p) ? ipow(x, long(p) - 1) : std::pow(x, p - 1));
  }
};
// pow with p = 2, the common case (every squared error), apart so that its loops vectorize:
// y = x^2                                          dy/dx = 2 x
struct SquareF {
  static constexpr long cost = 1;
  template <class T> static T f(T x, T, T) { return x * x; }
  template <class T> static T df(T x, T, T, T) { return 2 * x; }
};
// abs: y = |x|                                     dy/dx = sign(x), 0 at 0
struct AbsF {
  static constexpr long cost = 1;
  template <class T> static T f(T x, T, T) { return std::fabs(x); }
  template <class T> static T df(T x, T, T, T) { return T((x > 0) - (x < 0)); }
};
// relu: y = max(x, 0)                              dy/dx = [x > 0]
struct ReluF {
  static constexpr long cost = 1;
  template <class T> static T f(T x, T, T) { return x > 0 ? x : T(0); }
  template <class T> static T df(T x, T, T, T) { return x > 0 ? T(1) : T(0); }
};
// sigmoid: y = 1 / (1 + e^-x), computed without overflow     dy/dx = y (1 - y)
struct SigmoidF {
  static constexpr long cost = 8;
  template <class T> static T f(T x, T, T) {
    if (x >= 0) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
  }
  template <class T> static T df(T, T y, T, T) { return y * (T(1) - y); }
};
// tanh: y = tanh x                                 dy/dx = 1 - y^2
struct TanhF {
  static constexpr long cost = 8;
  template <class T> static T f(T x, T, T) { return std::tanh(x); }
  template <class T> static T df(T, T y, T, T) { return T(1) - y * y; }
};
// clamp: y = min(max(x, lo), hi) (lo = s0, hi = s1)     dy/dx = [lo <= x <= hi] (as PyTorch)
struct ClampF {
  static constexpr long cost = 1;
  template <class T> static T f(T x, T lo, T hi) { return std::min(std::max(x, lo), hi); }
  template <class T> static T df(T x, T, T lo, T hi) { return (x >= lo && x <= hi) ? T(1) : T(0); }
};
// affine: y = s0 x + s1 (scalar + - * / and negation)    dy/dx = s0
struct AffineF {
  static constexpr long cost = 1;
  template <class T> static T f(T x, T s0, T s1) { return s0 * x + s1; }
  template <class T> static T df(T, T, T s0, T) { return s0; }
};

template <class F, class T>
Tensor<T> unary(Op op, Tensor<T> a, T s0 = 0, T s1 = 0) {
  Tape<T>& tape = a.tape();
  const int id = tape.record(op, a.rows(), a.cols(), a.id());
  Node<T>& y = tape.node(id);
  const Node<T>& x = tape.node(a.id());
  y.s0 = s0;
  y.s1 = s1;
  par::for_range(a.size(), F::cost, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) y.value[i] = F::f(x.value[i], s0, s1);
  });
  return {&tape, id};
}

template <class F, class T>
void unary_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  par::for_range(long(y.rows) * y.cols, F::cost, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) x.grad[i] += y.grad[i] * F::df(x.value[i], y.value[i], y.s0, y.s1);
  });
}

// gelu (exact): y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
//   dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi)
// Phi is saved in aux by the forward, so the backward needs one exp per element and no erf.
// erf and exp run a vector at a time (vecmath.hpp): they dominate the color models' step.
template <class T>
Tensor<T> gelu_forward(Tensor<T> a) {
  Tape<T>& tape = a.tape();
  T* cdf = tape.template alloc<T>(std::size_t(a.size()));
  const int id = tape.record(Op::Gelu, a.rows(), a.cols(), a.id());
  Node<T>& y = tape.node(id);
  y.aux = cdf;
  const T* x = a.data();
  par::for_range(a.size(), 16, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) cdf[i] = x[i] * T(0.70710678118654752440);
    vec::erf(cdf + lo, cdf + lo, hi - lo);
    for (long i = lo; i < hi; ++i) {
      cdf[i] = T(0.5) * (T(1) + cdf[i]);
      y.value[i] = x[i] * cdf[i];
    }
  });
  return {&tape, id};
}

template <class T>
void gelu_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  const T* cdf = static_cast<const T*>(y.aux);
  const long n = long(y.rows) * y.cols;
  T* pdf = tape.template alloc<T>(std::size_t(n));
  par::for_range(n, 8, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) pdf[i] = T(-0.5) * x.value[i] * x.value[i];
    vec::exp(pdf + lo, pdf + lo, hi - lo);
    for (long i = lo; i < hi; ++i)
      x.grad[i] += y.grad[i] * (cdf[i] + x.value[i] * T(0.39894228040143267794) * pdf[i]);
  });
}

// ---------------------------------------------------------------- reductions
// sum (scaled): y = s0 * sum over the reduced dimensions of x     dx_ij = s0 g (broadcast back)

template <class T>
Tensor<T> reduction(Op op, Tensor<T> a, int rows, int cols, double scale) {
  Tape<T>& tape = a.tape();
  const int id = tape.record(op, rows, cols, a.id());
  Node<T>& y = tape.node(id);
  const Node<T>& x = tape.node(a.id());
  y.s0 = T(scale);
  std::fill(y.value, y.value + long(rows) * cols, T(0));
  reduce_add(tape, x.value, x.rows, x.cols, y.value, rows, cols, y.s0);
  return {&tape, id};
}

template <class T>
void reduction_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  const Bcast by = bcast(y);
  const long C = x.cols;
  par::for_each(x.rows, long(x.rows) * C >= kParallelWork, [&](long i) {
    T* dx = x.grad + i * C;
    const T* g = y.grad + i * by.rs;
    if (by.cs) for (long j = 0; j < C; ++j) dx[j] += y.s0 * g[j];  // y is a row (1,C)
    else for (long j = 0; j < C; ++j) dx[j] += y.s0 * g[0];        // y is (R,1) or (1,1)
  });
}

// ---------------------------------------------------------------- matmul, transpose
// matmul: y = op(a) op(b)
//   da = g op(b)^T           (or, when a is transposed, op(b) g^T)
//   db = op(a)^T g           (or, when b is transposed, g^T op(a))

template <class T>
void matmul_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& A = tape.node(y.a);
  const Node<T>& B = tape.node(y.b);
  const bool ta = y.iarg & 1, tb = y.iarg & 2;
  if (A.requires_grad) {
    if (!ta) product(false, !tb, y.grad, y.rows, y.cols, B.value, B.rows, B.cols, A.grad, true);
    else product(tb, true, B.value, B.rows, B.cols, y.grad, y.rows, y.cols, A.grad, true);
  }
  if (B.requires_grad) {
    if (!tb) product(!ta, false, A.value, A.rows, A.cols, y.grad, y.rows, y.cols, B.grad, true);
    else product(true, ta, y.grad, y.rows, y.cols, A.value, A.rows, A.cols, B.grad, true);
  }
}

// transpose: y = x^T       dx = g^T
template <class T>
void transpose_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  MatrixMap<T>(x.grad, x.rows, x.cols) += MatrixMap<T>(y.grad, y.rows, y.cols).transpose();
}

// ---------------------------------------------------------------- row geometry
// row_norm: y_i = ||x_i||                           dx_ij = g_i x_ij / y_i   (0 where y_i = 0)
template <class T>
void row_norm_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  const long C = x.cols;
  par::for_each(x.rows, long(x.rows) * C >= kParallelWork, [&](long i) {
    if (y.value[i] == 0) return;
    const T s = y.grad[i] / y.value[i];
    for (long j = 0; j < C; ++j) x.grad[i * C + j] += s * x.value[i * C + j];
  });
}

// normalize_rows: y_i = x_i / d_i, d_i = ||x_i|| + eps, n_i = ||x_i|| (saved in aux)
//   dx_i = g_i / d_i - x_i (x_i . g_i) / (n_i d_i^2)           (second term 0 where n_i = 0)
template <class T>
void normalize_rows_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  const T* norm = static_cast<const T*>(y.aux);
  const long C = x.cols;
  par::for_each(x.rows, long(x.rows) * C >= kParallelWork, [&](long i) {
    const T* xi = x.value + i * C;
    const T* gi = y.grad + i * C;
    T* dxi = x.grad + i * C;
    const T d = norm[i] + y.s0;
    const T radial = norm[i] > 0 ? dot_span(xi, gi, C) / (norm[i] * d * d) : T(0);
    for (long j = 0; j < C; ++j) dxi[j] += gi[j] / d - xi[j] * radial;
  });
}

// ---------------------------------------------------------------- structure
// slice_cols: y = x[:, s : s+n]                      dx[:, s : s+n] += g
// concat_cols: y = [a b]                             da = g[:, :a.cols], db = g[:, a.cols:]
// gather_rows: y_i = x_idx[i]                        dx_idx[i] += g_i (in order of i)

template <class T>
void copy_cols(const T* src, long src_cols, long src_start, T* dst, long dst_cols, long dst_start,
               long rows, long count, bool accumulate) {
  for (long i = 0; i < rows; ++i) {
    const T* s = src + i * src_cols + src_start;
    T* d = dst + i * dst_cols + dst_start;
    if (accumulate) for (long j = 0; j < count; ++j) d[j] += s[j];
    else std::copy(s, s + count, d);
  }
}

template <class T>
void structure_backward(Tape<T>& tape, const Node<T>& y) {
  const Node<T>& x = tape.node(y.a);
  if (y.op == Op::SliceCols) {
    copy_cols(y.grad, y.cols, 0, x.grad, x.cols, y.iarg, y.rows, y.cols, true);
  } else if (y.op == Op::ConcatCols) {
    const Node<T>& b = tape.node(y.b);
    if (x.requires_grad) copy_cols(y.grad, y.cols, 0, x.grad, x.cols, 0, y.rows, x.cols, true);
    if (b.requires_grad) copy_cols(y.grad, y.cols, x.cols, b.grad, b.cols, 0, y.rows, b.cols, true);
  } else {  // Op::GatherRows
    const int* index = static_cast<const int*>(y.aux);
    for (long i = 0; i < y.rows; ++i)
      for (long j = 0; j < y.cols; ++j) x.grad[long(index[i]) * x.cols + j] += y.grad[i * y.cols + j];
  }
}

}  // namespace

// ---------------------------------------------------------------- public ops

template <class T> Tensor<T> add(Tensor<T> a, Tensor<T> b) {
  return binary(Op::Add, a, b, [](T u, T v) { return u + v; });
}
template <class T> Tensor<T> sub(Tensor<T> a, Tensor<T> b) {
  return binary(Op::Sub, a, b, [](T u, T v) { return u - v; });
}
template <class T> Tensor<T> mul(Tensor<T> a, Tensor<T> b) {
  return binary(Op::Mul, a, b, [](T u, T v) { return u * v; });
}
template <class T> Tensor<T> div(Tensor<T> a, Tensor<T> b) {
  return binary(Op::Div, a, b, [](T u, T v) { return u / v; });
}
template <class T> Tensor<T> affine(Tensor<T> a, double scale, double shift) {
  return unary<AffineF>(Op::Affine, a, T(scale), T(shift));
}

template <class T> Tensor<T> matmul(Tensor<T> a, Tensor<T> b, bool transpose_a, bool transpose_b) {
  Tape<T>& tape = same_tape("matmul", a, b);
  const int m = transpose_a ? a.cols() : a.rows(), k = transpose_a ? a.rows() : a.cols();
  const int k2 = transpose_b ? b.cols() : b.rows(), n = transpose_b ? b.rows() : b.cols();
  if (k != k2)
    throw ShapeError("matmul: inner dimensions differ: " + shape(a.rows(), a.cols()) +
                     (transpose_a ? "^T" : "") + " x " + shape(b.rows(), b.cols()) +
                     (transpose_b ? "^T" : ""));
  const int id = tape.record(Op::MatMul, m, n, a.id(), b.id());
  Node<T>& y = tape.node(id);
  y.iarg = (transpose_a ? 1 : 0) | (transpose_b ? 2 : 0);
  product(transpose_a, transpose_b, a.data(), a.rows(), a.cols(), b.data(), b.rows(), b.cols(), y.value,
       false);
  return {&tape, id};
}

template <class T> Tensor<T> transpose(Tensor<T> a) {
  Tape<T>& tape = a.tape();
  const int id = tape.record(Op::Transpose, a.cols(), a.rows(), a.id());
  MatrixMap<T>(tape.node(id).value, a.cols(), a.rows()) = a.value().transpose();
  return {&tape, id};
}

template <class T> Tensor<T> sum(Tensor<T> a) { return reduction(Op::Sum, a, 1, 1, 1.0); }
template <class T> Tensor<T> mean(Tensor<T> a) {
  return reduction(Op::Sum, a, 1, 1, 1.0 / double(a.size()));
}
template <class T> Tensor<T> row_sum(Tensor<T> a) { return reduction(Op::RowSum, a, a.rows(), 1, 1.0); }
template <class T> Tensor<T> row_mean(Tensor<T> a) {
  return reduction(Op::RowSum, a, a.rows(), 1, 1.0 / a.cols());
}
template <class T> Tensor<T> col_sum(Tensor<T> a) { return reduction(Op::ColSum, a, 1, a.cols(), 1.0); }
template <class T> Tensor<T> col_mean(Tensor<T> a) {
  return reduction(Op::ColSum, a, 1, a.cols(), 1.0 / a.rows());
}

template <class T> Tensor<T> exp(Tensor<T> a) { return unary<ExpF>(Op::Exp, a); }
template <class T> Tensor<T> log(Tensor<T> a) { return unary<LogF>(Op::Log, a); }
template <class T> Tensor<T> sqrt(Tensor<T> a) { return unary<SqrtF>(Op::Sqrt, a); }
template <class T> Tensor<T> pow(Tensor<T> a, double p) {
  return p == 2 ? unary<SquareF>(Op::Pow, a, T(2)) : unary<PowF>(Op::Pow, a, T(p));
}
template <class T> Tensor<T> abs(Tensor<T> a) { return unary<AbsF>(Op::Abs, a); }
template <class T> Tensor<T> relu(Tensor<T> a) { return unary<ReluF>(Op::Relu, a); }
template <class T> Tensor<T> gelu(Tensor<T> a) { return gelu_forward(a); }
template <class T> Tensor<T> sigmoid(Tensor<T> a) { return unary<SigmoidF>(Op::Sigmoid, a); }
template <class T> Tensor<T> tanh(Tensor<T> a) { return unary<TanhF>(Op::Tanh, a); }
template <class T> Tensor<T> clamp(Tensor<T> a, double lo, double hi) {
  if (!(lo <= hi)) throw std::invalid_argument("clamp: lo > hi");
  return unary<ClampF>(Op::Clamp, a, T(lo), T(hi));
}

template <class T> Tensor<T> row_norm(Tensor<T> a) {
  Tape<T>& tape = a.tape();
  const int id = tape.record(Op::RowNorm, a.rows(), 1, a.id());
  T* y = tape.node(id).value;
  const T* x = a.data();
  const long C = a.cols();
  par::for_each(a.rows(), a.size() >= kParallelWork,
                [&](long i) { y[i] = std::sqrt(dot_span(x + i * C, x + i * C, C)); });
  return {&tape, id};
}

template <class T> Tensor<T> normalize_rows(Tensor<T> a, double eps) {
  Tape<T>& tape = a.tape();
  T* norm = tape.template alloc<T>(std::size_t(a.rows()));
  const int id = tape.record(Op::NormalizeRows, a.rows(), a.cols(), a.id());
  Node<T>& y = tape.node(id);
  y.aux = norm;
  y.s0 = T(eps);
  const T* x = a.data();
  const long C = a.cols();
  par::for_each(a.rows(), a.size() >= kParallelWork, [&](long i) {
    norm[i] = std::sqrt(dot_span(x + i * C, x + i * C, C));
    const T inv = T(1) / (norm[i] + y.s0);
    for (long j = 0; j < C; ++j) y.value[i * C + j] = x[i * C + j] * inv;
  });
  return {&tape, id};
}

template <class T> Tensor<T> cosine_similarity(Tensor<T> a, double eps) {
  const Tensor<T> unit = normalize_rows(a, eps);
  return matmul(unit, unit, false, true);
}

template <class T> Tensor<T> slice_cols(Tensor<T> a, int start, int count) {
  if (start < 0 || count < 0 || start + count > a.cols())
    throw ShapeError("slice_cols: columns [" + std::to_string(start) + ", " +
                     std::to_string(start + count) + ") out of range for shape " +
                     shape(a.rows(), a.cols()));
  Tape<T>& tape = a.tape();
  const int id = tape.record(Op::SliceCols, a.rows(), count, a.id());
  tape.node(id).iarg = start;
  copy_cols(a.data(), a.cols(), start, tape.node(id).value, count, 0, a.rows(), count, false);
  return {&tape, id};
}

template <class T> Tensor<T> concat_cols(Tensor<T> a, Tensor<T> b) {
  Tape<T>& tape = same_tape("concat_cols", a, b);
  if (a.rows() != b.rows())
    throw ShapeError("concat_cols: row counts differ: " + shape(a.rows(), a.cols()) + " and " +
                     shape(b.rows(), b.cols()));
  const int cols = a.cols() + b.cols();
  const int id = tape.record(Op::ConcatCols, a.rows(), cols, a.id(), b.id());
  T* y = tape.node(id).value;
  copy_cols(a.data(), a.cols(), 0, y, cols, 0, a.rows(), a.cols(), false);
  copy_cols(b.data(), b.cols(), 0, y, cols, a.cols(), a.rows(), b.cols(), false);
  return {&tape, id};
}

template <class T> Tensor<T> gather_rows(Tensor<T> a, const int* index, int count) {
  for (int i = 0; i < count; ++i)
    if (index[i] < 0 || index[i] >= a.rows())
      throw ShapeError("gather_rows: index[" + std::to_string(i) + "] = " + std::to_string(index[i]) +
                       " is out of range for shape " + shape(a.rows(), a.cols()));
  Tape<T>& tape = a.tape();
  int* saved = tape.template alloc<int>(std::size_t(count));
  std::copy(index, index + count, saved);
  const int id = tape.record(Op::GatherRows, count, a.cols(), a.id());
  Node<T>& y = tape.node(id);
  y.aux = saved;
  const long C = a.cols();
  for (long i = 0; i < count; ++i) std::copy(a.data() + saved[i] * C, a.data() + (saved[i] + 1) * C, y.value + i * C);
  return {&tape, id};
}

// The reverse sweep's dispatch: one switch, no virtual calls.
template <class T>
void backward_node(Tape<T>& tape, int id) {
  const Node<T>& y = tape.node(id);
  switch (y.op) {
    case Op::Leaf: break;  // a leaf passes its gradient on to nothing
    case Op::Add: case Op::Sub: case Op::Mul: case Op::Div: binary_backward(tape, y); break;
    case Op::Affine: unary_backward<AffineF>(tape, y); break;
    case Op::MatMul: matmul_backward(tape, y); break;
    case Op::Transpose: transpose_backward(tape, y); break;
    case Op::Sum: case Op::RowSum: case Op::ColSum: reduction_backward(tape, y); break;
    case Op::Exp: unary_backward<ExpF>(tape, y); break;
    case Op::Log: unary_backward<LogF>(tape, y); break;
    case Op::Sqrt: unary_backward<SqrtF>(tape, y); break;
    case Op::Pow:
      if (y.s0 == 2) unary_backward<SquareF>(tape, y);
      else unary_backward<PowF>(tape, y);
      break;
    case Op::Abs: unary_backward<AbsF>(tape, y); break;
    case Op::Relu: unary_backward<ReluF>(tape, y); break;
    case Op::Gelu: gelu_backward(tape, y); break;
    case Op::Sigmoid: unary_backward<SigmoidF>(tape, y); break;
    case Op::Tanh: unary_backward<TanhF>(tape, y); break;
    case Op::Clamp: unary_backward<ClampF>(tape, y); break;
    case Op::RowNorm: row_norm_backward(tape, y); break;
    case Op::NormalizeRows: normalize_rows_backward(tape, y); break;
    case Op::SliceCols: case Op::ConcatCols: case Op::GatherRows: structure_backward(tape, y); break;
    case Op::Custom: y.custom_backward(tape, y); break;
  }
}

#define SG_INSTANTIATE_OPS(T)                                                   \
  template void backward_node<T>(Tape<T>&, int);                                \
  template Tensor<T> add(Tensor<T>, Tensor<T>);                                 \
  template Tensor<T> sub(Tensor<T>, Tensor<T>);                                 \
  template Tensor<T> mul(Tensor<T>, Tensor<T>);                                 \
  template Tensor<T> div(Tensor<T>, Tensor<T>);                                 \
  template Tensor<T> affine(Tensor<T>, double, double);                         \
  template Tensor<T> matmul(Tensor<T>, Tensor<T>, bool, bool);                  \
  template Tensor<T> transpose(Tensor<T>);                                      \
  template Tensor<T> sum(Tensor<T>);                                            \
  template Tensor<T> mean(Tensor<T>);                                           \
  template Tensor<T> row_sum(Tensor<T>);                                        \
  template Tensor<T> row_mean(Tensor<T>);                                       \
  template Tensor<T> col_sum(Tensor<T>);                                        \
  template Tensor<T> col_mean(Tensor<T>);                                       \
  template Tensor<T> exp(Tensor<T>);                                            \
  template Tensor<T> log(Tensor<T>);                                            \
  template Tensor<T> sqrt(Tensor<T>);                                           \
  template Tensor<T> pow(Tensor<T>, double);                                    \
  template Tensor<T> abs(Tensor<T>);                                            \
  template Tensor<T> relu(Tensor<T>);                                           \
  template Tensor<T> gelu(Tensor<T>);                                           \
  template Tensor<T> sigmoid(Tensor<T>);                                        \
  template Tensor<T> tanh(Tensor<T>);                                           \
  template Tensor<T> clamp(Tensor<T>, double, double);                          \
  template Tensor<T> row_norm(Tensor<T>);                                       \
  template Tensor<T> normalize_rows(Tensor<T>, double);                         \
  template Tensor<T> cosine_similarity(Tensor<T>, double);                      \
  template Tensor<T> slice_cols(Tensor<T>, int, int);                           \
  template Tensor<T> concat_cols(Tensor<T>, Tensor<T>);                         \
  template Tensor<T> gather_rows(Tensor<T>, const int*, int);

SG_INSTANTIATE_OPS(float)
SG_INSTANTIATE_OPS(double)

}  // namespace sg
