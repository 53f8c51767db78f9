// `spheregrad demo`: fits y = sin(3x) on [-1, 1] with a 1-32-1 tanh MLP by plain gradient
// descent, using nothing but the autodiff tape. It shows the training-step pattern every
// program here follows: parameters below a mark, one step's graph above it, rewind.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

#include "autodiff/ops.hpp"
#include "examples/cli/cli.hpp"

namespace sg::cli {

namespace {

struct Settings {
  int steps = 2000;
};

int demo(int steps) {
  Tape<float> tape;
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> init(-1.0f, 1.0f);
  Matrix<float> w1(1, 32), b1(1, 32), w2(32, 1), b2(1, 1);
  for (Matrix<float>* m : {&w1, &b1, &w2, &b2})
    for (long i = 0; i < m->size(); ++i) m->data()[i] = init(rng);
  w2 /= std::sqrt(32.0f);
  Tensor<float> params[] = {tape.tensor(w1, true), tape.tensor(b1, true), tape.tensor(w2, true),
                            tape.tensor(b2, true)};
  Matrix<float> xs(64, 1), ys(64, 1);
  for (int i = 0; i < 64; ++i) {
    xs(i, 0) = -1.0f + 2.0f * float(i) / 63.0f;
    ys(i, 0) = std::sin(3.0f * xs(i, 0));
  }
  const Tensor<float> x = tape.tensor(xs), y = tape.tensor(ys);
  const auto mark = tape.mark();

  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step <= steps; ++step) {
    Tensor<float> h = tanh(matmul(x, params[0]) + params[1]);
    Tensor<float> pred = matmul(h, params[2]) + params[3];
    Tensor<float> loss = mean(pow(pred - y, 2.0));
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0) std::printf("step %5d  mse %.6f\n", step, loss.item());
    tape.zero_grad();
    tape.backward(loss);
    for (Tensor<float>& p : params) p.value() -= 0.2f * p.grad();
    tape.rewind(mark);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d steps in %.3f s (%.0f steps/s)\n", steps, seconds, steps / seconds);
  return 0;
}

}  // namespace

void add_demo(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  CLI::App* command =
      program.add_subcommand("demo", "fit a tiny model with the autodiff tape (a smoke test of the engine)");
  add_integer(*command, "--steps", s->steps, 1, "number of steps (default 2000)");
  command->footer(
      "Fits y = sin(3x) with a 1-32-1 tanh MLP by gradient descent on the autodiff tape\n"
      "and prints the loss every N/10 steps.");
  command->callback([s, &exit_code] { exit_code = demo(s->steps); });
}

}  // namespace sg::cli
