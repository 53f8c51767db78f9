// Benchmarks of nn::Linear at the color model's shapes: ColorMLP(4) is Linear(3,16), GELU,
// Linear(16,4) | Linear(4,16), GELU, Linear(16,3), Sigmoid, so its four layers are timed alone.
//
// One iteration: y = x W^T + b (a matmul node and a broadcast add node), optionally
// sum(y) and backward(), then a rewind. x needs a gradient except for the first layer (the
// data), as in the model. Counters: GFLOPS = 2 B in out flops forward (x2 more for dW and dx
// backward, dx only where x needs it; the bias and the sum are not counted), threads.
// Times are wall-clock.
#include <benchmark/benchmark.h>

#include "nn/module.hpp"

namespace {

struct Shape {
  int in, out;
};
constexpr Shape kLayers[] = {{3, 16}, {16, 4}, {4, 16}, {16, 3}};
const char* const kLayerNames[] = {"encoder.0", "encoder.2", "decoder.0", "decoder.2"};

void BM_Linear(benchmark::State& state) {
  const int layer = int(state.range(0)), batch = int(state.range(1)), threads = int(state.range(2));
  const bool backward = state.range(3) == 1;
  const Shape s = kLayers[layer];
  const int threads_before = sg::num_threads();
  sg::set_num_threads(threads);
  sg::Tape<float> tape;
  sg::Rng rng(0, sg::Stream::Misc);
  sg::Linear<float> linear(tape, s.in, s.out, rng);
  const bool x_grad = layer != 0;
  const sg::Tensor<float> x = tape.tensor(batch, s.in, x_grad);
  for (long i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform(-1, 1));
  const auto mark = tape.mark();
  for (auto _ : state) {
    const sg::Tensor<float> y = linear.forward(x);
    if (backward) tape.backward(sg::sum(y));
    benchmark::DoNotOptimize(y.data());
    tape.rewind(mark);
  }
  const double forward_flops = 2.0 * batch * s.in * s.out;
  const double flops = backward ? forward_flops * (x_grad ? 3 : 2) : forward_flops;
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
  state.SetLabel(std::string(kLayerNames[layer]) + " (" + std::to_string(s.in) + "->" + std::to_string(s.out) +
                 (backward ? ") fwd+bwd" : ") fwd"));
  sg::set_num_threads(threads_before);
}

// Every layer at every batch of the training-step benchmark on one thread, and at the largest
// batch on two (the only size where a layer this thin splits its rows across threads).
void LinearArgs(benchmark::internal::Benchmark* b) {
  for (int backward : {0, 1})
    for (int layer = 0; layer < 4; ++layer) {
      for (int batch : {16, 64, 256, 1024, 4096}) b->Args({layer, batch, 1, backward});
      b->Args({layer, 4096, 2, backward});
    }
}

BENCHMARK(BM_Linear)
    ->Name("linear")
    ->ArgNames({"layer", "batch", "threads", "backward"})
    ->Apply(LinearArgs)
    ->UseRealTime();

}  // namespace
