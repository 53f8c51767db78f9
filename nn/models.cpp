// nn/models.cpp -- building a model from its name (checkpoints store the name).
#include "nn/models.hpp"

#include <cstdio>
#include <stdexcept>

namespace sg {

template <class T>
Autoencoder<T> make_model(Tape<T>& tape, const std::string& name, Rng& rng) {
  int k = 0, n = 0, used = 0;
  const char* s = name.c_str();
  if (name == "Ex12") return ex12_model(tape, rng);
  if (name == "Ex13") return ex13_model(tape, rng);
  if (std::sscanf(s, "ColorMLP(%d)%n", &k, &used) == 1 && used == int(name.size()) && k > 0)
    return color_mlp(tape, k, rng);
  if (std::sscanf(s, "CNColorMLP(%d,%d)%n", &k, &n, &used) == 2 && used == int(name.size()) && k > 0 &&
      n > 0)
    return cn_color_mlp(tape, k, n, rng);
  throw std::invalid_argument("unknown model '" + name +
                              "' (expected ColorMLP(k), Ex12, Ex13 or CNColorMLP(k,N))");
}

template Autoencoder<float> make_model(Tape<float>&, const std::string&, Rng&);
template Autoencoder<double> make_model(Tape<double>&, const std::string&, Rng&);

}  // namespace sg
