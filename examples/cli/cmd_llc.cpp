// `spheregrad llc RUN_DIR_OR_CHECKPOINT`: the local learning coefficient of a trained color model
// on its training distribution, by SGLD (nn/llc.hpp, docs/llc.md); with --sweep-nbeta, the LLC
// over a range of inverse temperatures (the tempering spectrum).
#include "examples/cli/cmd_llc.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "examples/cli/cli.hpp"
#include "examples/color/color.hpp"
#include "examples/report/figures.hpp"
#include "examples/report/progress.hpp"
#include "nn/checkpoint.hpp"
#include "nn/models.hpp"

namespace sg::cli {

// ------------------------------------------------------------------ the model and its loss

int color_training_set_size() { return color::hsv_cube().size(); }

llc::TargetFactory<float> color_reconstruction_target(const train::TrainedModel& trained, int batch) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  // Shared, read-only by every chain.
  struct Data {
    color::ColorSet cube = color::hsv_cube();
    color::Sampler sampler{cube.weight};
    Matrix<float> weight;  // (3600, 1): bias / sum of bias
    train::TrainedModel trained;
  };
  auto data = std::make_shared<Data>();
  data->trained = trained;
  double total = 0;
  for (double w : data->cube.weight) total += w;
  data->weight.resize(data->cube.size(), 1);
  for (int i = 0; i < data->cube.size(); ++i) data->weight(i, 0) = float(data->cube.weight[i] / total);

  return [data, batch](Tape<float>& tape) {
    Rng unused(0, Stream::Init);  // make_model draws an initialization; w* replaces it
    auto model = std::make_shared<Autoencoder<float>>(make_model(tape, data->trained.model, unused));
    const std::vector<Parameter<float>> params = model->parameters();
    llc::Target<float> target;
    for (std::size_t k = 0; k < params.size(); ++k) {
      params[k].tensor.value() = data->trained.values[k];
      target.params.push_back(params[k].tensor);
    }
    const Tensor<float> cube = tape.tensor(data->cube.rgb), weight = tape.tensor(data->weight);
    auto index = std::make_shared<std::vector<int>>(batch);
    target.batch_loss = [data, model, cube, index](Rng& rng) {
      for (int& i : *index) i = data->sampler.draw(rng);
      const Tensor<float> x = gather_rows(cube, index->data(), int(index->size()));
      return mean(pow(model->forward(x).reconstruction - x, 2.0));
    };
    target.full_loss = [model, cube, weight] {
      return sum(row_mean(pow(model->forward(cube).reconstruction - cube, 2.0)) * weight);
    };
    return target;
  };
}

// ------------------------------------------------------------------ the command

namespace {

struct SweepRange {
  double lo = 0, hi = 0;
  int count = 0;
};

SweepRange parse_sweep(const std::string& text) {
  const std::size_t a = text.find(':'), b = a == std::string::npos ? a : text.find(':', a + 1);
  if (b == std::string::npos || text.find(':', b + 1) != std::string::npos)
    throw std::invalid_argument("--sweep-nbeta expects LO:HI:COUNT, e.g. 100:100000:7, got '" + text + "'");
  SweepRange r;
  r.lo = parse_number("--sweep-nbeta LO", text.substr(0, a).c_str(), 0, false);
  r.hi = parse_number("--sweep-nbeta HI", text.substr(a + 1, b - a - 1).c_str(), 0, false);
  r.count = int(parse_integer("--sweep-nbeta COUNT", text.substr(b + 1).c_str(), 1, 1000));
  if (r.hi < r.lo) throw std::invalid_argument("--sweep-nbeta: HI must be >= LO, got '" + text + "'");
  if (r.count == 1 && r.hi != r.lo) throw std::invalid_argument("--sweep-nbeta: COUNT 1 needs LO == HI");
  return r;
}

// Mean of each window of `stride` steps: long traces become readable lines of about 500 points.
figures::Series windowed(const std::string& name, const std::vector<double>& v) {
  const std::size_t stride = std::max<std::size_t>(1, v.size() / 500);
  figures::Series s{name, {}, {}};
  for (std::size_t begin = 0; begin < v.size(); begin += stride) {
    const std::size_t end = std::min(v.size(), begin + stride);
    double sum = 0;
    for (std::size_t i = begin; i < end; ++i) sum += v[i];
    s.x.push_back(double(begin));
    s.y.push_back(sum / double(end - begin));
  }
  return s;
}

std::vector<double> mean_trace(const llc::Estimate& e) {
  std::vector<double> mean(e.chains[0].loss.size(), 0.0);
  for (int c = 0; c < int(e.chains.size()); ++c) {
    const std::vector<double> trace = e.llc_trace(c);
    for (std::size_t t = 0; t < trace.size(); ++t) mean[t] += trace[t] / double(e.chains.size());
  }
  return mean;
}

std::string traces_csv(const std::vector<llc::Estimate>& estimates) {
  std::string out = "nbeta,chain,step,phase,loss,llc,acceptance\n";
  char buf[256];
  for (const llc::Estimate& e : estimates)
    for (int c = 0; c < int(e.chains.size()); ++c) {
      const llc::Chain& chain = e.chains[c];
      for (int t = 0; t < int(chain.loss.size()); ++t) {
        const bool draw = t >= e.burn_in;
        std::snprintf(buf, sizeof buf, "%.9g,%d,%d,%s,%.9g,%.9g,", e.nbeta, c, t, draw ? "draw" : "burn-in",
                      chain.loss[t], e.nbeta * (chain.loss[t] - e.init_loss));
        out += buf;
        if (draw) {
          std::snprintf(buf, sizeof buf, "%.6g", chain.acceptance[t - e.burn_in]);
          out += buf;
        }
        out += '\n';
      }
    }
  return out;
}

nlohmann::ordered_json estimate_json(const llc::Estimate& e) {
  nlohmann::ordered_json chains = nlohmann::ordered_json::array();
  for (const llc::Chain& c : e.chains) chains.push_back({{"llc", c.llc}, {"mala_acceptance", c.mean_acceptance}});
  return {{"nbeta", e.nbeta}, {"eps", e.eps}, {"init_loss", e.init_loss}, {"llc_mean", e.llc_mean},
          {"llc_std", e.llc_std}, {"mala_acceptance", e.mean_acceptance}, {"chains", chains},
          {"warnings", e.warnings}};
}

struct Settings {
  llc::Options o{.draws = 200, .burn_in = 200};
  int batch = 64;
  double n = 0, nbeta = 0;  // 0: not given
  bool quiet = false;
  std::optional<SweepRange> sweep;
  std::string path, out;
};

int llc(Settings s) {
  llc::Options& o = s.o;
  const double n = s.n > 0 ? s.n : color_training_set_size();
  o.nbeta = s.nbeta > 0 ? s.nbeta : llc::default_nbeta(n);
  set_num_threads(o.threads);
  // Every chain keeps each step's loss and each draw's acceptance: bounded to 2 GB in all.
  const double kept = double(s.sweep ? s.sweep->count : 1) * o.chains * (double(o.burn_in) + 2.0 * o.draws);
  if (kept > 2.5e8)
    throw std::invalid_argument("--chains x (--burn-in + 2 --draws) x the --sweep-nbeta COUNT is " +
                                std::to_string((long long)kept) + " values kept in memory; at most 2.5 x 10^8 (2 GB)");

  const train::TrainedModel trained = train::load_trained_model(s.path);
  if (!trained.label.empty() && trained.label != "ex-1.7")
    std::fprintf(stderr,
                 "spheregrad llc: warning: the loss is Ex 1.7's training distribution (the HSV cube by bias "
                 "weight); preset %s trained on its own data\n",
                 trained.label.c_str());
  namespace fs = std::filesystem;
  if (s.out.empty())
    s.out = fs::is_directory(s.path)
                ? (fs::path(s.path) / "llc").string()
                : (fs::path(s.path).parent_path() / (fs::path(s.path).stem().string() + "-llc")).string();
  const llc::TargetFactory<float> target = color_reconstruction_target(trained, s.batch);

  const auto start = std::chrono::steady_clock::now();
  const int count = s.sweep ? s.sweep->count : 1;
  figures::Progress bar("llc", long(count) * o.chains, "chains", s.quiet);
  long chains_done = 0;
  o.on_chain_done = [&] {
    ++chains_done;
    bar.update(chains_done, count > 1 ? "nbeta " + std::to_string((chains_done - 1) / o.chains + 1) + " of " +
                                             std::to_string(count) : "");
  };
  std::vector<llc::Estimate> estimates;
  if (s.sweep) estimates = llc::sweep(target, o, llc::log_space(s.sweep->lo, s.sweep->hi, s.sweep->count));
  else estimates.push_back(llc::estimate(target, o));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.finish();

  fs::create_directories(s.out);
  const std::string dir = s.out + "/";
  figures::write_file_atomically(dir + "llc_traces.csv", traces_csv(estimates));
  const std::string what = trained.model + (trained.label.empty() ? "" : ", " + trained.label) +
                           (trained.seed.empty() ? "" : " seed " + trained.seed) +
                           (trained.step.empty() ? "" : ", step " + trained.step);
  // One estimate: up to 9 chains, then their mean on top (the palette has 10 colors). A sweep:
  // the mean over chains at each nbeta.
  std::vector<figures::Series> series;
  if (!s.sweep) {
    const llc::Estimate& e = estimates[0];
    for (int c = 0; c < std::min(o.chains, 9); ++c) series.push_back(windowed("chain " + std::to_string(c), e.llc_trace(c)));
    series.push_back(windowed("mean of chains", mean_trace(e)));
  } else {
    for (const llc::Estimate& e : estimates) series.push_back(windowed("nbeta " + figure(e.nbeta, 4), mean_trace(e)));
  }
  figures::write_file_atomically(dir + "llc_trace.svg",
                        figures::line_chart_svg(series, false,
                                                "LLC trace, nbeta (L_t - L(w*)), of " + what + "; burn-in ends at step " +
                                                    std::to_string(o.burn_in)));
  if (s.sweep) {
    std::string csv = "nbeta,eps,llc_mean,llc_std,mala_acceptance,init_loss\n";
    char buf[256];
    for (const llc::Estimate& e : estimates) {
      std::snprintf(buf, sizeof buf, "%.9g,%.9g,%.9g,%.9g,%.6g,%.9g\n", e.nbeta, e.eps, e.llc_mean, e.llc_std,
                    e.mean_acceptance, e.init_loss);
      csv += buf;
    }
    figures::write_file_atomically(dir + "llc_spectrum.csv", csv);
    figures::write_file_atomically(dir + "llc_spectrum.svg",
                                   figures::llc_spectrum_svg(estimates, "LLC against nbeta: " + what));
  }
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const llc::Estimate& e : estimates) results.push_back(estimate_json(e));
  const nlohmann::ordered_json summary = {
      {"checkpoint", trained.checkpoint}, {"model", trained.model}, {"experiment", trained.label},
      {"train_seed", trained.seed}, {"train_step", trained.step},
      {"loss", "reconstruction MSE on the HSV cube, bias-weighted sampling with replacement"},
      {"n", n}, {"batch", s.batch}, {"chains", o.chains}, {"draws", o.draws}, {"burn_in", o.burn_in},
      {"eps", o.eps}, {"gamma", o.gamma}, {"nbeta", o.nbeta}, {"weight_decay", o.weight_decay},
      {"seed", o.seed}, {"sweep", s.sweep.has_value()},
      {"wall_seconds", seconds}, {"results", results}};
  figures::write_file_atomically(dir + "llc_summary.json", summary.dump(2) + "\n");

  for (const llc::Estimate& e : estimates)
    for (const std::string& w : e.warnings)
      std::fprintf(stderr, "spheregrad llc: warning%s: %s\n",
                   s.sweep ? (" at nbeta " + figure(e.nbeta)).c_str() : "", w.c_str());
  if (!s.quiet) {
    std::printf("LLC of %s (%s)\n", trained.checkpoint.c_str(), what.c_str());
    std::printf("  loss: reconstruction MSE on the HSV cube, bias sampler, batch %d; L(w*) = %.4g\n", s.batch,
                estimates[0].init_loss);
    std::printf("  %d chains x (%d burn-in + %d draws), gamma %g, seed %llu; %.2f s\n", o.chains, o.burn_in, o.draws,
                o.gamma, (unsigned long long)o.seed, seconds);
    for (const llc::Estimate& e : estimates)
      std::printf("  nbeta %-9.4g eps %-9.3g LLC %8.3f +- %.3f (std over chains)   MALA acceptance %.3f\n", e.nbeta,
                  e.eps, e.llc_mean, e.llc_std, e.mean_acceptance);
    std::printf("  outputs in %s/\n", s.out.c_str());
  }
  return 0;
}

}  // namespace

void add_llc(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  llc::Options& o = s->o;
  CLI::App* command =
      program.add_subcommand("llc", "estimate the local learning coefficient of a trained model by SGLD");
  command->add_option("RUN_DIR_OR_CHECKPOINT", s->path, "a run folder or its checkpoint.safetensors")->required();
  add_integer(*command, "--chains", o.chains, 1, "independent chains (default 10; at most 10^4)", 10000);
  add_integer(*command, "--draws", o.draws, 1, "steps whose losses are averaged, per chain (default 200; at most 10^8)",
              100000000);
  add_integer(*command, "--burn-in", o.burn_in, 0, "steps discarded first, per chain (default 200; keep it >= draws)",
              100000000);
  add_number(*command, "--eps", o.eps, "step size (default 1e-4)", 0, false);
  add_number(*command, "--gamma", o.gamma, "localization strength (default 100)", 0);
  add_number(*command, "--nbeta", s->nbeta, "inverse temperature times n (default n / ln n)", 0, false);
  add_integer(*command, "--n", s->n, 2, "the n of the default nbeta (default 3600, the HSV cube's colors)");
  add_number(*command, "--weight-decay", o.weight_decay, "an extra Gaussian prior, X |w|^2 / 2 (default 0)", 0);
  add_integer(*command, "--batch", s->batch, 1, "minibatch size (default 64, as in training; at most 65536)", 65536);
  add_integer(*command, "--seed", o.seed, 0, "seed of the chains' noise and minibatch streams (default 0)");
  add_integer(*command, "--threads", o.threads, 1,
              "chains run in parallel (default 1; results are identical at any count)", kMaxThreads);
  add_converted(*command, "--sweep-nbeta", [s](const std::string& v) { s->sweep = parse_sweep(v); },
                "estimate at COUNT values of nbeta from LO to HI on a log scale (the\n"
                "tempering spectrum), all with the same eps and seed; eps must suit\n"
                "the largest nbeta (watch each point's MALA acceptance)")
      ->type_name("LO:HI:COUNT");
  command->add_option("--out", s->out, "output folder (default RUN_DIR/llc, or <checkpoint>-llc for a file)")
      ->type_name("DIR");
  command->add_flag("--quiet", s->quiet, "print nothing on stdout");
  command->footer(
      "Estimates the local learning coefficient (LLC) of a trained color model at its weights w*\n"
      "by SGLD sampling (docs/llc.md). The loss is the reconstruction MSE on the model's training\n"
      "distribution: the HSV cube, colors drawn with replacement in proportion to their bias\n"
      "weight, in minibatches. Each chain starts at w* and takes steps\n"
      "  w <- w - (eps/2) (nbeta grad L_batch(w) + gamma (w - w*) + weight_decay w) + sqrt(eps) N(0, 1)\n"
      "and the estimate is nbeta (mean loss over the draws - L(w*)), averaged over chains.\n"
      "\n"
      "outputs: llc_traces.csv (every chain's loss at every step), llc_summary.json (settings,\n"
      "per-chain estimates and MALA acceptance, warnings), llc_trace.svg (nbeta (L_t - L(w*)) per\n"
      "chain); with --sweep-nbeta also llc_spectrum.csv and llc_spectrum.svg.\n"
      "\n"
      "example: spheregrad train --out /tmp/run0 && spheregrad llc /tmp/run0");
  command->callback([s, &exit_code] { exit_code = llc(*s); });
}

}  // namespace sg::cli
