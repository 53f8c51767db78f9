// autodiff/parallel.hpp -- deterministic parallel loops and reductions.
//
// Contract: every result is bitwise the same whatever the number of OpenMP threads.
// - Work is cut into chunks whose size depends only on the problem size, never on the thread
//   count; each chunk is computed by one thread in a fixed order.
// - Reductions keep one partial per chunk and combine the partials in index order afterwards:
//   no OpenMP reduction clauses, no atomics on floating point.
// - Whether a loop runs in parallel depends only on its size (kParallelWork), so 1 thread and N
//   threads execute the very same arithmetic.
#pragma once

#include <omp.h>

#include <algorithm>

namespace sg::par {

// Below this many scalar operations a kernel stays on the calling thread: forking costs
// about a microsecond, which would dominate the small matrices of the color models.
inline constexpr long kParallelWork = 1L << 16;
// Elementwise loops are cut into chunks of this many elements.
inline constexpr long kChunk = 4096;
// Column reductions (sum over rows) are cut into chunks of this many rows.
inline constexpr long kRowChunk = 64;

// Calls f(c) for c in [0, n); across threads when `parallel` is set. With one thread there is no
// parallel region at all: the same chunks run in order, and libgomp allocates nothing.
template <class F>
void for_each(long n, bool parallel, F&& f) {
  if (parallel && n > 1 && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (long c = 0; c < n; ++c) f(c);
  } else {
    for (long c = 0; c < n; ++c) f(c);
  }
}

// Calls f(begin, end) over [0, n) in chunks of kChunk; parallel when n * cost is large.
template <class F>
void for_range(long n, long cost_per_element, F&& f) {
  const long chunks = (n + kChunk - 1) / kChunk;
  for_each(chunks, n * cost_per_element >= kParallelWork,
           [&](long c) { f(c * kChunk, std::min(n, (c + 1) * kChunk)); });
}

// Sum of p[0..n) with eight interleaved accumulators: a fixed order that the compiler can keep
// in one vector register (a plain running sum cannot be vectorized without -ffast-math).
template <class T>
T sum_span(const T* p, long n) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += p[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += p[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// Dot product of two spans with eight interleaved accumulators (see par::sum_span).
template <class T>
T dot_span(const T* p, const T* q, long n) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += p[i + l] * q[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += p[i] * q[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

}  // namespace sg::par
