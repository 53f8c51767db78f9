// A first program with spheregrad: a tiny MLP learns XOR.
//
// Build and run:  make build/tutorial_xor && ./build/tutorial_xor
//
// It shows the four things every training program here does:
//   1. create a Tape and build the model on it (the parameters become leaves of the tape);
//   2. take a mark: everything created after it belongs to one step;
//   3. per step: forward, backward, optimizer step, rewind to the mark;
//   4. read results out of tensors with value() / item().
#include <cstdio>

#include "autodiff/ops.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"

using namespace sg;

int main() {
  // 1. The tape owns every tensor. float is the fast default; Tape<double> works the same way.
  Tape<float> tape;

  // Initialization draws from a stream derived from (seed, Stream::Init): the same seed always
  // builds the same network, whatever else the program draws.
  Rng rng(/*seed=*/0, Stream::Init);
  Sequential<float> model;
  model.emplace<Linear<float>>(tape, 2, 8, rng);  // weight (8,2), bias (1,8)
  model.emplace<GELU<float>>();
  model.emplace<Linear<float>>(tape, 8, 1, rng);
  model.emplace<Sigmoid<float>>();  // output = probability of class 1

  // The four XOR points and their labels, as constant (no-gradient) tensors.
  Matrix<float> xs(4, 2), ys(4, 1);
  xs << 0, 0, 0, 1, 1, 0, 1, 1;
  ys << 0, 1, 1, 0;
  const Tensor<float> x = tape.tensor(xs), y = tape.tensor(ys);

  // Parameters carry PyTorch-style names; Adam keeps its moments per parameter.
  std::vector<Parameter<float>> params = model.parameters();
  for (const Parameter<float>& p : params)
    std::printf("parameter %-8s %d x %d\n", p.name.c_str(), p.tensor.rows(), p.tensor.cols());
  Adam<float> adam(params, /*lr=*/0.05);

  // 2. Everything above the mark lives for the whole run; everything below it, one step.
  const Tape<float>::Mark mark = tape.mark();

  for (int step = 0; step <= 500; ++step) {
    // 3a. Forward: binary cross-entropy, composed from primitive ops.
    const Tensor<float> p = model.forward(x);
    const Tensor<float> bce = -mean(y * log(p) + (1.0 - y) * log(1.0 - p));

    if (step % 100 == 0) std::printf("step %3d  loss %.5f\n", step, bce.item());

    // 3b. Backward: one reverse sweep over the tape fills every parameter's grad().
    adam.zero_grad();
    tape.backward(bce);

    // 3c. Update, then release this step's nodes. The next step reuses their memory.
    adam.step();
    tape.rewind(mark);
  }

  // 4. Evaluate without recording gradients.
  NoGrad<float> no_grad(tape);
  const Tensor<float> p = model.forward(x);
  int correct = 0;
  for (int i = 0; i < 4; ++i) {
    const float prob = p.value()(i, 0);
    correct += (prob > 0.5f) == (ys(i, 0) > 0.5f);
    std::printf("xor(%g, %g) = %g   predicted %.3f\n", xs(i, 0), xs(i, 1), ys(i, 0), prob);
  }
  std::printf("%d of 4 correct\n", correct);
  return correct == 4 ? 0 : 1;
}
