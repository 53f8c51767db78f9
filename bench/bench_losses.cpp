// Benchmarks of losses/: the angular repulsion, fused kernel against its composed reference, and
// beside them the pairwise energy (Coulomb, s = 1, Euclidean and angular distance).
//
// One iteration is a whole training-step's worth of the term: forward, mean, backward, and a
// rewind of the tape. z is (B,4) in float, the color models' bottleneck; the repulsion has p = 10
// without shift (the milestone-1 setting); at 1 and 2 threads. Times are wall-clock.
// Counters: pairs = B^2 pairs per second; arena_MiB = the tape memory
// the step needed (O(B^2) composed, O(B k) fused); threads = the OpenMP thread count.
#include <benchmark/benchmark.h>

#include <random>

#include "autodiff/ops.hpp"
#include "losses/losses.hpp"

namespace {

enum class Term { Composed, Fused, Coulomb, AngularCoulomb };

template <Term kTerm>
sg::Tensor<float> term(sg::Tensor<float> z) {
  if constexpr (kTerm == Term::Composed) return sg::loss::angular_repulsion(z, {10, false});
  if constexpr (kTerm == Term::Fused) return sg::loss::angular_repulsion_fused(z, {10, false});
  sg::loss::Energy coulomb;
  if constexpr (kTerm == Term::AngularCoulomb) coulomb.distance = sg::loss::Distance::Angular;
  return sg::loss::pairwise_energy(z, coulomb);
}

template <Term kTerm>
void BM_PairwiseTerm(benchmark::State& state) {
  const int B = int(state.range(0)), threads = int(state.range(1));
  const int threads_before = sg::num_threads();
  sg::set_num_threads(threads);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal;
  sg::Matrix<float> zv(B, 4);
  for (long i = 0; i < zv.size(); ++i) zv.data()[i] = normal(rng);

  sg::Tape<float> tape;
  sg::Tensor<float> z = tape.tensor(zv, true);
  const auto mark = tape.mark();
  for (auto _ : state) {
    const sg::Tensor<float> loss = sg::mean(term<kTerm>(z));
    tape.backward(loss);
    benchmark::DoNotOptimize(z.grad().data());
    tape.rewind(mark);
  }
  state.counters["pairs"] = benchmark::Counter(double(B) * B, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["arena_MiB"] = double(tape.arena_bytes()) / (1 << 20);
  state.counters["threads"] = threads;
  sg::set_num_threads(threads_before);
}

BENCHMARK_TEMPLATE(BM_PairwiseTerm, Term::Composed)
    ->Name("angular_repulsion/composed")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 64, 256, 1024, 4096}, {1, 2}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_PairwiseTerm, Term::Fused)
    ->Name("angular_repulsion/fused")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 64, 256, 1024, 4096}, {1, 2}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_PairwiseTerm, Term::Coulomb)
    ->Name("pairwise_energy/coulomb")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{64, 256, 1024, 4096}, {1, 2}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_PairwiseTerm, Term::AngularCoulomb)
    ->Name("pairwise_energy/angular_coulomb")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{64, 256, 1024, 4096}, {1, 2}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
