// GEMM throughput against the machine's FP32 peak, and the measurements that derive that peak.
//
// The peak: cores x clock x FMA units per core x FP32 lanes per vector x 2 flops per FMA.
// - lanes: 16 with AVX-512 (512-bit vectors), 8 with AVX2, from the build's target;
// - clock: measured, as the rate of a chain of dependent register-to-register integer adds
//   (one cycle each on every x86 core of the last fifteen years), best of many short windows so
//   that a preempted window does not count; /proc/cpuinfo's "cpu MHz" is shown beside it (in a
//   virtual machine it is the nominal TSC rate, not the turbo clock the core runs at). Intel
//   cores run 512-bit FMA code at a lower clock than scalar code, so in an AVX-512 build the
//   peak uses the clock measured the same way while 512-bit FMAs keep both units busy
//   (measure_clock_under_fma_hz); the scalar clock's peak is printed beside it;
// - FMA units: CPUID does not report them. The model assumes 2 (Intel's server cores since
//   Skylake-SP have two 512-bit FMA pipes, ports 0+1 fused and port 5), and peak/fma measures
//   it: 16 independent FMA chains in registers, flops per cycle / (2 x lanes), each loop at the
//   clock of its width.
// gemm/ours: C = A B through sg::matmul on the tape (the engine's own kernel, autodiff/kernels/gemm.cpp:
// the direct path up to n = 128, the packed one above), no gradient, square n x n, at 1 and 2
// threads; pct_peak is its GFLOP/s over the peak of the threads it runs on. gemm/eigen: the same
// product as one Eigen call on one thread (Eigen's own blocking), as a reference point.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>

#include "autodiff/ops.hpp"
#include "nn/random.hpp"

namespace {

using Clock = std::chrono::steady_clock;

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
constexpr int kFmaUnits = 2;  // assumed; peak/fma measures it

// Cycles per second of the calling core: 100 dependent adds per loop trip (1 cycle each; the
// loop counter runs in parallel), best of `windows` windows of about 0.2 ms.
double measure_clock_hz(int windows = 200) {
  double best = 0;
  for (int w = 0; w < windows; ++w) {
    long x = 0, one = 1;
    asm volatile("" : "+r"(one));
    const long trips = 5000;
    const auto t0 = Clock::now();
    for (long i = 0; i < trips; ++i) asm volatile(".rept 100\n\taddq %1, %0\n\t.endr" : "+r"(x) : "r"(one));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, trips * 100.0 / s);
  }
  return best;
}

// The clock, measured once per process.
double clock_hz() {
  static const double hz = measure_clock_hz();
  return hz;
}

double cpuinfo_mhz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("cpu MHz", 0) == 0) return std::stod(line.substr(line.find(':') + 1));
  return 0;
}

// Keeps the compiler from discarding FMA chains: uses one lane of each accumulator.
template <class V>
void consume(const V (&acc)[16]) {
  float sum = 0;
  for (const V& v : acc) {
    float lane;
    std::memcpy(&lane, &v, sizeof lane);
    sum += lane;
  }
  benchmark::DoNotOptimize(sum);
}

// The clock while the FMA units are busy with 512-bit work, which Intel cores may run slower
// than scalar code (frequency licenses). Each trip issues 16 independent 512-bit FMAs (8 cycles
// of work for two units) and a chain of 12 dependent integer adds (12 cycles, on other ports):
// the add chain sets the pace, so adds per second is the clock under that load. Best of
// `windows` windows.
double measure_clock_under_fma_hz(int windows = 200) {
  double best = 0;
#if defined(__AVX512F__)
  for (int w = 0; w < windows; ++w) {
    __m512 acc[16];
    for (int k = 0; k < 16; ++k) acc[k] = _mm512_set1_ps(0.01f * float(k));
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    long x = 0, one = 1;
    asm volatile("" : "+r"(one));
    const long trips = 4000;
    const auto t0 = Clock::now();
    for (long i = 0; i < trips; ++i) {
#pragma GCC unroll 16
      for (int k = 0; k < 16; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
      asm volatile(".rept 12\n\taddq %1, %0\n\t.endr" : "+r"(x) : "r"(one));
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    consume(acc);
    benchmark::DoNotOptimize(x);
    best = std::max(best, trips * 12.0 / s);
  }
#else
  (void)windows;
#endif
  return best;
}

// The clock the vector units run at: under 512-bit load in an AVX-512 build (measured once per
// process), the scalar clock otherwise.
double vector_clock_hz() {
  static const double hz = kLanes == 16 ? measure_clock_under_fma_hz() : clock_hz();
  return hz > 0 ? hz : clock_hz();
}

// Theoretical FP32 peak of `cores` cores in FLOP/s, at the clock of the vector units.
double peak_flops(int cores) { return cores * vector_clock_hz() * kFmaUnits * kLanes * 2.0; }

// 16 independent FMA chains (latency 4 x 2 pipes = 8 in flight needed; 16 leaves margin),
// `trips` times; returns the flops done. Vector width W floats.
template <int W>
double fma_chains(long trips) {
#if defined(__AVX512F__)
  if constexpr (W == 16) {
    __m512 acc[16];  // distinct starting values: equal chains could be merged by the compiler
    for (int k = 0; k < 16; ++k) acc[k] = _mm512_set1_ps(0.01f * float(k));
    __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (long i = 0; i < trips; ++i) {
      asm volatile("" : "+v"(a));
#pragma GCC unroll 16
      for (int k = 0; k < 16; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    }
    consume(acc);
    return trips * 16.0 * 16 * 2;
  }
#endif
#if defined(__AVX2__)
  if constexpr (W == 8) {
    __m256 acc[16];
    for (int k = 0; k < 16; ++k) acc[k] = _mm256_set1_ps(0.01f * float(k));
    __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    for (long i = 0; i < trips; ++i) {
      asm volatile("" : "+x"(a));
#pragma GCC unroll 16
      for (int k = 0; k < 16; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    }
    consume(acc);
    return trips * 16.0 * 8 * 2;
  }
#endif
  (void)trips;
  return 0;
}

void BM_Clock(benchmark::State& state) {
  double hz = 0;
  for (auto _ : state) hz = std::max(hz, measure_clock_hz(20));
  state.counters["measured_GHz"] = std::max(hz, clock_hz()) * 1e-9;
  state.counters["cpuinfo_GHz"] = cpuinfo_mhz() * 1e-3;
  state.counters["lanes"] = kLanes;
  state.counters["fma_units"] = kFmaUnits;
  state.counters["peak_1core_GFLOPS"] = peak_flops(1) * 1e-9;
  state.counters["peak_2core_GFLOPS"] = peak_flops(2) * 1e-9;
  state.counters["peak_1core_at_cpuinfo_GFLOPS"] = cpuinfo_mhz() * 1e6 * kFmaUnits * kLanes * 2.0 * 1e-9;
  state.counters["vector_GHz"] = vector_clock_hz() * 1e-9;
  state.counters["peak_1core_at_scalar_clock_GFLOPS"] = clock_hz() * kFmaUnits * kLanes * 2.0 * 1e-9;
}

// Achievable single-core peak. Each call of fma_chains (about half a millisecond) is timed on
// its own and the best rate is kept, so that a call preempted by another process does not
// count; flops per measured cycle / (2 x width) is the number of FMA units that did the work.
template <int W>
void BM_Fma(benchmark::State& state) {
  if (W > kLanes) {
    state.SkipWithError("this build has no vectors that wide");
    return;
  }
  double best = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const double flops = fma_chains<W>(100000);
    best = std::max(best, flops / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  state.counters["GFLOPS"] = best * 1e-9;
  // The 512-bit loop runs at the clock under 512-bit load, the 256-bit one at the scalar clock.
  const double hz = W == 16 ? vector_clock_hz() : clock_hz();
  state.counters["clock_GHz"] = hz * 1e-9;
  state.counters["flops_per_cycle"] = best / hz;
  state.counters["fma_units"] = best / hz / (2.0 * W);
}

// Counters of an n x n x n product: GFLOPS and pct_peak over the mean time of the iterations;
// best_GFLOPS and best_pct over the fastest single iteration (on a shared machine, the one
// least disturbed by other processes); peak_GFLOPS of the cores it runs on.
void report_gemm(benchmark::State& state, int n, int threads, double best_seconds) {
  const double flops = 2.0 * n * n * n, peak = peak_flops(threads);
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  // pct_peak = GFLOPS / peak_GFLOPS x 100, computed from the rate after the run.
  state.counters["pct_peak"] = benchmark::Counter(flops / peak * 100, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["best_GFLOPS"] = flops / best_seconds * 1e-9;
  state.counters["best_pct"] = flops / best_seconds / peak * 100;
  state.counters["peak_GFLOPS"] = peak * 1e-9;
  state.counters["threads"] = threads;
}

// C (n,n) = A (n,n) B (n,n) with the engine's gemm, at `threads`.
void BM_GemmOurs(benchmark::State& state) {
  const int n = int(state.range(0)), threads = int(state.range(1));
  const int threads_before = sg::num_threads();
  sg::set_num_threads(threads);
  sg::Tape<float> tape;
  sg::Rng rng(1, sg::Stream::Misc);
  const sg::Tensor<float> a = tape.tensor(n, n), b = tape.tensor(n, n);
  for (const sg::Tensor<float>& t : {a, b})
    for (long i = 0; i < t.size(); ++i) t.data()[i] = float(rng.uniform(-1, 1));
  const auto mark = tape.mark();
  sg::NoGrad<float> no_grad(tape);
  double best = 1e300;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const sg::Tensor<float> c = sg::matmul(a, b);
    benchmark::DoNotOptimize(c.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    tape.rewind(mark);
  }
  report_gemm(state, n, threads, best);
  sg::set_num_threads(threads_before);
}

void BM_GemmEigen(benchmark::State& state) {
  const int n = int(state.range(0));
  sg::Matrix<float> a = sg::Matrix<float>::Random(n, n), b = sg::Matrix<float>::Random(n, n), c(n, n);
  double best = 1e300;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  report_gemm(state, n, 1, best);
}

BENCHMARK(BM_Clock)->Name("peak/clock")->Iterations(5);
BENCHMARK_TEMPLATE(BM_Fma, 16)->Name("peak/fma_512bit");
BENCHMARK_TEMPLATE(BM_Fma, 8)->Name("peak/fma_256bit");
BENCHMARK(BM_GemmOurs)
    ->Name("gemm/ours")
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{64, 256, 1024, 2048}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GemmEigen)
    ->Name("gemm/eigen_one_call")
    ->ArgName("n")
    ->Arg(64)->Arg(256)->Arg(1024)->Arg(2048)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
