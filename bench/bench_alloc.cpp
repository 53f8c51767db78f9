// Heap allocations per steady-state training step of Ex 1.7 (the target is 0).
//
// This binary interposes malloc and its relatives (tests/malloc_counter.hpp) and counts every
// call. A run of S steps and a run of 2S steps do the same setup and the same final
// measurements, so (allocations(2S) - allocations(S)) / S is what one more step allocates
// once the tape's arena, the thread pool and the logs have reached their size. A warm-up run
// first creates the OpenMP threads and every lazily-built table, which happens once per
// process. Counters: allocs_per_step (should be 0), allocs_setup = allocations of the S-step
// run (setup, S steps, final measurements), steps = S. The time column means nothing here.
#include <benchmark/benchmark.h>

#include "autodiff/tensor.hpp"
#include "examples/experiment/train.hpp"
#include "tests/malloc_counter.hpp"

namespace {

long allocations_of_run(int batch, int threads, int steps) {
  sg::train::Options o;
  o.experiment = sg::train::load_experiment("ex-1.7", {{"batch=" + std::to_string(batch), "steps=" + std::to_string(steps)}, {}});
  o.threads = threads;
  o.quiet = true;
  o.write_outputs = false;
  const long before = sg::alloc::count();
  const sg::train::Result r = sg::train::run(o);
  benchmark::DoNotOptimize(r.final_total);
  return sg::alloc::count() - before;
}

void BM_AllocationsPerStep(benchmark::State& state) {
  if (!sg::alloc::available()) {
    state.SkipWithError("allocation counting is unavailable in this build (AddressSanitizer)");
    return;
  }
  const int batch = int(state.range(0)), threads = int(state.range(1));
  const int steps = batch <= 256 ? 500 : 50;
  const int threads_before = sg::num_threads();
  long setup = 0, per_s = 0;
  for (auto _ : state) {
    allocations_of_run(batch, threads, 2);  // warm-up: threads, static tables
    setup = allocations_of_run(batch, threads, steps);
    per_s = allocations_of_run(batch, threads, 2 * steps) - setup;
  }
  state.counters["allocs_per_step"] = double(per_s) / steps;
  state.counters["allocs_setup"] = double(setup);
  state.counters["steps"] = steps;
  state.counters["threads"] = threads;
  sg::set_num_threads(threads_before);
}

BENCHMARK(BM_AllocationsPerStep)
    ->Name("allocations/train_step")
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 64, 256, 1024, 4096}, {1, 2}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
