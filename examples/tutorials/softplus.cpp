// Write your own op: softplus, outside autodiff/, with its gradient checked.
//
// Build and run:  make build/tutorial_softplus && ./build/tutorial_softplus
//
// An op is one struct: its `name`, the state its backward needs (here beta), and a static
// `backward` that adds dL/dx into the input's gradient given the node's own dL/dy. The forward is
// a function that records a node of kind op_kind<Op>, keeps the struct in it and fills the value.
// The built-in ops of autodiff/ops.cpp are written the same way.
//
//   softplus: y = log(1 + e^(beta x)) / beta       dy/dx = sigmoid(beta x) = 1 - e^(-beta y)
#include <cmath>
#include <cstdio>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"

using namespace sg;

template <class T>
struct Softplus {
  static constexpr const char* name = "softplus";
  T beta;
  static void backward(Tape<T>& tape, const Node<T>& y) {
    const Node<T>& x = tape.node(y.a);
    const T beta = y.template saved<Softplus>().beta;
    for (long i = 0; i < long(y.rows) * y.cols; ++i)
      x.grad[i] += y.grad[i] * (T(1) - std::exp(-beta * y.value[i]));
  }
};

template <class T>
Tensor<T> softplus(Tensor<T> x, double beta = 1) {
  Tape<T>& tape = x.tape();
  const int id = tape.record(op_kind<Softplus<T>>, x.rows(), x.cols(), x.id());
  Node<T>& y = tape.node(id);
  y.template saved<Softplus<T>>() = {T(beta)};
  for (long i = 0; i < x.size(); ++i) {  // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow
    const T z = T(beta) * x.data()[i];
    y.value[i] = (std::max(z, T(0)) + std::log1p(std::exp(-std::fabs(z)))) / T(beta);
  }
  return {&tape, id};
}

int main() {
  // The gradient check: the analytic gradient of sum(softplus(x) * w) against central differences,
  // in double, at points from -3 to 3 and with two betas.
  Matrix<double> x(4, 3), w(4, 3);
  for (int i = 0; i < 12; ++i) x.data()[i] = -3 + 0.5 * i, w.data()[i] = std::cos(i);
  bool ok = true;
  for (double beta : {1.0, 2.5}) {
    const GradCheckResult r = gradcheck(
        [&](Tape<double>&, const std::vector<Tensor<double>>& v) { return sum(softplus(v[0], beta) * v[1]); },
        {x, w});
    std::printf("softplus beta=%.1f: %s\n", beta, r.describe().c_str());
    ok = ok && r.ok;
  }
  return ok ? 0 : 1;
}
