// examples/thomson/thomson.cpp -- the Thomson problem with the engine (thomson.hpp).
#include "examples/thomson/thomson.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

#include "autodiff/ops.hpp"
#include "losses/losses.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"
#include "nn/riemannian.hpp"

namespace sg::thomson {

const char* method_name(Method m) { return m == Method::Riemannian ? "riemannian-adam" : "penalty-adam"; }

void Options::check() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("thomson: " + what); };
  auto text = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  if (n < 2) bad("needs at least 2 points, got " + std::to_string(n));
  if (!(s > 0) || !std::isfinite(s)) bad("the Riesz exponent s must be > 0, got " + text(s));
  if (starts < 1) bad("needs at least 1 start, got " + std::to_string(starts));
  if (steps < 1) bad("needs at least 1 step, got " + std::to_string(steps));
  if (!(lr > 0 && lr_end > 0 && lr_end <= lr) || !std::isfinite(lr))
    bad("the learning rates must satisfy 0 < lr_end <= lr, got " + text(lr) + " and " + text(lr_end));
  if (!(penalty > 0) || !std::isfinite(penalty)) bad("the penalty weight must be > 0, got " + text(penalty));
}

double energy(const Matrix<double>& points, double s) {
  const long n = points.rows();
  Matrix<double> u = points;
  for (long i = 0; i < n; ++i) u.row(i) /= u.row(i).norm();
  double total = 0;
  for (long i = 0; i < n; ++i)
    for (long j = i + 1; j < n; ++j) total += std::pow((u.row(i) - u.row(j)).norm(), -s);
  return total;
}

std::optional<double> known_minimum(int n) {
  static const double table[] = {0.500000000,  1.732050808,  3.674234614,  6.474691495,  9.985281374,
                                 14.452977414, 19.675287861, 25.759986531, 32.716949460, 40.596450510,
                                 49.165253058, 58.853230612, 69.306363297, 80.670244114, 92.911655302,
                                 106.050404829, 120.084467447, 135.089467557, 150.881568334};
  if (n < 2 || n > 20) return std::nullopt;
  return table[n - 2];
}

NeighbourAngles nearest_neighbour_angles(const Matrix<double>& points) {
  NeighbourAngles a{std::numeric_limits<double>::infinity(), 0};
  for (long i = 0; i < points.rows(); ++i) {
    double nearest = std::numeric_limits<double>::infinity();
    for (long j = 0; j < points.rows(); ++j) {
      if (j == i) continue;
      const double c = points.row(i).dot(points.row(j)) / (points.row(i).norm() * points.row(j).norm());
      nearest = std::min(nearest, std::acos(std::clamp(c, -1.0, 1.0)));
    }
    a.smallest = std::min(a.smallest, nearest);
    a.largest = std::max(a.largest, nearest);
  }
  return a;
}

namespace {

Start run_start(const Options& o, Matrix<double> points, std::optional<double> target, double tolerance) {
  using Clock = std::chrono::steady_clock;
  const auto begin = Clock::now();
  Tape<double> tape;
  const Tensor<double> x = tape.tensor(points, true);
  std::vector<Parameter<double>> params = {{"points", x}};
  std::unique_ptr<Optimizer<double>> optimizer;
  if (o.method == Method::Riemannian) optimizer = std::make_unique<RiemannianAdam<double>>(params, o.lr);
  else optimizer = std::make_unique<Adam<double>>(params, o.lr);
  const auto mark = tape.mark();
  Start result;
  // lr at step t of the run's steps 0 .. steps - 1: lr (lr_end / lr)^(t / (steps - 1)).
  const double decay = o.steps > 1 ? std::log(o.lr_end / o.lr) / double(o.steps - 1) : 0.0;
  for (long step = 0; step <= o.steps; ++step) {
    const Matrix<double> now = x.value();
    result.energy = energy(now, o.s);
    if (target && result.steps_to_target < 0 && result.energy <= *target * (1 + tolerance)) {
      result.steps_to_target = step;
      result.seconds_to_target = std::chrono::duration<double>(Clock::now() - begin).count();
    }
    if (step == o.steps) break;
    Tensor<double> loss = sum(loss::pairwise_energy(x, {o.s}));
    if (o.method == Method::Penalty) loss = loss + o.penalty * sum(loss::unitarity(x));
    tape.zero_grad();
    tape.backward(loss);
    optimizer->lr = o.lr * std::exp(decay * double(step));
    optimizer->step();
    tape.rewind(mark);
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  result.points = x.value();
  for (long i = 0; i < result.points.rows(); ++i) result.points.row(i) /= result.points.row(i).norm();
  return result;
}

}  // namespace

Result solve(const Options& o, std::optional<double> target, double tolerance) {
  o.check();
  Rng rng(o.seed, Stream::Init);
  Result result;
  for (int start = 0; start < o.starts; ++start) {
    Matrix<double> points(o.n, 3);
    for (long i = 0; i < points.size(); ++i) points.data()[i] = rng.normal();
    for (long i = 0; i < o.n; ++i) points.row(i) /= points.row(i).norm();
    result.starts.push_back(run_start(o, points, target, tolerance));
    if (result.starts.back().energy < result.starts[std::size_t(result.best)].energy) result.best = start;
  }
  return result;
}

}  // namespace sg::thomson
