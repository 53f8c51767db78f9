// examples/thomson/thomson.hpp -- the Thomson problem with the engine: N points on the sphere
// S^2 that minimize the Coulomb energy sum_{i<j} 1 / ||x_i - x_j|| (or another Riesz s-energy).
//
// Contract:
// - solve() runs `starts` random starts (uniform on the sphere, from Rng(seed, Stream::Init),
//   one start after another) with one of two methods and keeps every start's result:
//     Riemannian: the points are a parameter on the sphere, optimized by RiemannianAdam
//                 (nn/riemannian.hpp) on loss = sum(pairwise_energy(x)) -- no penalty;
//     Penalty:    the points are free in R^3, optimized by Adam on
//                 loss = sum(pairwise_energy(x)) + penalty * sum_i (||x_i|| - 1)^2.
//   Both use the same learning rate, decayed geometrically from lr at the first step to lr_end
//   at the last.
// - A start's energy is always that of its points divided by their norms (the penalty leaves
//   them slightly off the sphere), computed by energy() below, in double, apart from the engine.
// - The run is deterministic: the same options give the same bits.
// - docs/thomson.md compares the two methods and lists the known minima.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "autodiff/tensor.hpp"

namespace sg::thomson {

enum class Method { Riemannian, Penalty };
const char* method_name(Method m);

struct Options {
  int n = 12;          // points, >= 2
  double s = 1;        // the Riesz exponent (1: Coulomb)
  int starts = 4;
  unsigned long seed = 0;
  long steps = 2000;
  double lr = 0.05, lr_end = 1e-5;
  double penalty = 10;  // the unitarity weight of Method::Penalty
  Method method = Method::Riemannian;
  // Throws std::invalid_argument naming the first bad field.
  void check() const;
};

struct Start {
  double energy = 0;        // at the end
  long steps_to_target = -1;  // the first step whose energy is within the tolerance, or -1
  double seconds_to_target = 0, seconds = 0;
  Matrix<double> points;    // (n, 3), unit rows
};

struct Result {
  std::vector<Start> starts;
  int best = 0;  // the start with the lowest energy
};

// target: the energy to reach within relative `tolerance` (steps_to_target), if known.
Result solve(const Options& options, std::optional<double> target = std::nullopt, double tolerance = 1e-6);

// sum_{i<j} ||u_i - u_j||^-s of the rows divided by their norms (plain loops, in double).
double energy(const Matrix<double>& points, double s = 1);

// The best known Coulomb energy of n points on S^2 (n = 2..20; proven optimal for 2-6 and 12), or
// nothing. Source: docs/thomson.md.
std::optional<double> known_minimum(int n);

// Over every point, the angle (radians) to its nearest neighbour: the smallest and the largest.
// For the icosahedron (n = 12) both are atan(2), about 63.43 degrees.
struct NeighbourAngles {
  double smallest, largest;
};
NeighbourAngles nearest_neighbour_angles(const Matrix<double>& points);

}  // namespace sg::thomson
