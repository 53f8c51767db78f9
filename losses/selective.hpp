// losses/selective.hpp -- selective (per-sample) weighting, docs/research.md, "Labels".
//
// Contract:
// - A regularizer may carry label affinities {label: strength}. For each sample,
//   alpha_i = clamp(sum over labels of label_i * strength, 0, 1).
// - The term is sum_i alpha_i l_i / (sum_i alpha_i + 1e-8): a mean over the selected samples
//   only, so one red sample in a batch is pulled with (almost exactly) full weight.
// - When no sample is selected (every alpha_i = 0) the term is skipped: the result is an empty
//   std::optional, and the caller adds nothing -- not a zero that would still be recorded.
// - Without affinities the term is a plain mean over the batch (never skipped).
// - An affinity that names a label the batch does not carry is an error, never a silent zero.
// - Batch-level terms (uniformity) are not reduced here: they take no affinities.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"

namespace sg::loss {

// The labels of one batch: for each label name, one value per sample (1 = carries the label,
// 0 = does not; values in between weigh in proportionally).
using Labels = std::map<std::string, std::vector<double>, std::less<>>;
// A regularizer's label affinities: {label name: strength}. Empty = applies to every sample.
using Affinities = std::map<std::string, double, std::less<>>;

// The added epsilon of the weighted mean's denominator.
inline constexpr double kSelectiveEps = 1e-8;
// The most affinities one term may have (so that weighting a batch never allocates).
inline constexpr std::size_t kMaxAffinities = 32;

// alpha as a (B,1) constant on `tape`; empty affinities select every sample (alpha_i = 1). With
// `scale` (B values, e.g. a curriculum's per-sample focus), alpha_i is multiplied by scale_i
// (in double, before rounding to T). Throws std::invalid_argument when an affinity names a
// label missing from `labels`, when a label's length is not `batch`, or for more than
// kMaxAffinities affinities.
template <class T>
Tensor<T> selection_weights(Tape<T>& tape, const Affinities& affinities, const Labels& labels, int batch,
                            const double* scale = nullptr);

// sum_i alpha_i l_i / (sum_i alpha_i + 1e-8) as (1,1); empty when every alpha_i is 0.
// per_sample and alpha are (B,1); alpha is a constant (no gradient flows into it).
template <class T>
std::optional<Tensor<T>> weighted_mean(Tensor<T> per_sample, Tensor<T> alpha);

// The whole rule: a plain mean without affinities, otherwise weighted_mean over the alphas of
// `labels`; empty when skipped.
template <class T>
std::optional<Tensor<T>> selective(Tensor<T> per_sample, const Affinities& affinities, const Labels& labels);

}  // namespace sg::loss
