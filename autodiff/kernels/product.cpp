// autodiff/kernels/product.cpp -- which kernel computes a matrix product (contract: gemm.hpp).
#include <Eigen/Core>

#include <algorithm>

#include "autodiff/kernels/gemm.hpp"
#include "autodiff/kernels/parallel.hpp"

namespace sg {

// Products with every dimension at least kThin run on the engine's kernel (gemm: one fused
// multiply-add chain per element). Thinner ones -- every product of the color models, whose
// layers are at most 16 wide -- stay on Eigen's kernel, one call per block of 64 output rows
// (the blocks depend on the shape only, so the bits do not depend on the thread count). Eigen
// rounds these differently from a single chain (it splits some sums into two), and every number
// of docs/findings.md was measured with its rounding; our kernel is no faster on them
// (docs/performance.md). Eigen's packing buffers for a 64-row block stay on the stack (the
// Makefile's EIGEN_STACK_ALLOCATION_LIMIT), so a step allocates nothing.
constexpr long kThin = 32;

template <class T>
void product(bool ta, bool tb, const T* A, int ar, int ac, const T* B, int br, int bc, T* C, bool accumulate) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const long m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  if (std::min({m, n, k}) >= kThin) return gemm(ta, tb, A, ar, ac, B, br, bc, C, accumulate);
  constexpr long kRows = 64;
  const Eigen::Map<const Mat> a(A, ar, ac), b(B, br, bc);
  Eigen::Map<Mat> c(C, m, n);
  const bool parallel = m * n * k >= par::kParallelWork;
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

template void product(bool, bool, const float*, int, int, const float*, int, int, float*, bool);
template void product(bool, bool, const double*, int, int, const double*, int, int, double*, bool);

}  // namespace sg
