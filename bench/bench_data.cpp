// Benchmarks of the data side of a training step: what Run::draw_batch (examples/experiment/train.cpp)
// does before any tensor op -- B weighted draws from the HSV cube (Sampler::draw: one uniform
// and a binary search over the 3,600 cumulative bias weights) and one uniform per sample and
// label rule (the three M1 labels), compared with the cell's probability.
// Counters: per_sample (seconds per sample, SI prefix), threads = 1 (this part is serial).
#include <benchmark/benchmark.h>

#include <vector>

#include "examples/color/color.hpp"

namespace {

void BM_SampleBatch(benchmark::State& state) {
  const int batch = int(state.range(0));
  const bool labels = state.range(1) == 1;
  const sg::color::ColorSet cube = sg::color::hsv_cube();
  const sg::color::Sampler sampler(cube.weight);
  using Base = sg::color::LabelRule::Base;  // the milestone-1 rules of Ex 1.7
  const std::vector<sg::color::LabelRule> rules = {
      {"red", Base::Redness, 0.5, 10}, {"vibrant", Base::Vibrancy, 0.5, 100}, {"desaturated", Base::Desaturation, 0.5, 10}};
  std::vector<std::vector<double>> probability(rules.size());
  for (std::size_t r = 0; r < rules.size(); ++r)
    for (int i = 0; i < cube.size(); ++i) probability[r].push_back(rules[r].probability(cube.rgb.row(i).data()));
  sg::Rng sampler_rng(0, sg::Stream::Sampler), label_rng(0, sg::Stream::Labels);
  std::vector<int> index(batch);
  std::vector<unsigned char> on(std::size_t(batch) * rules.size());
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      index[i] = sampler.draw(sampler_rng);
      if (labels)
        for (std::size_t r = 0; r < rules.size(); ++r)
          on[i * rules.size() + r] = label_rng.uniform() < probability[r][index[i]];
    }
    benchmark::DoNotOptimize(index.data());
    benchmark::DoNotOptimize(on.data());
  }
  state.counters["per_sample"] =
      benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetLabel(labels ? "draws + M1 labels" : "draws only");
}

BENCHMARK(BM_SampleBatch)
    ->Name("data/sample_batch")
    ->ArgNames({"batch", "labels"})
    ->ArgsProduct({{64, 4096}, {0, 1}});

}  // namespace
