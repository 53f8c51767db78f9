// Benchmarks of the full Ex 1.7 training step: sampling, labels, forward, the five selective
// regularizers, backward, Adam, and the timeline -- exactly what `spheregrad train` runs per
// step, minus writing files.
//
// One iteration is one run of S steps from a fresh model (S chosen per batch size so that a
// run takes well under a second on an idle machine), repeated until the runs add up to half a
// second. The time column is the training loop's own clock for the whole run of S steps
// (manual time: setup and the final measurements are not in it; the first step, which grows
// the tape's arena, is). Counters: steps_per_s and per_step (seconds, printed with an SI
// prefix) over every iteration, steps = S, threads.
// - train_step/ex-1.7: the whole step.
// - train_step/simple: Ex 1.7 without reg-polar, reg-planar and reg-norm-v, i.e. MSE +
//   unitarity (reg-norm) + angular repulsion (reg-separate): the shape of the step behind the
//   issue's PyTorch figure of about 1,360 steps/s at batch 64.
// bench/peer/ runs the same two steps in PyTorch; `make bench-compare` puts them side by side.
#include <benchmark/benchmark.h>

#include "autodiff/tensor.hpp"
#include "examples/experiment/train.hpp"

namespace {

int steps_for(int batch) { return batch <= 64 ? 2000 : batch <= 256 ? 500 : batch <= 1024 ? 100 : 20; }

template <bool kSimple>
void BM_TrainStep(benchmark::State& state) {
  const int batch = int(state.range(0)), threads = int(state.range(1));
  const int steps = steps_for(batch);
  const int threads_before = sg::num_threads();
  sg::train::Overrides overrides{{"batch=" + std::to_string(batch), "steps=" + std::to_string(steps)}, {}};
  if (kSimple) overrides.without = {"reg-polar", "reg-planar", "reg-norm-v"};
  sg::train::Options o;
  o.experiment = sg::train::load_experiment("ex-1.7", overrides);
  o.threads = threads;
  o.quiet = true;
  o.write_outputs = false;
  for (auto _ : state) {
    const sg::train::Result r = sg::train::run(o);
    state.SetIterationTime(r.train_seconds);
  }
  // S x iterations / total manual time = steps per second over every iteration.
  state.counters["steps_per_s"] = benchmark::Counter(steps, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["per_step"] = benchmark::Counter(
      steps, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["steps"] = steps;
  state.counters["threads"] = threads;
  sg::set_num_threads(threads_before);
}

BENCHMARK_TEMPLATE(BM_TrainStep, false)
    ->Name("train_step/ex-1.7")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 64, 256, 1024, 4096}, {1, 2}})
    ->MinTime(0.5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_TrainStep, true)
    ->Name("train_step/simple")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 64, 256, 1024, 4096}, {1, 2}})
    ->MinTime(0.5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
