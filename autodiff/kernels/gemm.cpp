// autodiff/kernels/gemm.cpp -- the matrix product of gemm.hpp (read its contract first).
//
// One register kernel does all the arithmetic: a tile of R rows x NV vectors of C lives in R*NV
// vector registers; step p loads NV vectors of row p of op(B), broadcasts op(A)_ip for each row
// i and does acc[i][v] = fma(a_ip, b_p[v], acc[i][v]). Each accumulator lane is one element's
// chain in index order -- the contract -- and the R*NV chains are independent, which keeps both
// FMA pipes busy (4 cycles of latency: 8 FMAs must be in flight). With AVX-512 the big tile is
// MR x NR = 14 x 32 floats: 28 accumulators + 2 vectors of B + 1 broadcast = 31 of 32 registers,
// and a step is 28 FMAs (14 cycles on 2 pipes) for only 16 loads: near the FMA peak as long as
// the operands come from L1 and L2. Two paths feed it:
// - Direct (k <= 16 or m n k <= 128^3, e.g. 64 x 64 by 64 x 64): op(A) and op(B) read in place
//   (op(B) copied into rows first when transposed); 8-row tiles. Packing would cost as much as
//   the product. (The engine sends products thinner than 32 to Eigen instead: ops.cpp, product.)
// - Packed (the GotoBLAS / BLIS scheme) for everything larger:
//     for jc over n by NC:  each thread packs op(B)[:, jc..] into k x NR panels       (L3)
//       for each of its tasks (~MC rows of C): pack op(A)[rows, :] into MR x KC panels  (L2)
//         for jr over NC by NR:  for pc over k by KC:  the B slice, KC x NR = 16 KiB  (L1)
//           for ir over the task's rows by MR: kernel, KC steps, on the tile's partial sums
//   Packing makes every operand a unit-stride stream whatever the transposes, and pads edges
//   with zeros (the kernel never sees a partial tile; only the write to C is clipped). A chain
//   cut at a KC boundary resumes from its stored partial tile -- exactly the accumulator's value
//   -- so blocking changes no bit. Each thread packs its own copy of B: reading it from the other
//   core's cache was slower than packing it twice (2 threads: +20% at n = 256, +5% at 1024).
// Orientation: C^T = op(B)^T op(A)^T is the same set of chains (a*b = b*a exactly), so when
// vectors along n would be mostly empty (n = 3 or 4) the transposed problem may run instead.
// Buffers: thread_local, each grows to the largest size asked and stays, so that a training
// step allocates nothing after its first.
#include "autodiff/kernels/gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "autodiff/kernels/parallel.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- vectors
// Simd<T>: L lanes and the operations the kernel needs. fma rounds once, exactly like std::fma;
// a mask selects the first n lanes, so that edge columns never touch memory past a row's end.
// Double takes the portable one-lane version everywhere: it serves the gradient checks, where
// the bits matter and the speed does not.
template <class T>
struct Simd {
  using V = T;
  using Mask = bool;
  static constexpr int L = 1, kRegs = 16;
  static Mask mask(long n) { return n > 0; }
  static V zero() { return T(0); }
  static V bcast(const T* p) { return *p; }
  static V load(const T* p, Mask m = true) { return m ? *p : T(0); }
  static void store(T* p, V v, Mask m = true) { if (m) *p = v; }
  static V fma(V a, V b, V c) { return std::fma(a, b, c); }
  static V add(V a, V b) { return a + b; }
};
#if defined(__AVX512F__)
template <>
struct Simd<float> {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int L = 16, kRegs = 32;
  static Mask mask(long n) { return Mask(n >= L ? 0xFFFF : (1u << std::max(n, 0L)) - 1); }
  static V zero() { return _mm512_setzero_ps(); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
};
#elif defined(__AVX2__) && defined(__FMA__)
template <>
struct Simd<float> {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int L = 8, kRegs = 16;
  static Mask mask(long n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::clamp(n, 0L, 8L))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zero() { return _mm256_setzero_ps(); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, V v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
};
#endif

// Packed tile: NV = 2 vectors per row, MR rows to fill the register file. Direct tiles: 8 rows,
// enough chains to hide the FMA latency, and 8 row pointers still fit in registers.
constexpr int kNV = 2, kDirectRows = 8;
template <class T>
constexpr int kMR = Simd<T>::kRegs >= 32 ? 14 : Simd<T>::L > 1 ? 6 : 4;
template <class T>
constexpr long kNR = kNV * Simd<T>::L;
// Blocks, tuned on the Sapphire Rapids-class bench machine (L1 48 KiB, L2 2 MiB per core):
// a B slice of KC steps (16 KiB) stays in L1 beside the A panel streaming through it; a task's
// A rows (MC, fewer when k is long) stay in L2; a thread's packed B, k x NC, is at most 8 MiB.
constexpr long kKC = 128, kMC = 112, kPackedABytes = 1L << 20, kPackedBBytes = 8L << 20;
constexpr long kDirectWork = 128L * 128 * 128;

long ceil_div(long a, long b) { return (a + b - 1) / b; }

// A strided matrix: element (r, c) at p[r * rs + c * cs]; t() is its transpose, in place.
template <class T>
struct View {
  const T* p;
  long rs, cs;
  View t() const { return {p, cs, rs}; }
};

// A product in the kernel's orientation: c (m,n) (+)= x (m,k) y (k,n), x the broadcast operand
// and y the vector one; element (i, j) of c at c[i * crs + j * ccs].
template <class T>
struct Problem {
  long m, n, k;
  View<T> x, y;
  T* c;
  long crs, ccs;
  bool accumulate;
};

// This thread's buffer number `slot` (0: B, 1: A, 2: partial tiles), 64-byte aligned.
template <class T>
T* scratch(int slot, long n) {
  thread_local std::vector<T> buffers[3];
  std::vector<T>& b = buffers[slot];
  if (long(b.size()) < n + 64) b.resize(std::size_t(n + 64));
  return b.data() + (64 - reinterpret_cast<std::uintptr_t>(b.data()) % 64) % 64 / sizeof(T);
}

// ---------------------------------------------------------------- the kernel
// tile (R x NV*L, row-major) = (resume ? tile : 0) chained with x(r, p) * y(p, :) for p < k.
// Packed: x(r, p) at x[p * R + r] (an MR x KC panel), y row p at y + p * NV * L (a B slice).
// Direct: x(r, p) at x[xoff[r] + p * xcs], y row p at y + p * ldy, its lanes chosen by mask.
template <class T, int R, int NV, bool Packed>
void kernel(long k, const T* x, const long* xoff, long xcs, const T* y, long ldy,
            const typename Simd<T>::Mask* mask, T* tile, bool resume) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = S::L;
  V acc[R][NV];
  const T* xr[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    xr[r] = x + (Packed ? r : xoff[r]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = resume ? S::load(tile + (r * NV + v) * L) : S::zero();
  }
  if constexpr (Packed) xcs = R, ldy = NV * L;
  for (long pk = 0, end = k * xcs; pk != end; pk += xcs, y += ldy) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = Packed ? S::load(y + v * L) : S::load(y + v * L, mask[v]);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V a = S::bcast(xr[r] + pk);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fma(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) S::store(tile + (r * NV + v) * L, acc[r][v]);
}

// Writes rows x cols of a finished tile t (R x NV*L) to c: c = t, or c = c + t when accumulating.
// The loop over v is unrolled on purpose: as a loop of copies GCC would make it a memcpy call.
template <class T, int NV>
void write_tile(const T* t, long rows, long cols, T* c, long crs, long ccs, bool accumulate) {
  using S = Simd<T>;
  for (long r = 0; r < rows; ++r, t += NV * S::L, c += crs) {
    if (ccs != 1) {  // the transposed orientation: a column of the caller's C
      for (long j = 0; j < cols; ++j) c[j * ccs] = accumulate ? c[j * ccs] + t[j] : t[j];
      continue;
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const long j = v * S::L, lanes = cols - j;
      if (lanes >= S::L) {
        S::store(c + j, accumulate ? S::add(S::load(c + j), S::load(t + j)) : S::load(t + j));
      } else if (lanes > 0) {
        // No masked load of c: it would overlap the masked store to the row before, and wait
        // for that store to reach the cache.
        if (!accumulate) S::store(c + j, S::load(t + j), S::mask(lanes));
        else for (long i = j; i < cols; ++i) c[i] = c[i] + t[i];
      }
    }
  }
}

// ---------------------------------------------------------------- direct path
// A task per 8 rows of c. Rows past m repeat the last row's x (computed, not written): the
// kernel keeps its 8 independent chains.
template <class T, int NV>
void direct(const Problem<T>& g, bool parallel) {
  using S = Simd<T>;
  constexpr int R = kDirectRows;
  constexpr long W = NV * S::L;
  par::for_each(ceil_div(g.m, R), parallel, [&](long t) {
    const long i0 = t * R, rows = std::min<long>(R, g.m - i0);
    long xoff[R];
    for (int r = 0; r < R; ++r) xoff[r] = (i0 + std::min<long>(r, rows - 1)) * g.x.rs;
    for (long j0 = 0; j0 < g.n; j0 += W) {
      const long cols = std::min(W, g.n - j0);
      typename S::Mask mask[NV];
      for (int v = 0; v < NV; ++v) mask[v] = S::mask(cols - v * S::L);
      alignas(64) T tile[R * W];
      kernel<T, R, NV, false>(g.k, g.x.p, xoff, g.x.cs, g.y.p + j0, g.y.rs, mask, tile, false);
      write_tile<T, NV>(tile, rows, cols, g.c + i0 * g.crs + j0 * g.ccs, g.crs, g.ccs, g.accumulate);
    }
  });
}

template <class T>
void run_direct(Problem<T> g, bool parallel) {
  if (g.y.cs != 1) {  // y into rows
    T* rows = scratch<T>(0, g.k * g.n);
    for (long p = 0; p < g.k; ++p)
      for (long j = 0; j < g.n; ++j) rows[p * g.n + j] = g.y.p[p * g.y.rs + j * g.y.cs];
    g.y = {rows, g.n, 1};
  }
  if (g.n <= Simd<T>::L) direct<T, 1>(g, parallel);
  else direct<T, 2>(g, parallel);
}

// ---------------------------------------------------------------- packed path
// x rows [i0, i0+MR) x columns [k0, k0+kc) -> dst[p * MR + r]; rows past m are zeros.
template <class T>
void pack_a(View<T> x, long i0, long k0, long kc, long m, T* dst) {
  constexpr int MR = kMR<T>;
  const long rows = std::min<long>(MR, m - i0);
  const T* src = x.p + i0 * x.rs + k0 * x.cs;
  for (long p = 0; p < kc; ++p, dst += MR)
    for (long r = 0; r < MR; ++r) dst[r] = r < rows ? src[r * x.rs + p * x.cs] : T(0);
}

// y rows [0, k) x columns [j0, j0 + panels * NR) -> panels of k x NR, panel q at dst + q * k * NR,
// (p, c) at [p * NR + c]; columns past n are zeros. A few rows at a time across all the panels,
// so that y is read along its rows: a column strip would touch a new page at every row.
template <class T>
void pack_b(View<T> y, long k, long j0, long n, long panels, T* dst) {
  using S = Simd<T>;
  constexpr long NR = kNR<T>, kRows = 8;
  for (long p0 = 0; p0 < k; p0 += kRows)
    for (long q = 0; q < panels; ++q) {
      const long c0 = j0 + q * NR, cols = std::min(NR, n - c0);
      for (long p = p0; p < std::min(k, p0 + kRows); ++p) {
        const T* src = y.p + p * y.rs + c0 * y.cs;
        T* d = dst + (q * k + p) * NR;
        if (y.cs == 1)  // a contiguous row: masked vector copies
          for (int v = 0; v < kNV; ++v) S::store(d + v * S::L, S::load(src + v * S::L, S::mask(cols - v * S::L)));
        else
          for (long c = 0; c < NR; ++c) d[c] = c < cols ? src[c * y.cs] : T(0);
      }
    }
}

template <class T>
void run_packed(const Problem<T>& g, bool parallel) {
  constexpr int MR = kMR<T>;
  constexpr long NR = kNR<T>;
  const long m = g.m, n = g.n, k = g.k;
  const long nc = std::min(ceil_div(n, NR), std::max(1L, kPackedBBytes / long(sizeof(T)) / (k * NR))) * NR;
  // Tasks: runs of whole MR-row panels, as many as fit in MC rows and in kPackedABytes, their
  // count a multiple of the thread count. (The split changes no bit: each element is one chain.)
  const long panels = ceil_div(m, MR), threads = parallel ? omp_get_max_threads() : 1;
  const long per_task = std::max(1L, std::min(kMC / MR, kPackedABytes / long(sizeof(T)) / (MR * k)));
  const long tasks = std::min(panels, ceil_div(ceil_div(panels, per_task), threads) * threads);
  for (long j0 = 0; j0 < n; j0 += nc) {
    const long bpanels = ceil_div(std::min(nc, n - j0), NR);
    par::for_each(threads, parallel, [&](long th) {
      T* bpack = scratch<T>(0, k * nc);
      pack_b(g.y, k, j0, n, bpanels, bpack);
      for (long t = th * tasks / threads; t < (th + 1) * tasks / threads; ++t) {
        const long p0 = t * panels / tasks, np = (t + 1) * panels / tasks - p0, i0 = p0 * MR;
        T* apack = scratch<T>(1, np * MR * k);  // block k0 holds np panels of MR x kc
        T* partial = scratch<T>(2, np * MR * NR);
        for (long k0 = 0; k0 < k; k0 += kKC)
          for (long ip = 0; ip < np; ++ip)
            pack_a(g.x, i0 + ip * MR, k0, std::min(kKC, k - k0), m, apack + (k0 * np + ip * std::min(kKC, k - k0)) * MR);
        for (long jp = 0; jp < bpanels; ++jp)
          for (long k0 = 0; k0 < k; k0 += kKC) {
            const long kc = std::min(kKC, k - k0), c0 = j0 + jp * NR;
            for (long ip = 0; ip < np; ++ip) {
              T* tile = partial + ip * MR * NR;
              kernel<T, MR, kNV, true>(kc, apack + (k0 * np + ip * kc) * MR, nullptr, 0, bpack + (jp * k + k0) * NR, 0,
                                       nullptr, tile, k0 > 0);
              if (k0 + kc == k)
                write_tile<T, kNV>(tile, std::min<long>(MR, m - i0 - ip * MR), std::min(NR, n - c0),
                                   g.c + (i0 + ip * MR) * g.crs + c0 * g.ccs, g.crs, g.ccs, g.accumulate);
            }
          }
      }
    });
  }
}

}  // namespace

template <class T>
void gemm(bool ta, bool tb, const T* A, int ar, int ac, const T* B, int br, int bc, T* C, bool accumulate) {
  const long m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  if (m == 0 || n == 0) return;
  const View<T> a = ta ? View<T>{A, 1, ac} : View<T>{A, ac, 1};  // op(A), (m,k)
  const View<T> b = tb ? View<T>{B, 1, bc} : View<T>{B, bc, 1};  // op(B), (k,n)
  const Problem<T> plain{m, n, k, a, b, C, n, 1, accumulate};
  const Problem<T> flipped{n, m, k, b.t(), a.t(), C, 1, n, accumulate};  // C^T = op(B)^T op(A)^T
  const bool parallel = m * n * k >= par::kParallelWork;
  if (m * n * k <= kDirectWork) {
    // Cost: vector FMAs, plus one per element of y that must first be copied into rows.
    auto cost = [&](const Problem<T>& g) { return g.m * k * ceil_div(g.n, Simd<T>::L) + (g.y.cs != 1) * k * g.n; };
    run_direct(cost(flipped) < cost(plain) ? flipped : plain, parallel);
  } else {  // the orientation with less padding (fewer wasted lanes and rows)
    auto padded = [](const Problem<T>& g) { return ceil_div(g.m, kMR<T>) * kMR<T> * ceil_div(g.n, kNR<T>) * kNR<T>; };
    run_packed(padded(flipped) < padded(plain) ? flipped : plain, parallel);
  }
}

template void gemm<float>(bool, bool, const float*, int, int, const float*, int, int, float*, bool);
template void gemm<double>(bool, bool, const double*, int, int, const double*, int, int, double*, bool);

}  // namespace sg
