// Tests of nn/: the generator, initialization, the models' structure, the optimizers against
// updates computed by hand, a tiny MLP reaching its target, and train/eval behaviour.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "nn/models.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"

using namespace sg;

TEST_CASE("Rng: xoshiro256** reference outputs and independent streams") {
  Rng r(0, Stream::Init);
  r.set_state({1, 2, 3, 4});  // the reference implementation's first outputs from this state
  CHECK(r.next() == 11520ULL);
  CHECK(r.next() == 0ULL);
  CHECK(r.next() == 1509978240ULL);

  Rng a(7, Stream::Init), b(7, Stream::Init), c(7, Stream::Sampler), d(8, Stream::Init);
  const std::uint64_t first = a.next();
  CHECK(first == b.next());
  CHECK(first != c.next());
  CHECK(first != d.next());
}

TEST_CASE("Rng: distributions") {
  Rng r(1, Stream::Misc);
  const int n = 200000;
  double sum = 0, sum_sq = 0, usum = 0, umin = 1, umax = 0;
  int counts[6] = {0, 0, 0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    sum += z;
    sum_sq += z * z;
    const double u = r.uniform();
    umin = std::min(umin, u);
    umax = std::max(umax, u);
    usum += u;
    ++counts[r.below(6)];
  }
  // Five standard errors: the normal mean has sd 1/sqrt(n), its second moment sqrt(2/n),
  // a uniform mean sqrt(1/12n), a bucket count sqrt(n p (1-p)).
  CHECK(umin >= 0.0);
  CHECK(umax < 1.0);
  const double se = 1.0 / std::sqrt(double(n));
  CHECK(std::fabs(sum / n) < 5 * se);
  CHECK(std::fabs(sum_sq / n - 1.0) < 5 * std::sqrt(2.0) * se);
  CHECK(std::fabs(usum / n - 0.5) < 5 * std::sqrt(1.0 / 12) * se);
  for (int c : counts) CHECK(std::fabs(c - n / 6.0) < 5 * std::sqrt(n * (1.0 / 6) * (5.0 / 6)));
}

TEST_CASE("models: parameter counts and names") {
  Tape<float> tape;
  Rng rng(0, Stream::Init);
  Autoencoder<float> m4 = color_mlp(tape, 4, rng);
  CHECK(parameter_count(m4.parameters()) == 263);
  CHECK(parameter_count(ex12_model(tape, rng).parameters()) == 197);
  CHECK(parameter_count(cn_color_mlp(tape, 5, 2, rng).parameters()) == 840);
  CHECK(parameter_count(color_mlp(tape, 3, rng).parameters()) == (3 * 16 + 16 + 16 * 3 + 3) * 2);

  std::vector<std::string> names;
  for (const Parameter<float>& p : m4.parameters()) names.push_back(p.name);
  const std::vector<std::string> expected = {
      "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
      "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias"};
  CHECK(names == expected);
  CHECK(m4.parameters()[2].tensor.rows() == 4);  // encoder.2.weight is (out, in) = (4, 16)
  CHECK(m4.parameters()[2].tensor.cols() == 16);
  CHECK(make_model(tape, "CNColorMLP(5,2)", rng).name == "CNColorMLP(5,2)");
  CHECK_THROWS_WITH_AS(make_model(tape, "ColorMLP(x)", rng),
                       "unknown model 'ColorMLP(x)' (expected ColorMLP(k), Ex12, Ex13, CNColorMLP(k,N) or MLP(k=..,hidden=..,depth=..,gelu|relu,normalize|raw,sigmoid|clamp|identity))",
                       std::invalid_argument);
}

TEST_CASE("models: forward shapes; the bottleneck is the encoder's output") {
  Tape<float> tape;
  Rng rng(3, Stream::Init);
  Autoencoder<float> ex12 = ex12_model(tape, rng);
  Matrix<float> xs = Matrix<float>::Constant(5, 3, 0.3f);
  xs(1, 0) = 0.9f;
  auto out = ex12.forward(tape.tensor(xs));
  CHECK(out.reconstruction.rows() == 5);
  CHECK(out.reconstruction.cols() == 3);
  CHECK(out.bottleneck.cols() == 2);
  for (int i = 0; i < 5; ++i) CHECK(out.bottleneck.value().row(i).norm() == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("initialization: PyTorch's bounds, reproducible from the seed") {
  Tape<double> tape;
  Rng r1(42, Stream::Init), r2(42, Stream::Init), r3(43, Stream::Init);
  Linear<double> a(tape, 400, 300, r1), b(tape, 400, 300, r2), c(tape, 400, 300, r3);
  CHECK(a.weight().value() == b.weight().value());
  CHECK(a.bias().value() == b.bias().value());
  CHECK(a.weight().value() != c.weight().value());
  const double bound = 1.0 / std::sqrt(400.0);
  const auto w = a.weight().value();
  CHECK(w.maxCoeff() < bound);
  CHECK(w.minCoeff() >= -bound);
  // U(-b, b) has variance b^2/3; 120000 draws put the sample variance within a few percent.
  const double var = w.array().square().mean();
  CHECK(var == doctest::Approx(bound * bound / 3).epsilon(0.02));
  CHECK(std::fabs(w.mean()) < 5 * bound / std::sqrt(3.0 * double(w.size())));
  CHECK(a.bias().value().cwiseAbs().maxCoeff() < bound);
}

namespace {

// 0.5 * sum (p - c)^2, whose gradient is p - c.
Tensor<double> quadratic(Tensor<double> p, const Matrix<double>& c) {
  return 0.5 * sum(pow(p - p.tape().tensor(c), 2.0));
}

}  // namespace

TEST_CASE("Adam: the first step by hand, then three steps against the textbook formula") {
  Tape<double> tape;
  Matrix<double> init(1, 3), target(1, 3);
  init << 1.0, -2.0, 0.5;
  target << 0.0, 0.0, 0.0;
  Tensor<double> p = tape.tensor(init, true);
  Adam<double> adam({{"p", p}}, 0.1);
  const auto mark = tape.mark();

  // Step 1: m = 0.1 g, v = 0.001 g^2, so the bias-corrected step is lr * g / (|g| + eps).
  tape.backward(quadratic(p, target));
  adam.step();
  tape.rewind(mark);
  CHECK(p.value()(0, 0) == doctest::Approx(1.0 - 0.1 / (1.0 + 1e-8)).epsilon(1e-15));
  CHECK(p.value()(0, 1) == doctest::Approx(-2.0 + 0.1 * 2.0 / (2.0 + 1e-8)).epsilon(1e-15));

  // Steps 2..4 against m_hat / (sqrt(v_hat) + eps) computed independently.
  double q[3] = {1.0, -2.0, 0.5}, m[3] = {0, 0, 0}, v[3] = {0, 0, 0};
  for (int t = 1; t <= 4; ++t) {
    for (int i = 0; i < 3; ++i) {
      const double g = q[i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const double mhat = m[i] / (1 - std::pow(0.9, t)), vhat = v[i] / (1 - std::pow(0.999, t));
      q[i] -= 0.1 * mhat / (std::sqrt(vhat) + 1e-8);
    }
    if (t == 1) continue;
    adam.zero_grad();
    tape.backward(quadratic(p, target));
    adam.step();
    tape.rewind(mark);
  }
  for (int i = 0; i < 3; ++i) CHECK(p.value()(0, i) == doctest::Approx(q[i]).epsilon(1e-13));
  CHECK(adam.steps_taken() == 4);
}

TEST_CASE("Adam: the learning rate can change before every step") {
  Tape<double> tape;
  Tensor<double> p = tape.scalar(1.0, true);
  Adam<double> adam({{"p", p}}, 0.0);
  tape.backward(quadratic(p, Matrix<double>::Zero(1, 1)));
  adam.step();
  CHECK(p.item() == 1.0);  // lr 0: no motion
  adam.lr = 0.5;
  adam.step();  // same gradient (not zeroed): second bias-corrected step is lr * m_hat / sqrt(v_hat)
  const double mhat = (0.9 * 0.1 + 0.1) / (1 - 0.81), vhat = (0.999 * 0.001 + 0.001) / (1 - 0.999 * 0.999);
  CHECK(p.item() == doctest::Approx(1.0 - 0.5 * mhat / (std::sqrt(vhat) + 1e-8)).epsilon(1e-14));
}

TEST_CASE("AdamW decays the weights before the Adam step; Adam's weight decay is L2") {
  Tape<double> tape;
  Tensor<double> p = tape.scalar(2.0, true), q = tape.scalar(2.0, true);
  AdamW<double> adamw({{"p", p}}, 0.1, 0.9, 0.999, 1e-8, 0.5);
  Adam<double> adam_l2({{"q", q}}, 0.1, 0.9, 0.999, 1e-8, 0.5);
  // Zero gradient: AdamW only decays (2 * (1 - 0.1 * 0.5)); Adam-L2 sees g = 0.5 * 2 = 1.
  adamw.step();
  adam_l2.step();
  CHECK(p.item() == doctest::Approx(2.0 * 0.95).epsilon(1e-15));
  CHECK(q.item() == doctest::Approx(2.0 - 0.1 / (1.0 + 1e-8)).epsilon(1e-15));
}

TEST_CASE("SGD with momentum, by hand") {
  Tape<double> tape;
  Tensor<double> p = tape.scalar(1.0, true);
  SGD<double> sgd({{"p", p}}, 0.1, 0.9);
  const auto mark = tape.mark();
  // g = p. Step 1: buf = 1, p = 0.9. Step 2: g = 0.9, buf = 0.9 + 0.9 = 1.8, p = 0.9 - 0.18 = 0.72.
  for (int i = 0; i < 2; ++i) {
    sgd.zero_grad();
    tape.backward(quadratic(p, Matrix<double>::Zero(1, 1)));
    sgd.step();
    tape.rewind(mark);
  }
  CHECK(p.item() == doctest::Approx(0.72).epsilon(1e-15));
}

TEST_CASE("a tiny MLP learns XOR") {
  Tape<float> tape;
  Rng rng(0, Stream::Init);
  Sequential<float> model;
  model.emplace<Linear<float>>(tape, 2, 8, rng);
  model.emplace<GELU<float>>();
  model.emplace<Linear<float>>(tape, 8, 1, rng);
  model.emplace<Sigmoid<float>>();
  Matrix<float> xs(4, 2), ys(4, 1);
  xs << 0, 0, 0, 1, 1, 0, 1, 1;
  ys << 0, 1, 1, 0;
  const Tensor<float> x = tape.tensor(xs), y = tape.tensor(ys);
  Adam<float> adam(model.parameters(), 0.05);
  const auto mark = tape.mark();
  float first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    const Tensor<float> p = model.forward(x);
    const Tensor<float> bce = -mean(y * log(p) + (1.0 - y) * log(1.0 - p));
    (step == 0 ? first : last) = bce.item();
    adam.zero_grad();
    tape.backward(bce);
    adam.step();
    tape.rewind(mark);
  }
  CHECK(first > 0.5f);
  CHECK(last < 0.01f);
  const Tensor<float> p = model.forward(x);
  for (int i = 0; i < 4; ++i) CHECK((p.value()(i, 0) > 0.5f) == (ys(i, 0) > 0.5f));
}

TEST_CASE("CNColorMLP: identity output in training, clamped to [0, 1] in evaluation") {
  Tape<float> tape;
  Rng rng(5, Stream::Init);
  Autoencoder<float> m = cn_color_mlp(tape, 4, 1, rng);
  // Scale the last layer so that outputs leave [0, 1].
  std::vector<Parameter<float>> params = m.parameters();
  params[params.size() - 2].tensor.value() *= 50.0f;
  Matrix<float> xs(8, 3);
  for (int i = 0; i < 8; ++i) xs.row(i) << float(i & 1), float((i >> 1) & 1), float((i >> 2) & 1);
  const Tensor<float> x = tape.tensor(xs);
  const Matrix<float> train_out = m.forward(x).reconstruction.value();
  m.train(false);
  const Matrix<float> eval_out = m.forward(x).reconstruction.value();
  CHECK((train_out.maxCoeff() > 1.0f || train_out.minCoeff() < 0.0f));
  CHECK(eval_out.maxCoeff() <= 1.0f);
  CHECK(eval_out.minCoeff() >= 0.0f);
  CHECK(eval_out == train_out.cwiseMax(0.0f).cwiseMin(1.0f));
}

#include <filesystem>

#include "nn/checkpoint.hpp"

TEST_CASE("checkpoint: save -> load gives a bit-identical forward pass and optimizer state") {
  const std::string path = (std::filesystem::temp_directory_path() / "spheregrad-test-ckpt.safetensors").string();
  Matrix<float> xs(5, 3);
  xs << 0.1f, 0.2f, 0.3f, 1, 0, 0, 0.5f, 0.5f, 0.5f, 0, 1, 1, 0.9f, 0.1f, 0.4f;

  Tape<float> tape_a;
  Rng rng_a(11, Stream::Init);
  Autoencoder<float> a = color_mlp(tape_a, 4, rng_a);
  Adam<float> adam_a(a.parameters(), 0.01);
  {  // two Adam steps, so that the moments are not zero
    const auto mark = tape_a.mark();
    for (int i = 0; i < 2; ++i) {
      auto out = a.forward(tape_a.tensor(xs));
      tape_a.backward(mean(pow(out.reconstruction - tape_a.tensor(xs), 2.0)));
      adam_a.step();
      tape_a.rewind(mark);
    }
  }
  SafeTensors st;
  save_parameters(st, a.parameters());
  save_optimizer(st, adam_a);
  st.metadata["model"] = a.name;
  st.save(path);

  const SafeTensors loaded = SafeTensors::load(path);
  Tape<float> tape_b;
  Rng rng_b(99, Stream::Init);  // a different initialization, overwritten by the load
  Autoencoder<float> b = make_model(tape_b, loaded.metadata.at("model"), rng_b);
  Adam<float> adam_b(b.parameters(), 0.01);
  load_parameters(loaded, b.parameters());
  load_optimizer(loaded, adam_b);
  CHECK(adam_b.steps_taken() == 2);
  const Matrix<float> out_a = a.forward(tape_a.tensor(xs)).reconstruction.value();
  const Matrix<float> out_b = b.forward(tape_b.tensor(xs)).reconstruction.value();
  CHECK(std::memcmp(out_a.data(), out_b.data(), sizeof(float) * out_a.size()) == 0);
  // The optimizer's moments came back exactly.
  CHECK(adam_a.state()[0].second->isApprox(*adam_b.state()[0].second, 0.0f));

  // A model with other shapes, or other names, is rejected with the tensor's name.
  Tape<float> tape_c;
  Autoencoder<float> c = color_mlp(tape_c, 5, rng_b);
  CHECK_THROWS_WITH_AS(load_parameters(loaded, c.parameters()), doctest::Contains("encoder.2.weight"), SafeTensorsError);
  Autoencoder<float> d = color_mlp(tape_c, 3, rng_b);
  CHECK_THROWS_AS(load_parameters(loaded, d.parameters()), SafeTensorsError);
  std::vector<Parameter<float>> fewer = b.parameters();
  fewer.pop_back();
  CHECK_THROWS_WITH_AS(load_parameters(loaded, fewer), doctest::Contains("'decoder.2.bias' is not a parameter"),
                       SafeTensorsError);

  // PyTorch's shapes: a weight (out, in), a bias (out,). A bias stored as (1, out), as
  // spheregrad 0.1 wrote it, still loads; any other shape does not.
  CHECK(loaded.at("encoder.0.weight").shape == std::vector<std::int64_t>{16, 3});
  CHECK(loaded.at("encoder.0.bias").shape == std::vector<std::int64_t>{16});
  CHECK(loaded.at("decoder.2.bias").shape == std::vector<std::int64_t>{3});
  auto with_bias_shape = [&](const std::vector<std::int64_t>& shape) {
    SafeTensors old;
    for (const std::string& name : loaded.names()) {
      RawTensor t = loaded.at(name);
      if (name == "encoder.0.bias") t.shape = shape;
      old.put(name, t);
    }
    return old;
  };
  Tape<float> tape_e;
  Autoencoder<float> e = color_mlp(tape_e, 4, rng_b);
  load_parameters(with_bias_shape({1, 16}), e.parameters());
  const Matrix<float> out_e = e.forward(tape_e.tensor(xs)).reconstruction.value();
  CHECK(std::memcmp(out_a.data(), out_e.data(), sizeof(float) * out_a.size()) == 0);
  CHECK_THROWS_WITH_AS(load_parameters(with_bias_shape({16, 1}), e.parameters()), doctest::Contains("encoder.0.bias"),
                       SafeTensorsError);
  std::filesystem::remove(path);
}
