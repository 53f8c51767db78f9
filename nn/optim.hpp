// nn/optim.hpp -- SGD with momentum, Adam and AdamW, with PyTorch's update rules.
//
// Contract:
// - An optimizer updates the parameters it was given from their gradient buffers; `lr` is a
//   plain field that may be changed before any step (the dopesheet sets it every step).
// - The arithmetic follows torch.optim (1.13, single-tensor path) operation by operation, so a
//   port of a PyTorch run follows the same trajectory up to float rounding:
//     Adam:  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//            p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//     (eps is added after the bias correction of sqrt(v), as PyTorch does.)
//     Adam's weight_decay is L2 (g += wd p); AdamW decays the weights first: p *= 1 - lr wd.
//     SGD:   buf = momentum buf + g (buf = g on the first step);  p -= lr buf.
// - Unlike PyTorch, a parameter that took no part in the loss has a zero gradient rather than
//   none, and is still stepped (its moments decay).
// - state() names every state buffer, for checkpoints.
#pragma once

#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace sg {

template <class T>
class Optimizer {
 public:
  Optimizer(std::vector<Parameter<T>> params, double lr) : lr(lr), params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad() {
    for (Parameter<T>& p : params_) p.tensor.grad().setZero();
  }
  // Named state buffers ("exp_avg.encoder.0.weight", ...), for saving and restoring.
  virtual std::vector<std::pair<std::string, Matrix<T>*>> state() { return {}; }
  const std::vector<Parameter<T>>& parameters() const { return params_; }
  long steps_taken() const { return steps_; }
  void set_steps_taken(long n) { steps_ = n; }

  double lr;

 protected:
  std::vector<Matrix<T>> zeros_like_params() const {
    std::vector<Matrix<T>> out;
    for (const Parameter<T>& p : params_) out.push_back(Matrix<T>::Zero(p.tensor.rows(), p.tensor.cols()));
    return out;
  }
  // The state() of buffers that have one matrix per parameter: ("<prefix><parameter name>",
  // buffer) for each parameter in order, and each prefix in order within it.
  using State = std::vector<std::pair<std::string, Matrix<T>*>>;
  State named_state(std::initializer_list<std::pair<const char*, std::vector<Matrix<T>>*>> buffers) {
    State s;
    for (std::size_t k = 0; k < params_.size(); ++k)
      for (const auto& [prefix, matrices] : buffers) s.push_back({prefix + params_[k].name, &(*matrices)[k]});
    return s;
  }
  std::vector<Parameter<T>> params_;
  long steps_ = 0;
};

template <class T>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Parameter<T>> params, double lr, double momentum = 0, double weight_decay = 0)
      : Optimizer<T>(std::move(params), lr), momentum(momentum), weight_decay(weight_decay),
        buffer_(this->zeros_like_params()) {}

  void step() override {
    const T lr = T(this->lr), mu = T(momentum), wd = T(weight_decay);
    for (std::size_t k = 0; k < this->params_.size(); ++k) {
      T* p = this->params_[k].tensor.data();
      const T* grad = this->params_[k].tensor.grad().data();
      T* buf = buffer_[k].data();
      for (long i = 0; i < buffer_[k].size(); ++i) {
        T g = grad[i];
        if (wd != 0) g = g + wd * p[i];
        if (mu != 0) g = buf[i] = this->steps_ == 0 ? g : mu * buf[i] + g;
        p[i] = p[i] - lr * g;
      }
    }
    ++this->steps_;
  }
  std::vector<std::pair<std::string, Matrix<T>*>> state() override {
    return this->named_state({{"momentum_buffer.", &buffer_}});
  }

  double momentum, weight_decay;

 private:
  std::vector<Matrix<T>> buffer_;
};

// Adam's arithmetic for one element, shared by Adam and RiemannianAdam (nn/riemannian.hpp):
// the moments' update, and the step u = step_size m / (sqrt(v) / bc2 + eps) with the bias
// corrections of step t in double, as PyTorch computes them in Python floats.
template <class T>
struct AdamRule {
  T step_size, b1, b2, one_minus_b1, one_minus_b2, bc2, e;
  AdamRule(double lr, double beta1, double beta2, double eps, long t)
      : step_size(T(lr / (1 - std::pow(beta1, double(t))))), b1(T(beta1)), b2(T(beta2)), one_minus_b1(T(1 - beta1)),
        one_minus_b2(T(1 - beta2)), bc2(T(std::sqrt(1 - std::pow(beta2, double(t))))), e(T(eps)) {}
  T step(T& m, T& v, T g) const {
    m = m * b1 + one_minus_b1 * g;
    v = v * b2 + one_minus_b2 * g * g;
    return step_size * m / (std::sqrt(v) / bc2 + e);
  }
};

template <class T>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<Parameter<T>> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0, bool decoupled_weight_decay = false)
      : Optimizer<T>(std::move(params), lr), beta1(beta1), beta2(beta2), eps(eps),
        weight_decay(weight_decay), decoupled(decoupled_weight_decay),
        exp_avg_(this->zeros_like_params()), exp_avg_sq_(this->zeros_like_params()) {}

  void step() override {
    const AdamRule<T> rule(this->lr, beta1, beta2, eps, ++this->steps_);
    const T wd = T(weight_decay);
    const T decay = T(1 - this->lr * weight_decay);
    for (std::size_t k = 0; k < this->params_.size(); ++k) {
      T* p = this->params_[k].tensor.data();
      const T* grad = this->params_[k].tensor.grad().data();
      T* m = exp_avg_[k].data();
      T* v = exp_avg_sq_[k].data();
      for (long i = 0; i < exp_avg_[k].size(); ++i) {
        T g = grad[i];
        if (wd != 0) {
          if (decoupled) p[i] = p[i] * decay;
          else g = g + wd * p[i];
        }
        p[i] = p[i] - rule.step(m[i], v[i], g);
      }
    }
  }
  std::vector<std::pair<std::string, Matrix<T>*>> state() override {
    return this->named_state({{"exp_avg.", &exp_avg_}, {"exp_avg_sq.", &exp_avg_sq_}});
  }

  double beta1, beta2, eps, weight_decay;
  bool decoupled;

 private:
  std::vector<Matrix<T>> exp_avg_, exp_avg_sq_;
};

// AdamW: Adam with decoupled weight decay (PyTorch's default decay 0.01).
template <class T>
class AdamW : public Adam<T> {
 public:
  AdamW(std::vector<Parameter<T>> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 1e-2)
      : Adam<T>(std::move(params), lr, beta1, beta2, eps, weight_decay, true) {}
};

}  // namespace sg
