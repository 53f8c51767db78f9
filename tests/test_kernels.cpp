// The kernels of autodiff/kernels/ against plain reference loops: the vector math against the
// scalar functions, the deterministic reductions against their documented order, the parallel
// loops against their chunking rule, the broadcasting loops and the product dispatcher against
// plain double loops. (The matrix product gemm has its own suite, test_gemm.cpp.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "autodiff/kernels/broadcast.hpp"
#include "autodiff/kernels/gemm.hpp"
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

namespace {

// Small integers: every sum and product below is exact, so any order gives the reference's value.
std::vector<double> integers(long n, int seed) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) v[std::size_t(i)] = double((i * 7 + seed * 13) % 11) - 5;
  return v;
}

}  // namespace

TEST_CASE("kernels: broadcasting map, map_back and reduce_add against plain loops, at 1 and 2 threads") {
  const long R = 300, C = 230;  // R * C is above kParallelWork: the loops run in parallel
  const std::vector<std::pair<long, long>> shapes = {{R, C}, {R, 1}, {1, C}, {1, 1}};
  for (auto [ar, ac] : shapes)
    for (auto [br, bc] : shapes) {
      CAPTURE(ar); CAPTURE(ac); CAPTURE(br); CAPTURE(bc);
      const std::vector<double> a = integers(ar * ac, 1), b = integers(br * bc, 2), g = integers(R * C, 3);
      const par::Bcast ba = par::bcast(int(ar), int(ac)), bb = par::bcast(int(br), int(bc));
      auto at = [](const std::vector<double>& v, long rows, long cols, long i, long j) {
        return v[std::size_t((rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j))];
      };
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        std::vector<double> y(std::size_t(R * C));
        par::map(a.data(), ba, b.data(), bb, y.data(), R, C, [](double u, double v) { return u * v; });
        // target a += g * b, reduced over a's broadcast dimensions; then sum g into every shape.
        std::vector<double> da(a.size(), 1.0), scratch(std::size_t(R * C) + par::reduce_scratch(R, C, ar, ac));
        par::map_back(a.data(), ba, b.data(), bb, y.data(), g.data(), R, C, da.data(), ar, ac, scratch.data(),
                      [](double, double v, double, double gi) { return gi * v; });
        std::vector<double> ref_da(a.size(), 1.0);
        long wrong = 0;
        for (long i = 0; i < R; ++i)
          for (long j = 0; j < C; ++j) {
            wrong += y[std::size_t(i * C + j)] != at(a, ar, ac, i, j) * at(b, br, bc, i, j);
            ref_da[std::size_t((ar == 1 ? 0 : i) * ac + (ac == 1 ? 0 : j))] += g[std::size_t(i * C + j)] * at(b, br, bc, i, j);
          }
        CHECK(wrong == 0);
        CHECK(da == ref_da);
      }
    }
  for (auto [dr, dc] : shapes) {
    const std::vector<double> src = integers(R * C, 4);
    std::vector<double> dst(std::size_t(dr * dc), 2.0), ref = dst;
    std::vector<double> scratch(par::reduce_scratch(R, C, dr, dc));
    par::reduce_add(src.data(), R, C, dst.data(), dr, dc, 0.5, scratch.data());
    std::vector<double> sums(dst.size(), 0.0);
    for (long i = 0; i < R; ++i)
      for (long j = 0; j < C; ++j) sums[std::size_t((dr == 1 ? 0 : i) * dc + (dc == 1 ? 0 : j))] += src[std::size_t(i * C + j)];
    for (std::size_t k = 0; k < ref.size(); ++k) ref[k] += 0.5 * sums[k];
    CHECK(dst == ref);
  }
  // Floats at random: the bits do not depend on the thread count.
  std::vector<float> src(std::size_t(R * C));
  for (std::size_t k = 0; k < src.size(); ++k) src[k] = std::sin(float(k) * 0.37f);
  std::vector<float> by_threads[2];
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<float> all(1), col(static_cast<std::size_t>(C)), scratch(static_cast<std::size_t>(R * C));
    par::reduce_add(src.data(), R, C, all.data(), 1, 1, 1.0f, scratch.data());
    par::reduce_add(src.data(), R, C, col.data(), 1, C, 1.0f, scratch.data());
    col.push_back(all[0]);
    by_threads[threads - 1] = col;
  }
  CHECK(std::memcmp(by_threads[0].data(), by_threads[1].data(), by_threads[0].size() * sizeof(float)) == 0);
  omp_set_num_threads(2);
}

TEST_CASE("kernels: product, thin (Eigen) and wide (gemm), every transpose, against a plain loop") {
  for (auto [m, k, n] : {std::tuple{64, 3, 16}, std::tuple{200, 16, 8}, std::tuple{40, 48, 36}, std::tuple{5, 1, 1}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool accumulate : {false, true}) {
          CAPTURE(m); CAPTURE(k); CAPTURE(n); CAPTURE(ta); CAPTURE(tb);
          const std::vector<double> A = integers(long(m) * k, 5), B = integers(long(k) * n, 6);
          std::vector<double> C(std::size_t(m) * n, 3.0), ref = C;
          // A is stored (m,k), or (k,m) when transposed; likewise B.
          product(ta, tb, A.data(), ta ? k : m, ta ? m : k, B.data(), tb ? n : k, tb ? k : n, C.data(), accumulate);
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
              double s = 0;
              for (int p = 0; p < k; ++p)
                s += A[std::size_t(ta ? p * m + i : i * k + p)] * B[std::size_t(tb ? j * k + p : p * n + j)];
              ref[std::size_t(i * n + j)] = accumulate ? ref[std::size_t(i * n + j)] + s : s;
            }
          CHECK(C == ref);
        }
}
