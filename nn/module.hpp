// nn/module.hpp -- modules, named parameters, and the layers the color models are made of.
//
// Contract:
// - A Module maps a (batch, features) tensor to another. Its parameters are leaf tensors on the
//   tape it was built on, created before the training loop's mark so that rewind keeps them.
// - parameters() lists them with PyTorch-style dotted names ("encoder.0.weight"), in a fixed
//   order: checkpoints, optimizers and parameter counts all rely on it.
// - train(bool) switches training/evaluation behaviour (only ClampInEval uses it here).
// - Linear stores its weight as (out, in), like PyTorch, and computes x W^T + b.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/ops.hpp"
#include "nn/random.hpp"

namespace sg {

template <class T>
struct Parameter {
  std::string name;
  Tensor<T> tensor;
  bool vector = false;  // held as 1 x N, stored as [N] (a bias, as PyTorch stores it)
};

template <class T>
class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor<T> forward(Tensor<T> x) = 0;
  virtual std::string describe() const = 0;
  // Appends this module's parameters, each named prefix + its own name.
  virtual void collect(const std::string& prefix, std::vector<Parameter<T>>& out) const {
    (void)prefix;
    (void)out;
  }
  virtual void train(bool on) { training_ = on; }
  bool training() const { return training_; }

  std::vector<Parameter<T>> parameters(const std::string& prefix = "") const {
    std::vector<Parameter<T>> out;
    collect(prefix, out);
    return out;
  }

 protected:
  bool training_ = true;
};

// y = x W^T + b, W (out, in), b (1, out); both ~ U(-1/sqrt(in), 1/sqrt(in)) as PyTorch's
// default initialization (kaiming_uniform with a = sqrt(5) reduces to exactly this bound).
// Draws the weight row-major, then the bias, from `rng`.
template <class T>
class Linear : public Module<T> {
 public:
  Linear(Tape<T>& tape, int in, int out, Rng& rng)
      : in_(in), out_(out), weight_(tape.tensor(out, in, true)), bias_(tape.tensor(1, out, true)) {
    const double bound = 1.0 / std::sqrt(double(in));
    for (Tensor<T> t : {weight_, bias_})
      for (long i = 0; i < t.size(); ++i) t.data()[i] = T(rng.uniform(-bound, bound));
  }
  Tensor<T> forward(Tensor<T> x) override { return matmul(x, weight_, false, true) + bias_; }
  std::string describe() const override {
    return "Linear(" + std::to_string(in_) + ", " + std::to_string(out_) + ")";
  }
  void collect(const std::string& prefix, std::vector<Parameter<T>>& out) const override {
    out.push_back({prefix + "weight", weight_});
    out.push_back({prefix + "bias", bias_, true});
  }
  Tensor<T> weight() const { return weight_; }
  Tensor<T> bias() const { return bias_; }

 private:
  int in_, out_;
  Tensor<T> weight_, bias_;
};

template <class T>
class ReLU : public Module<T> {
 public:
  Tensor<T> forward(Tensor<T> x) override { return relu(x); }
  std::string describe() const override { return "ReLU"; }
};

template <class T>
class GELU : public Module<T> {  // the exact (erf) form
 public:
  Tensor<T> forward(Tensor<T> x) override { return gelu(x); }
  std::string describe() const override { return "GELU"; }
};

template <class T>
class Sigmoid : public Module<T> {
 public:
  Tensor<T> forward(Tensor<T> x) override { return sigmoid(x); }
  std::string describe() const override { return "Sigmoid"; }
};

template <class T>
class Identity : public Module<T> {
 public:
  Tensor<T> forward(Tensor<T> x) override { return x; }
  std::string describe() const override { return "Identity"; }
};

// The normalizing bottleneck: z / (||z|| + eps), each row onto the unit sphere.
template <class T>
class L2Normalize : public Module<T> {
 public:
  explicit L2Normalize(double eps = 1e-8) : eps_(eps) {}
  Tensor<T> forward(Tensor<T> x) override { return normalize_rows(x, eps_); }
  std::string describe() const override { return "L2Normalize"; }

 private:
  double eps_;
};

// Identity while training, clamp to [0, 1] in evaluation (the M2 models' output).
template <class T>
class ClampInEval : public Module<T> {
 public:
  Tensor<T> forward(Tensor<T> x) override { return this->training() ? x : clamp(x, 0.0, 1.0); }
  std::string describe() const override { return "ClampInEval(0, 1)"; }
};

// Runs its modules in order; a child's parameters are named "<index>.<name>".
template <class T>
class Sequential : public Module<T> {
 public:
  Sequential& add(std::unique_ptr<Module<T>> m) {
    layers_.push_back(std::move(m));
    return *this;
  }
  template <class M, class... Args>
  Sequential& emplace(Args&&... args) {
    return add(std::make_unique<M>(std::forward<Args>(args)...));
  }
  Tensor<T> forward(Tensor<T> x) override {
    for (auto& layer : layers_) x = layer->forward(x);
    return x;
  }
  std::string describe() const override {
    std::string s = "Sequential(";
    for (std::size_t i = 0; i < layers_.size(); ++i) s += (i ? ", " : "") + layers_[i]->describe();
    return s + ")";
  }
  void collect(const std::string& prefix, std::vector<Parameter<T>>& out) const override {
    for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i]->collect(prefix + std::to_string(i) + ".", out);
  }
  void train(bool on) override {
    Module<T>::train(on);
    for (auto& layer : layers_) layer->train(on);
  }
  std::size_t size() const { return layers_.size(); }
  Module<T>& operator[](std::size_t i) { return *layers_[i]; }

 private:
  std::vector<std::unique_ptr<Module<T>>> layers_;
};

template <class T>
long parameter_count(const std::vector<Parameter<T>>& params) {
  long n = 0;
  for (const Parameter<T>& p : params) n += p.tensor.size();
  return n;
}

}  // namespace sg
