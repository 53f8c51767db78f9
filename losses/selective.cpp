// losses/selective.cpp -- label affinities -> alpha, and the weighted reduction.
#include "losses/selective.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace sg::loss {
namespace {

template <class T>
void check_column(const char* what, Tensor<T> t, int batch) {
  if (t.rows() != batch || t.cols() != 1)
    throw ShapeError(std::string("weighted_mean: ") + what + " must be (" + std::to_string(batch) +
                     ",1), got (" + std::to_string(t.rows()) + "," + std::to_string(t.cols()) + ")");
}

}  // namespace

template <class T>
Tensor<T> selection_weights(Tape<T>& tape, const Affinities& affinities, const Labels& labels, int batch,
                            const double* scale) {
  // Validate every name before writing anything, so that the error names the first bad one;
  // each label's values are looked up once, not once per sample.
  if (affinities.size() > kMaxAffinities)
    throw std::invalid_argument("selective weighting: " + std::to_string(affinities.size()) + " affinities (at most " +
                                std::to_string(kMaxAffinities) + ")");
  std::array<std::pair<const double*, double>, kMaxAffinities> terms;
  std::size_t n = 0;
  for (const auto& [name, strength] : affinities) {
    const auto it = labels.find(name);
    if (it == labels.end())
      throw std::invalid_argument("selective weighting: the batch has no label '" + name + "'");
    if (int(it->second.size()) != batch)
      throw std::invalid_argument("selective weighting: label '" + name + "' has " +
                                  std::to_string(it->second.size()) + " values for a batch of " +
                                  std::to_string(batch));
    terms[n++] = {it->second.data(), strength};
  }
  Tensor<T> alpha = tape.tensor(batch, 1);
  for (int i = 0; i < batch; ++i) {
    double a = n == 0 ? 1.0 : 0.0;  // summed in double, labels in name order
    for (std::size_t k = 0; k < n; ++k) a += terms[k].first[i] * terms[k].second;
    a = std::clamp(a, 0.0, 1.0);
    if (scale) a *= scale[i];
    alpha.data()[i] = T(a);
  }
  return alpha;
}

// The normalized weights w_i = alpha_i / (sum alpha + 1e-8) are a constant, so the term is one
// mul and one sum on the tape: d(term)/dl_i = w_i.
template <class T>
std::optional<Tensor<T>> weighted_mean(Tensor<T> per_sample, Tensor<T> alpha) {
  const int B = per_sample.rows();
  check_column("per-sample values", per_sample, B);
  check_column("alpha", alpha, B);
  double total = 0;
  for (int i = 0; i < B; ++i) total += double(alpha.data()[i]);
  if (total == 0) return std::nullopt;  // alpha_i >= 0, so every sample is unselected
  Tensor<T> w = per_sample.tape().tensor(B, 1);
  const double scale = 1.0 / (total + kSelectiveEps);
  for (int i = 0; i < B; ++i) w.data()[i] = T(double(alpha.data()[i]) * scale);
  return sum(per_sample * w);
}

template <class T>
std::optional<Tensor<T>> selective(Tensor<T> per_sample, const Affinities& affinities, const Labels& labels) {
  if (affinities.empty()) return mean(per_sample);
  return weighted_mean(per_sample, selection_weights(per_sample.tape(), affinities, labels, per_sample.rows()));
}

#define SG_INSTANTIATE_SELECTIVE(T)                                                              \
  template Tensor<T> selection_weights(Tape<T>&, const Affinities&, const Labels&, int, const double*); \
  template std::optional<Tensor<T>> weighted_mean(Tensor<T>, Tensor<T>);                         \
  template std::optional<Tensor<T>> selective(Tensor<T>, const Affinities&, const Labels&);

SG_INSTANTIATE_SELECTIVE(float)
SG_INSTANTIATE_SELECTIVE(double)

}  // namespace sg::loss
