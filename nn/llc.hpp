// nn/llc.hpp -- the local learning coefficient (LLC) of trained weights, estimated by SGLD.
//
// What it measures. Near a local minimum w* of a loss L, the volume of the set of weights whose
// loss is within t of L(w*) shrinks like t^lambda as t -> 0 (up to a power of log t). lambda is
// the local learning coefficient: d/2 for a regular model with d parameters, less when the
// minimum is degenerate (flat directions, or directions in which the loss rises only at fourth
// or higher order). Singular learning theory reads it as the model's effective complexity.
//
// How it is estimated (Lau, Furman, Wang, Murfet & Wei, "The local learning coefficient: a
// singularity-aware complexity measure", 2023).
// Sample the tempered posterior localized at w*,
//     p(w)  proportional to  exp(-U(w)),   U(w) = nβ L(w) + γ/2 |w - w*|^2 + λ_wd/2 |w|^2,
// and read off
//     LLC = nβ (E_p[L(w)] - L(w*)).
// nβ is the number of samples times the inverse temperature (the default n / ln n is the WBIC
// temperature), γ the localization (keeps the chain near w*), λ_wd an optional weight decay.
//
// The sampler is stochastic-gradient Langevin dynamics (Welling & Teh 2011): on the mean loss
// L_B of a fresh minibatch B at every step,
//     w  <-  w - (ε/2) (nβ ∇L_B(w) + γ (w - w*) + λ_wd w) + sqrt(ε) ξ,    ξ ~ N(0, I).
// Each chain starts at w*, runs `burn_in` steps whose losses it records but does not use, then
// `draws` steps whose mean loss gives that chain's estimate. The reported LLC is the mean over
// chains, with the standard deviation over chains as its spread.
//
// Step-size diagnostic. Langevin steps of finite ε sample a slightly wrong distribution. The
// Metropolis-adjusted Langevin (MALA) acceptance probability of each draw step,
//     a = min(1, exp(U(w) - U(w') + (|w' - w + (ε/2)∇U(w)|^2 - |w - w' + (ε/2)∇U(w')|^2) / (2ε))),
// tends to 1 as ε -> 0; its mean over the draws says how far off ε is (below 0.9 is a
// warning; small models should reach 0.97 -- docs/llc.md). Both ends of a step are evaluated on
// the step's own minibatch, so minibatch noise does not count as discretization error.
//
// Contract:
// - The model comes as a factory that builds it on a given tape: its parameters (leaves that
//   require a gradient, holding w*) and the loss of a minibatch drawn from a given stream. Each
//   chain calls the factory once, on its own tape, possibly on several threads at the same time:
//   a factory may only read shared data.
// - Randomness: chain c draws its noise from Rng(seed, sgld_stream(c, Noise)) and its minibatches
//   from Rng(seed, sgld_stream(c, Batches)). Chains run on `threads` OpenMP threads, each on its
//   own tape; the result is bitwise the same at any thread count.
// - A non-finite loss stops the estimate with std::runtime_error naming the chain and step (the
//   usual cause: ε too large for nβ). Questionable settings and results become warnings.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autodiff/tensor.hpp"
#include "nn/random.hpp"

namespace sg::llc {

// What a model contributes to the sampler, built on one chain's tape.
template <class T>
struct Target {
  std::vector<Tensor<T>> params;                   // leaves with requires_grad, holding w*
  std::function<Tensor<T>(Rng& batch)> batch_loss;  // mean loss of a minibatch drawn from `batch`
  // The loss over the whole training distribution (the expectation of batch_loss), used for
  // L(w*). Leave it empty when batch_loss already is the full-batch loss.
  std::function<Tensor<T>()> full_loss;
};
template <class T>
using TargetFactory = std::function<Target<T>(Tape<T>&)>;

struct Options {
  int chains = 10;
  int draws = 100;
  int burn_in = 100;
  double eps = 1e-4;           // step size ε
  double gamma = 100;          // localization γ
  double nbeta = 0;            // nβ; must be > 0 (default_nbeta(n) = n / ln n)
  double weight_decay = 0;     // λ_wd
  std::uint64_t seed = 0;
  int threads = 1;             // chains in parallel; results do not depend on it
  std::function<void()> on_chain_done = nullptr;  // called as each chain ends, one call at a time (progress)
};

// n / ln n: the inverse temperature of WBIC, times the number of samples n (> 1).
double default_nbeta(double n);

// Stream ids of chain c: the SGLD stream id in the upper 32 bits, then the chain, then which
// of its two streams. They never meet the small ids of the other streams (nn/random.hpp).
enum class ChainStream : std::uint64_t { Noise = 0, Batches = 1 };
inline std::uint64_t sgld_stream(int chain, ChainStream which) {
  return (static_cast<std::uint64_t>(Stream::Sgld) << 32) | (std::uint64_t(chain) << 1) |
         static_cast<std::uint64_t>(which);
}

struct Chain {
  std::vector<double> loss;        // L_B(w_t) at every step, burn-in first, taken before the step
  std::vector<double> acceptance;  // MALA acceptance of each draw step (draws entries)
  double llc = 0;                  // nβ (mean of the draws' losses - L(w*))
  double mean_acceptance = 0;
};

struct Estimate {
  double nbeta = 0, eps = 0, gamma = 0;
  int burn_in = 0, draws = 0;
  double init_loss = 0;        // L(w*)
  double llc_mean = 0;         // over chains
  double llc_std = 0;          // sample standard deviation over chains (0 for one chain)
  double mean_acceptance = 0;  // over chains and draws
  std::vector<Chain> chains;
  std::vector<std::string> warnings;

  // nβ (L_B(w_t) - L(w*)) of one chain at every step (burn-in first): the per-draw trace.
  std::vector<double> llc_trace(int chain) const;
};

// Runs the chains; throws std::invalid_argument on bad options, std::runtime_error on a
// non-finite loss.
template <class T>
Estimate estimate(const TargetFactory<T>& factory, const Options& options);

// The LLC at each nβ of `nbetas` (the tempering spectrum). Every point uses the same seed, so
// the same noise and minibatches: differences between points come from nβ, not from chance.
// ε stays fixed; it must be stable at the largest nβ (each point's MALA acceptance says so).
template <class T>
std::vector<Estimate> sweep(const TargetFactory<T>& factory, const Options& options,
                            const std::vector<double>& nbetas);

// count values from lo to hi (both included, lo, hi > 0) evenly spaced on a log scale.
std::vector<double> log_space(double lo, double hi, int count);

// The learning coefficient of reduced-rank regression, y = B A x with A (H x M), B (N x H), at a
// true parameter of rank r (Aoyagi & Watanabe 2005, "Stochastic complexities of reduced rank
// regression in Bayesian estimation", Neural Networks 18(7), Theorem 1). M inputs, N outputs,
// H the inner width, 0 <= r <= H. `multiplicity` (optional) gets the order m of the pole
// (2 only in case 1 with M + H + N + r odd; the free energy then carries a (m - 1) log log n term).
double rrr_learning_coefficient(int M, int H, int N, int r, int* multiplicity = nullptr);

}  // namespace sg::llc
