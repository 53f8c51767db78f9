// Tests of autodiff/kernels/gemm: the arithmetic contract of gemm.hpp, bit for bit. Every element is one
// fused multiply-add chain over p in index order, started from +0, with the old C added once at
// the end -- so the result must equal a naive triple loop with std::fma for every shape,
// transpose and accumulate flag, in float and double, and must not depend on the thread count.
// The shapes cross every boundary of the implementation: the direct path (a small product) and
// the packed one, edge tiles of every width, k past the KC block (128), the
// transposed orientation (narrow n), and the parallel split.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "autodiff/kernels/gemm.hpp"
#include "autodiff/tensor.hpp"

namespace {

// The contract, written as plainly as possible.
template <class T>
void reference(bool ta, bool tb, const T* A, int ar, int ac, const T* B, int br, int bc, T* C, bool accumulate) {
  const int m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      T acc = 0;
      for (int p = 0; p < k; ++p) acc = std::fma(ta ? A[p * ac + i] : A[i * ac + p], tb ? B[j * bc + p] : B[p * bc + j], acc);
      C[i * n + j] = accumulate ? C[i * n + j] + acc : acc;
    }
}

// Operands for op(A) (m,k) op(B) (k,n) with entries uniform in [-1, 1], and a random C.
template <class T>
struct Case {
  bool ta, tb, accumulate;
  int ar, ac, br, bc, m, n;
  std::vector<T> A, B, C;
  Case(int m_, int n_, int k, bool ta_, bool tb_, bool accumulate_, std::uint64_t seed)
      : ta(ta_), tb(tb_), accumulate(accumulate_), ar(ta ? k : m_), ac(ta ? m_ : k), br(tb ? n_ : k),
        bc(tb ? k : n_), m(m_), n(n_), A(std::size_t(m_) * k), B(std::size_t(k) * n_), C(std::size_t(m_) * n_) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    for (std::vector<T>* v : {&A, &B, &C})
      for (T& x : *v) x = T(u(rng));
  }
  std::vector<T> ours() const {
    std::vector<T> c = C;
    sg::gemm(ta, tb, A.data(), ar, ac, B.data(), br, bc, c.data(), accumulate);
    return c;
  }
  std::vector<T> expected() const {
    std::vector<T> c = C;
    reference(ta, tb, A.data(), ar, ac, B.data(), br, bc, c.data(), accumulate);
    return c;
  }
  std::string describe() const {
    return std::to_string(m) + "x" + std::to_string(n) + " k=" + std::to_string(ta ? ar : ac) +
           (ta ? " A^T" : "") + (tb ? " B^T" : "") + (accumulate ? " +=" : "");
  }
};

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Every shape of `dims` x `dims` x `inner`, all four transposes, both accumulate flags.
template <class T>
void check_against_reference(const std::vector<int>& dims, const std::vector<int>& inner) {
  int checked = 0;
  for (int m : dims)
    for (int n : dims)
      for (int k : inner)
        for (int form = 0; form < 8; ++form) {
          const Case<T> c(m, n, k, form & 1, form & 2, form & 4, 1000003u * m + 1009u * n + k);
          INFO(c.describe());
          CHECK(same_bits(c.ours(), c.expected()));
          ++checked;
        }
  CHECK(checked == int(dims.size() * dims.size() * inner.size()) * 8);
}

// Restores the thread count of the suite (make test runs at 2) however the test ends.
struct ThreadCount {
  int before = sg::num_threads();
  ~ThreadCount() { sg::set_num_threads(before); }
};

}  // namespace

TEST_CASE("gemm: bitwise equal to a naive std::fma loop, small and odd shapes") {
  const std::vector<int> dims = {1, 3, 5, 17, 63, 65, 129}, inner = {0, 1, 3, 16, 17, 129, 300};
  SUBCASE("float") { check_against_reference<float>(dims, inner); }
  SUBCASE("double") { check_against_reference<double>(dims, inner); }
}

TEST_CASE("gemm: bitwise equal to a naive std::fma loop, packed shapes with long k") {
  // Several row tasks, k of 7+ KC blocks, a narrow n that takes the transposed orientation.
  for (auto [m, n, k] : {std::tuple{1000, 17, 1000}, {129, 1000, 257}, {300, 300, 1000}})
    for (int form = 0; form < 8; ++form) {
      const Case<float> c(m, n, k, form & 1, form & 2, form & 4, 77 + form);
      INFO(c.describe());
      CHECK(same_bits(c.ours(), c.expected()));
    }
  const Case<double> d(200, 150, 700, true, false, true, 5);
  CHECK(same_bits(d.ours(), d.expected()));
}

TEST_CASE("gemm: bitwise identical at 1, 2 and 3 threads") {
  ThreadCount restore;
  // Direct and packed paths, both orientations, all parallel (m n k >= kParallelWork).
  for (auto [m, n, k] : {std::tuple{4096, 16, 3}, {16, 4, 4096}, {515, 257, 300}, {1000, 17, 1000}})
    for (int form = 0; form < 8; ++form) {
      const Case<float> c(m, n, k, form & 1, form & 2, form & 4, 11 + form);
      INFO(c.describe());
      sg::set_num_threads(1);
      const std::vector<float> one = c.ours();
      sg::set_num_threads(2);
      const std::vector<float> two = c.ours();
      sg::set_num_threads(3);
      const std::vector<float> three = c.ours();
      CHECK(same_bits(one, two));
      CHECK(same_bits(one, three));
      CHECK(same_bits(one, c.expected()));
    }
}

TEST_CASE("gemm: the chain is fused, and the old C is added once at the end") {
  // x = 1 + 2^-12: x*x = 1 + 2^-11 + 2^-24 exactly. A fused chain keeps the 2^-24; rounding the
  // product first (a tie, to even) would lose it.
  const float x = 1.0f + std::ldexp(1.0f, -12);
  const float a[2] = {1.0f, x}, b[2] = {-(1.0f + std::ldexp(1.0f, -11)), x};
  float c = 0;
  sg::gemm(false, false, a, 1, 2, b, 2, 1, &c, false);
  CHECK(c == std::ldexp(1.0f, -24));
  // Old C = 1, chain 1e8 * 1 + 1 * (-1e8) = 0: 1 + 0 = 1. A chain started from the old C would
  // round 1e8 + 1 to 1e8 (float's spacing there is 8) and end at 0.
  const float a2[2] = {1e8f, 1.0f}, b2[2] = {1.0f, -1e8f};
  float c2 = 1.0f;
  sg::gemm(false, false, a2, 1, 2, b2, 2, 1, &c2, true);
  CHECK(c2 == 1.0f);
}

TEST_CASE("gemm: empty dimensions") {
  const float a[6] = {1, 2, 3, 4, 5, 6};
  float c[6] = {7, 7, 7, 7, 7, 7};
  sg::gemm(false, false, a, 3, 0, a, 0, 2, c, true);  // k = 0, accumulating: C + 0
  CHECK(c[0] == 7.0f);
  sg::gemm(false, false, a, 3, 0, a, 0, 2, c, false);  // k = 0: the empty chain, +0
  for (float v : c) CHECK(v == 0.0f);
  c[0] = 7;
  sg::gemm(false, false, a, 0, 3, a, 3, 2, c, false);  // m = 0: nothing is written
  sg::gemm(false, false, a, 2, 3, a, 3, 0, c, false);  // n = 0: nothing is written
  CHECK(c[0] == 7.0f);
}
