// nn/llc.cpp -- the SGLD chains and the LLC estimator (formulas in nn/llc.hpp).
#include "nn/llc.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "autodiff/ops.hpp"

namespace sg::llc {

double default_nbeta(double n) {
  if (!(n > 1)) throw std::invalid_argument("default_nbeta: n must be > 1, got " + std::to_string(n));
  return n / std::log(n);
}

std::vector<double> Estimate::llc_trace(int chain) const {
  std::vector<double> out;
  for (double loss : chains.at(std::size_t(chain)).loss) out.push_back(nbeta * (loss - init_loss));
  return out;
}

std::vector<double> log_space(double lo, double hi, int count) {
  if (!(lo > 0) || !(hi >= lo) || count < 1 || (count == 1 && hi != lo))
    throw std::invalid_argument("log_space: need 0 < lo <= hi and count >= 1 (count 1 only when lo == hi)");
  std::vector<double> out;
  for (int i = 0; i < count; ++i)
    out.push_back(count == 1 ? lo : std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / (count - 1)));
  return out;
}

namespace {

// U and its gradient at the chain's current weights, on one minibatch.
struct Evaluation {
  double loss = 0;           // L_B(w)
  double potential = 0;      // U(w) = nβ L_B(w) + γ/2 |w - w*|^2 + λ_wd/2 |w|^2
  std::vector<double> grad;  // ∇U(w)
};

template <class T>
class ChainRunner {
 public:
  ChainRunner(const TargetFactory<T>& factory, const Options& o, int chain)
      : o_(o), chain_(chain), target_(factory(tape_)),
        noise_(o.seed, sgld_stream(chain, ChainStream::Noise)),
        batches_(o.seed, sgld_stream(chain, ChainStream::Batches)) {
    for (const Tensor<T>& p : target_.params)
      if (!p.requires_grad()) throw std::invalid_argument("llc: every parameter must require a gradient");
    w_star_ = current();
    if (w_star_.empty()) throw std::invalid_argument("llc: the target has no parameters");
    mark_ = tape_.mark();
  }

  // L(w*), on the whole data when the target says how, else on the (full) batch.
  double init_loss() {
    NoGrad<T> no_grad(tape_);
    Rng unused(o_.seed, sgld_stream(chain_, ChainStream::Batches));
    const double v = double((target_.full_loss ? target_.full_loss() : target_.batch_loss(unused)).item());
    tape_.rewind(mark_);
    return v;
  }

  Chain run() {
    Chain c;
    const int steps = o_.burn_in + o_.draws;
    const bool full_batch = !target_.full_loss;
    const double half_eps = 0.5 * o_.eps, noise_scale = std::sqrt(o_.eps);
    std::vector<double> w = current(), w_next(w.size());
    Evaluation e, next;
    bool have_next = false;
    for (int t = 0; t < steps; ++t) {
      const Rng batch_start = batches_;
      if (have_next) std::swap(e, next), have_next = false;  // full batch: already evaluated at w
      else evaluate(batches_, w, e, t);
      c.loss.push_back(e.loss);
      // The Langevin step: w' = w - (ε/2) ∇U(w) + sqrt(ε) ξ.
      for (std::size_t i = 0; i < w.size(); ++i) w_next[i] = w[i] - half_eps * e.grad[i] + noise_scale * noise_.normal();
      store(w_next);
      if (t >= o_.burn_in) {
        // MALA acceptance of the step w -> w', both ends on this step's minibatch.
        Rng replay = batch_start;
        evaluate(replay, w_next, next, t);
        c.acceptance.push_back(mala_acceptance(w, e, w_next, next));
        have_next = full_batch;  // the next step's evaluation would be the same numbers
      }
      std::swap(w, w_next);
    }
    return c;
  }

 private:
  std::vector<double> current() const {
    std::vector<double> w;
    for (const Tensor<T>& p : target_.params)
      for (long i = 0; i < p.size(); ++i) w.push_back(double(p.data()[i]));
    return w;
  }
  // Writes w into the parameters, and rounds w to what they hold (T may be float).
  void store(std::vector<double>& w) {
    std::size_t k = 0;
    for (const Tensor<T>& p : target_.params)
      for (long i = 0; i < p.size(); ++i, ++k) {
        p.data()[i] = T(w[k]);
        w[k] = double(p.data()[i]);
      }
  }

  // Forward and backward of one minibatch at w (the parameters' current values).
  void evaluate(Rng& batch, const std::vector<double>& w, Evaluation& e, int step) {
    for (const Tensor<T>& p : target_.params) p.grad().setZero();
    const Tensor<T> loss = target_.batch_loss(batch);
    e.loss = double(loss.item());
    if (!std::isfinite(e.loss))
      throw std::runtime_error("llc: non-finite loss (" + std::to_string(e.loss) + ") in chain " +
                               std::to_string(chain_) + " at step " + std::to_string(step) +
                               " -- the step size eps is probably too large for nbeta");
    tape_.backward(loss);
    e.grad.resize(w.size());
    double localization = 0, decay = 0;
    std::size_t k = 0;
    for (const Tensor<T>& p : target_.params) {
      const T* g = p.grad().data();
      for (long i = 0; i < p.size(); ++i, ++k) {
        const double d = w[k] - w_star_[k];
        localization += d * d;
        decay += w[k] * w[k];
        e.grad[k] = o_.nbeta * double(g[i]) + o_.gamma * d + o_.weight_decay * w[k];
      }
    }
    e.potential = o_.nbeta * e.loss + 0.5 * o_.gamma * localization + 0.5 * o_.weight_decay * decay;
    tape_.rewind(mark_);
  }

  // min(1, p(w') q(w | w') / (p(w) q(w' | w))) with q(b | a) = N(b; a - (ε/2)∇U(a), ε I).
  double mala_acceptance(const std::vector<double>& w, const Evaluation& e, const std::vector<double>& w2,
                         const Evaluation& e2) const {
    double forward = 0, backward = 0;  // |w' - w + (ε/2)∇U(w)|^2 and |w - w' + (ε/2)∇U(w')|^2
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double f = w2[i] - w[i] + 0.5 * o_.eps * e.grad[i];
      const double b = w[i] - w2[i] + 0.5 * o_.eps * e2.grad[i];
      forward += f * f;
      backward += b * b;
    }
    const double log_ratio = e.potential - e2.potential + (forward - backward) / (2 * o_.eps);
    return log_ratio >= 0 ? 1.0 : std::exp(log_ratio);
  }

  const Options& o_;
  const int chain_;
  Tape<T> tape_;
  Target<T> target_;
  Rng noise_, batches_;
  std::vector<double> w_star_;
  typename Tape<T>::Mark mark_{};
};

void check(const Options& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("llc: " + what); };
  if (o.chains < 1) fail("chains must be >= 1");
  if (o.draws < 1) fail("draws must be >= 1");
  if (o.burn_in < 0) fail("burn-in must be >= 0");
  if (!(o.eps > 0) || !std::isfinite(o.eps)) fail("eps must be > 0");
  if (!(o.gamma >= 0) || !std::isfinite(o.gamma)) fail("gamma must be >= 0");
  if (!(o.nbeta > 0) || !std::isfinite(o.nbeta)) fail("nbeta must be > 0");
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay)) fail("weight decay must be >= 0");
  if (o.threads < 1) fail("threads must be >= 1");
}

double mean_of(const std::vector<double>& v, std::size_t from = 0) {
  double s = 0;
  for (std::size_t i = from; i < v.size(); ++i) s += v[i];
  return s / double(v.size() - from);
}

}  // namespace

template <class T>
Estimate estimate(const TargetFactory<T>& factory, const Options& o) {
  check(o);
  Estimate r;
  r.nbeta = o.nbeta;
  r.eps = o.eps;
  r.gamma = o.gamma;
  r.burn_in = o.burn_in;
  r.draws = o.draws;
  r.chains.resize(std::size_t(o.chains));
  std::vector<double> init(std::size_t(o.chains));
  std::vector<std::exception_ptr> errors(std::size_t(o.chains));
  // One chain per iteration, each on its own tape with its own streams. Kernels inside a chain
  // run on the chain's thread (nested regions are inactive), in the same order at any count.
#pragma omp parallel for schedule(dynamic, 1) num_threads(o.threads) if (o.threads > 1 && o.chains > 1)
  for (int c = 0; c < o.chains; ++c) {
    try {
      ChainRunner<T> runner(factory, o, c);
      init[std::size_t(c)] = runner.init_loss();
      r.chains[std::size_t(c)] = runner.run();
    } catch (...) {
      errors[std::size_t(c)] = std::current_exception();
    }
    if (o.on_chain_done) {
#pragma omp critical(sg_llc_progress)
      o.on_chain_done();
    }
  }
  for (const std::exception_ptr& e : errors)  // the first failing chain by index, whatever the timing
    if (e) std::rethrow_exception(e);

  r.init_loss = init[0];
  std::vector<double> per_chain;
  double acceptance = 0;
  for (Chain& c : r.chains) {
    c.llc = o.nbeta * (mean_of(c.loss, std::size_t(o.burn_in)) - r.init_loss);
    c.mean_acceptance = mean_of(c.acceptance);
    per_chain.push_back(c.llc);
    acceptance += c.mean_acceptance;
  }
  r.llc_mean = mean_of(per_chain);
  double ss = 0;
  for (double v : per_chain) ss += (v - r.llc_mean) * (v - r.llc_mean);
  r.llc_std = o.chains > 1 ? std::sqrt(ss / (o.chains - 1)) : 0.0;
  r.mean_acceptance = acceptance / o.chains;

  if (o.burn_in < o.draws)
    r.warnings.push_back("burn-in (" + std::to_string(o.burn_in) + " steps) is shorter than the draws (" +
                         std::to_string(o.draws) + "): the first draws may still be drifting away from w*");
  if (r.mean_acceptance < 0.9)
    r.warnings.push_back("mean MALA acceptance " + std::to_string(r.mean_acceptance) +
                         " is below 0.9: the step size eps is too large for this nbeta (try a smaller eps)");
  if (r.llc_mean < 0)
    r.warnings.push_back("the estimate is negative: the chains found lower loss than L(w*), so w* is not a "
                         "local minimum of this loss at this temperature (read the trace)");
  return r;
}

template <class T>
std::vector<Estimate> sweep(const TargetFactory<T>& factory, const Options& options, const std::vector<double>& nbetas) {
  std::vector<Estimate> out;
  for (double nbeta : nbetas) {
    Options o = options;
    o.nbeta = nbeta;
    out.push_back(estimate(factory, o));
  }
  return out;
}

double rrr_learning_coefficient(int M, int H, int N, int r, int* multiplicity) {
  if (M < 1 || H < 1 || N < 1 || r < 0 || r > std::min({M, H, N}))
    throw std::invalid_argument("rrr_learning_coefficient: need M, H, N >= 1 and 0 <= r <= min(M, H, N)");
  int m = 1;
  double lambda;
  if (M + H < N + r) {
    lambda = (H * M - H * r + N * r) / 2.0;
  } else if (N + H < M + r) {
    lambda = (H * N - H * r + M * r) / 2.0;
  } else if (M + N < H + r) {
    lambda = M * N / 2.0;
  } else {  // N + r <= M + H, M + r <= N + H, H + r <= M + N
    const int odd = (M + H + N + r) % 2;
    lambda = (2.0 * (H + r) * (M + N) - double(M - N) * (M - N) - double(H + r) * (H + r) + odd) / 8.0;
    m = odd ? 2 : 1;
  }
  if (multiplicity) *multiplicity = m;
  return lambda;
}

template Estimate estimate(const TargetFactory<float>&, const Options&);
template Estimate estimate(const TargetFactory<double>&, const Options&);
template std::vector<Estimate> sweep(const TargetFactory<float>&, const Options&, const std::vector<double>&);
template std::vector<Estimate> sweep(const TargetFactory<double>&, const Options&, const std::vector<double>&);

}  // namespace sg::llc
