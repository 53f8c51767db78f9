// Benchmarks of the tape itself: what recording, sweeping and rewinding cost per op when the
// ops do almost no arithmetic (1x1 tensors), so that the bookkeeping is all there is to time.
//
// One iteration records an expression, optionally runs backward() from its result, and rewinds
// the tape to the mark taken after the leaves -- exactly the life of a training step's nodes.
// - micrograd: the sanity-check expression of micrograd's README (tests/test_autodiff.cpp's
//   golden test), 11 ops: z = 2x + 2 + x; q = relu(z) + z x; h = relu(z z); y = h + q + q x.
// - chain: 1024 ops in a row, cycling mul, add, affine, sigmoid on 1x1 values (bounded, so the
//   values stay finite at any length).
// Counter per_op: seconds per recorded op (printed with an SI prefix: "45n" = 45 ns), for
// forward only (record + rewind) and for forward + backward + rewind. Single thread: no op
// this small ever forks.
#include <benchmark/benchmark.h>

#include "autodiff/ops.hpp"

namespace {

constexpr int kChainOps = 1024;

template <class T>
sg::Tensor<T> micrograd(sg::Tensor<T> x) {
  const sg::Tensor<T> z = 2.0 * x + 2.0 + x;
  const sg::Tensor<T> q = sg::relu(z) + z * x;
  const sg::Tensor<T> h = sg::relu(z * z);
  return h + q + q * x;
}

template <class T>
sg::Tensor<T> chain(sg::Tensor<T> x, sg::Tensor<T> a, sg::Tensor<T> b) {
  sg::Tensor<T> t = x;
  for (int i = 0; i < kChainOps; i += 4) {
    t = t * a;
    t = t + b;
    t = sg::affine(t, 0.5, 0.25);
    t = sg::sigmoid(t);
  }
  return t;
}

// kind 0: micrograd, 1: chain. backward: run the reverse sweep too.
template <class T>
void BM_Tape(benchmark::State& state) {
  const bool is_chain = state.range(0) == 1, backward = state.range(1) == 1;
  const int threads_before = sg::num_threads();
  sg::set_num_threads(1);
  sg::Tape<T> tape;
  const sg::Tensor<T> x = tape.scalar(T(-4), true), a = tape.scalar(T(0.9), true), b = tape.scalar(T(0.1), true);
  const auto mark = tape.mark();
  const long ops = is_chain ? kChainOps : 11;
  for (auto _ : state) {
    const sg::Tensor<T> y = is_chain ? chain(x, a, b) : micrograd(x);
    if (backward) tape.backward(y);
    benchmark::DoNotOptimize(y.data()[0]);
    if (long(tape.size() - mark.nodes) != ops) state.SkipWithError("unexpected op count");
    tape.rewind(mark);
  }
  state.counters["per_op"] =
      benchmark::Counter(double(ops), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["ops"] = double(ops);
  sg::set_num_threads(threads_before);
}

BENCHMARK_TEMPLATE(BM_Tape, float)
    ->Name("tape/float")
    ->ArgNames({"chain", "backward"})
    ->ArgsProduct({{0, 1}, {0, 1}});
BENCHMARK_TEMPLATE(BM_Tape, double)
    ->Name("tape/double")
    ->ArgNames({"chain", "backward"})
    ->ArgsProduct({{0, 1}, {0, 1}});

}  // namespace
