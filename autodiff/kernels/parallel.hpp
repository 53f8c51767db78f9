// autodiff/kernels/parallel.hpp -- deterministic parallel loops and reductions.
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
#include <cstring>

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

// Eight lanes of T as one value (a GCC/Clang vector extension): + - * and comparisons act lane by
// lane with ordinary IEEE rounding, so a loop over Lanes8 computes exactly what the scalar loop
// with eight interleaved accumulators below computes -- written so that it is one vector
// instruction per operation, whatever the compiler decides about the scalar loop.
template <class T> struct Lanes8Of;
template <> struct Lanes8Of<float> { typedef float type __attribute__((vector_size(32))); };
template <> struct Lanes8Of<double> { typedef double type __attribute__((vector_size(64))); };
template <class T> using Lanes8 = typename Lanes8Of<T>::type;

template <class T> Lanes8<T> load8(const T* p) {
  Lanes8<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T> void store8(T* p, Lanes8<T> v) { std::memcpy(p, &v, sizeof v); }

// The fixed combination of eight partial sums that sum_span and dot_span end with.
template <class T> T combine8(Lanes8<T> a) {
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

// Sum of p[0..n) with eight interleaved accumulators: element i goes to accumulator i % 8, then
// combine8. A fixed order that vectorizes (a plain running sum cannot, without -ffast-math).
template <class T>
T sum_span(const T* p, long n) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += p[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += p[i];
  Lanes8<T> v;
  std::memcpy(&v, acc, sizeof v);
  return combine8<T>(v);
}

// Dot product of two spans with eight interleaved accumulators (see par::sum_span).
template <class T>
T dot_span(const T* p, const T* q, long n) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += p[i + l] * q[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += p[i] * q[i];
  Lanes8<T> v;
  std::memcpy(&v, acc, sizeof v);
  return combine8<T>(v);
}

}  // namespace sg::par
