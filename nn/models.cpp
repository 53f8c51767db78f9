// nn/models.cpp -- a model's name and back (checkpoints store the name).
#include "nn/models.hpp"

#include <cstdio>
#include <stdexcept>

namespace sg {

std::string MlpSpec::name() const {
  const bool gelu = activation == Activation::GELU;
  if (gelu && hidden == 16 && depth == 1 && !normalize && output == Output::Sigmoid)
    return "ColorMLP(" + std::to_string(bottleneck) + ")";
  if (!gelu && bottleneck == 2 && hidden == 16 && depth == 1 && normalize && output == Output::Sigmoid) return "Ex12";
  if (gelu && hidden == 16 && normalize && output == Output::ClampInEval)
    return "CNColorMLP(" + std::to_string(bottleneck) + "," + std::to_string(depth) + ")";
  const char* out = output == Output::Sigmoid ? "sigmoid" : output == Output::ClampInEval ? "clamp" : "identity";
  return "MLP(k=" + std::to_string(bottleneck) + ",hidden=" + std::to_string(hidden) + ",depth=" +
         std::to_string(depth) + "," + (gelu ? "gelu" : "relu") + "," + (normalize ? "normalize" : "raw") + "," + out + ")";
}

MlpSpec parse_model_name(const std::string& name) {
  int k = 0, n = 0, hidden = 0, used = 0;
  const char* s = name.c_str();
  const auto whole = [&] { return used == int(name.size()); };
  if (name == "Ex12") return MlpSpec::ex12();
  if (name == "Ex13") return MlpSpec::color_mlp(3);
  if (std::sscanf(s, "ColorMLP(%d)%n", &k, &used) == 1 && whole() && k > 0) return MlpSpec::color_mlp(k);
  if (std::sscanf(s, "CNColorMLP(%d,%d)%n", &k, &n, &used) == 2 && whole() && k > 0 && n > 0)
    return MlpSpec::cn_color_mlp(k, n);
  char act[9] = {}, norm[10] = {}, out[9] = {};
  if (std::sscanf(s, "MLP(k=%d,hidden=%d,depth=%d,%8[a-z],%9[a-z],%8[a-z])%n", &k, &hidden, &n, act, norm, out, &used) == 6 &&
      whole() && k > 0 && hidden > 0 && n > 0) {
    const std::string a = act, z = norm, o = out;
    if ((a == "gelu" || a == "relu") && (z == "normalize" || z == "raw") &&
        (o == "sigmoid" || o == "clamp" || o == "identity"))
      return {k, hidden, n, a == "gelu" ? MlpSpec::Activation::GELU : MlpSpec::Activation::ReLU, z == "normalize",
              o == "sigmoid" ? MlpSpec::Output::Sigmoid
                             : o == "clamp" ? MlpSpec::Output::ClampInEval : MlpSpec::Output::Identity};
  }
  throw std::invalid_argument("unknown model '" + name +
                              "' (expected ColorMLP(k), Ex12, Ex13, CNColorMLP(k,N) or MLP(k=..,hidden=..,depth=..,"
                              "gelu|relu,normalize|raw,sigmoid|clamp|identity))");
}

}  // namespace sg
