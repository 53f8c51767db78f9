// Tests of the hypersphere library beyond the research's terms: the pairwise energies and the
// alignment loss (gradient checks in double, values against plain loops and closed forms, their
// geometry, determinism across thread counts, bad arguments), the Riemannian optimizers
// (on the sphere, tangent momentum, one step by hand), and the Thomson problem (the known minima
// for N = 2..6 and 12, the icosahedron).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "examples/thomson/thomson.hpp"
#include "losses/losses.hpp"
#include "tests/test_util.hpp"
#include "nn/riemannian.hpp"

using namespace sg;
using namespace sg::loss;
using Md = Matrix<double>;
using test::random_matrix;

TEST_SUITE_BEGIN("sphere");

namespace {

constexpr double kPi = 3.14159265358979323846;

// Every variant the term offers.
std::vector<std::pair<std::string, Energy>> variants() {
  std::vector<std::pair<std::string, Energy>> v;
  for (Distance d : {Distance::Euclidean, Distance::Angular})
    for (bool half : {false, true})
      for (int kernel = 0; kernel < 3; ++kernel) {
        Energy e;
        e.distance = d, e.half_space = half;
        if (kernel == 1) e.s = 2.5;
        if (kernel == 2) e.log = true;
        v.push_back({std::string(d == Distance::Euclidean ? "euclidean" : "angular") + (half ? " half-space" : "") +
                         (kernel == 2 ? " log" : kernel == 1 ? " s=2.5" : " s=1"),
                     e});
      }
  return v;
}

// The per-sample energies by plain loops, written from the formulas in losses.hpp.
std::vector<double> reference(const Md& z, const Energy& o) {
  auto f = [&](double d) { return o.log ? -std::log(d + o.eps) : std::pow(d + o.eps, -o.s); };
  std::vector<double> y(std::size_t(z.rows()), 0.0);
  for (long i = 0; i < z.rows(); ++i)
    for (long j = 0; j < z.rows(); ++j) {
      if (j == i) continue;
      double e;
      if (o.distance == Distance::Euclidean) {
        e = f((z.row(i) - z.row(j)).norm());
        if (o.half_space) e += f((z.row(i) + z.row(j)).norm());
      } else {
        const double c = z.row(i).dot(z.row(j)) / ((z.row(i).norm() + kCosEps) * (z.row(j).norm() + kCosEps));
        const double theta = std::acos(c);
        e = f(theta);
        if (o.half_space) e += f(kPi - theta);
      }
      y[std::size_t(i)] += 0.5 * e;
    }
  return y;
}

Md gradient_of(const Md& z, const Energy& o) {
  Tape<double> tape;
  const Tensor<double> t = tape.tensor(z, true);
  tape.backward(sum(pairwise_energy(t, o)));
  return t.grad();
}

}  // namespace

TEST_CASE("sphere: the pairwise energies pass the gradient check in double, with unequal row weights") {
  std::mt19937_64 rng(7);
  for (const auto& [name, options] : variants())
    for (double eps : {0.0, 0.1}) {
      Energy o = options;
      o.eps = eps;
      const Md z = random_matrix(6, 3, rng), w = random_matrix(6, 1, rng, 0.5, 2);
      const GradCheckResult r = gradcheck(
          [&](Tape<double>&, const std::vector<Tensor<double>>& v) { return sum(pairwise_energy(v[0], o) * v[1]); }, {z, w});
      INFO(name, " eps ", eps, ": ", r.describe());
      CHECK(r.ok);
    }
}

TEST_CASE("sphere: the pairwise energies' values are those of plain loops over the formulas") {
  std::mt19937_64 rng(3);
  const Md z = random_matrix(9, 4, rng);
  for (const auto& [name, o] : variants()) {
    Tape<double> tape;
    const Tensor<double> y = pairwise_energy(tape.tensor(z), o);
    const std::vector<double> want = reference(z, o);
    REQUIRE(y.rows() == 9);
    REQUIRE(y.cols() == 1);
    for (int i = 0; i < 9; ++i) {
      INFO(name, " row ", i);
      CHECK(y.data()[i] == doctest::Approx(want[std::size_t(i)]).epsilon(1e-12));
    }
  }
}

TEST_CASE("sphere: with mask_duplicates, the same sample drawn twice adds nothing, and the gradient checks") {
  std::mt19937_64 rng(4);
  Md z = random_matrix(6, 3, rng);
  z.row(4) = z.row(1);  // drawn twice
  const Md w = random_matrix(6, 1, rng, 0.5, 2);
  for (auto [name, o] : variants()) {
    o.mask_duplicates = true;
    o.eps = 0.05;  // the unmasked value is finite, so the difference is the pair's own
    Energy plain = o;
    plain.mask_duplicates = false;
    Tape<double> tape;
    const Tensor<double> masked = pairwise_energy(tape.tensor(z), o), unmasked = pairwise_energy(tape.tensor(z), plain);
    INFO(name);
    Md pair(2, 3);  // the duplicate pair alone: its energy per row
    pair << z.row(1), z.row(4);
    const double own = pairwise_energy(tape.tensor(pair), plain).data()[0];
    for (int i = 0; i < 6; ++i)
      CHECK(masked.data()[i] == doctest::Approx(unmasked.data()[i] - (i == 1 || i == 4 ? own : 0.0)).epsilon(1e-12));
    const GradCheckResult r = gradcheck(
        [&](Tape<double>&, const std::vector<Tensor<double>>& v) { return sum(pairwise_energy(v[0], o) * v[1]); }, {z, w});
    INFO(r.describe());
    CHECK(r.ok);
  }
}

TEST_CASE("sphere: past the first block of 256 columns -- every value, and the gradient of rows beyond it") {
  std::mt19937_64 rng(12);
  const Md z = random_matrix(600, 3, rng), w = random_matrix(600, 1, rng, 0.5, 2);
  for (const auto& [name, o] : variants()) {
    INFO(name);
    Tape<double> tape;
    const Tensor<double> t = tape.tensor(z, true);
    const Tensor<double> y = pairwise_energy(t, o);
    const std::vector<double> want = reference(z, o);
    // The angle of a close pair is acos of a cosine near 1, where a rounding of 1e-16 in the
    // cosine moves the angle by 1e-16 / sin: the angular values agree less closely.
    const double tolerance = o.distance == Distance::Euclidean ? 1e-12 : 1e-9;
    double worst = 0;
    for (int i = 0; i < 600; ++i)
      worst = std::max(worst, std::fabs(y.data()[i] - want[std::size_t(i)]) / std::fabs(want[std::size_t(i)]));
    CHECK(worst <= tolerance);
    tape.backward(sum(y * tape.tensor(w)));
    const Md g = t.grad();
    // Central differences of sum(y * w) for rows in the first, second and third blocks.
    Md zz = z;
    for (int row : {3, 300, 590})
      for (int c = 0; c < 3; ++c) {
        auto at = [&](double delta) {
          zz(row, c) = z(row, c) + delta;
          Tape<double> fresh;
          const double v = (pairwise_energy(fresh.tensor(zz), o).value().array() * w.array()).sum();
          zz(row, c) = z(row, c);
          return v;
        };
        const double numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
        CAPTURE(row);
        CHECK(g(row, c) == doctest::Approx(numeric).epsilon(1e-5));
      }
  }
}

TEST_CASE("sphere: closed forms -- the tetrahedron's Coulomb energy, the octahedron's log energy, antipodes") {
  Md tetrahedron(4, 3);
  tetrahedron << 1, 1, 1, 1, -1, -1, -1, 1, -1, -1, -1, 1;
  tetrahedron /= std::sqrt(3.0);
  Md octahedron(6, 3);
  octahedron << 1, 0, 0, -1, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0, 1, 0, 0, -1;
  Tape<double> tape;
  CHECK(sum(pairwise_energy(tape.tensor(tetrahedron))).item() == doctest::Approx(6 / std::sqrt(8.0 / 3)).epsilon(1e-14));
  Energy log_energy;
  log_energy.log = true;
  // 12 pairs at distance sqrt(2), 3 antipodal pairs at 2.
  CHECK(sum(pairwise_energy(tape.tensor(octahedron), log_energy)).item() ==
        doctest::Approx(-9 * std::log(2.0)).epsilon(1e-14));
  // Angular: the tetrahedron's pairs are all acos(-1/3) apart.
  Energy angular;
  angular.distance = Distance::Angular;
  CHECK(sum(pairwise_energy(tape.tensor(tetrahedron), angular)).item() ==
        doctest::Approx(6 / std::acos(-1.0 / 3)).epsilon(1e-7));  // the 1e-8 cosine epsilon
  // Half-space: two antipodal points are the same line -- an angle of about 2e-4 between them
  // (what the cosine's 1e-8 epsilon leaves of 0), so an energy near 5000 (1/angle + 1/pi, per
  // point 1/2 of it); one point and an orthogonal one are as far apart as lines can be (pi/2 both ways).
  Md antipodes(2, 2), orthogonal(2, 2);
  antipodes << 1, 0, -1, 0;
  orthogonal << 1, 0, 0, 1;
  angular.half_space = true;
  const double angle = kPi - std::acos(-1 / ((1 + kCosEps) * (1 + kCosEps)));
  CHECK(angle == doctest::Approx(2e-4).epsilon(1e-3));
  CHECK(sum(pairwise_energy(tape.tensor(antipodes), angular)).item() == doctest::Approx(1 / angle + 1 / kPi).epsilon(1e-6));
  CHECK(sum(pairwise_energy(tape.tensor(orthogonal), angular)).item() == doctest::Approx(4 / kPi).epsilon(1e-7));
}

TEST_CASE("sphere: geometry -- angular energies are tangential, Euclidean ones sum to zero, half-space ignores signs") {
  std::mt19937_64 rng(11);
  const Md z = random_matrix(8, 3, rng);
  for (const auto& [name, o] : variants()) {
    INFO(name);
    const Md g = gradient_of(z, o);
    if (o.distance == Distance::Angular) {
      const GradientParts<double> parts = split_gradient(z, g);
      for (double c : parts.cosine) CHECK(c < 1e-6);
    } else if (!o.half_space) {  // ||z_i + z_j|| is not a difference
      for (int c = 0; c < 3; ++c) CHECK(std::fabs(g.col(c).sum()) < 1e-10 * g.cwiseAbs().maxCoeff());
    }
    if (o.half_space) {
      Md flipped = z;
      flipped.row(2) *= -1;
      flipped.row(5) *= -1;
      Tape<double> tape;
      CHECK(sum(pairwise_energy(tape.tensor(flipped), o)).item() ==
            doctest::Approx(sum(pairwise_energy(tape.tensor(z), o)).item()).epsilon(1e-12));
    }
  }
  // On the sphere, the Coulomb energy's descent direction points outward: -g . z > 0 for every row.
  Md unit = z;
  for (long i = 0; i < unit.rows(); ++i) unit.row(i).normalize();
  const Md g = gradient_of(unit, {});
  for (long i = 0; i < unit.rows(); ++i) CHECK(-g.row(i).dot(unit.row(i)) > 0);
}

TEST_CASE("sphere: the pairwise energy is bitwise identical at 1, 2 and 3 threads") {
  std::mt19937_64 rng(5);
  const Md z = random_matrix(700, 5, rng), w = random_matrix(700, 1, rng, 0.5, 2);
  for (const auto& [name, o] : variants()) {
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      Tape<float> tape;
      const Tensor<float> t = tape.tensor(Matrix<float>(z.cast<float>()), true);
      const Tensor<float> y = pairwise_energy(t, o);
      tape.backward(sum(y * tape.tensor(Matrix<float>(w.cast<float>()))));
      std::vector<float> got(y.data(), y.data() + y.size());
      got.insert(got.end(), t.grad().data(), t.grad().data() + t.size());
      results.push_back(got);
    }
    set_num_threads(1);
    INFO(name);
    CHECK(std::isfinite(results[0][0]));
    CHECK(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(results[0].data(), results[2].data(), results[0].size() * sizeof(float)) == 0);
  }
}

TEST_CASE("sphere: the alignment loss -- values, gradient check, bad arguments") {
  std::mt19937_64 rng(2);
  const Md z = random_matrix(5, 3, rng), p = random_matrix(5, 3, rng);
  for (double alpha : {2.0, 1.0, 0.5}) {
    Tape<double> tape;
    const Tensor<double> y = alignment(tape.tensor(z), tape.tensor(p), alpha);
    for (int i = 0; i < 5; ++i) CHECK(y.data()[i] == doctest::Approx(std::pow((z.row(i) - p.row(i)).norm(), alpha)).epsilon(1e-13));
    const GradCheckResult r =
        gradcheck([&](Tape<double>&, const std::vector<Tensor<double>>& v) { return mean(alignment(v[0], v[1], alpha)); }, {z, p});
    INFO("alpha ", alpha, ": ", r.describe());
    CHECK(r.ok);
  }
  Tape<double> tape;
  const Tensor<double> a = tape.tensor(z), b = tape.tensor(Md(random_matrix(4, 3, rng)));
  CHECK_THROWS_WITH_AS(alignment(a, b), doctest::Contains("alignment: z (5,3) and its positives (4,3) differ"), ShapeError);
  CHECK_THROWS_WITH_AS(alignment(a, a, 0.0), doctest::Contains("alignment: alpha must be > 0"), std::invalid_argument);
}

TEST_CASE("sphere: the pairwise energy rejects bad arguments with the term's name") {
  Tape<double> tape;
  const Tensor<double> z = tape.tensor(Md::Ones(3, 2)), one = tape.tensor(Md::Ones(1, 2));
  Energy bad;
  bad.s = 0;
  CHECK_THROWS_WITH_AS(pairwise_energy(z, bad), doctest::Contains("pairwise_energy: the Riesz exponent s must be > 0"),
                       std::invalid_argument);
  bad.log = true;  // s is not used by the log energy
  CHECK_NOTHROW(pairwise_energy(z, bad));
  Energy negative;
  negative.eps = -1;
  CHECK_THROWS_WITH_AS(pairwise_energy(z, negative), doctest::Contains("eps must be >= 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(pairwise_energy(one), doctest::Contains("needs at least 2 rows, z is (1,2)"), ShapeError);
}

TEST_CASE("sphere: Riemannian SGD -- one step by hand: the tangent gradient, then renormalization") {
  Tape<double> tape;
  Md start(2, 3);
  start << 3, 0, 4, 0, 2, 0;  // the constructor puts the rows on the sphere
  const Tensor<double> x = tape.tensor(start, true);
  RiemannianSGD<double> sgd({{"points", x}}, 0.1);
  CHECK(x.value().row(0).norm() == doctest::Approx(1).epsilon(1e-15));
  Md g(2, 3);
  g << 1, 2, 3, -1, 5, 0.5;
  x.grad() = g;
  const Md before = x.value();
  sgd.step();
  for (int r = 0; r < 2; ++r) {
    const Eigen::RowVector3d p = before.row(r), tangent = g.row(r) - g.row(r).dot(p) * p;
    const Eigen::RowVector3d want = (p - 0.1 * tangent).normalized();
    for (int c = 0; c < 3; ++c) CHECK(x.value()(r, c) == doctest::Approx(want(c)).epsilon(1e-14));
  }
  Md zero_row = Md::Zero(1, 3);
  const Tensor<double> y = tape.tensor(zero_row, true);
  CHECK_THROWS_WITH_AS(RiemannianAdam<double>({{"w", y}}), doctest::Contains("row 0 of parameter 'w' has no direction"),
                       std::invalid_argument);
}

TEST_CASE("sphere: Riemannian Adam and SGD with momentum -- two steps by hand") {
  Md start(1, 3), g1(1, 3), g2(1, 3);
  start << 0.6, 0, 0.8;
  g1 << 1, -2, 0.5;
  g2 << -0.3, 0.7, 2;
  using V = Eigen::RowVector3d;
  const auto tangent = [](const V& g, const V& p) -> V { return g - g.dot(p) * p; };
  for (int which = 0; which < 2; ++which) {
    Tape<double> tape;
    const Tensor<double> x = tape.tensor(start, true);
    std::unique_ptr<Optimizer<double>> opt;
    if (which == 0) opt = std::make_unique<RiemannianAdam<double>>(std::vector<Parameter<double>>{{"x", x}}, 0.1);
    else opt = std::make_unique<RiemannianSGD<double>>(std::vector<Parameter<double>>{{"x", x}}, 0.1, 0.9);
    V p = start.row(0), m = V::Zero(), v = V::Zero();
    for (int t = 1; t <= 2; ++t) {
      const V g = tangent((t == 1 ? g1 : g2).row(0), p);
      V u;
      if (which == 0) {  // Adam: moments, bias corrections, step
        m = 0.9 * m + (1 - 0.9) * g;
        v = 0.999 * v + (1 - 0.999) * g.cwiseProduct(g);
        const double step = 0.1 / (1 - std::pow(0.9, t)), bc2 = std::sqrt(1 - std::pow(0.999, t));
        u = step * m.array() / (v.array().sqrt() / bc2 + 1e-8);
      } else {  // SGD: buf = g, then 0.9 buf + g
        m = t == 1 ? g : V(0.9 * m + g);
        u = 0.1 * m;
      }
      p = (p - u).normalized();
      m = tangent(m, p);  // the transport
      x.grad() = t == 1 ? g1 : g2;
      opt->step();
    }
    INFO(std::string(which == 0 ? "adam" : "sgd"));
    for (int c = 0; c < 3; ++c) {
      CHECK(x.value()(0, c) == doctest::Approx(p(c)).epsilon(1e-14));
      CHECK((*opt->state()[0].second)(0, c) == doctest::Approx(m(c)).epsilon(1e-14));
    }
  }
}

TEST_CASE("sphere: a Riemannian step with a non-finite gradient throws and changes nothing") {
  Tape<double> tape;
  const Tensor<double> x = tape.tensor(Md(Md::Identity(3, 3)), true);
  RiemannianAdam<double> adam({{"x", x}}, 0.1);
  Md g = Md::Ones(3, 3);
  g(2, 1) = NAN;
  x.grad() = g;
  const Md before = x.value();
  CHECK_THROWS_WITH_AS(adam.step(), doctest::Contains("the gradient of row 2 of parameter 'x' is not finite"),
                       std::runtime_error);
  CHECK(x.value() == before);
  CHECK(adam.steps_taken() == 0);
  CHECK(adam.state()[0].second->isZero());
}

TEST_CASE("sphere: Riemannian Adam and SGD with momentum keep the points unit and the momentum tangent") {
  std::mt19937_64 rng(9);
  for (int which = 0; which < 2; ++which) {
    Tape<double> tape;
    const Tensor<double> x = tape.tensor(random_matrix(16, 3, rng), true);
    std::unique_ptr<Optimizer<double>> opt;
    if (which == 0) opt = std::make_unique<RiemannianAdam<double>>(std::vector<Parameter<double>>{{"x", x}}, 0.05);
    else opt = std::make_unique<RiemannianSGD<double>>(std::vector<Parameter<double>>{{"x", x}}, 0.01, 0.9);
    const auto mark = tape.mark();
    double first = 0, last = 0;
    for (int step = 0; step < 200; ++step) {
      const Tensor<double> loss = sum(pairwise_energy(x));
      (step == 0 ? first : last) = loss.item();
      tape.zero_grad();
      tape.backward(loss);
      opt->step();
      tape.rewind(mark);
    }
    INFO(std::string(which == 0 ? "adam" : "sgd"));
    CHECK(last < first);
    const Matrix<double>& momentum = *opt->state()[0].second;
    for (long i = 0; i < 16; ++i) {
      CHECK(x.value().row(i).norm() == doctest::Approx(1).epsilon(1e-14));
      CHECK(std::fabs(momentum.row(i).dot(x.value().row(i))) < 1e-14 * (1 + momentum.row(i).norm()));
    }
  }
}

TEST_CASE("sphere: the Thomson problem -- the known minima for N = 2..6 and 12, by both methods") {
  for (int n : {2, 3, 4, 5, 6, 12})
    for (thomson::Method m : {thomson::Method::Riemannian, thomson::Method::Penalty}) {
      thomson::Options o;
      o.n = n;
      o.method = m;
      const double known = *thomson::known_minimum(n);
      const thomson::Result r = thomson::solve(o, known);
      const thomson::Start& best = r.starts[std::size_t(r.best)];
      INFO("N = ", n, " ", thomson::method_name(m), ": ", best.energy, " against ", known);
      CHECK(std::fabs(best.energy - known) <= 1e-6 * known);
      for (long i = 0; i < n; ++i) CHECK(best.points.row(i).norm() == doctest::Approx(1).epsilon(1e-15));
    }
}

TEST_CASE("sphere: the Thomson problem -- 12 points make an icosahedron") {
  thomson::Options o;
  o.n = 12;
  const thomson::Result r = thomson::solve(o);
  const Md& p = r.starts[std::size_t(r.best)].points;
  const double edge = std::atan(2.0);  // the angle between neighbouring vertices
  const thomson::NeighbourAngles a = thomson::nearest_neighbour_angles(p);
  CHECK(a.smallest == doctest::Approx(edge).epsilon(1e-6));
  CHECK(a.largest == doctest::Approx(edge).epsilon(1e-6));
  // Each vertex has exactly five neighbours at that angle, and its antipode among the others.
  for (long i = 0; i < 12; ++i) {
    int neighbours = 0, antipodes = 0;
    for (long j = 0; j < 12; ++j) {
      if (j == i) continue;
      const double angle = std::acos(std::clamp(p.row(i).dot(p.row(j)), -1.0, 1.0));
      neighbours += std::fabs(angle - edge) < 1e-5;
      antipodes += std::fabs(angle - kPi) < 1e-5;
    }
    CHECK(neighbours == 5);
    CHECK(antipodes == 1);
  }
}

TEST_CASE("sphere: the Thomson options are checked, and a run is deterministic") {
  thomson::Options o;
  o.n = 1;
  CHECK_THROWS_WITH_AS(thomson::solve(o), doctest::Contains("thomson: needs at least 2 points, got 1"), std::invalid_argument);
  o.n = 6;
  o.lr_end = 1;
  CHECK_THROWS_WITH_AS(thomson::solve(o), doctest::Contains("0 < lr_end <= lr"), std::invalid_argument);
  o.lr_end = 1e-5;
  o.starts = 2;
  o.steps = 300;
  const thomson::Result a = thomson::solve(o), b = thomson::solve(o);
  for (int s = 0; s < 2; ++s) {
    CHECK(a.starts[std::size_t(s)].energy == b.starts[std::size_t(s)].energy);
    CHECK(a.starts[std::size_t(s)].points == b.starts[std::size_t(s)].points);
  }
  CHECK_FALSE(thomson::known_minimum(21).has_value());
}

TEST_SUITE_END();
