// Tests of losses/: a finite-difference gradient check of every term in double (at random
// points and on a batch with duplicate and parallel rows), the geometry the research relies on
// (radial, tangential, subspace gradients), selective weighting, known values (random unit
// vectors, the hexagon), the fused angular repulsion against its composed reference, and the
// fused kernel's bitwise determinism across thread counts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "autodiff/kernels/parallel.hpp"
#include "losses/losses.hpp"
#include "tests/test_util.hpp"
#include "losses/selective.hpp"

using namespace sg;
using namespace sg::loss;
using Md = Matrix<double>;
using test::random_matrix;

TEST_SUITE_BEGIN("losses");

namespace {

constexpr double kPi = 3.14159265358979323846;

// A batch as sampling with replacement produces it: row 3 repeats row 0 (the same sample drawn
// twice), row 5 is row 1 scaled (the same direction), row 4 is row 2 nudged (near-parallel,
// S about 0.999, where a p = 100 repulsion is steep but not masked).
Md with_duplicates(Md z, std::mt19937_64& rng) {
  z.row(3) = z.row(0);
  z.row(5) = 2.0 * z.row(1);
  z.row(4) = z.row(2) + 0.03 * random_matrix(1, int(z.cols()), rng, -1, 1);
  return z;
}

// Reduces per-sample values (B,1) to a scalar with fixed, uneven weights, so that each
// sample's gradient is checked on its own (a plain sum could hide errors that cancel).
Tensor<double> weighted_sum(Tensor<double> y) {
  Md w(y.rows(), y.cols());
  for (int i = 0; i < y.rows(); ++i)
    for (int j = 0; j < y.cols(); ++j) w(i, j) = std::sin(1.0 + 0.7 * i + 1.3 * j);
  return sum(y * y.tape().tensor(w));
}

using Term = std::function<Tensor<double>(const std::vector<Tensor<double>>&)>;

// Central differences at step h carry a rounding error of about eps * A / (2h), where A is the
// magnitude of what is summed into the checked scalar (the sum of |l_i|, weights being <= 1).
// Pairwise terms of close points reach A ~ 1e4, where that error exceeds 1e-8; the absolute
// tolerance is 4 times it (never below 1e-8), the relative one stays 1e-6.
GradCheckResult check_term(const Term& term, const std::vector<Md>& inputs, double h = 1e-6,
                           double rtol = 1e-6) {
  Tape<double> tape;
  std::vector<Tensor<double>> leaves;
  for (const Md& m : inputs) leaves.push_back(tape.tensor(m));
  const double magnitude = term(leaves).value().cwiseAbs().sum();
  const double atol = std::max(1e-8, 4 * std::numeric_limits<double>::epsilon() * magnitude / (2 * h));
  return gradcheck(
      [&](Tape<double>&, const std::vector<Tensor<double>>& in) {
        const Tensor<double> y = term(in);
        return y.rows() == 1 && y.cols() == 1 ? y : weighted_sum(y);
      },
      inputs, h, rtol, atol);
}

// Anti-anchor (hemi) has a kink at cos(z_i, a) = 0: keep every row away from it.
Md away_from_hemisphere_edge(Md z, const std::vector<double>& a) {
  for (long i = 0; i < z.rows(); ++i) {
    double dot = 0;
    for (long c = 0; c < z.cols(); ++c) dot += z(i, c) * a[c];
    if (std::fabs(dot) < 0.1 * z.row(i).norm()) z(i, 0) += 0.5;
  }
  return z;
}

// The gradient of sum(term(z)) with respect to z.
Md gradient_of(const std::function<Tensor<double>(Tensor<double>)>& term, const Md& z_value) {
  Tape<double> tape;
  Tensor<double> z = tape.tensor(z_value, true);
  const Tensor<double> y = term(z);
  tape.backward(y.rows() == 1 && y.cols() == 1 ? y : sum(y));
  return z.grad();
}

// 6 points on a circle of radius r in the plane of dims 0 and 1.
Md hexagon(double r) {
  Md z(6, 2);
  for (int i = 0; i < 6; ++i) {
    z(i, 0) = r * std::cos(2 * kPi * i / 6);
    z(i, 1) = r * std::sin(2 * kPi * i / 6);
  }
  return z;
}

double batch_mean(const Tensor<double>& per_sample) { return per_sample.value().mean(); }

}  // namespace

TEST_CASE("losses: gradient check of every per-sample term in double, with and without duplicate rows") {
  const std::vector<double> red = axis(4, 0), anti_red = axis(4, 0, -1);
  Md captured(6, 4);
  for (long i = 0; i < captured.size(); ++i) captured.data()[i] = std::cos(0.3 * double(i));
  DriftAnchor<double> drift;
  drift.capture(captured);

  const std::vector<std::pair<const char*, Term>> terms = {
      {"unitarity", [](auto& v) { return unitarity(v[0]); }},
      {"planarity", [](auto& v) { return planarity(v[0]); }},
      {"subspace {0,2}", [](auto& v) { return subspace(v[0], {0, 2}); }},
      {"subspace {0} inverted", [](auto& v) { return subspace(v[0], {0}, true); }},
      {"angular repulsion p=10", [](auto& v) { return angular_repulsion(v[0], {10, false}); }},
      {"angular repulsion p=100 shift", [](auto& v) { return angular_repulsion(v[0], {100, true}); }},
      {"angular repulsion p=2.5 shift", [](auto& v) { return angular_repulsion(v[0], {2.5, true}); }},
      {"fused angular repulsion p=10", [](auto& v) { return angular_repulsion_fused(v[0], {10, false}); }},
      {"fused angular repulsion p=100 shift", [](auto& v) { return angular_repulsion_fused(v[0], {100, true}); }},
      {"fused angular repulsion p=2.5 shift", [](auto& v) { return angular_repulsion_fused(v[0], {2.5, true}); }},
      {"fused angular repulsion p=1", [](auto& v) { return angular_repulsion_fused(v[0], {1, false}); }},
      {"euclidean repulsion (correct)", [](auto& v) { return euclidean_repulsion(v[0]); }},
      {"anchor", [&](auto& v) { return anchor(v[0], red); }},
      {"angular anchor", [&](auto& v) { return angular_anchor(v[0], red); }},
      {"anti-anchor (cos+1)/2", [&](auto& v) { return anti_anchor(v[0], anti_red, false); }},
      {"anti-anchor hemi", [&](auto& v) { return anti_anchor(v[0], anti_red, true); }},
      {"drift anchor", [&](auto& v) { return drift.loss(v[0]); }},
      {"uniformity t=2", [](auto& v) { return uniformity(v[0]); }},
      {"uniformity t=0.5", [](auto& v) { return uniformity(v[0], 0.5); }},
      {"selective weighted mean of the anchor", [&](auto& v) {
         Tensor<double> alpha = v[0].tape().tensor(6, 1);
         alpha.value() << 0, 1, 0.5, 0, 0.25, 1;
         return *weighted_mean(anchor(v[0], red), alpha);
       }},
  };
  for (int seed = 0; seed < 3; ++seed) {
    std::mt19937_64 rng(2000 + seed);
    const Md plain = away_from_hemisphere_edge(random_matrix(6, 4, rng), anti_red);
    const Md duplicates = away_from_hemisphere_edge(with_duplicates(random_matrix(6, 4, rng), rng), anti_red);
    for (const auto& [name, term] : terms) {
      for (const Md* z : {&plain, &duplicates}) {
        const GradCheckResult r = check_term(term, {*z});
        INFO(std::string(name), " seed ", seed, std::string(z == &plain ? " random" : " duplicates"), ": ", r.describe());
        CHECK(r.ok);
        CHECK(r.entries == 24);
      }
    }
    const Md target = random_matrix(6, 3, rng, 0, 1), output = random_matrix(6, 3, rng, 0, 1);
    const GradCheckResult r = check_term([](auto& v) { return reconstruction(v[0], v[1]); }, {output, target});
    INFO("reconstruction seed ", seed, ": ", r.describe());
    CHECK(r.ok);
    // Without its duplicate mask, the correct form is smooth at random (distinct) points.
    const GradCheckResult e = check_term(
        [](auto& v) { return euclidean_repulsion(v[0], {EuclideanForm::Correct, false}); }, {plain});
    INFO("euclidean repulsion (correct, unmasked) seed ", seed, ": ", e.describe());
    CHECK(e.ok);
  }
}

TEST_CASE("losses: Euclidean repulsion in the original form -- the same gradient, plus a constant") {
  // The original form is (B-1)/B times the correct one plus 1e6/B per sample, so its gradient is
  // (B-1)/B times the correct form's, and the 1e6/B carries none.
  for (int seed = 0; seed < 3; ++seed) {
    std::mt19937_64 rng(3000 + seed);
    const Md z = random_matrix(6, 4, rng);
    const EuclideanRepulsion original{EuclideanForm::Original, false}, correct{EuclideanForm::Correct, false};
    const Md g_original = gradient_of([&](auto t) { return euclidean_repulsion(t, original); }, z);
    const Md g_correct = gradient_of([&](auto t) { return euclidean_repulsion(t, correct); }, z);
    CHECK((g_original - (5.0 / 6.0) * g_correct).cwiseAbs().maxCoeff() <= 1e-12 * g_correct.cwiseAbs().maxCoeff());
    CHECK(g_original.col(2).isZero(0.0));  // channels {0,1} only
    CHECK(g_original.col(3).isZero(0.0));

    Tape<double> tape;
    const Tensor<double> t = tape.tensor(z);
    const Md lo = euclidean_repulsion(t, original).value(), lc = euclidean_repulsion(t, correct).value();
    for (int i = 0; i < 6; ++i) CHECK(lo(i, 0) - (5.0 / 6.0) * lc(i, 0) == doctest::Approx(1e6 / 6).epsilon(1e-12));

    // A direct finite-difference check as well. Every evaluation sums values near 1e6/6, so
    // check_term's absolute tolerance grows to 4 * 2^-52 * 1e6 / (2h) = 4.4e-4 -- still far below
    // these gradients, of order 0.1 to 100.
    const GradCheckResult r = check_term([&](auto& v) { return euclidean_repulsion(v[0], original); }, {z});
    INFO("seed ", seed, ": ", r.describe());
    CHECK(r.ok);
  }
}

TEST_CASE("losses: geometry -- unitarity is radial; angular repulsion and the angular anchors are tangential") {
  std::mt19937_64 rng(4000);
  const Md z = with_duplicates(random_matrix(16, 4, rng), rng);
  const std::vector<double> red = axis(4, 0);

  const GradientParts<double> unit = split_gradient(z, gradient_of([](auto t) { return unitarity(t); }, z));
  for (int i = 0; i < 16; ++i) CHECK(unit.cosine[i] >= 1 - 1e-12);
  CHECK(unit.tangential.norm() <= 1e-12 * unit.radial.norm());

  // |z.g| / (|z| |g|) < 1e-6: the only radial component is the one the 1e-8 epsilon of the
  // cosine leaves, about 1e-8 / ||z||.
  const std::vector<std::pair<const char*, std::function<Tensor<double>(Tensor<double>)>>> tangential = {
      {"angular repulsion p=10", [](auto t) { return angular_repulsion(t, {10, false}); }},
      {"angular repulsion p=100 shift", [](auto t) { return angular_repulsion(t, {100, true}); }},
      {"fused angular repulsion p=10", [](auto t) { return angular_repulsion_fused(t, {10, false}); }},
      {"fused angular repulsion p=100 shift", [](auto t) { return angular_repulsion_fused(t, {100, true}); }},
      {"angular anchor", [&](auto t) { return angular_anchor(t, red); }},
      {"anti-anchor", [&](auto t) { return anti_anchor(t, axis(4, 0, -1), false); }},
  };
  for (const auto& [name, term] : tangential) {
    const Md g = gradient_of(term, z);
    const GradientParts<double> parts = split_gradient(z, g);
    for (int i = 0; i < 16; ++i) {
      INFO(std::string(name));
      CAPTURE(i);
      CHECK(g.row(i).norm() > 0);  // a zero gradient would pass vacuously
      CHECK(parts.cosine[i] < 1e-6);
    }
  }
}

TEST_CASE("losses: geometry -- planarity acts only on dims >= 2") {
  std::mt19937_64 rng(4100);
  const Md z = random_matrix(8, 5, rng);
  const Md g = gradient_of([](auto t) { return planarity(t); }, z);
  CHECK(g.col(0).isZero(0.0));  // exactly zero, not just small
  CHECK(g.col(1).isZero(0.0));
  CHECK((g.rightCols(3) - 2.0 * z.rightCols(3)).cwiseAbs().maxCoeff() == 0.0);
  // And the inverted form acts only on its dims.
  const Md gi = gradient_of([](auto t) { return subspace(t, {0}, true); }, z);
  CHECK((gi.col(0) - 2.0 * z.col(0)).cwiseAbs().maxCoeff() == 0.0);
  CHECK(gi.rightCols(4).isZero(0.0));
}

TEST_CASE("losses: geometry -- Euclidean repulsion pushes radially, which is its conflict with unitarity") {
  // On a hexagon of radius 1 every point's gradient is purely radial and points inward (so
  // descent moves points outward), while unitarity holds them at radius 1.
  const Md z = hexagon(1.0);
  const Md g = gradient_of([](auto t) { return euclidean_repulsion(t); }, z);
  const GradientParts<double> parts = split_gradient(z, g);
  for (int i = 0; i < 6; ++i) {
    CHECK(parts.cosine[i] == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(z.row(i).dot(g.row(i)) < 0);
  }
  // At a random configuration the gradient has substantial radial and tangential parts.
  std::mt19937_64 rng(4200);
  const Md r = random_matrix(32, 2, rng);
  const GradientParts<double> mixed = split_gradient(r, gradient_of([](auto t) { return euclidean_repulsion(t); }, r));
  CHECK(mixed.radial.norm() > 0.1 * mixed.tangential.norm());
  CHECK(mixed.tangential.norm() > 0.1 * mixed.radial.norm());
}

TEST_CASE("losses: selective weighting") {
  std::mt19937_64 rng(5000);
  const Md z_value = random_matrix(8, 4, rng);
  Labels labels = {{"red", std::vector<double>(8, 0.0)}, {"vibrant", std::vector<double>(8, 0.0)}};
  labels["red"][3] = 1;

  SUBCASE("one labelled sample gets its own loss at full weight") {
    Tape<double> tape;
    Tensor<double> z = tape.tensor(z_value, true);
    const Tensor<double> l = anchor(z, axis(4, 0));
    const std::optional<Tensor<double>> term = selective(l, {{"red", 1.0}}, labels);
    REQUIRE(term.has_value());
    CHECK(term->item() == doctest::Approx(l.value()(3, 0) / (1 + 1e-8)).epsilon(1e-15));
    CHECK(term->item() == doctest::Approx(l.value()(3, 0)).epsilon(2e-8));
    tape.backward(*term);
    // Only sample 3 is pulled, by the full gradient of its own loss, 2 (z_3 - a).
    Md expected = Md::Zero(8, 4);
    expected.row(3) = 2.0 * (z_value.row(3) - Md(Eigen::RowVector4d(1, 0, 0, 0))) / (1 + 1e-8);
    CHECK((z.grad() - expected).cwiseAbs().maxCoeff() <= 1e-14);
  }
  SUBCASE("no labelled sample: the term is skipped") {
    Tape<double> tape;
    const Tensor<double> l = anchor(tape.tensor(z_value, true), axis(4, 0));
    CHECK_FALSE(selective(l, {{"vibrant", 1.0}}, labels).has_value());
    const std::size_t nodes = tape.size();
    CHECK_FALSE(weighted_mean(l, tape.tensor(8, 1)).has_value());
    CHECK(tape.size() == nodes + 1);  // only the alpha leaf: nothing was recorded for the term
  }
  SUBCASE("no affinities: a plain mean over the batch") {
    Tape<double> tape;
    const Tensor<double> l = unitarity(tape.tensor(z_value, true));
    const std::optional<Tensor<double>> term = selective(l, {}, labels);
    REQUIRE(term.has_value());
    CHECK(term->item() == doctest::Approx(l.value().mean()).epsilon(1e-15));
  }
  SUBCASE("alpha = clamp(sum of label * strength, 0, 1), and the weighted mean") {
    labels["vibrant"] = {1, 1, 0, 1, 0, 0.5, 0, 0};
    Tape<double> tape;
    const Tensor<double> alpha = selection_weights(tape, {{"red", 0.7}, {"vibrant", 0.7}}, labels, 8);
    const std::vector<double> expected = {0.7, 0.7, 0, 1.0, 0, 0.35, 0, 0};  // sample 3: 1.4 -> 1
    for (int i = 0; i < 8; ++i) CHECK(alpha.value()(i, 0) == doctest::Approx(expected[i]).epsilon(1e-15));
    const Tensor<double> negative = selection_weights(tape, {{"red", 1.0}, {"vibrant", -2.0}}, labels, 8);
    CHECK(negative.value()(0, 0) == 0.0);  // -2 -> 0
    CHECK(negative.value()(3, 0) == 0.0);  // 1 - 2 -> 0
    // A per-sample scale multiplies the clamped alpha; no affinities select every sample.
    const double scale[8] = {0.5, 2, 1, 0.25, 1, 1, 3, 0};
    const Tensor<double> scaled = selection_weights(tape, {{"red", 0.7}, {"vibrant", 0.7}}, labels, 8, scale);
    for (int i = 0; i < 8; ++i) CHECK(scaled.value()(i, 0) == doctest::Approx(expected[i] * scale[i]).epsilon(1e-15));
    const Tensor<double> every = selection_weights(tape, {}, labels, 8, scale);
    for (int i = 0; i < 8; ++i) CHECK(every.value()(i, 0) == scale[i]);
    CHECK(selection_weights(tape, {}, labels, 8).value().isOnes());

    const Tensor<double> l = unitarity(tape.tensor(z_value));
    double num = 0, den = 0;
    for (int i = 0; i < 8; ++i) {
      num += expected[i] * l.value()(i, 0);
      den += expected[i];
    }
    CHECK(weighted_mean(l, alpha)->item() == doctest::Approx(num / (den + 1e-8)).epsilon(1e-14));
  }
  SUBCASE("bad names and lengths are errors, not silent zeros") {
    Tape<double> tape;
    const Tensor<double> l = unitarity(tape.tensor(z_value));
    CHECK_THROWS_WITH_AS(selective(l, {{"blue", 1.0}}, labels),
                         "selective weighting: the batch has no label 'blue'", std::invalid_argument);
    labels["red"].pop_back();
    CHECK_THROWS_WITH_AS(selective(l, {{"red", 1.0}}, labels),
                         "selective weighting: label 'red' has 7 values for a batch of 8", std::invalid_argument);
    CHECK_THROWS_AS(weighted_mean(l, tape.tensor(7, 1)), ShapeError);
  }
}

TEST_CASE("losses: angular repulsion of random unit vectors in 4-D (p=10, no shift)") {
  // For independent uniform unit vectors in d = 4, c = cos(z_i, z_j) has E[c^10] = (1*3*5*7*9) /
  // (4*6*8*10*12) = 0.041015625, so the per-sample sum over the 63 others has mean 63 * 0.041 =
  // 2.584. Pair terms are pairwise independent (given z_i, c_ij and c_ik are independent), so the
  // batch's per-sample mean, (2/64) sum_{i<j} c_ij^10, has standard deviation (2/64) sqrt(2016 *
  // Var[c^10]) = 0.168 with Var[c^10] = E[c^20] - E[c^10]^2 = 0.016018 - 0.001682. Averaged over
  // 200 batches: 0.0119; the tolerance is 4 of those.
  constexpr int kBatches = 200;
  const double expected = 63 * 0.041015625, tolerance = 4 * 0.168 / std::sqrt(double(kBatches));
  std::mt19937_64 rng(6000);
  std::normal_distribution<double> normal;
  double total = 0;
  for (int b = 0; b < kBatches; ++b) {
    Md z(64, 4);
    for (long i = 0; i < z.size(); ++i) z.data()[i] = normal(rng);
    z.rowwise().normalize();
    Tape<double> tape;
    const Tensor<double> t = tape.tensor(z);
    const double composed = batch_mean(angular_repulsion(t, {10, false}));
    const double fused = batch_mean(angular_repulsion_fused(t, {10, false}));
    CHECK(fused == doctest::Approx(composed).epsilon(1e-12));
    total += fused;
  }
  CHECK(std::fabs(total / kBatches - expected) < tolerance);
}

TEST_CASE("losses: Euclidean repulsion on a hexagon, correct and original forms") {
  // Distances from one vertex: two at r, two at sqrt(3) r, one at 2r, so sum_{j != i} 1/D_ij =
  // (2 + 2/3 + 1/4) / r^2 = 35/12 / r^2. Correct form: mean over j != i -> 7/12 = 0.5833 / r^2.
  // Original: mean over all 36 entries with 1/(0 + 1e-6) on the diagonal -> 35/72 = 0.4861 / r^2
  // + 1e6/6. The 1e-6 in each denominator moves the value by at most 1e-6 / D relative (4e-6 at
  // r = 0.5), within the tolerance of 1e-5.
  for (double r : {0.5, 1.0, 2.0}) {
    CAPTURE(r);
    Tape<double> tape;
    const Tensor<double> z = tape.tensor(hexagon(r));
    const Tensor<double> correct = euclidean_repulsion(z);
    const Tensor<double> original = euclidean_repulsion(z, {EuclideanForm::Original});
    CHECK(batch_mean(correct) == doctest::Approx(0.58333 / (r * r)).epsilon(1e-5));
    CHECK(batch_mean(correct) == doctest::Approx(7.0 / 12.0 / (r * r)).epsilon(1e-5));
    CHECK(batch_mean(original) - 1e6 / 6 == doctest::Approx(35.0 / 72.0 / (r * r)).epsilon(1e-5));
    CHECK(batch_mean(original) - 1e6 / 6 == doctest::Approx(0.48611 / (r * r)).epsilon(1e-5));
    for (int i = 0; i < 6; ++i) CHECK(correct.value()(i, 0) == doctest::Approx(batch_mean(correct)).epsilon(1e-12));
  }
}

TEST_CASE("losses: Euclidean repulsion ignores the same sample drawn twice (correct form)") {
  Md z = hexagon(1.0);
  Md doubled(7, 2);
  doubled << z, z.row(2);  // sample 2 drawn twice
  Tape<double> tape;
  const Tensor<double> t = tape.tensor(doubled);
  const Tensor<double> masked = euclidean_repulsion(t);
  const Tensor<double> unmasked = euclidean_repulsion(t, {EuclideanForm::Correct, false});
  // Unmasked, the duplicate pair adds 1/(0 + 1e-6) = 1e6 to the sums of samples 2 and 6.
  CHECK(masked.value()(0, 0) == doctest::Approx((35.0 / 12 + 1.0 / 3) / 6).epsilon(1e-5));
  CHECK(unmasked.value()(2, 0) - masked.value()(2, 0) == doctest::Approx(1e6 / 6).epsilon(1e-9));
  CHECK(unmasked.value()(0, 0) == masked.value()(0, 0));
}

TEST_CASE("losses: values of the simple terms") {
  Tape<double> tape;
  Md zm(2, 4);
  zm << 3, 4, 0, 0,  //
      0, 1, 2, 2;
  const Tensor<double> z = tape.tensor(zm);
  CHECK(unitarity(z).value()(0, 0) == doctest::Approx(16.0));
  CHECK(unitarity(z).value()(1, 0) == doctest::Approx(4.0));
  CHECK(planarity(z).value()(0, 0) == 0.0);
  CHECK(planarity(z).value()(1, 0) == 8.0);
  CHECK(subspace(z, {1}, true).value()(1, 0) == 1.0);
  CHECK(subspace(z, {0, 1, 2}).value()(1, 0) == 4.0);
  CHECK(anchor(z, axis(4, 0)).value()(0, 0) == 20.0);  // (3-1)^2 + 4^2
  CHECK(angular_anchor(z, axis(4, 0)).value()(0, 0) == doctest::Approx(1 - 0.6).epsilon(1e-8));
  CHECK(angular_anchor(z, axis(4, 0, -1)).value()(0, 0) == doctest::Approx(1.6).epsilon(1e-8));
  CHECK(anti_anchor(z, axis(4, 0, -1), true).value()(0, 0) == 0.0);  // cos = -0.6 -> max(., 0)
  CHECK(anti_anchor(z, axis(4, 0, -1), false).value()(0, 0) == doctest::Approx(0.2).epsilon(1e-8));
  CHECK(anti_anchor(z, axis(4, 0), true).value()(0, 0) == doctest::Approx(0.6).epsilon(1e-8));

  Md out(2, 3), in(2, 3);
  out << 1, 2, 3, 4, 5, 6;
  in << 1, 1, 1, 1, 1, 1;
  const Tensor<double> rec = reconstruction(tape.tensor(out), tape.tensor(in));
  CHECK(rec.value()(0, 0) == doctest::Approx(5.0 / 3));
  CHECK(batch_mean(rec) == doctest::Approx((0 + 1 + 4 + 9 + 16 + 25) / 6.0));  // the MSE

  // Uniformity of two points: log exp(-t d^2) = -t d^2.
  Md two(2, 3);
  two << 0, 0, 0, 0.6, 0, 0.8;
  CHECK(uniformity(tape.tensor(two)).item() == doctest::Approx(-2.0).epsilon(1e-12));
  CHECK(uniformity(tape.tensor(two), 0.5).item() == doctest::Approx(-0.5).epsilon(1e-12));
}

TEST_CASE("losses: the drift anchor captures a copy and measures the MSE to it") {
  DriftAnchor<double> drift;
  Tape<double> tape;
  Md ref(2, 2);
  ref << 1, 2, 3, 4;
  Tensor<double> z = tape.tensor(ref, true);
  CHECK_FALSE(drift.captured());
  CHECK_THROWS_AS(drift.loss(z), std::logic_error);
  {
    NoGrad<double> guard(tape);
    drift.capture(z);
  }
  CHECK(drift.captured());
  z.value()(0, 0) = 3;  // the latents move on; the captured copy does not
  const Tensor<double> l = drift.loss(z);
  CHECK(l.value()(0, 0) == 2.0);  // ((3-1)^2 + 0) / 2
  CHECK(l.value()(1, 0) == 0.0);
  CHECK(drift.reference()(0, 0) == 1.0);
  CHECK_THROWS_AS(drift.loss(tape.tensor(3, 2)), ShapeError);
  drift.reset();
  CHECK_FALSE(drift.captured());
}

TEST_CASE("losses: bad arguments are rejected with the term's name") {
  Tape<double> tape;
  const Tensor<double> z = tape.tensor(4, 3);
  CHECK_THROWS_WITH_AS(subspace(z, {3}), "subspace: dim 3 is out of range for z (4,3)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(anchor(z, axis(4, 0)), "anchor: the anchor has 4 entries but z has 3 columns", ShapeError);
  CHECK_THROWS_AS(angular_anchor(z, {1, 0}), ShapeError);
  CHECK_THROWS_AS(angular_repulsion(z, {0.5, true}), std::invalid_argument);
  CHECK_THROWS_AS(angular_repulsion_fused(z, {2.5, false}), std::invalid_argument);
  CHECK_THROWS_AS(euclidean_repulsion(tape.tensor(4, 1)), ShapeError);
  CHECK_THROWS_AS(uniformity(tape.tensor(1, 3)), ShapeError);
  CHECK_THROWS_AS(reconstruction(z, tape.tensor(1, 3)), ShapeError);
  CHECK_THROWS_AS(axis(4, 4), std::invalid_argument);
}

TEST_CASE("losses: the fused angular repulsion matches its composed reference") {
  const std::vector<AngularRepulsion> configs = {{10, false}, {100, true}, {2.5, true}, {1, false}, {3, false}};
  // Batch sizes around the kernel's 256-column blocks and its parallel threshold; 1030 is past
  // the size up to which the forward stores the pairwise weights (1030^2 > 2^20 pairs), so the
  // backward's recomputing path is checked too.
  for (int B : {1, 2, 7, 64, 255, 256, 300, 1030}) {
    std::mt19937_64 rng(7000 + B);
    Md z = random_matrix(B, 4, rng);
    if (B >= 6) z.topRows(6) = with_duplicates(z.topRows(6), rng);
    for (const AngularRepulsion& o : configs) {
      CAPTURE(B);
      CAPTURE(o.power);
      CAPTURE(o.shift);
      Tape<double> tape;
      Tensor<double> a = tape.tensor(z, true), b = tape.tensor(z, true);
      const Tensor<double> composed = angular_repulsion(a, o), fused = angular_repulsion_fused(b, o);
      const double scale = composed.value().cwiseAbs().maxCoeff() + 1e-300;
      CHECK((composed.value() - fused.value()).cwiseAbs().maxCoeff() <= 1e-12 * scale);
      tape.backward(weighted_sum(composed));
      tape.backward(weighted_sum(fused));
      const double gscale = a.grad().cwiseAbs().maxCoeff();
      CHECK((a.grad() - b.grad()).cwiseAbs().maxCoeff() <= 1e-11 * gscale);
      if (B > 1) CHECK(gscale > 0);
    }
  }
  // In float, rounding differs in the last bits only: relative 1e-4 covers 63 terms summed.
  std::mt19937_64 rng(7500);
  const Md z = random_matrix(300, 4, rng);
  Tape<float> tape;
  Tensor<float> a = tape.tensor(z.cast<float>(), true), b = tape.tensor(z.cast<float>(), true);
  const Tensor<float> composed = angular_repulsion(a, {10, false}), fused = angular_repulsion_fused(b, {10, false});
  CHECK((composed.value() - fused.value()).cwiseAbs().maxCoeff() <= 1e-4f * composed.value().cwiseAbs().maxCoeff());
  tape.backward(mean(composed));
  tape.backward(mean(fused));
  CHECK((a.grad() - b.grad()).cwiseAbs().maxCoeff() <= 1e-3f * a.grad().cwiseAbs().maxCoeff());
}

namespace {

// The fused kernel at a size that takes its parallel path, at a given thread count.
std::vector<float> fused_step(int threads, int B) {
  set_num_threads(threads);
  std::mt19937_64 rng(8000);
  const Md z = random_matrix(B, 4, rng);
  Tape<float> tape;
  Tensor<float> t = tape.tensor(z.cast<float>(), true);
  const Tensor<float> l = angular_repulsion_fused(t, {10, false});
  const Tensor<float> loss = mean(l) + mean(angular_repulsion_fused(t, {100, true}));
  tape.backward(loss);
  std::vector<float> out(l.data(), l.data() + l.size());
  out.push_back(loss.item());
  out.insert(out.end(), t.grad().data(), t.grad().data() + t.size());
  set_num_threads(2);
  return out;
}

}  // namespace

namespace {

// The fused kernel's arithmetic written as plain scalar loops, in the orders its header states: up
// to 2^20 pairs every sum over j is the eight-accumulator sum of par::sum_span, block of 256
// columns after block; past it, each pair once for both rows, tile pair after tile pair, in
// eight parts. Returns y (B) followed by dz (B x k), for the loss sum_i y_i w_i.
std::vector<float> fused_reference(const Matrix<float>& z, const AngularRepulsion& o, const std::vector<float>& w) {
  const long B = z.rows();
  const int k = int(z.cols());
  const float p = float(o.power), slope = o.shift ? 0.5f : 1.0f;
  Matrix<float> u(B, k);
  std::vector<float> norm(B);
  for (long i = 0; i < B; ++i) {
    norm[i] = std::sqrt(par::dot_span(&z(i, 0), &z(i, 0), k));
    for (int c = 0; c < k; ++c) u(i, c) = z(i, c) * (1.0f / (norm[i] + float(kCosEps)));
  }
  auto pair = [&](long i, long j, float& h) {  // f_ij^p, and h_ij = keep p f^(p-1) c
    float s = 0;
    for (int c = 0; c < k; ++c) s += u(i, c) * u(j, c);
    const float keep = std::fabs(double(s) - 1.0) <= kSameDirection ? 0.0f : 1.0f;
    float f = s * keep;
    if (o.shift) f = 0.5f * f + 0.5f;
    float f_pm1 = 1, base = f;  // repeated squaring, as the pow op
    for (unsigned long bits = static_cast<unsigned long>(o.power - 1); bits;) {
      if (bits & 1) f_pm1 *= base;
      bits >>= 1;
      if (bits) base *= base;
    }
    h = keep * p * f_pm1 * slope;
    return f_pm1 * f;
  };
  std::vector<float> out(B + B * k), term(256), weight(256);
  Matrix<float> dus = Matrix<float>::Zero(B, k);  // du, before normalize_rows' backward
  if (B * B > (1L << 20)) {
    // Past 2^20 pairs: tiles of 32, tile pairs (I <= J) in kParts = 8 parts of about equal pair
    // counts, each pair once for both rows; lanes of 8 as the kernel's vectors.
    const long stride = (B + 31) / 32 * 32, nt = stride / 32, pairs_total = nt * (nt + 1) / 2;
    long part_end[8], I = 0, done = 0;
    for (int p = 0; p < 8; ++p) {
      while (I < nt && done * 8 < pairs_total * (p + 1)) done += nt - I, ++I;
      part_end[p] = I;
    }
    auto lanes8 = [](const float* v, float* lanes) {  // lanes l, 8 + l, 16 + l, 24 + l of 32, added into lanes
      for (int l = 0; l < 8; ++l) lanes[l] += (v[l] + v[8 + l]) + (v[16 + l] + v[24 + l]);
    };
    auto combine8 = [](const float* a) {
      return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    };
    auto unit = [&](long j, int c) { return j < B ? u(j, c) : 0.0f; };
    std::vector<float> part_y(8 * stride, 0.0f), part_du(8 * k * stride, 0.0f);
    for (int p = 0; p < 8; ++p) {
      float* ay = part_y.data() + p * stride;
      float* adu = part_du.data() + p * k * stride;
      for (long I0 = p ? part_end[p - 1] : 0; I0 < part_end[p]; ++I0) {
        const long i0 = I0 * 32, i1 = std::min(B, i0 + 32);
        std::vector<float> row_y(32 * 8, 0.0f), row_du(32 * k * 8, 0.0f);  // eight lanes per row (and channel)
        for (long J = I0; J < nt; ++J) {
          float column[32] = {}, wt[32][32];
          for (long i = i0; i < i1; ++i) {
            float t[32], h = 0;
            for (int l = 0; l < 32; ++l) {
              const long j = J * 32 + l;
              t[l] = j < B ? pair(i, j, h) : 0.0f;
              wt[i - i0][l] = (w[i] + (j < B ? w[j] : 0.0f)) * (j < B ? h : 0.0f);
              column[l] += t[l];
            }
            lanes8(t, &row_y[(i - i0) * 8]);
            for (int c = 0; c < k; ++c) {
              float prod[32];
              for (int l = 0; l < 32; ++l) prod[l] = wt[i - i0][l] * unit(J * 32 + l, c);
              lanes8(prod, &row_du[((i - i0) * k + c) * 8]);
            }
          }
          if (I0 == J) continue;
          for (int l = 0; l < 32; ++l) ay[J * 32 + l] += column[l];
          for (int c = 0; c < k; ++c)
            for (int l = 0; l < 32; ++l) {
              float sum = 0;
              for (long i = i0; i < i1; ++i) sum += wt[i - i0][l] * u(i, c);
              adu[c * stride + J * 32 + l] += sum;
            }
        }
        for (long i = i0; i < i1; ++i) {
          ay[i] += combine8(&row_y[(i - i0) * 8]);
          for (int c = 0; c < k; ++c) adu[c * stride + i] += combine8(&row_du[((i - i0) * k + c) * 8]);
        }
      }
    }
    for (long i = 0; i < B; ++i) {
      out[i] = 0;
      for (int p = 0; p < 8; ++p) out[i] += part_y[p * stride + i];
      for (int c = 0; c < k; ++c)
        for (int p = 0; p < 8; ++p) dus(i, c) += part_du[(p * k + c) * stride + i];
    }
  } else {
    for (long i = 0; i < B; ++i) {
      float total = 0, h;
      for (long j0 = 0; j0 < B; j0 += 256) {
        const long n = std::min<long>(256, B - j0);
        for (long j = 0; j < n; ++j) {
          term[j] = pair(i, j0 + j, h);
          weight[j] = (w[i] + w[j0 + j]) * h;
        }
        total += par::sum_span(term.data(), n);
        for (int c = 0; c < k; ++c) {
          std::vector<float> uc(n);
          for (long j = 0; j < n; ++j) uc[j] = u(j0 + j, c);
          dus(i, c) += par::dot_span(weight.data(), uc.data(), n);
        }
      }
      out[i] = total;
    }
  }
  for (long i = 0; i < B; ++i) {
    const float* du = &dus(i, 0);
    const float d = norm[i] + float(kCosEps);
    const float radial = norm[i] > 0 ? par::dot_span(&z(i, 0), du, k) / (norm[i] * d * d) : 0.0f;
    for (int c = 0; c < k; ++c) out[B + i * k + c] = du[c] / d - z(i, c) * radial;
  }
  return out;
}

}  // namespace

TEST_CASE("losses: the fused angular repulsion computes the bits of its scalar reference") {
  // Sizes around the kernel's groups of 32 columns, its 256-column blocks and the size past
  // which the backward recomputes the pairwise weights (1030^2 > 2^20).
  for (int B : {1, 5, 31, 33, 64, 300, 1030}) {
    for (const AngularRepulsion& o : std::vector<AngularRepulsion>{{10, false}, {100, true}, {1, false}}) {
      CAPTURE(B);
      CAPTURE(o.power);
      std::mt19937_64 rng(9000 + B);
      Md zd = random_matrix(B, 4, rng);
      if (B >= 6) zd.topRows(6) = with_duplicates(zd.topRows(6), rng);
      const Matrix<float> z = zd.cast<float>();
      std::vector<float> w(B);
      for (float& v : w) v = float(std::uniform_real_distribution<double>(0.5, 1.5)(rng));
      Tape<float> tape;
      Tensor<float> t = tape.tensor(z, true), weights = tape.tensor(B, 1);
      std::copy(w.begin(), w.end(), weights.data());
      const Tensor<float> y = angular_repulsion_fused(t, o);
      tape.backward(sum(y * weights));
      std::vector<float> got(y.data(), y.data() + B);
      got.insert(got.end(), t.grad().data(), t.grad().data() + t.size());
      const std::vector<float> want = fused_reference(z, o, w);
      CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("losses: the fused angular repulsion is bitwise identical at 1, 2 and 3 threads") {
  for (int B : {300, 1000, 1100}) {  // 1100: the recomputing backward
    CAPTURE(B);
    const std::vector<float> one = fused_step(1, B), two = fused_step(2, B), three = fused_step(3, B);
    REQUIRE(one.size() == two.size());
    REQUIRE(one.size() == three.size());
    CHECK(std::isfinite(one[B]));
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0);
  }
}

TEST_SUITE_END();
