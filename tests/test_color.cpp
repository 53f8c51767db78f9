// Tests of the color domain: conversions, data sets, label rates, the sampler, hue order.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "examples/color/color.hpp"
#include "examples/experiment/experiment.hpp"

using namespace sg;
using namespace sg::color;

TEST_CASE("HSV <-> RGB round trip and named hues") {
  for (double h = 0; h < 1; h += 0.01)
    for (double s : {0.0, 0.3, 1.0})
      for (double v : {0.0, 0.5, 1.0}) {
        const Hsv back = rgb_to_hsv(hsv_to_rgb({h, s, v}));
        CHECK(back.v == doctest::Approx(v).epsilon(1e-12));
        if (v > 0) CHECK(back.s == doctest::Approx(s).epsilon(1e-12));
        if (v > 0 && s > 0) CHECK(back.h == doctest::Approx(h).epsilon(1e-12));
      }
  const ColorSet named = named_colors();
  REQUIRE(named.size() == 17);
  CHECK(named.name[0] == "red");
  CHECK(named.rgb.row(0) == Eigen::RowVector3f(1, 0, 0));
  CHECK(named.rgb.row(6) == Eigen::RowVector3f(0, 1, 1));  // cyan
  CHECK(named.rgb.row(14) == Eigen::RowVector3f(0.5f, 0.5f, 0.5f));  // gray
}

TEST_CASE("data sets: HSV cube of 3600 cells with bias summing to 930; RGB cube; hue ranges") {
  const ColorSet cube = hsv_cube();
  CHECK(cube.size() == 3600);
  CHECK(std::accumulate(cube.weight.begin(), cube.weight.end(), 0.0) == doctest::Approx(930.0).epsilon(1e-12));
  CHECK(rgb_cube(8).size() == 512);
  CHECK(arange_cyclic(10.0 / 360).size() == 36);
  CHECK(arange_cyclic(1.0 / 6).size() == 6);
  CHECK(redness(cube.rgb.row(0).data()) == 0.0);   // h 0, s 0, v 0: black
  CHECK(redness(cube.rgb.row(99).data()) == 1.0);  // h 0, s 1, v 1: pure red
  CHECK(cube.weight[99] == doctest::Approx(1.0));  // bias(1, 1) = s v = 1
}

TEST_CASE("label rates under the Ex 1.7 sampler: exact expectation and Monte Carlo") {
  const ColorSet cube = hsv_cube();
  const std::vector<LabelRule> rules = sg::train::load_experiment("ex-1.7").labels;  // red, vibrant, desaturated
  double total = 0, expected_red = 0, expected_vibrant = 0;
  for (int i = 0; i < cube.size(); ++i) {
    total += cube.weight[i];
    expected_red += cube.weight[i] * rules[0].probability(cube.rgb.row(i).data());
    expected_vibrant += cube.weight[i] * rules[1].probability(cube.rgb.row(i).data());
  }
  expected_red /= total;
  expected_vibrant /= total;
  // Published: red 0.24 %, vibrant 1.94 % of samples (published to two significant digits).
  CHECK(expected_red == doctest::Approx(0.0024).epsilon(0.03));
  CHECK(expected_vibrant == doctest::Approx(0.0194).epsilon(0.01));

  const Sampler sampler(cube.weight);
  Rng draw(0, Stream::Sampler), labels(0, Stream::Labels);
  const int n = 1000000;
  long red = 0, vibrant = 0;
  for (int k = 0; k < n; ++k) {
    const float* c = cube.rgb.row(sampler.draw(draw)).data();
    red += labels.uniform() < rules[0].probability(c);
    vibrant += labels.uniform() < rules[1].probability(c);
  }
  // Five binomial standard errors around the exact expectation.
  auto tolerance = [&](double p) { return 5 * std::sqrt(p * (1 - p) / n); };
  CHECK(std::fabs(double(red) / n - expected_red) < tolerance(expected_red));
  CHECK(std::fabs(double(vibrant) / n - expected_vibrant) < tolerance(expected_vibrant));
}

TEST_CASE("sampler: proportional to weight, never a zero-weight cell, bad weights rejected") {
  const Sampler s({1.0, 0.0, 3.0});
  Rng rng(1, Stream::Sampler);
  int counts[3] = {0, 0, 0};
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++counts[s.draw(rng)];
  CHECK(counts[1] == 0);
  CHECK(std::fabs(counts[0] - n / 4.0) < 5 * std::sqrt(n * 0.25 * 0.75));
  CHECK_THROWS_AS(Sampler({1.0, -1.0}), std::invalid_argument);
  CHECK_THROWS_AS(Sampler({0.0, 0.0}), std::invalid_argument);
}

namespace {

Matrix<float> wheel(int n, double sign = 1, double span = 1) {
  Matrix<float> z(n, 4);
  z.setZero();
  for (int i = 0; i < n; ++i) {
    const double a = sign * span * 2 * M_PI * i / n;
    z(i, 0) = float(std::cos(a));
    z(i, 1) = float(std::sin(a));
  }
  return z;
}

}  // namespace

TEST_CASE("hue order: clean wheel, reversed wheel, a swapped pair, an arc, a double loop") {
  HueOrder clean = hue_order(wheel(36));
  CHECK(clean.inversions == 0);
  CHECK(clean.winding == 1);
  CHECK_FALSE(clean.crumpled());

  HueOrder reversed = hue_order(wheel(36, -1));
  CHECK(reversed.inversions == 0);
  CHECK(reversed.winding == -1);
  CHECK_FALSE(reversed.crumpled());

  Matrix<float> swapped = wheel(36);
  swapped.row(10).swap(swapped.row(11));
  HueOrder sw = hue_order(swapped);
  CHECK(sw.inversions > 0);
  CHECK(sw.crumpled());

  HueOrder arc = hue_order(wheel(36, 1, 0.5));  // hues spread over half a turn only
  CHECK(arc.winding == 0);
  CHECK(arc.crumpled());

  HueOrder twice = hue_order(wheel(36, 1, 2.0 - 1.0 / 36));
  CHECK(twice.crumpled());
}

TEST_CASE("hue order sizes: the largest fold and gap, a fold across the ring's start, an arc that winds once") {
  auto at_angles = [](const std::vector<double>& deg) {
    Matrix<float> z(long(deg.size()), 2);
    for (std::size_t i = 0; i < deg.size(); ++i)
      z(long(i), 0) = float(std::cos(deg[i] * M_PI / 180)), z(long(i), 1) = float(std::sin(deg[i] * M_PI / 180));
    return z;
  };
  std::vector<double> deg(360);
  for (int d = 0; d < 360; ++d) deg[std::size_t(d)] = d;
  const HueOrder clean = hue_order(at_angles(deg));
  CHECK(clean.largest_fold_deg == 0);
  CHECK(clean.largest_gap_deg == doctest::Approx(1).epsilon(1e-4));

  // Hues 100..120 run backwards from 100 deg to 80 deg: one fold of 20 deg (then a 41 deg jump).
  std::vector<double> folded = deg;
  for (int d = 100; d <= 120; ++d) folded[std::size_t(d)] = 100 - (d - 100);
  const HueOrder f = hue_order(at_angles(folded));
  CHECK(f.inversions == 20);
  CHECK(f.largest_fold_deg == doctest::Approx(20).epsilon(1e-4));
  CHECK(f.largest_gap_deg == doctest::Approx(41).epsilon(1e-4));

  // The same fold across the ring's start (hues 350..359 and 0..9 backwards): measured whole.
  std::vector<double> wrapped = deg;
  for (int k = 0; k < 20; ++k) wrapped[std::size_t((350 + k) % 360)] = 350 - k;
  const HueOrder w = hue_order(at_angles(wrapped));
  CHECK(w.largest_fold_deg == doctest::Approx(19).epsilon(1e-4));

  // Hues over 190 deg, then a 170 deg jump back to the start: winding 1 and no inversion -- a
  // "clean" wheel by the inversion count, which only the gap shows.
  std::vector<double> arc(360);
  for (int d = 0; d < 360; ++d) arc[std::size_t(d)] = 190.0 * d / 359;
  const HueOrder a = hue_order(at_angles(arc));
  CHECK(a.inversions == 0);
  CHECK(a.winding == 1);
  CHECK(a.largest_gap_deg == doctest::Approx(170).epsilon(1e-4));
}

TEST_CASE("sampler: the guide table gives exactly the binary search's answer, before and after reweighting") {
  Rng weights_rng(9, Stream::Misc);
  std::vector<double> w(3600);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i % 7 == 3) ? 0.0 : weights_rng.uniform() * (i % 50 == 0 ? 100 : 1);
  Sampler s(w);
  for (int round = 0; round < 2; ++round) {
    Rng a(round, Stream::Sampler), b(round, Stream::Sampler);
    const std::vector<double>& c = s.cumulative();
    int mismatches = 0, zero_weight_draws = 0;
    for (int k = 0; k < 200000; ++k) {
      const int got = s.draw(a);
      const double u = b.uniform() * c.back();
      const long expected = std::min<long>(std::upper_bound(c.begin(), c.end(), u) - c.begin(), long(c.size()) - 1);
      mismatches += got != expected;
      zero_weight_draws += w[got] == 0;
    }
    CHECK(mismatches == 0);
    CHECK(zero_weight_draws == 0);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i % 5 == 0) ? 0.0 : double(i % 13);  // a curriculum step
    s.reweight(w.data(), w.size());
  }
}
