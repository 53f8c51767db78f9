// nn/models.hpp -- the autoencoders of the color experiments (docs/research.md, "Models").
//
// Contract: every builder returns an Autoencoder whose forward gives the reconstruction and the
// bottleneck z (the tensor the regularizers act on). Parameters are drawn from `rng` in
// construction order: encoder first, layer by layer, weight then bias -- so one seed gives one
// model. Parameter names follow PyTorch's nn.Sequential ("encoder.0.weight").
//
//   ColorMLP(k)       3-16 GELU 16-k | k-16 GELU 16-3 Sigmoid          k=4: 263 parameters
//                     (the 3-D model of Ex 1.3 is ColorMLP(3))
//   Ex12              3-16 ReLU 16-2 L2Normalize | 2-16 ReLU 16-3 Sigmoid         197 parameters
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

// Every model here is one shape: an MLP encoder 3 -> hidden, act, (depth - 1) x [hidden ->
// hidden, act], hidden -> k, optionally L2-normalized (z / (||z|| + 1e-8)); a mirrored decoder
// k -> hidden ... hidden -> 3; then the output: a sigmoid, a clamp to [0, 1] in evaluation only
// (the identity in training), or nothing.
struct MlpSpec {
  enum class Activation { GELU, ReLU };
  enum class Output { Sigmoid, ClampInEval, Identity };
  int bottleneck = 4, hidden = 16, depth = 1;
  Activation activation = Activation::GELU;
  bool normalize = false;
  Output output = Output::Sigmoid;

  // "ColorMLP(k)", "Ex12" or "CNColorMLP(k,N)" for the published families, otherwise
  // "MLP(k=5,hidden=32,depth=2,relu,normalize,sigmoid)"; make_model rebuilds it from that.
  std::string name() const;
  static MlpSpec color_mlp(int k) { return {k, 16, 1, Activation::GELU, false, Output::Sigmoid}; }
  static MlpSpec ex12() { return {2, 16, 1, Activation::ReLU, true, Output::Sigmoid}; }
  static MlpSpec cn_color_mlp(int k, int depth) { return {k, 16, depth, Activation::GELU, true, Output::ClampInEval}; }
};

namespace detail {

template <class T, class Act>
void add_mlp(Sequential<T>& seq, Tape<T>& tape, int in, int out, const MlpSpec& spec, Rng& rng) {
  seq.template emplace<Linear<T>>(tape, in, spec.hidden, rng);
  seq.template emplace<Act>();
  for (int i = 1; i < spec.depth; ++i) {
    seq.template emplace<Linear<T>>(tape, spec.hidden, spec.hidden, rng);
    seq.template emplace<Act>();
  }
  seq.template emplace<Linear<T>>(tape, spec.hidden, out, rng);
}

template <class T, class Act>
Autoencoder<T> mlp_autoencoder(Tape<T>& tape, const MlpSpec& spec, Rng& rng) {
  Autoencoder<T> m;
  m.name = spec.name();
  add_mlp<T, Act>(m.encoder, tape, 3, spec.bottleneck, spec, rng);
  if (spec.normalize) m.encoder.template emplace<L2Normalize<T>>(1e-8);
  add_mlp<T, Act>(m.decoder, tape, spec.bottleneck, 3, spec, rng);
  if (spec.output == MlpSpec::Output::Sigmoid) m.decoder.template emplace<Sigmoid<T>>();
  if (spec.output == MlpSpec::Output::ClampInEval) m.decoder.template emplace<ClampInEval<T>>();
  return m;
}

}  // namespace detail

template <class T>
Autoencoder<T> mlp_autoencoder(Tape<T>& tape, const MlpSpec& spec, Rng& rng) {
  return spec.activation == MlpSpec::Activation::GELU ? detail::mlp_autoencoder<T, GELU<T>>(tape, spec, rng)
                                                       : detail::mlp_autoencoder<T, ReLU<T>>(tape, spec, rng);
}

template <class T>
Autoencoder<T> color_mlp(Tape<T>& tape, int k, Rng& rng) {
  return mlp_autoencoder(tape, MlpSpec::color_mlp(k), rng);
}

template <class T>
Autoencoder<T> ex12_model(Tape<T>& tape, Rng& rng) {
  return mlp_autoencoder(tape, MlpSpec::ex12(), rng);
}

template <class T>
Autoencoder<T> cn_color_mlp(Tape<T>& tape, int k, int hidden_layers, Rng& rng) {
  return mlp_autoencoder(tape, MlpSpec::cn_color_mlp(k, hidden_layers), rng);
}

// The spec a name() stands for ("Ex13", the 3-D model of Ex 1.3, is ColorMLP(3)). Throws
// std::invalid_argument naming the text when it is none of these.
MlpSpec parse_model_name(const std::string& name);

template <class T>
Autoencoder<T> make_model(Tape<T>& tape, const std::string& name, Rng& rng) {
  return mlp_autoencoder(tape, parse_model_name(name), rng);
}

}  // namespace sg
