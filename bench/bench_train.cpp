// Benchmarks of the full Ex 1.7 training step: sampling, labels, forward, the five selective
// regularizers, backward, Adam, and the timeline -- exactly what `spheregrad train` runs per
// step, minus writing files.
//
// One iteration is one run of S steps (S chosen per batch size so that a run takes a fraction
// of a second); the reported time is the training loop's own clock divided by S, so that the
// time column reads "per step". Counters: steps_per_s, threads.
#include <benchmark/benchmark.h>

#include "autodiff/tensor.hpp"
#include "examples/train.hpp"

namespace {

void BM_TrainStep(benchmark::State& state) {
  const int batch = int(state.range(0)), threads = int(state.range(1));
  const int steps = batch <= 64 ? 4000 : batch <= 256 ? 1000 : batch <= 1024 ? 200 : 40;
  sg::train::Options o;
  o.batch = batch;
  o.threads = threads;
  o.steps = steps;
  o.quiet = true;
  o.write_outputs = false;
  double seconds_per_step = 0;
  for (auto _ : state) {
    const sg::train::Result r = sg::train::run(o);
    seconds_per_step = r.train_seconds / steps;
    state.SetIterationTime(seconds_per_step);
  }
  state.counters["steps_per_s"] = 1.0 / seconds_per_step;
  state.counters["threads"] = threads;
  sg::set_num_threads(1);
}

BENCHMARK(BM_TrainStep)
    ->Name("train_step/ex-1.7")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 64, 256, 1024, 4096}, {1, 2}})
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
