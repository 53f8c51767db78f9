// nn/models.hpp -- the autoencoders of the color experiments (SPEC.md section 3).
//
// Contract: every builder returns an Autoencoder whose forward gives the reconstruction and the
// bottleneck z (the tensor the regularizers act on). Parameters are drawn from `rng` in
// construction order: encoder first, layer by layer, weight then bias -- so one seed gives one
// model. Parameter names follow PyTorch's nn.Sequential ("encoder.0.weight").
//
//   ColorMLP(k)       3-16 GELU 16-k | k-16 GELU 16-3 Sigmoid          k=4: 263 parameters
//   Ex12              3-16 ReLU 16-2 L2Normalize | 2-16 ReLU 16-3 Sigmoid         197 parameters
//   Ex13              3-16 GELU 16-3 | 3-16 GELU 16-3 Sigmoid
//   CNColorMLP(k, N)  3-16 GELU (N-1)x[16-16 GELU] 16-k L2Normalize | mirrored, then the output
//                     is the identity in training and clamped to [0, 1] in evaluation
//                                                                  k=5, N=2: 840 parameters
#pragma once

#include <string>
#include <vector>

#include "nn/module.hpp"

namespace sg {

template <class T>
struct Autoencoder {
  struct Output {
    Tensor<T> reconstruction, bottleneck;
  };

  std::string name;  // e.g. "ColorMLP(4)": enough to rebuild it with make_model
  Sequential<T> encoder, decoder;

  Output forward(Tensor<T> x) {
    const Tensor<T> z = encoder.forward(x);
    return {decoder.forward(z), z};
  }
  std::vector<Parameter<T>> parameters() const {
    std::vector<Parameter<T>> p = encoder.parameters("encoder.");
    for (Parameter<T>& d : decoder.parameters("decoder.")) p.push_back(d);
    return p;
  }
  void train(bool on) {
    encoder.train(on);
    decoder.train(on);
  }
  std::string describe() const {
    return name + ": encoder " + encoder.describe() + ", decoder " + decoder.describe();
  }
};

namespace detail {

// in -> 16, act, (hidden_layers - 1) x [16 -> 16, act], 16 -> out
template <class T, class Act>
void add_mlp(Sequential<T>& seq, Tape<T>& tape, int in, int out, int hidden_layers, Rng& rng) {
  seq.template emplace<Linear<T>>(tape, in, 16, rng);
  seq.template emplace<Act>();
  for (int i = 1; i < hidden_layers; ++i) {
    seq.template emplace<Linear<T>>(tape, 16, 16, rng);
    seq.template emplace<Act>();
  }
  seq.template emplace<Linear<T>>(tape, 16, out, rng);
}

}  // namespace detail

template <class T>
Autoencoder<T> color_mlp(Tape<T>& tape, int k, Rng& rng) {
  Autoencoder<T> m;
  m.name = "ColorMLP(" + std::to_string(k) + ")";
  detail::add_mlp<T, GELU<T>>(m.encoder, tape, 3, k, 1, rng);
  detail::add_mlp<T, GELU<T>>(m.decoder, tape, k, 3, 1, rng);
  m.decoder.template emplace<Sigmoid<T>>();
  return m;
}

template <class T>
Autoencoder<T> ex12_model(Tape<T>& tape, Rng& rng) {
  Autoencoder<T> m;
  m.name = "Ex12";
  detail::add_mlp<T, ReLU<T>>(m.encoder, tape, 3, 2, 1, rng);
  m.encoder.template emplace<L2Normalize<T>>(1e-8);
  detail::add_mlp<T, ReLU<T>>(m.decoder, tape, 2, 3, 1, rng);
  m.decoder.template emplace<Sigmoid<T>>();
  return m;
}

template <class T>
Autoencoder<T> ex13_model(Tape<T>& tape, Rng& rng) {
  Autoencoder<T> m;
  m.name = "Ex13";
  detail::add_mlp<T, GELU<T>>(m.encoder, tape, 3, 3, 1, rng);
  detail::add_mlp<T, GELU<T>>(m.decoder, tape, 3, 3, 1, rng);
  m.decoder.template emplace<Sigmoid<T>>();
  return m;
}

template <class T>
Autoencoder<T> cn_color_mlp(Tape<T>& tape, int k, int hidden_layers, Rng& rng) {
  Autoencoder<T> m;
  m.name = "CNColorMLP(" + std::to_string(k) + "," + std::to_string(hidden_layers) + ")";
  detail::add_mlp<T, GELU<T>>(m.encoder, tape, 3, k, hidden_layers, rng);
  m.encoder.template emplace<L2Normalize<T>>(1e-8);
  detail::add_mlp<T, GELU<T>>(m.decoder, tape, k, 3, hidden_layers, rng);
  m.decoder.template emplace<ClampInEval<T>>();
  return m;
}

// Builds a model from its name: "ColorMLP(k)", "Ex12", "Ex13" or "CNColorMLP(k,N)".
// Throws std::invalid_argument naming the text when it is none of these.
template <class T>
Autoencoder<T> make_model(Tape<T>& tape, const std::string& name, Rng& rng);

}  // namespace sg
