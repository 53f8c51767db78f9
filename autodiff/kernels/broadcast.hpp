// autodiff/kernels/broadcast.hpp -- the loops of elementwise ops with 2-D broadcasting.
//
// Contract: an operand of an (R,C) result is (R,C), a row (1,C), a column (R,1) or a scalar
// (1,1); element (i, j) of the result reads operand element (i * rs, j * cs) with the strides of
// Bcast (0 along a broadcast dimension). The reference each loop is tested against is the plain
// double loop over i and j (tests/test_kernels.cpp).
// - map: y_ij = f(a_ij, b_ij), one row per task; the inner loop has compile-time strides.
// - reduce_add: dst += scale * src summed over the dimensions where dst has size 1, in a fixed
//   order (parallel.hpp's chunks). Sums and the backward of broadcast operands both use it, so
//   they add in the same order. `scratch` holds reduce_scratch(...) elements.
// - map_back: target += (reduced over its broadcast dimensions) local(a_ij, b_ij, y_ij, g_ij).
// Every result is bitwise the same at any thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "autodiff/kernels/parallel.hpp"

namespace sg::par {

struct Bcast {
  long rs, cs;  // element (i, j) of the broadcast operand is at p[i * rs + j * cs]
};
inline Bcast bcast(int rows, int cols) { return {rows == 1 ? 0 : cols, cols == 1 ? 0 : 1}; }

// Elements of scratch that reduce_add needs for src (R,C) into dst (dr,dc).
inline std::size_t reduce_scratch(long R, long C, long dr, long dc) {
  if (dr == R) return 0;
  if (dc == C) return std::size_t((R + kRowChunk - 1) / kRowChunk * C);
  return std::size_t((R * C + kChunk - 1) / kChunk);
}

template <class T>
void reduce_add(const T* src, long R, long C, T* dst, long dr, long dc, T scale, T* scratch) {
  const long n = R * C;
  const bool parallel = n >= kParallelWork;
  if (dr == R && dc == C) {
    for_range(n, 1, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) dst[i] += scale * src[i];
    });
  } else if (dr == R) {  // each row -> (R,1)
    for_each(R, parallel, [&](long i) { dst[i] += scale * sum_span(src + i * C, C); });
  } else if (dc == C) {  // each column -> (1,C): chunks of rows, partials combined in order
    const long chunks = (R + kRowChunk - 1) / kRowChunk;
    for_each(chunks, parallel, [&](long c) {
      T* p = scratch + c * C;
      std::fill(p, p + C, T(0));
      const long end = std::min<long>(R, (c + 1) * kRowChunk);
      for (long i = c * kRowChunk; i < end; ++i)
        for (long j = 0; j < C; ++j) p[j] += src[i * C + j];
    });
    for (long j = 0; j < C; ++j) {
      T s = 0;
      for (long c = 0; c < chunks; ++c) s += scratch[c * C + j];
      dst[j] += scale * s;
    }
  } else {  // everything -> (1,1)
    const long chunks = (n + kChunk - 1) / kChunk;
    for_each(chunks, parallel, [&](long c) {
      scratch[c] = sum_span(src + c * kChunk, std::min(kChunk, n - c * kChunk));
    });
    T s = 0;
    for (long c = 0; c < chunks; ++c) s += scratch[c];
    dst[0] += scale * s;
  }
}

// One row of a broadcast loop: calls body(j, j * ca, j * cb) with the column strides of the two
// operands as compile-time constants (0 or 1) in each of the four variants, so it vectorizes.
template <class F>
void broadcast_row(Bcast ba, Bcast bb, long C, F&& body) {
  using One = std::integral_constant<long, 1>;
  using Zero = std::integral_constant<long, 0>;
  auto run = [&](auto ca, auto cb) {
    for (long j = 0; j < C; ++j) body(j, j * ca, j * cb);
  };
  if (ba.cs && bb.cs) run(One(), One());
  else if (ba.cs) run(One(), Zero());
  else if (bb.cs) run(Zero(), One());
  else run(Zero(), Zero());
}

template <class T, class F>
void map(const T* a, Bcast ba, const T* b, Bcast bb, T* y, long R, long C, F f) {
  for_each(R, R * C >= kParallelWork, [&](long i) {
    const T* pa = a + i * ba.rs;
    const T* pb = b + i * bb.rs;
    T* py = y + i * C;
    broadcast_row(ba, bb, C, [&](long j, long ja, long jb) { py[j] = f(pa[ja], pb[jb]); });
  });
}

// target (tr,tc) += local(a, b, y, g) summed over target's broadcast dimensions. Needs R * C
// elements of scratch, plus reduce_scratch, when target is broadcast.
template <class T, class Local>
void map_back(const T* a, Bcast ba, const T* b, Bcast bb, const T* y, const T* g, long R, long C,
              T* target, long tr, long tc, T* scratch, Local local) {
  const long n = R * C;
  if (ba.rs == C && ba.cs && bb.rs == C && bb.cs) {  // neither operand broadcast: one flat loop
    for_range(n, 2, [&](long lo, long hi) {
      for (long k = lo; k < hi; ++k) target[k] += local(a[k], b[k], y[k], g[k]);
    });
    return;
  }
  const bool full = tr == R && tc == C;
  T* dst = full ? target : scratch;
  for_each(R, n >= kParallelWork, [&](long i) {
    const T* pa = a + i * ba.rs;
    const T* pb = b + i * bb.rs;
    const T* py = y + i * C;
    const T* pg = g + i * C;
    T* pd = dst + i * C;
    broadcast_row(ba, bb, C, [&](long j, long ja, long jb) {
      const T v = local(pa[ja], pb[jb], py[j], pg[j]);
      if (full) pd[j] += v;
      else pd[j] = v;
    });
  });
  if (!full) reduce_add(dst, R, C, target, tr, tc, T(1), scratch + n);
}

}  // namespace sg::par
