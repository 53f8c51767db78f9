// autodiff/kernels/vecmath.hpp -- erf and exp over whole spans, several lanes at a time.
//
// Contract: vec::erf / vec::exp write f(x[i]) to y[i] for i < n (y may alias x).
// - float: glibc's libmvec has SIMD versions of the math functions (16 lanes with AVX-512, 8
//   with AVX2; documented within 4 ulp). GCC calls them by itself only under -ffast-math, so we
//   call them by their vector-ABI names. Lanes left over after the last full vector go through
//   the scalar function; which lanes those are depends only on n, so results stay the same at
//   any thread count (callers pass chunks whose sizes are multiples of 16).
// - double: the scalar functions. Double is for gradient checks, where accuracy is the point.
// Without AVX2 (e.g. make ARCH=x86-64) everything is scalar.
#pragma once

#include <cmath>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
extern "C" {
#if defined(__AVX512F__)
__m512 _ZGVeN16v_erff(__m512);
__m512 _ZGVeN16v_expf(__m512);
#else
__m256 _ZGVdN8v_erff(__m256);
__m256 _ZGVdN8v_expf(__m256);
#endif
}
#endif

namespace sg::vec {

#if defined(__AVX512F__)
inline constexpr long kLanes = 16;
inline void erf_lanes(const float* x, float* y) { _mm512_storeu_ps(y, _ZGVeN16v_erff(_mm512_loadu_ps(x))); }
inline void exp_lanes(const float* x, float* y) { _mm512_storeu_ps(y, _ZGVeN16v_expf(_mm512_loadu_ps(x))); }
#elif defined(__AVX2__)
inline constexpr long kLanes = 8;
inline void erf_lanes(const float* x, float* y) { _mm256_storeu_ps(y, _ZGVdN8v_erff(_mm256_loadu_ps(x))); }
inline void exp_lanes(const float* x, float* y) { _mm256_storeu_ps(y, _ZGVdN8v_expf(_mm256_loadu_ps(x))); }
#else
inline constexpr long kLanes = 1;
inline void erf_lanes(const float* x, float* y) { *y = std::erf(*x); }
inline void exp_lanes(const float* x, float* y) { *y = std::exp(*x); }
#endif

inline void erf(const float* x, float* y, long n) {
  long i = 0;
  for (; i + kLanes <= n; i += kLanes) erf_lanes(x + i, y + i);
  for (; i < n; ++i) y[i] = std::erf(x[i]);
}
inline void exp(const float* x, float* y, long n) {
  long i = 0;
  for (; i + kLanes <= n; i += kLanes) exp_lanes(x + i, y + i);
  for (; i < n; ++i) y[i] = std::exp(x[i]);
}
inline void erf(const double* x, double* y, long n) {
  for (long i = 0; i < n; ++i) y[i] = std::erf(x[i]);
}
inline void exp(const double* x, double* y, long n) {
  for (long i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

}  // namespace sg::vec
