// nn/riemannian.hpp -- SGD and Adam on the unit sphere: every row of every parameter is a point
// constrained to unit norm (the Thomson problem's points, a layer of unit-norm neurons).
//
// Contract:
// - The constructor puts each row on the sphere (divides it by its norm); a zero row throws
//   std::invalid_argument naming the parameter and the row. A step whose gradient is not finite
//   (a diverged loss) throws std::runtime_error naming the parameter and the row, before it
//   changes anything.
// - A step works row by row, in the tangent space at the row's point p:
//     the Riemannian gradient   g <- g - (g . p) p      (the projection onto the tangent space)
//     the update                u as the Euclidean rule computes it from g and the moments
//     the retraction            p <- (p - u) / ||p - u||   (renormalization)
//     the transport             m <- m - (m . p) p       (the momentum projected onto the new
//                                                          tangent space)
//   SGD:  buf = momentum buf + g (buf = g on the first step); u = lr buf.
//   Adam: m, v, the bias corrections and u by nn/optim.hpp's AdamRule, Adam's own arithmetic, on
//         the Riemannian gradient: u = (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// - Why projection for the transport: on the sphere, moving a tangent vector along the short
//   retraction step and projecting it onto the new tangent space differ by a second-order term
//   in the step, and projection needs no geodesic; it is what geoopt's RiemannianAdam does on its
//   sphere. The second moment v is a per-coordinate scale, not a tangent vector, so it is kept as
//   is (also as geoopt does); this makes u not quite tangent, which the retraction absorbs.
// - The loss should not depend on the radius (angular terms), or should be evaluated on the unit
//   rows (the Riesz energy of points on the sphere): the optimizer keeps them unit; nothing else
//   is needed, no unitarity penalty.
#pragma once

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nn/optim.hpp"

namespace sg {

namespace sphere {

// Divides the row p (cols entries) by its norm; returns false, changing nothing, when the norm is
// 0 or not finite.
template <class T>
bool retract_row(T* p, long cols) {
  double norm = 0;
  for (long c = 0; c < cols; ++c) norm += double(p[c]) * p[c];
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) return false;
  for (long c = 0; c < cols; ++c) p[c] = T(p[c] / norm);
  return true;
}

inline std::string where(const std::string& name, long r) {
  return "row " + std::to_string(r) + " of parameter '" + name + "'";
}

// v <- v - (v . p) p for a unit row p.
template <class T>
void project_row(const T* p, T* v, long cols) {
  T dot = 0;
  for (long c = 0; c < cols; ++c) dot += v[c] * p[c];
  for (long c = 0; c < cols; ++c) v[c] -= dot * p[c];
}

}  // namespace sphere

// The row-wise loop every Riemannian rule shares: for each row, project the gradient (into a
// scratch row), let `update` turn it into the step u (in place) and its state, retract, and give
// the new point to `transport`.
template <class T>
class SphereOptimizer : public Optimizer<T> {
 public:
  SphereOptimizer(std::vector<Parameter<T>> params, double lr) : Optimizer<T>(std::move(params), lr) {
    for (Parameter<T>& p : this->params_)
      for (long r = 0; r < p.tensor.rows(); ++r)
        if (!sphere::retract_row(row(p, r), p.tensor.cols()))
          throw std::invalid_argument("Riemannian optimizer: " + sphere::where(p.name, r) +
                                      " has no direction (its norm is 0 or not finite) and cannot be put on the sphere");
    for (Parameter<T>& p : this->params_) scratch_.resize(std::max(scratch_.size(), std::size_t(p.tensor.cols())));
  }

 protected:
  static T* row(const Parameter<T>& p, long r) { return p.tensor.data() + r * p.tensor.cols(); }
  // update(k, offset, g): g is the Riemannian gradient of the row at `offset` of parameter k,
  // to be replaced by the step u; transport(k, offset, p) then sees the retracted row p.
  template <class Update, class Transport>
  void each_row(Update&& update, Transport&& transport) {
    for (const Parameter<T>& p : this->params_) {
      const T* grad = p.tensor.grad().data();
      for (long i = 0; i < p.tensor.size(); ++i)
        if (!std::isfinite(grad[i]))
          throw std::runtime_error("Riemannian optimizer: the gradient of " + sphere::where(p.name, i / p.tensor.cols()) +
                                   " is not finite (a diverged loss?); the step was not taken");
    }
    std::vector<T>& g = scratch_;  // sized by the constructor: a step allocates nothing
    for (std::size_t k = 0; k < this->params_.size(); ++k) {
      const Parameter<T>& p = this->params_[k];
      const long cols = p.tensor.cols();
      for (long r = 0; r < p.tensor.rows(); ++r) {
        T* x = row(p, r);
        const T* grad = p.tensor.grad().data() + r * cols;
        std::copy(grad, grad + cols, g.begin());
        sphere::project_row(x, g.data(), cols);
        update(k, r * cols, g.data());
        for (long c = 0; c < cols; ++c) x[c] -= g[std::size_t(c)];
        // p - u is 0 only when a finite step lands exactly on the origin -- a learning rate far
        // too large; the rows before this one have then been stepped already.
        if (!sphere::retract_row(x, cols))
          throw std::runtime_error("Riemannian optimizer: the step took " + sphere::where(p.name, r) +
                                   " to the origin (is the learning rate far too large?)");
        transport(k, r * cols, x);
      }
    }
  }

 private:
  std::vector<T> scratch_;  // one row's gradient
};

template <class T>
class RiemannianSGD : public SphereOptimizer<T> {
 public:
  RiemannianSGD(std::vector<Parameter<T>> params, double lr, double momentum = 0)
      : SphereOptimizer<T>(std::move(params), lr), momentum(momentum), buffer_(this->zeros_like_params()) {}

  void step() override {
    const T lr = T(this->lr), mu = T(momentum);
    const bool first = this->steps_ == 0;
    this->each_row(
        [&](std::size_t k, long at, T* g) {
          const long cols = this->params_[k].tensor.cols();
          T* buf = buffer_[k].data() + at;
          for (long c = 0; c < cols; ++c) {
            if (mu != 0) g[c] = buf[c] = first ? g[c] : mu * buf[c] + g[c];
            g[c] *= lr;
          }
        },
        [&](std::size_t k, long at, const T* p) {
          if (mu != 0) sphere::project_row(p, buffer_[k].data() + at, this->params_[k].tensor.cols());
        });
    ++this->steps_;
  }
  std::vector<std::pair<std::string, Matrix<T>*>> state() override {
    return this->named_state({{"momentum_buffer.", &buffer_}});
  }

  double momentum;

 private:
  std::vector<Matrix<T>> buffer_;
};

template <class T>
class RiemannianAdam : public SphereOptimizer<T> {
 public:
  RiemannianAdam(std::vector<Parameter<T>> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
                 double eps = 1e-8)
      : SphereOptimizer<T>(std::move(params), lr), beta1(beta1), beta2(beta2), eps(eps),
        exp_avg_(this->zeros_like_params()), exp_avg_sq_(this->zeros_like_params()) {}

  void step() override {
    const AdamRule<T> rule(this->lr, beta1, beta2, eps, this->steps_ + 1);
    this->each_row(
        [&](std::size_t k, long at, T* g) {
          T* m = exp_avg_[k].data() + at;
          T* v = exp_avg_sq_[k].data() + at;
          for (long c = 0; c < this->params_[k].tensor.cols(); ++c) g[c] = rule.step(m[c], v[c], g[c]);
        },
        [&](std::size_t k, long at, const T* p) {
          sphere::project_row(p, exp_avg_[k].data() + at, this->params_[k].tensor.cols());
        });
    ++this->steps_;
  }
  std::vector<std::pair<std::string, Matrix<T>*>> state() override {
    return this->named_state({{"exp_avg.", &exp_avg_}, {"exp_avg_sq.", &exp_avg_sq_}});
  }

  double beta1, beta2, eps;

 private:
  std::vector<Matrix<T>> exp_avg_, exp_avg_sq_;
};

}  // namespace sg
