// autodiff/ops.hpp -- the primitive ops, and the few compositions everything else uses.
//
// Contract:
// - Every op takes tensors of one tape, records one node on it, and returns its output.
// - Shapes are (rows, cols); rows are samples, cols are features. A mismatch throws ShapeError
//   naming the op and both shapes, in every build type.
// - Elementwise binary ops broadcast like PyTorch restricted to 2-D: each operand is (R,C), a row
//   vector (1,C), a column vector (R,1) or a scalar (1,1).
// - Names follow PyTorch where there is one. Masking is multiplication by a constant 0/1 tensor.
// - Forward and backward of each op sit side by side in ops.cpp with the derivative formula.
#pragma once

#include "autodiff/tensor.hpp"

namespace sg {

// Elementwise with broadcasting.
template <class T> Tensor<T> add(Tensor<T> a, Tensor<T> b);
template <class T> Tensor<T> sub(Tensor<T> a, Tensor<T> b);
template <class T> Tensor<T> mul(Tensor<T> a, Tensor<T> b);
template <class T> Tensor<T> div(Tensor<T> a, Tensor<T> b);
// scale * a + shift, the scalar forms of + - * / and negation.
template <class T> Tensor<T> affine(Tensor<T> a, double scale, double shift);

// op(a) * op(b) where op transposes when asked: (m,k) x (k,n) -> (m,n).
template <class T> Tensor<T> matmul(Tensor<T> a, Tensor<T> b, bool transpose_a = false,
                                    bool transpose_b = false);
template <class T> Tensor<T> transpose(Tensor<T> a);

// Reductions: everything -> (1,1); each row -> (R,1); each column -> (1,C).
template <class T> Tensor<T> sum(Tensor<T> a);
template <class T> Tensor<T> mean(Tensor<T> a);
template <class T> Tensor<T> row_sum(Tensor<T> a);
template <class T> Tensor<T> row_mean(Tensor<T> a);
template <class T> Tensor<T> col_sum(Tensor<T> a);
template <class T> Tensor<T> col_mean(Tensor<T> a);

// Elementwise functions.
template <class T> Tensor<T> exp(Tensor<T> a);
template <class T> Tensor<T> log(Tensor<T> a);
template <class T> Tensor<T> sqrt(Tensor<T> a);
// Integer exponents (10, 100, -1, ...) use exact repeated squaring, not exp(p log x).
template <class T> Tensor<T> pow(Tensor<T> a, double p);
template <class T> Tensor<T> abs(Tensor<T> a);
template <class T> Tensor<T> relu(Tensor<T> a);
template <class T> Tensor<T> gelu(Tensor<T> a);  // exact: x * Phi(x), with erf
template <class T> Tensor<T> sigmoid(Tensor<T> a);
template <class T> Tensor<T> tanh(Tensor<T> a);
template <class T> Tensor<T> clamp(Tensor<T> a, double lo, double hi);

// Row geometry: ||a_i|| as (R,1); a_i / (||a_i|| + eps) as (R,C).
template <class T> Tensor<T> row_norm(Tensor<T> a);
template <class T> Tensor<T> normalize_rows(Tensor<T> a, double eps = 1e-8);
// S_ij = a_i . a_j / ((||a_i|| + eps)(||a_j|| + eps)), the (R,R) cosine-similarity matrix.
template <class T> Tensor<T> cosine_similarity(Tensor<T> a, double eps = 1e-8);

// Structure: columns [start, start+count); [a b] side by side; rows a[index[i]].
template <class T> Tensor<T> slice_cols(Tensor<T> a, int start, int count);
template <class T> Tensor<T> concat_cols(Tensor<T> a, Tensor<T> b);
template <class T> Tensor<T> gather_rows(Tensor<T> a, const int* index, int count);

// Operators, so that expressions read like the math.
template <class T> Tensor<T> operator+(Tensor<T> a, Tensor<T> b) { return add(a, b); }
template <class T> Tensor<T> operator-(Tensor<T> a, Tensor<T> b) { return sub(a, b); }
template <class T> Tensor<T> operator*(Tensor<T> a, Tensor<T> b) { return mul(a, b); }
template <class T> Tensor<T> operator/(Tensor<T> a, Tensor<T> b) { return div(a, b); }
template <class T> Tensor<T> operator-(Tensor<T> a) { return affine(a, -1.0, 0.0); }
template <class T> Tensor<T> operator+(Tensor<T> a, double s) { return affine(a, 1.0, s); }
template <class T> Tensor<T> operator+(double s, Tensor<T> a) { return affine(a, 1.0, s); }
template <class T> Tensor<T> operator-(Tensor<T> a, double s) { return affine(a, 1.0, -s); }
template <class T> Tensor<T> operator-(double s, Tensor<T> a) { return affine(a, -1.0, s); }
template <class T> Tensor<T> operator*(Tensor<T> a, double s) { return affine(a, s, 0.0); }
template <class T> Tensor<T> operator*(double s, Tensor<T> a) { return affine(a, s, 0.0); }
template <class T> Tensor<T> operator/(Tensor<T> a, double s) { return affine(a, 1.0 / s, 0.0); }
template <class T> Tensor<T> operator/(double s, Tensor<T> a) { return affine(pow(a, -1.0), s, 0.0); }

}  // namespace sg
