// autodiff/kernels/gemm.hpp -- C = op(A) op(B) or C += op(A) op(B): the engine's one matrix product.
//
// Shapes: A is stored (ar,ac) row-major and op(A) is A, or A^T when ta is set; likewise B and
// tb. op(A) is (m,k), op(B) is (k,n), C is (m,n) row-major. C must not overlap A or B.
//
// Arithmetic contract (tests/test_gemm.cpp checks it bit for bit). Every element of C is one
// sequential chain of fused multiply-adds over the inner index, in index order, starting from +0:
//     acc = +0;  for p = 0, 1, ..., k-1:  acc = fma(op(A)_ip, op(B)_pj, acc)   (one rounding each)
//     C_ij = accumulate ? C_ij + acc : acc                                      (one more rounding)
// The old C is added once, at the end, never folded into the chain. Hence:
// - the result equals a naive triple loop with std::fma, for every shape and transpose;
// - it is bitwise the same at any thread count and for any blocking: however the work is cut,
//   each element is still computed by one chain (a chain split at a block boundary resumes from
//   its stored partial, which is exactly the accumulator's value);
// - float and double follow the same contract (double is what the gradient checks use).
#pragma once

namespace sg {

template <class T>
void gemm(bool ta, bool tb, const T* A, int ar, int ac, const T* B, int br, int bc, T* C, bool accumulate);

// The product the engine calls (product.cpp): the same arguments and result as gemm, but products
// thinner than 32 in any dimension run on Eigen's kernel in blocks of 64 rows instead, which
// rounds some sums differently (it is exact on integers; tests/test_kernels.cpp checks it
// against a plain loop to rounding). Bitwise the same at any thread count either way.
template <class T>
void product(bool ta, bool tb, const T* A, int ar, int ac, const T* B, int br, int bc, T* C, bool accumulate);

}  // namespace sg
