// Tests of nn/llc: the SGLD sampler against the exact stationary law of its discretization, the
// LLC estimator against known learning coefficients (one-parameter polynomial families and
// reduced-rank regression), determinism across thread counts, warnings and errors, and the
// `spheregrad llc` command on a trained color model.
//
// Tolerances. An SGLD estimate differs from the true LLC by (a) Monte-Carlo error, measured here
// as the spread over chains; (b) the discretization bias of a finite step eps (tested exactly in
// the quadratic case); (c) finite-nβ and localization effects: the sampled posterior is
// exp(-nβ L - γ/2 |w|^2) at n = 1000, not the n -> infinity limit. Each test states its
// numbers; each also checks that a wrong answer (the LLC of a doubled power, or d/2) lies
// outside its band, so that the band can fail.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "examples/cli/cmd_llc.hpp"
#include "examples/cli/cli.hpp"
#include "examples/experiment/train.hpp"
#include "nn/llc.hpp"

using namespace sg;
namespace fs = std::filesystem;

namespace {

// ------------------------------------------------------------------ toy models

// Data of the polynomial models: x ~ N(0, 2^2), y ~ 0.25 N(0, 1) independent of x, n = 1000.
// The truth is f = 0, so w* = 0 is a true parameter.
struct PolyData {
  Matrix<double> x, y;
};
std::shared_ptr<const PolyData> poly_data() {
  const int n = 1000;
  Rng rng(0, Stream::Misc);
  auto d = std::make_shared<PolyData>(PolyData{Matrix<double>(n, 1), Matrix<double>(n, 1)});
  for (int i = 0; i < n; ++i) {
    d->x(i, 0) = 2.0 * rng.normal();
    d->y(i, 0) = 0.25 * rng.normal();
  }
  return d;
}

// f(x) = x * prod_i w_i^p_i at w* = 0; loss = full-batch MSE. True LLC: 1 / (2 max_i p_i).
llc::TargetFactory<double> polynomial(std::vector<int> powers, std::shared_ptr<const PolyData> data) {
  return [powers, data](Tape<double>& tape) {
    const Tensor<double> w = tape.tensor(1, int(powers.size()), true), x = tape.tensor(data->x),
                         y = tape.tensor(data->y);
    llc::Target<double> t;
    t.params = {w};
    t.batch_loss = [powers, w, x, y](Rng&) {
      Tensor<double> f = x;
      for (int i = 0; i < int(powers.size()); ++i)  // a power 0 is the constant 1
        if (powers[i] > 0) f = f * pow(slice_cols(w, i, 1), double(powers[i]));
      return mean(pow(f - y, 2.0));
    };
    return t;
  };
}

// Reduced-rank regression y = x A^T B^T + 0.5 N(0, I), x ~ N(0, I_M), n = 1000, at a true
// parameter of rank r: the first r inner units random, the others zero (in and out) -- the most
// singular points of the true set, where the local coefficient is Aoyagi & Watanabe's global one.
struct RrrData {
  Matrix<double> x, y, A, B;
};
std::shared_ptr<const RrrData> rrr_data(int M, int H, int N, int r) {
  const int n = 1000;
  Rng rng(1, Stream::Misc);
  auto d = std::make_shared<RrrData>(
      RrrData{Matrix<double>(n, M), Matrix<double>(n, N), Matrix<double>::Zero(H, M), Matrix<double>::Zero(N, H)});
  for (int h = 0; h < r; ++h) {
    for (int m = 0; m < M; ++m) d->A(h, m) = rng.normal();
    for (int k = 0; k < N; ++k) d->B(k, h) = rng.normal();
  }
  for (int i = 0; i < n; ++i)
    for (int m = 0; m < M; ++m) d->x(i, m) = rng.normal();
  d->y = d->x * d->A.transpose() * d->B.transpose();
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < N; ++k) d->y(i, k) += 0.5 * rng.normal();
  return d;
}

// Full batch, or minibatches of `batch` rows drawn with replacement from the chain's stream.
llc::TargetFactory<double> rrr(std::shared_ptr<const RrrData> data, int batch = 0) {
  return [data, batch](Tape<double>& tape) {
    const Tensor<double> A = tape.tensor(data->A, true), B = tape.tensor(data->B, true);
    const Tensor<double> x = tape.tensor(data->x), y = tape.tensor(data->y);
    auto loss = [A, B](Tensor<double> xs, Tensor<double> ys) {
      return mean(pow(matmul(matmul(xs, A, false, true), B, false, true) - ys, 2.0));
    };
    llc::Target<double> t;
    t.params = {A, B};
    if (batch == 0) {
      t.batch_loss = [loss, x, y](Rng&) { return loss(x, y); };
    } else {
      auto index = std::make_shared<std::vector<int>>(batch);
      t.batch_loss = [loss, x, y, index](Rng& rng) {
        for (int& i : *index) i = int(rng.below(std::uint64_t(x.rows())));
        return loss(gather_rows(x, index->data(), int(index->size())), gather_rows(y, index->data(), int(index->size())));
      };
      t.full_loss = [loss, x, y] { return loss(x, y); };
    }
    return t;
  };
}

llc::Options toy_options(int chains, int burn_in, int draws, double eps, double gamma) {
  llc::Options o;
  o.chains = chains;
  o.burn_in = burn_in;
  o.draws = draws;
  o.eps = eps;
  o.gamma = gamma;
  o.nbeta = llc::default_nbeta(1000);
  o.threads = 2;
  return o;
}

// |value / target - 1|: relative error (doctest::Approx adds an absolute slack of about its
// epsilon, too loose for values below 1).
double rel_error(double value, double target) { return std::fabs(value / target - 1); }

bool same_bits(const llc::Estimate& a, const llc::Estimate& b) {
  if (a.chains.size() != b.chains.size()) return false;
  for (std::size_t c = 0; c < a.chains.size(); ++c)
    if (a.chains[c].loss != b.chains[c].loss || a.chains[c].acceptance != b.chains[c].acceptance) return false;
  return a.llc_mean == b.llc_mean && a.init_loss == b.init_loss;
}

std::string estimate_error(const llc::TargetFactory<double>& f, const llc::Options& o) {
  try {
    llc::estimate(f, o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

// `spheregrad llc` in-process, with stderr silenced (its messages are for a terminal).
int run_llc_command(std::vector<std::string> args) {
  args.insert(args.begin(), "spheregrad");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::fflush(stderr);
  const int saved = dup(2), null = open("/dev/null", O_WRONLY);
  dup2(null, 2);
  close(null);
  const int rc = cli::run_program(int(argv.size()), argv.data());
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  return rc;
}

fs::path temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "spheregrad-test-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

}  // namespace

// ------------------------------------------------------------------ the sampler itself

TEST_CASE("llc: on a quadratic loss, SGLD matches the exact stationary law of its discretization") {
  // f = x w_2 (powers [0, 1]) makes nβ L + γ/2 w_2^2 = k/2 (w_2 - m)^2 + const with
  // k = 2 nβ Sxx + γ, m = 2 nβ Sxy / k. Langevin steps of size ε keep the mean m but have the
  // stationary variance v = 1 / (k (1 - εk/4)), not 1/k; then LLC = nβ (Sxx (v + m^2) - 2 Sxy m).
  // At ε = 1e-3 that is 0.70 against 0.50 for ε -> 0, so a wrong factor in the drift or the
  // noise shows. Over 4 seeds, 8 chains of 8000 draws gave 0.691 .. 0.712 (sd 1.4 %). Band 5 %.
  const auto data = poly_data();
  const double Sxx = data->x.array().square().mean(), Sxy = (data->x.array() * data->y.array()).mean();
  const llc::TargetFactory<double> f = polynomial({0, 1}, data);
  const llc::Options o = toy_options(8, 1000, 8000, 1e-3, 1.0);
  const double k = 2 * o.nbeta * Sxx + o.gamma, m = 2 * o.nbeta * Sxy / k;
  auto llc_at = [&](double v) { return o.nbeta * (Sxx * (v + m * m) - 2 * Sxy * m); };
  const double exact = llc_at(1 / (k * (1 - o.eps * k / 4))), continuous = llc_at(1 / k);
  CHECK(rel_error(exact, 0.70) <= 0.01);
  CHECK(rel_error(continuous, 0.497) <= 0.01);
  const llc::Estimate e = llc::estimate(f, o);
  CHECK(e.llc_std / std::sqrt(8.0) < 0.015 * exact);
  CHECK(rel_error(e.llc_mean, exact) <= 0.05);
  CHECK(rel_error(e.llc_mean, continuous) > 0.2);
  CHECK(e.init_loss == doctest::Approx(data->y.array().square().mean()).epsilon(1e-12));
  // The MALA acceptance sees the step-size error: clearly below 1 at 1e-3, near 1 at 1e-4.
  CHECK(e.mean_acceptance < 0.95);
  CHECK(llc::estimate(f, toy_options(2, 500, 500, 1e-4, 1.0)).mean_acceptance > 0.99);
}

// ------------------------------------------------------------------ known learning coefficients

TEST_CASE("llc: polynomial f = x w2 (powers [0, 1]) has LLC 1/2") {
  // γ = 1 and ε = 1e-4: the localized answer at n = 1000 is 0.497 (a Gaussian integral), the
  // discretization adds 3 % (previous test): 0.512. Spread of the mean over 8 chains of 10000
  // draws: about 2.5 %. Band 10 %.
  const llc::Estimate e = llc::estimate(polynomial({0, 1}, poly_data()), toy_options(8, 1000, 10000, 1e-4, 1.0));
  CHECK(rel_error(e.llc_mean, 0.5) <= 0.10);
  CHECK(rel_error(e.llc_mean, 0.25) > 0.10);  // the answer of the doubled power [0, 2]
}

TEST_CASE("llc: polynomial f = x w1 w2^2 (powers [1, 2]) has LLC 1/4") {
  // The truly singular case: K ~ w1^2 w2^4, normal crossing, lambda = min(1/2, 1/4) with
  // multiplicity 1. The localized posterior at γ = 1, n = 1000 has E = 0.220 (quadrature; the
  // remaining gap to 1/4 shrinks like (nβ / γ^3)^(-1/4)); ε = 1e-3 (MALA acceptance 0.99) adds a
  // few percent. Over 8 seeds the estimate ranged 0.215 .. 0.254 (mean 0.236, sd 0.012). Band 20 %:
  // 1/8 (the doubled powers [2, 4]) and 1/2 (powers [1, 1]) both lie outside it.
  const llc::Estimate e = llc::estimate(polynomial({1, 2}, poly_data()), toy_options(8, 2000, 8000, 1e-3, 1.0));
  CHECK(rel_error(e.llc_mean, 0.25) <= 0.20);
  CHECK(rel_error(e.llc_mean, 0.125) > 0.20);
  CHECK(rel_error(e.llc_mean, 0.5) > 0.20);
  CHECK(e.mean_acceptance > 0.98);
}

TEST_CASE("llc: Aoyagi & Watanabe's learning coefficient of reduced-rank regression, case by case") {
  int m = 0;
  CHECK(llc::rrr_learning_coefficient(3, 3, 3, 1, &m) == 4.0);  // case 1, M+H+N+r even
  CHECK(m == 1);
  CHECK(llc::rrr_learning_coefficient(5, 3, 5, 0, &m) == 6.5);  // case 1, odd: (60 - 0 - 9 + 1) / 8
  CHECK(m == 2);
  CHECK(llc::rrr_learning_coefficient(4, 3, 8, 0) == 6.0);  // case 2, M + H < N + r: HM / 2
  CHECK(llc::rrr_learning_coefficient(6, 2, 3, 1) == 5.0);  // case 3, N + H < M + r: (HN - Hr + Mr) / 2
  CHECK(llc::rrr_learning_coefficient(3, 8, 4, 0) == 6.0);  // case 4, M + N < H + r: MN / 2
  // Full rank (H = r) is regular up to the GL(H) symmetry: H (M + N - H) / 2 parameters' worth.
  CHECK(llc::rrr_learning_coefficient(3, 2, 5, 2) == 6.0);
  CHECK(llc::rrr_learning_coefficient(4, 4, 4, 4) == 8.0);
  CHECK_THROWS_AS(llc::rrr_learning_coefficient(3, 2, 3, 3), std::invalid_argument);
}

TEST_CASE("llc: reduced-rank regression lands on Aoyagi & Watanabe's coefficient") {
  // n = 1000, noise sd 0.5, γ = 1, ε = 3e-4. Measured 3.96 for lambda = 4 and 5.18 for lambda = 5
  // (d/2 = 9 for both); spread of the mean 3.7 % and 1.3 %. Band 15 %. (Larger noise shifts the
  // estimate down by about 2 lambda sigma^2 / (N ln n): the chains slide from the true w*
  // toward the empirical minimum.)
  struct Config {
    int M, H, N, r;
  };
  for (const Config c : {Config{3, 3, 3, 1}, Config{6, 2, 3, 1}}) {
    CAPTURE(c.M);
    const double lambda = llc::rrr_learning_coefficient(c.M, c.H, c.N, c.r);
    const llc::Estimate e = llc::estimate(rrr(rrr_data(c.M, c.H, c.N, c.r)), toy_options(8, 2000, 3000, 3e-4, 1.0));
    CHECK(rel_error(e.llc_mean, lambda) <= 0.15);
    CHECK(rel_error(e.llc_mean, c.H * (c.M + c.N) / 2.0) > 0.15);  // d/2, the regular count
    CHECK(e.mean_acceptance > 0.9);
  }
}

// ------------------------------------------------------------------ determinism, warnings, errors

TEST_CASE("llc: bitwise identical at 1 and 2 threads; chains differ; the seed matters") {
  const llc::TargetFactory<double> f = rrr(rrr_data(3, 3, 3, 1), 32);  // minibatches: the batch streams too
  llc::Options o = toy_options(4, 50, 50, 3e-4, 1.0);
  o.threads = 1;
  const llc::Estimate one = llc::estimate(f, o);
  o.threads = 2;
  const llc::Estimate two = llc::estimate(f, o);
  CHECK(same_bits(one, two));
  CHECK(one.chains[0].loss != one.chains[1].loss);
  o.seed = 1;
  CHECK(!same_bits(one, llc::estimate(f, o)));
  // The streams: two per chain, disjoint from each other and from the small stream ids.
  CHECK(llc::sgld_stream(0, llc::ChainStream::Noise) != llc::sgld_stream(0, llc::ChainStream::Batches));
  CHECK(llc::sgld_stream(1, llc::ChainStream::Noise) != llc::sgld_stream(0, llc::ChainStream::Batches));
  CHECK(llc::sgld_stream(0, llc::ChainStream::Noise) > static_cast<std::uint64_t>(Stream::Misc));
}

TEST_CASE("llc: warnings, errors and options") {
  const llc::TargetFactory<double> f = polynomial({0, 1}, poly_data());
  llc::Options o = toy_options(2, 20, 50, 1e-4, 1.0);
  llc::Estimate e = llc::estimate(f, o);
  REQUIRE(e.warnings.size() == 1);
  CHECK(e.warnings[0].find("burn-in (20 steps) is shorter than the draws (50)") != std::string::npos);
  CHECK(e.llc_trace(0).size() == 70);
  CHECK(e.chains[0].acceptance.size() == 50);
  CHECK(e.llc_trace(1)[30] == doctest::Approx(o.nbeta * (e.chains[1].loss[30] - e.init_loss)));
  o.burn_in = 50;
  CHECK(llc::estimate(f, o).warnings.empty());

  // A step far too large for nβ: the chain explodes, and the estimate stops naming where.
  o.eps = 1.0;
  o.draws = 200;
  o.burn_in = 200;
  const std::string error = estimate_error(polynomial({1, 2}, poly_data()), o);
  CHECK(error.find("non-finite loss") != std::string::npos);
  CHECK(error.find("in chain 0 at step") != std::string::npos);

  o = toy_options(2, 20, 20, 1e-4, 1.0);
  o.chains = 0;
  CHECK(estimate_error(f, o) == "llc: chains must be >= 1");
  o = toy_options(2, 20, 20, 1e-4, 1.0);
  o.nbeta = 0;
  CHECK(estimate_error(f, o) == "llc: nbeta must be > 0");
  o = toy_options(2, 20, 20, -1, 1.0);
  CHECK(estimate_error(f, o) == "llc: eps must be > 0");

  CHECK(llc::default_nbeta(1000) == doctest::Approx(144.7648));
  const std::vector<double> grid = llc::log_space(10, 1000, 3);
  REQUIRE(grid.size() == 3);
  CHECK(grid[1] == doctest::Approx(100));
  CHECK(grid[2] == doctest::Approx(1000));
  CHECK_THROWS_AS(llc::log_space(0, 10, 3), std::invalid_argument);

  // A sweep is a list of estimates, one per nβ, each as if run alone.
  o = toy_options(2, 50, 50, 1e-4, 1.0);
  const std::vector<llc::Estimate> spectrum = llc::sweep(f, o, {50.0, o.nbeta});
  REQUIRE(spectrum.size() == 2);
  CHECK(spectrum[0].nbeta == 50.0);
  CHECK(same_bits(spectrum[1], llc::estimate(f, o)));
}

// ------------------------------------------------------------------ the color model and the command

TEST_CASE("llc: the color model's loss, its determinism, and `spheregrad llc`") {
  const fs::path dir = temp_dir();
  train::Options t;
  t.experiment = train::load_experiment("ex-1.7", {{"steps=60", "snapshot_every=0"}, {}});
  t.quiet = true;
  t.out = (dir / "run").string();
  train::run(t);

  const train::TrainedModel trained = train::load_trained_model((dir / "run").string());
  CHECK(trained.model == "ColorMLP(4)");
  CHECK(trained.step == "60");
  CHECK(trained.names.size() == 8);
  CHECK_THROWS_WITH_AS(train::load_trained_model((dir / "nothing").string()),
                       doctest::Contains("no such run folder or checkpoint"), std::runtime_error);

  // full_loss is the bias-weighted mean of every cell's MSE, the expectation of a batch's loss.
  const llc::TargetFactory<float> f = cli::color_reconstruction_target(trained, 64);
  {
    Tape<float> tape;
    const llc::Target<float> target = f(tape);
    const double full = target.full_loss().item();
    Rng rng(3, Stream::Misc);
    double sum = 0;
    const int batches = 2000;
    for (int b = 0; b < batches; ++b) sum += target.batch_loss(rng).item();
    CHECK(rel_error(sum / batches, full) <= 0.05);
  }

  llc::Options o;
  o.chains = 3;
  o.burn_in = 20;
  o.draws = 20;
  o.nbeta = llc::default_nbeta(cli::color_training_set_size());
  o.threads = 1;
  const llc::Estimate one = llc::estimate(f, o);
  o.threads = 2;
  CHECK(same_bits(one, llc::estimate(f, o)));
  CHECK(cli::color_training_set_size() == 3600);

  // The command end to end: its files, and errors as exit codes.
  const std::string run = (dir / "run").string(), out = (dir / "llc").string();
  REQUIRE(run_llc_command({"llc", run, "--chains", "2", "--burn-in", "10", "--draws", "10", "--sweep-nbeta",
                           "100:1000:2", "--out", out, "--quiet"}) == 0);
  for (const char* name : {"llc_traces.csv", "llc_summary.json", "llc_trace.svg", "llc_spectrum.csv", "llc_spectrum.svg"})
    CHECK(fs::exists(fs::path(out) / name));
  std::ifstream in(fs::path(out) / "llc_summary.json");
  const nlohmann::json summary = nlohmann::json::parse(in);
  CHECK(summary["model"] == "ColorMLP(4)");
  CHECK(summary["results"].size() == 2);
  CHECK(summary["results"][1]["nbeta"].get<double>() == doctest::Approx(1000));
  std::ifstream csv(fs::path(out) / "llc_traces.csv");
  std::string header;
  std::getline(csv, header);
  CHECK(header == "nbeta,chain,step,phase,loss,llc,acceptance");

  CHECK(run_llc_command({"llc", run, "--eps", "-1"}) == 2);
  CHECK(run_llc_command({"llc", run, "--sweep-nbeta", "1000:100:3"}) == 2);
  CHECK(run_llc_command({"llc"}) == 2);
  fs::remove_all(dir);
}
