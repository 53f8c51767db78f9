// autodiff/ops.cpp -- every primitive op, each written once: one block per op.
//
// A block is: the op's formulas, then its struct -- its name, the arguments and state its
// backward needs (the node keeps them: Node::saved), and its backward -- then the public
// function, which is the forward, and the line that compiles it for float and double.
// A backward adds d(loss)/d(input) into each input's gradient buffer given y.grad = d(loss)/d(y).
// Notation: x, a, b inputs; y output; g = dL/dy; shapes as (rows, cols).
// The loops that are about speed rather than the idea -- the matrix product, broadcasting, the
// vector math -- are kernels (autodiff/kernels/), each tested against a plain loop; every loop
// follows the determinism rules of kernels/parallel.hpp.
#include "autodiff/ops.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "autodiff/kernels/broadcast.hpp"
#include "autodiff/kernels/gemm.hpp"
#include "autodiff/kernels/parallel.hpp"
#include "autodiff/kernels/vecmath.hpp"

// Compiles the public function `name`, of parameters (...) written with T, for float and double.
#define SG_INSTANTIATE(name, ...)                                       \
  template <class T> using name##_signature = Tensor<T>(__VA_ARGS__);   \
  template name##_signature<float> name<float>;                         \
  template name##_signature<double> name<double>;

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

// Records a node of op Op (whose saved state is, unless said otherwise, the struct Op itself).
template <class Op, class T, class Saved = Op>
Node<T>& new_node(Tape<T>& tape, int rows, int cols, int a, int b, const Saved& saved = {}) {
  Node<T>& y = tape.node(tape.record(op_kind<Op>, rows, cols, a, b));
  y.template saved<Saved>() = saved;
  return y;
}
template <class T>
Tensor<T> handle(Tape<T>& tape) {
  return {&tape, int(tape.size()) - 1};
}

// x (R,C) summed into dst, which is x's shape or x with some dimensions reduced to 1.
template <class T>
void reduce_into(Tape<T>& tape, const T* x, int R, int C, T* dst, int dr, int dc, T scale) {
  T* scratch = tape.template alloc<T>(par::reduce_scratch(R, C, dr, dc));
  par::reduce_add(x, R, C, dst, dr, dc, scale, scratch);
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

}  // namespace

// ---------------------------------------------------------------- elementwise binary
// An elementwise binary op is a struct with the forward f(a, b) and a backward; binary() checks
// the shapes and fills y = f(a, b) with broadcasting (kernels/broadcast.hpp). Each input's
// gradient is summed over the dimensions along which that input was broadcast.

namespace {

template <class Op, class T>
Tensor<T> binary(Tensor<T> a, Tensor<T> b) {
  Tape<T>& tape = same_tape(Op::name, a, b);
  const Node<T>& A = a.node();
  const Node<T>& B = b.node();
  auto fits = [](int x, int y) { return x == y || x == 1 || y == 1; };
  if (!fits(A.rows, B.rows) || !fits(A.cols, B.cols))
    throw ShapeError(std::string(Op::name) + ": shapes " + shape(A.rows, A.cols) + " and " +
                     shape(B.rows, B.cols) + " do not broadcast");
  const int rows = A.rows == 1 ? B.rows : A.rows, cols = A.cols == 1 ? B.cols : A.cols;
  const par::Bcast ba = par::bcast(A.rows, A.cols), bb = par::bcast(B.rows, B.cols);
  const T* pa = A.value;
  const T* pb = B.value;
  // Recording may move the node vector: A and B are not used past this point.
  const Node<T>& y = new_node<Op>(tape, rows, cols, a.id(), b.id());
  par::map(pa, ba, pb, bb, y.value, rows, cols,
           [](T u, T v) { return Op::f(u, v); });
  return handle(tape);
}

// target += local(a, b, y, g), reduced to target's shape.
template <class T, class Local>
void binary_backward(Tape<T>& tape, const Node<T>& y, const Node<T>& target, Local local) {
  if (!target.grad) return;
  const Node<T>& A = tape.node(y.a);
  const Node<T>& B = tape.node(y.b);
  const bool full = target.rows == y.rows && target.cols == y.cols;
  T* scratch = full ? nullptr
                    : tape.template alloc<T>(std::size_t(y.rows) * y.cols +
                                             par::reduce_scratch(y.rows, y.cols, target.rows, target.cols));
  par::map_back(A.value, par::bcast(A.rows, A.cols), B.value, par::bcast(B.rows, B.cols), y.value, y.grad, y.rows,
                y.cols, target.grad, target.rows, target.cols, scratch, local);
}

}  // namespace

// add: y = a + b          da = g, db = g     (g itself, reduced straight into each input)
template <class T>
struct AddOp {
  static constexpr const char* name = "add";
  static T f(T a, T b) { return a + b; }
  static void backward(Tape<T>& tape, const Node<T>& y) {
    for (const Node<T>* x : {&tape.node(y.a), &tape.node(y.b)})
      if (x->grad) reduce_into(tape, y.grad, y.rows, y.cols, x->grad, x->rows, x->cols, T(1));
  }
};
template <class T> Tensor<T> add(Tensor<T> a, Tensor<T> b) { return binary<AddOp<T>>(a, b); }
SG_INSTANTIATE(add, Tensor<T>, Tensor<T>)

// sub: y = a - b          da = g, db = -g
template <class T>
struct SubOp {
  static constexpr const char* name = "sub";
  static T f(T a, T b) { return a - b; }
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& A = tape.node(y.a);
    const Node<T>& B = tape.node(y.b);
    if (A.grad) reduce_into(tape, y.grad, y.rows, y.cols, A.grad, A.rows, A.cols, T(1));
    if (B.grad) reduce_into(tape, y.grad, y.rows, y.cols, B.grad, B.rows, B.cols, T(-1));
  }
};
template <class T> Tensor<T> sub(Tensor<T> a, Tensor<T> b) { return binary<SubOp<T>>(a, b); }
SG_INSTANTIATE(sub, Tensor<T>, Tensor<T>)

// mul: y = a * b          da = g b, db = g a
template <class T>
struct MulOp {
  static constexpr const char* name = "mul";
  static T f(T a, T b) { return a * b; }
  static void backward(Tape<T>& tape, const Node<T>& y) {
    binary_backward(tape, y, tape.node(y.a), [](T, T b, T, T g) { return g * b; });
    binary_backward(tape, y, tape.node(y.b), [](T a, T, T, T g) { return g * a; });
  }
};
template <class T> Tensor<T> mul(Tensor<T> a, Tensor<T> b) { return binary<MulOp<T>>(a, b); }
SG_INSTANTIATE(mul, Tensor<T>, Tensor<T>)

// div: y = a / b          da = g / b, db = -g a / b^2 = -g y / b
template <class T>
struct DivOp {
  static constexpr const char* name = "div";
  static T f(T a, T b) { return a / b; }
  static void backward(Tape<T>& tape, const Node<T>& y) {
    binary_backward(tape, y, tape.node(y.a), [](T, T b, T, T g) { return g / b; });
    binary_backward(tape, y, tape.node(y.b), [](T, T b, T yv, T g) { return -g * yv / b; });
  }
};
template <class T> Tensor<T> div(Tensor<T> a, Tensor<T> b) { return binary<DivOp<T>>(a, b); }
SG_INSTANTIATE(div, Tensor<T>, Tensor<T>)

// ---------------------------------------------------------------- elementwise unary
// An elementwise function is a struct F holding the forward f(x) and the derivative
// df(x, y) = dy/dx together; its members are the function's arguments (a clamp's bounds), and
// the node keeps a copy of it. Elementwise<F> is the op: it records y = f(x) and its backward
// is dx += g df(x, y). `cost` is a rough count of flops per element, used only to decide when a
// loop is worth splitting across threads.

namespace {

template <class F>
struct Elementwise;
template <template <class> class F, class T>
struct Elementwise<F<T>> {
  static constexpr const char* name = F<T>::name;
  static Tensor<T> forward(Tensor<T> a, F<T> f) {
    Tape<T>& tape = a.tape();
    const Node<T>& y = new_node<Elementwise>(tape, a.rows(), a.cols(), a.id(), -1, f);
    const T* x = a.data();
    par::for_range(a.size(), F<T>::cost, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) y.value[i] = f.f(x[i]);
    });
    return handle(tape);
  }
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    const F<T> f = y.template saved<F<T>>();  // a local copy: no aliasing with the buffers
    par::for_range(long(y.rows) * y.cols, F<T>::cost, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) x.grad[i] += y.grad[i] * f.df(x.value[i], y.value[i]);
    });
  }
};
template <template <class> class F, class T>
Tensor<T> elementwise(Tensor<T> a, F<T> f = {}) {
  return Elementwise<F<T>>::forward(a, f);
}

}  // namespace

// affine: y = scale x + shift (scalar + - * / and negation)      dy/dx = scale
template <class T>
struct AffineOp {
  static constexpr const char* name = "affine";
  static constexpr long cost = 1;
  T scale, shift;
  T f(T x) const { return scale * x + shift; }
  T df(T, T) const { return scale; }
};
template <class T> Tensor<T> affine(Tensor<T> a, double scale, double shift) {
  return elementwise(a, AffineOp<T>{T(scale), T(shift)});
}
SG_INSTANTIATE(affine, Tensor<T>, double, double)

// exp: y = e^x                                     dy/dx = y
template <class T>
struct ExpOp {
  static constexpr const char* name = "exp";
  static constexpr long cost = 8;
  T f(T x) const { return std::exp(x); }
  T df(T, T y) const { return y; }
};
template <class T> Tensor<T> exp(Tensor<T> a) { return elementwise<ExpOp>(a); }
SG_INSTANTIATE(exp, Tensor<T>)

// log: y = ln x                                    dy/dx = 1 / x
template <class T>
struct LogOp {
  static constexpr const char* name = "log";
  static constexpr long cost = 8;
  T f(T x) const { return std::log(x); }
  T df(T x, T) const { return T(1) / x; }
};
template <class T> Tensor<T> log(Tensor<T> a) { return elementwise<LogOp>(a); }
SG_INSTANTIATE(log, Tensor<T>)

// sqrt: y = x^(1/2)                                dy/dx = 1 / (2 y)
template <class T>
struct SqrtOp {
  static constexpr const char* name = "sqrt";
  static constexpr long cost = 4;
  T f(T x) const { return std::sqrt(x); }
  T df(T, T y) const { return T(0.5) / y; }
};
template <class T> Tensor<T> sqrt(Tensor<T> a) { return elementwise<SqrtOp>(a); }
SG_INSTANTIATE(sqrt, Tensor<T>)

// pow: y = x^p                                     dy/dx = p x^(p-1)
// p = 2 (every squared error) is its own function, so that its loops vectorize: dy/dx = 2 x.
template <class T>
struct PowOp {
  static constexpr const char* name = "pow";
  static constexpr long cost = 8;
  T p;
  T f(T x) const { return is_small_integer(p) ? ipow(x, long(p)) : std::pow(x, p); }
  T df(T x, T) const {
    if (p == 0) return 0;
    return p * (is_small_integer(p) ? ipow(x, long(p) - 1) : std::pow(x, p - 1));
  }
};
template <class T>
struct SquareOp {
  static constexpr const char* name = "pow";
  static constexpr long cost = 1;
  T f(T x) const { return x * x; }
  T df(T x, T) const { return 2 * x; }
};
template <class T> Tensor<T> pow(Tensor<T> a, double p) {
  return p == 2 ? elementwise<SquareOp>(a) : elementwise(a, PowOp<T>{T(p)});
}
SG_INSTANTIATE(pow, Tensor<T>, double)

// abs: y = |x|                                     dy/dx = sign(x), 0 at 0
template <class T>
struct AbsOp {
  static constexpr const char* name = "abs";
  static constexpr long cost = 1;
  T f(T x) const { return std::fabs(x); }
  T df(T x, T) const { return T((x > 0) - (x < 0)); }
};
template <class T> Tensor<T> abs(Tensor<T> a) { return elementwise<AbsOp>(a); }
SG_INSTANTIATE(abs, Tensor<T>)

// relu: y = max(x, 0)                              dy/dx = [x > 0]
template <class T>
struct ReluOp {
  static constexpr const char* name = "relu";
  static constexpr long cost = 1;
  T f(T x) const { return x > 0 ? x : T(0); }
  T df(T x, T) const { return x > 0 ? T(1) : T(0); }
};
template <class T> Tensor<T> relu(Tensor<T> a) { return elementwise<ReluOp>(a); }
SG_INSTANTIATE(relu, Tensor<T>)

// sigmoid: y = 1 / (1 + e^-x), computed without overflow     dy/dx = y (1 - y)
template <class T>
struct SigmoidOp {
  static constexpr const char* name = "sigmoid";
  static constexpr long cost = 8;
  T f(T x) const {
    if (x >= 0) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
  }
  T df(T, T y) const { return y * (T(1) - y); }
};
template <class T> Tensor<T> sigmoid(Tensor<T> a) { return elementwise<SigmoidOp>(a); }
SG_INSTANTIATE(sigmoid, Tensor<T>)

// tanh: y = tanh x                                 dy/dx = 1 - y^2
template <class T>
struct TanhOp {
  static constexpr const char* name = "tanh";
  static constexpr long cost = 8;
  T f(T x) const { return std::tanh(x); }
  T df(T, T y) const { return T(1) - y * y; }
};
template <class T> Tensor<T> tanh(Tensor<T> a) { return elementwise<TanhOp>(a); }
SG_INSTANTIATE(tanh, Tensor<T>)

// clamp: y = min(max(x, lo), hi)                   dy/dx = [lo <= x <= hi] (as PyTorch)
template <class T>
struct ClampOp {
  static constexpr const char* name = "clamp";
  static constexpr long cost = 1;
  T lo, hi;
  T f(T x) const { return std::min(std::max(x, lo), hi); }
  T df(T x, T) const { return (x >= lo && x <= hi) ? T(1) : T(0); }
};
template <class T> Tensor<T> clamp(Tensor<T> a, double lo, double hi) {
  if (!(lo <= hi)) throw std::invalid_argument("clamp: lo > hi");
  return elementwise(a, ClampOp<T>{T(lo), T(hi)});
}
SG_INSTANTIATE(clamp, Tensor<T>, double, double)

// gelu (exact): y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
//   dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi)
// The forward saves Phi, so the backward needs one exp per element and no erf. erf and exp run
// a vector at a time (kernels/vecmath.hpp): they dominate the color models' step.
template <class T>
struct GeluOp {
  static constexpr const char* name = "gelu";
  const T* cdf;  // Phi(x), one per element
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    const T* cdf = y.template saved<GeluOp>().cdf;
    const long n = long(y.rows) * y.cols;
    T* pdf = tape.template alloc<T>(std::size_t(n));
    par::for_range(n, 8, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) pdf[i] = T(-0.5) * x.value[i] * x.value[i];
      vec::exp(pdf + lo, pdf + lo, hi - lo);
      for (long i = lo; i < hi; ++i)
        x.grad[i] += y.grad[i] * (cdf[i] + x.value[i] * T(0.39894228040143267794) * pdf[i]);
    });
  }
};
template <class T> Tensor<T> gelu(Tensor<T> a) {
  Tape<T>& tape = a.tape();
  T* cdf = tape.template alloc<T>(std::size_t(a.size()));
  const Node<T>& y = new_node<GeluOp<T>>(tape, a.rows(), a.cols(), a.id(), -1, {cdf});
  const T* x = a.data();
  par::for_range(a.size(), 16, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) cdf[i] = x[i] * T(0.70710678118654752440);
    vec::erf(cdf + lo, cdf + lo, hi - lo);
    for (long i = lo; i < hi; ++i) {
      cdf[i] = T(0.5) * (T(1) + cdf[i]);
      y.value[i] = x[i] * cdf[i];
    }
  });
  return handle(tape);
}
SG_INSTANTIATE(gelu, Tensor<T>)

// ---------------------------------------------------------------- reductions
// sum: y = scale * sum of x over the dimensions y has size 1 in: everything -> (1,1), each row
// -> (R,1), each column -> (1,C); the means are sums with scale = 1 / count.
//   dx_ij = scale g (g broadcast back over the summed dimensions)
template <class T>
struct SumOp {
  static constexpr const char* name = "sum";
  T scale;
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    const T scale = y.template saved<SumOp>().scale;
    const par::Bcast by = par::bcast(y.rows, y.cols);
    const long C = x.cols;
    par::for_each(x.rows, long(x.rows) * C >= kParallelWork, [&](long i) {
      T* dx = x.grad + i * C;
      const T* g = y.grad + i * by.rs;
      if (by.cs) for (long j = 0; j < C; ++j) dx[j] += scale * g[j];  // y is a row (1,C)
      else for (long j = 0; j < C; ++j) dx[j] += scale * g[0];        // y is (R,1) or (1,1)
    });
  }
};
namespace {
template <class T>
Tensor<T> reduce(Tensor<T> a, int rows, int cols, double scale) {
  Tape<T>& tape = a.tape();
  const Node<T>& y = new_node<SumOp<T>>(tape, rows, cols, a.id(), -1, {T(scale)});
  std::fill(y.value, y.value + long(rows) * cols, T(0));
  reduce_into(tape, a.data(), a.rows(), a.cols(), y.value, rows, cols, T(scale));
  return handle(tape);
}
}  // namespace
template <class T> Tensor<T> sum(Tensor<T> a) { return reduce(a, 1, 1, 1.0); }
template <class T> Tensor<T> mean(Tensor<T> a) { return reduce(a, 1, 1, 1.0 / double(a.size())); }
template <class T> Tensor<T> row_sum(Tensor<T> a) { return reduce(a, a.rows(), 1, 1.0); }
template <class T> Tensor<T> row_mean(Tensor<T> a) { return reduce(a, a.rows(), 1, 1.0 / a.cols()); }
template <class T> Tensor<T> col_sum(Tensor<T> a) { return reduce(a, 1, a.cols(), 1.0); }
template <class T> Tensor<T> col_mean(Tensor<T> a) { return reduce(a, 1, a.cols(), 1.0 / a.rows()); }
SG_INSTANTIATE(sum, Tensor<T>)
SG_INSTANTIATE(mean, Tensor<T>)
SG_INSTANTIATE(row_sum, Tensor<T>)
SG_INSTANTIATE(row_mean, Tensor<T>)
SG_INSTANTIATE(col_sum, Tensor<T>)
SG_INSTANTIATE(col_mean, Tensor<T>)

// ---------------------------------------------------------------- matmul, transpose
// matmul: y = op(a) op(b), op transposing where asked (no transposed copy is ever recorded)
//   da = g op(b)^T           (or, when a is transposed, op(b) g^T)
//   db = op(a)^T g           (or, when b is transposed, g^T op(a))
// Forward and backward call the product kernel (kernels/gemm.hpp), which accumulates with `true`.
template <class T>
struct MatMulOp {
  static constexpr const char* name = "matmul";
  bool ta, tb;  // transpose a, transpose b
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& A = tape.node(y.a);
    const Node<T>& B = tape.node(y.b);
    const bool ta = y.template saved<MatMulOp>().ta, tb = y.template saved<MatMulOp>().tb;
    if (A.grad) {
      if (!ta) product(false, !tb, y.grad, y.rows, y.cols, B.value, B.rows, B.cols, A.grad, true);
      else product(tb, true, B.value, B.rows, B.cols, y.grad, y.rows, y.cols, A.grad, true);
    }
    if (B.grad) {
      if (!tb) product(!ta, false, A.value, A.rows, A.cols, y.grad, y.rows, y.cols, B.grad, true);
      else product(true, ta, y.grad, y.rows, y.cols, A.value, A.rows, A.cols, B.grad, true);
    }
  }
};
template <class T> Tensor<T> matmul(Tensor<T> a, Tensor<T> b, bool transpose_a, bool transpose_b) {
  Tape<T>& tape = same_tape("matmul", a, b);
  const int m = transpose_a ? a.cols() : a.rows(), k = transpose_a ? a.rows() : a.cols();
  const int k2 = transpose_b ? b.cols() : b.rows(), n = transpose_b ? b.rows() : b.cols();
  if (k != k2)
    throw ShapeError("matmul: inner dimensions differ: " + shape(a.rows(), a.cols()) +
                     (transpose_a ? "^T" : "") + " x " + shape(b.rows(), b.cols()) +
                     (transpose_b ? "^T" : ""));
  const Node<T>& y = new_node<MatMulOp<T>>(tape, m, n, a.id(), b.id(), {transpose_a, transpose_b});
  product(transpose_a, transpose_b, a.data(), a.rows(), a.cols(), b.data(), b.rows(), b.cols(), y.value, false);
  return handle(tape);
}
SG_INSTANTIATE(matmul, Tensor<T>, Tensor<T>, bool, bool)

// transpose: y = x^T       dx = g^T
template <class T>
struct TransposeOp {
  static constexpr const char* name = "transpose";
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    MatrixMap<T>(x.grad, x.rows, x.cols) += MatrixMap<T>(y.grad, y.rows, y.cols).transpose();
  }
};
template <class T> Tensor<T> transpose(Tensor<T> a) {
  Tape<T>& tape = a.tape();
  const Node<T>& y = new_node<TransposeOp<T>>(tape, a.cols(), a.rows(), a.id(), -1);
  MatrixMap<T>(y.value, a.cols(), a.rows()) = a.value().transpose();
  return handle(tape);
}
SG_INSTANTIATE(transpose, Tensor<T>)

// ---------------------------------------------------------------- row geometry
// row_norm: y_i = ||x_i||                           dx_ij = g_i x_ij / y_i   (0 where y_i = 0)
template <class T>
struct RowNormOp {
  static constexpr const char* name = "row_norm";
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    const long C = x.cols;
    par::for_each(x.rows, long(x.rows) * C >= kParallelWork, [&](long i) {
      if (y.value[i] == 0) return;
      const T s = y.grad[i] / y.value[i];
      for (long j = 0; j < C; ++j) x.grad[i * C + j] += s * x.value[i * C + j];
    });
  }
};
template <class T> Tensor<T> row_norm(Tensor<T> a) {
  Tape<T>& tape = a.tape();
  T* y = new_node<RowNormOp<T>>(tape, a.rows(), 1, a.id(), -1).value;
  const T* x = a.data();
  const long C = a.cols();
  par::for_each(a.rows(), a.size() >= kParallelWork,
                [&](long i) { y[i] = std::sqrt(dot_span(x + i * C, x + i * C, C)); });
  return handle(tape);
}
SG_INSTANTIATE(row_norm, Tensor<T>)

// normalize_rows: y_i = x_i / d_i, d_i = n_i + eps, n_i = ||x_i|| (saved)
//   dx_i = g_i / d_i - x_i (x_i . g_i) / (n_i d_i^2)           (second term 0 where n_i = 0)
template <class T>
struct NormalizeRowsOp {
  static constexpr const char* name = "normalize_rows";
  T eps;
  const T* norm;  // n_i, one per row
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    const T eps = y.template saved<NormalizeRowsOp>().eps;  // named copies: a lambda may not capture
    const T* norm = y.template saved<NormalizeRowsOp>().norm;  // a structured binding before clang 16
    const long C = x.cols;
    par::for_each(x.rows, long(x.rows) * C >= kParallelWork, [&](long i) {
      const T* xi = x.value + i * C;
      const T* gi = y.grad + i * C;
      T* dxi = x.grad + i * C;
      const T d = norm[i] + eps;
      const T radial = norm[i] > 0 ? dot_span(xi, gi, C) / (norm[i] * d * d) : T(0);
      for (long j = 0; j < C; ++j) dxi[j] += gi[j] / d - xi[j] * radial;
    });
  }
};
template <class T> Tensor<T> normalize_rows(Tensor<T> a, double eps) {
  Tape<T>& tape = a.tape();
  T* norm = tape.template alloc<T>(std::size_t(a.rows()));
  const Node<T>& y = new_node<NormalizeRowsOp<T>>(tape, a.rows(), a.cols(), a.id(), -1, {T(eps), norm});
  const T* x = a.data();
  const long C = a.cols();
  par::for_each(a.rows(), a.size() >= kParallelWork, [&](long i) {
    norm[i] = std::sqrt(dot_span(x + i * C, x + i * C, C));
    const T inv = T(1) / (norm[i] + T(eps));
    for (long j = 0; j < C; ++j) y.value[i * C + j] = x[i * C + j] * inv;
  });
  return handle(tape);
}
SG_INSTANTIATE(normalize_rows, Tensor<T>, double)

// cosine_similarity: S_ij = u_i . u_j with u = normalize_rows(a) -- a composition, no backward.
template <class T> Tensor<T> cosine_similarity(Tensor<T> a, double eps) {
  const Tensor<T> unit = normalize_rows(a, eps);
  return matmul(unit, unit, false, true);
}
SG_INSTANTIATE(cosine_similarity, Tensor<T>, double)

// ---------------------------------------------------------------- structure
namespace {

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

}  // namespace

// slice_cols: y = x[:, s : s+n]                      dx[:, s : s+n] += g
template <class T>
struct SliceColsOp {
  static constexpr const char* name = "slice_cols";
  int start;
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    copy_cols(y.grad, y.cols, 0, x.grad, x.cols, y.template saved<SliceColsOp>().start, y.rows, y.cols, true);
  }
};
template <class T> Tensor<T> slice_cols(Tensor<T> a, int start, int count) {
  if (start < 0 || count < 0 || start + count > a.cols())
    throw ShapeError("slice_cols: columns [" + std::to_string(start) + ", " +
                     std::to_string(start + count) + ") out of range for shape " +
                     shape(a.rows(), a.cols()));
  Tape<T>& tape = a.tape();
  const Node<T>& y = new_node<SliceColsOp<T>>(tape, a.rows(), count, a.id(), -1, {start});
  copy_cols(a.data(), a.cols(), start, y.value, count, 0, a.rows(), count, false);
  return handle(tape);
}
SG_INSTANTIATE(slice_cols, Tensor<T>, int, int)

// concat_cols: y = [a b]                             da = g[:, :a.cols], db = g[:, a.cols:]
template <class T>
struct ConcatColsOp {
  static constexpr const char* name = "concat_cols";
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& a = tape.node(y.a);
    const Node<T>& b = tape.node(y.b);
    if (a.grad) copy_cols(y.grad, y.cols, 0, a.grad, a.cols, 0, y.rows, a.cols, true);
    if (b.grad) copy_cols(y.grad, y.cols, a.cols, b.grad, b.cols, 0, y.rows, b.cols, true);
  }
};
template <class T> Tensor<T> concat_cols(Tensor<T> a, Tensor<T> b) {
  Tape<T>& tape = same_tape("concat_cols", a, b);
  if (a.rows() != b.rows())
    throw ShapeError("concat_cols: row counts differ: " + shape(a.rows(), a.cols()) + " and " +
                     shape(b.rows(), b.cols()));
  const int cols = a.cols() + b.cols();
  T* y = new_node<ConcatColsOp<T>>(tape, a.rows(), cols, a.id(), b.id()).value;
  copy_cols(a.data(), a.cols(), 0, y, cols, 0, a.rows(), a.cols(), false);
  copy_cols(b.data(), b.cols(), 0, y, cols, a.cols(), a.rows(), b.cols(), false);
  return handle(tape);
}
SG_INSTANTIATE(concat_cols, Tensor<T>, Tensor<T>)

// gather_rows: y_i = x_index[i]                      dx_index[i] += g_i (in order of i)
template <class T>
struct GatherRowsOp {
  static constexpr const char* name = "gather_rows";
  const int* index;  // a copy of the caller's indices
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    const int* index = y.template saved<GatherRowsOp>().index;
    for (long i = 0; i < y.rows; ++i)
      for (long j = 0; j < y.cols; ++j) x.grad[long(index[i]) * x.cols + j] += y.grad[i * y.cols + j];
  }
};
template <class T> Tensor<T> gather_rows(Tensor<T> a, const int* index, int count) {
  for (int i = 0; i < count; ++i)
    if (index[i] < 0 || index[i] >= a.rows())
      throw ShapeError("gather_rows: index[" + std::to_string(i) + "] = " + std::to_string(index[i]) +
                       " is out of range for shape " + shape(a.rows(), a.cols()));
  Tape<T>& tape = a.tape();
  int* saved = tape.template alloc<int>(std::size_t(count));
  std::copy(index, index + count, saved);
  T* y = new_node<GatherRowsOp<T>>(tape, count, a.cols(), a.id(), -1, {saved}).value;
  const long C = a.cols();
  for (long i = 0; i < count; ++i) std::copy(a.data() + saved[i] * C, a.data() + (saved[i] + 1) * C, y + i * C);
  return handle(tape);
}
SG_INSTANTIATE(gather_rows, Tensor<T>, const int*, int)

}  // namespace sg
