// The kernels of autodiff/kernels/ against plain reference loops: the vector math against the
// scalar functions, the deterministic reductions against their documented order, the parallel
// loops against their chunking rule. (The matrix product has its own suite, test_gemm.cpp.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "autodiff/kernels/parallel.hpp"
#include "autodiff/kernels/vecmath.hpp"
#include "autodiff/tensor.hpp"

using namespace sg;

namespace {

// Distance in units in the last place between two floats of the same sign.
long ulps(float a, float b) {
  std::int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::labs(long(ia) - long(ib));
}

}  // namespace

TEST_CASE("kernels: vector erf and exp are within 4 ulp of the scalar functions; the tail is the scalar's") {
  for (long n : {1L, 7L, 15L, 16L, 17L, 33L, 1000L}) {
    CAPTURE(n);
    std::vector<float> x(static_cast<std::size_t>(n));
    std::vector<float> e(x.size()), p(x.size());
    for (long i = 0; i < n; ++i) x[std::size_t(i)] = -4.0f + 8.0f * float(i) / float(n);
    vec::erf(x.data(), e.data(), n);
    vec::exp(x.data(), p.data(), n);
    long worst_erf = 0, worst_exp = 0;
    for (long i = 0; i < n; ++i) {
      const float xi = x[std::size_t(i)];
      const float erf_ref = float(std::erf(double(xi))), exp_ref = float(std::exp(double(xi)));
      if (erf_ref != 0) worst_erf = std::max(worst_erf, ulps(e[std::size_t(i)], erf_ref));
      worst_exp = std::max(worst_exp, ulps(p[std::size_t(i)], exp_ref));
      if (i >= n / vec::kLanes * vec::kLanes) {  // past the last full vector: the scalar function itself
        CHECK(e[std::size_t(i)] == std::erf(xi));
        CHECK(p[std::size_t(i)] == std::exp(xi));
      }
    }
    CHECK(worst_erf <= 4);
    CHECK(worst_exp <= 4);
  }
  // In place (y aliasing x) gives the same values.
  std::vector<float> x = {-1.5f, -0.25f, 0.0f, 0.5f, 2.0f}, y(x.size());
  vec::exp(x.data(), y.data(), long(x.size()));
  vec::exp(x.data(), x.data(), long(x.size()));
  CHECK(x == y);
}

TEST_CASE("kernels: sum_span and dot_span add in their documented order, at any length") {
  for (long n : {0L, 1L, 5L, 8L, 9L, 63L, 64L, 1001L}) {
    CAPTURE(n);
    std::vector<float> a(static_cast<std::size_t>(n));
    std::vector<float> b(a.size());
    for (long i = 0; i < n; ++i) a[std::size_t(i)] = std::sin(float(i) * 0.37f) * 1e3f, b[std::size_t(i)] = std::cos(float(i));
    // The reference: element i into accumulator i % 8, then ((0+4) + (1+5)) + ((2+6) + (3+7)).
    float sums[8] = {}, dots[8] = {};
    for (long i = 0; i < n; ++i) sums[i % 8] += a[std::size_t(i)], dots[i % 8] += a[std::size_t(i)] * b[std::size_t(i)];
    auto combine = [](const float* s) { return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])); };
    CHECK(par::sum_span(a.data(), n) == combine(sums));
    CHECK(par::dot_span(a.data(), b.data(), n) == combine(dots));
  }
}

TEST_CASE("kernels: for_range covers [0, n) once, in chunks that do not depend on the thread count") {
  for (long n : {1L, 4096L, 4097L, 100000L}) {
    CAPTURE(n);
    std::set<std::pair<long, long>> chunks[2];
    const int counts[2] = {1, 3};
    for (int t = 0; t < 2; ++t) {
      set_num_threads(counts[t]);
      std::vector<int> seen(std::size_t(n), 0);
      std::mutex m;
      par::for_range(n, 16, [&](long begin, long end) {
        for (long i = begin; i < end; ++i) ++seen[std::size_t(i)];
        std::lock_guard<std::mutex> lock(m);
        chunks[t].insert({begin, end});
      });
      CHECK(std::count(seen.begin(), seen.end(), 1) == n);
    }
    CHECK(chunks[0] == chunks[1]);
    CHECK(chunks[0].size() == std::size_t((n + par::kChunk - 1) / par::kChunk));
  }
  set_num_threads(2);
}
