// examples/experiment/train.cpp -- the training loop: data sources, labels, the terms of each
// step (the experiment itself, already checked, comes from experiment.cpp; outputs and
// checkpoints are in run_folder.cpp; the gradient probes and the organization loss in probes.cpp).
#include "examples/experiment/train.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "examples/experiment/run.hpp"
#include "examples/report/progress.hpp"

namespace sg::train {

const char* const kVersion = "0.2.0";

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t stop_signal = 0;
extern "C" void request_stop(int signal) { stop_signal = signal; }

void check_finite(double v, const std::string& what, int step) {
  if (!std::isfinite(v))
    throw std::runtime_error("non-finite value in " + what + " at step " + std::to_string(step) + " (" +
                             std::to_string(v) + ")");
}

// An upper bound on one training step's tape (values and gradients of every node) at `rows`
// samples, known before anything is allocated: per sample, 6 nodes per unit of every layer
// and 16 per bottleneck dimension for each term; for each pairwise term (Euclidean repulsion,
// uniformity), 12 B x B nodes. tests/test_train.cpp checks it against the tape it bounds.
double step_bytes_bound(const Experiment& e, int k, long rows) {
  const MlpSpec& m = e.model;
  double per_sample = 6.0 * (3 + 2.0 * m.depth * m.hidden + k + 3) + 64, pairwise = 0;
  for (const Regularizer& r : e.regularizers) {
    if (!r.enabled) continue;
    per_sample += 16.0 * k;
    if (r.kind == TermKind::EuclideanRepulsion || r.kind == TermKind::Uniformity) pairwise += 12;
  }
  return 2 * sizeof(float) * (double(rows) * per_sample + double(rows) * double(rows) * pairwise) + (1 << 20);
}

// Memory this machine can give (MemAvailable in /proc/meminfo; the physical memory where that
// file is missing), in bytes.
double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    double kb = 0;
    if (key == "MemAvailable:" && in >> kb) return kb * 1024;
    in.ignore(1 << 10, '\n');
  }
  return double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
}

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1 << 30));
  return buf;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

Tensor<float> per_sample_term(const BoundRegularizer& r, Tensor<float> z) {
  const Regularizer& s = *r.spec;
  switch (s.kind) {
    case TermKind::Unitarity: return loss::unitarity(z);
    case TermKind::Planarity: return loss::planarity(z);
    case TermKind::Subspace: return loss::subspace(z, s.dims, s.invert);
    case TermKind::AngularRepulsion: return loss::angular_repulsion_fused(z, s.angular);
    case TermKind::EuclideanRepulsion: return loss::euclidean_repulsion(z, s.euclidean);
    case TermKind::Anchor: return loss::anchor(z, r.point);
    case TermKind::AngularAnchor: return loss::angular_anchor(z, r.point);
    case TermKind::AntiAnchor: return loss::anti_anchor(z, r.point, s.hemi);
    case TermKind::Energy: return loss::pairwise_energy(z, s.energy);
    default: throw std::logic_error("per_sample_term: not a per-sample term");
  }
}

Run::Run(const Options& o)
    : o_(o), exp_(o_.experiment), batch_(exp_.batch),
      sheet_(schedule::parse_dopesheet(exp_.dopesheet, exp_.label() + " (dopesheet)")), timeline_(sheet_),
      rules_(exp_.labels), init_(exp_.seed, Stream::Init), sampler_rng_(exp_.seed, Stream::Sampler),
      label_rng_(exp_.seed, Stream::Labels), model_(mlp_autoencoder(tape_, exp_.model, init_)),
      validation_(color::rgb_cube(8)), params_(model_.parameters()), adam_(params_, 0.0) {
  bind_names();
  bind_data();
  {
    // The bottleneck width, from one forward pass that leaves nothing on the tape.
    const auto before = tape_.mark();
    NoGrad<float> no_grad(tape_);
    k_ = model_.encoder.forward(tape_.tensor(1, 3)).cols();
    tape_.rewind(before);
  }
  for (BoundRegularizer& r : regs_)
    r.point = r.spec->anchor_point.empty() ? loss::axis(k_, r.spec->anchor_axis, r.spec->anchor_sign) : r.spec->anchor_point;
  reference_tensor_ = tape_.tensor(color::hue_ring(6).rgb);  // the drift anchor's reference set
  int largest = batch_;
  for (const Source& s : sources_)
    if (s.full_batch()) largest = std::max(largest, s.spec->set.size());
  steps_ = exp_.steps >= 0 ? exp_.steps : timeline_.length();
  // What the run will hold, checked against what the machine has before it is allocated.
  step_bytes_ = step_bytes_bound(exp_, k_, largest);
  const double snapshots = exp_.snapshot_every > 0 ? (double(steps_) / exp_.snapshot_every + 2) : 0;
  const double snapshot_bytes = snapshots * validation_.size() * k_ * sizeof(float);
  if (const double available = available_memory_bytes(); step_bytes_ + snapshot_bytes > 0.8 * available)
    throw std::runtime_error(exp_.label() + ": this run needs about " + gib(step_bytes_ + snapshot_bytes) + " (a step at " +
                             std::to_string(largest) + " samples: " + gib(step_bytes_) + "; " + std::to_string(long(snapshots)) +
                             " latent snapshots: " + gib(snapshot_bytes) + "), more than 80% of the " + gib(available) +
                             " this machine has available: lower the batch, or snapshot less often (snapshot_every)");
  index_.resize(largest);
  focus_of_sample_.resize(largest);
  for (const color::LabelRule& rule : rules_) {
    label_column_.push_back(&labels_[rule.name]);  // map nodes stay put: bound once
    label_column_.back()->reserve(largest);
  }
  label_count_.resize(rules_.size());
  curve_reg_.resize(regs_.size());
  curve_weighted_.resize(regs_.size());
  curve_sched_.resize(sheet_.properties.size());
  mark_ = tape_.mark();
  // Reserved once, so that logging a step never allocates.
  const long window = std::max(1, steps_ / 500);
  for (WindowMeans* c : curves()) {
    c->window = window;
    c->means.reserve(std::size_t(steps_ / window + 1));  // logging a step never allocates
  }
  out_dir_ = o.out.empty() ? default_out(exp_) : o.out;
}

// The columns and labels of the regularizers (the experiment has checked that they exist).
void Run::bind_names() {
  lr_column_ = sheet_.property_index("lr");
  recon_column_ = sheet_.property_index("loss-recon");
  fraction_column_ = sheet_.property_index("data-fraction");
  hues_column_ = sheet_.property_index("data-hues");
  vibrancies_column_ = sheet_.property_index("data-vibrancies");
  for (const Regularizer& r : exp_.regularizers)
    if (r.enabled) regs_.push_back({&r, std::size_t(sheet_.property_index(r.name)), {}, {}});
}

// A source per data entry; every phase of the dopesheet maps to its own or to "*".
void Run::bind_data() {
  for (const PhaseData& d : exp_.data) {
    Source s;
    s.spec = &d;
    s.data = tape_.tensor(d.set.rgb);
    if (!s.full_batch()) s.sampler.emplace(d.set.weight);
    for (const color::LabelRule& rule : rules_) {
      std::vector<double> p;
      for (int i = 0; i < d.set.size(); ++i) p.push_back(rule.probability(d.set.rgb.row(i).data()));
      s.label_probability.push_back(std::move(p));
    }
    if (s.focused()) {
      for (int i = 0; i < d.set.size(); ++i) {
        const color::Hsv hsv = color::rgb_to_hsv({d.set.rgb(i, 0), d.set.rgb(i, 1), d.set.rgb(i, 2)});
        s.vibrancy.push_back(hsv.s * hsv.v);
        s.hue_focus.push_back(color::primary_secondary_focus(hsv.h));
      }
      s.focus.assign(d.set.size(), 1.0);
      s.weight.assign(d.set.size(), 0.0);
    }
    if (d.phase == "*") default_source_ = int(sources_.size());
    sources_.push_back(std::move(s));
  }
  for (const schedule::PhaseInstance& phase : sheet_.phases) {
    int found = default_source_;
    for (std::size_t i = 0; i < sources_.size(); ++i)
      if (sources_[i].spec->phase == phase.name) found = int(i);
    phase_source_.push_back(found);
  }
}

Source& Run::source() {
  const int phase = timeline_.phase_instance();
  return sources_[phase < 0 ? default_source_ : phase_source_[phase]];
}

// bias x focus, rewritten in place only when a scheduled fraction has changed.
void Run::update_focus(Source& s) {
  const double fraction = exp_.focus == Focus::Vibrancy ? timeline_.value(fraction_column_)
                                                        : timeline_.value(vibrancies_column_);
  const double hue_fraction = exp_.focus == Focus::VibrancyAndHues ? timeline_.value(hues_column_) : 0.0;
  if (fraction == s.fraction && hue_fraction == s.hue_fraction) return;
  s.fraction = fraction;
  s.hue_fraction = hue_fraction;
  for (std::size_t i = 0; i < s.focus.size(); ++i) {
    double f = color::levels(s.vibrancy[i], fraction);
    if (exp_.focus == Focus::VibrancyAndHues) f *= color::levels(s.hue_focus[i], hue_fraction);
    s.focus[i] = f;
    s.weight[i] = s.spec->set.weight[i] * f;
  }
  try {
    s.sampler->reweight(s.weight.data(), s.weight.size());
  } catch (const std::invalid_argument&) {
    throw std::runtime_error("the curriculum focus leaves no data to sample at step " +
                             std::to_string(timeline_.current_step()));
  }
}

// The batch: per sample, a cell (drawn by weight, or every row in order for a full batch),
// then one uniform per label rule in order.
void Run::draw_batch(const Source& s, int step) {
  batch_rows_ = s.full_batch() ? s.spec->set.size() : exp_.batch_at(step);
  std::fill(label_count_.begin(), label_count_.end(), 0);
  for (std::vector<double>* column : label_column_) column->resize(batch_rows_);
  for (int i = 0; i < batch_rows_; ++i) {
    index_[i] = s.full_batch() ? i : s.sampler->draw(sampler_rng_);
    for (std::size_t r = 0; r < rules_.size(); ++r) {
      // Soft: the probability itself (counted when above 0); else a draw (the stream is drawn
      // either way, so both variants see the same batches).
      const double p = s.label_probability[r][index_[i]];
      const bool on = label_rng_.uniform() < p;
      (*label_column_[r])[i] = exp_.soft_labels ? p : double(on);
      label_count_[r] += exp_.soft_labels ? p > 0 : on;
    }
    if (s.focused()) focus_of_sample_[i] = s.focus[index_[i]];
  }
}

// A term's per-sample weights (loss::selection_weights): its label selection, times the
// sample's focus for a focus-weighted term on a focused source; none when every weight is 1
// (the term is a plain mean). `r` null: the reconstruction.
std::optional<Tensor<float>> Run::sample_weights(const BoundRegularizer* r, const Source& s) {
  const bool by_focus = (r ? r->spec->focus_weighted : exp_.focus_weighted_recon) && s.focused();
  static const loss::Affinities kEverySample;
  const loss::Affinities& affinities = r ? r->spec->affinities : kEverySample;
  if (!by_focus && affinities.empty()) return std::nullopt;
  return loss::selection_weights(tape_, affinities, labels_, batch_rows_, by_focus ? focus_of_sample_.data() : nullptr);
}

void Run::train_step(int step) {
  const std::span<const double> values = timeline_.values();
  const bool probing = o_.probe_every > 0 && step % o_.probe_every == 0;
  adam_.lr = values[lr_column_];
  if (timeline_.fired("anchor")) {
    NoGrad<float> no_grad(tape_);
    drift_.capture(model_.encoder.forward(reference_tensor_));
  }
  Source& src = source();
  if (src.focused()) update_focus(src);
  draw_batch(src, step);
  const Tensor<float> x = src.full_batch() ? src.data : gather_rows(src.data, index_.data(), batch_rows_);
  const auto forward = model_.forward(x);
  const std::optional<Tensor<float>> recon_alpha = sample_weights(nullptr, src);
  const Tensor<float> recon = recon_alpha ? *loss::weighted_mean(loss::reconstruction(forward.reconstruction, x), *recon_alpha)
                                          : loss::mse(forward.reconstruction, x);
  recon_value_ = recon.item();
  check_finite(recon_value_, "recon", step);
  Tensor<float> total = recon_column_ < 0 ? recon : recon * values[recon_column_];
  if (probing)
    probe(step, "recon", recon_column_ < 0 ? 1.0 : values[recon_column_], recon_value_, total, forward.bottleneck,
          recon_alpha ? recon_alpha->data() : nullptr);
  for (BoundRegularizer& r : regs_) {
    r.last_raw = NAN;
    const double weight = values[r.column];
    if (weight == 0) continue;  // a weight of exactly 0 means the term is not computed
    std::optional<Tensor<float>> term, alpha;
    Tensor<float> z = forward.bottleneck;
    if (r.spec->kind == TermKind::Uniformity) {
      term = loss::uniformity(z, r.spec->uniformity_t);
    } else if (r.spec->kind == TermKind::DriftAnchor) {
      if (!drift_.captured()) continue;
      z = model_.encoder.forward(reference_tensor_);
      term = mean(drift_.loss(z));
    } else {
      alpha = sample_weights(&r, src);
      if (alpha) {
        const float* a = alpha->data();
        if (std::all_of(a, a + alpha->rows(), [](float v) { return v == 0; })) continue;  // none selected: skipped
        term = loss::weighted_mean(per_sample_term(r, z), *alpha);
      } else {
        term = mean(per_sample_term(r, z));
      }
    }
    r.last_raw = term->item();
    check_finite(r.last_raw, r.spec->name, step);
    const Tensor<float> weighted = *term * weight;
    if (probing) probe(step, r.spec->name, weight, r.last_raw, weighted, z, alpha ? alpha->data() : nullptr);
    total = total + weighted;
  }
  total_value_ = total.item();
  check_finite(total_value_, "total", step);
  adam_.zero_grad();
  tape_.backward(total);
  for (const Parameter<float>& p : params_)
    if (!p.tensor.grad().allFinite())
      throw std::runtime_error("non-finite gradient of " + p.name + " at step " + std::to_string(step));
  adam_.step();
  tape_.rewind(mark_);
}

Result Run::train() {
  const int first = o_.resume ? restore() : 0;
  if (o_.write_outputs && !o_.resume) open_metrics();
  figures::Progress bar(exp_.label(), steps_, "steps", o_.quiet, first);
  const auto start = Clock::now();
  for (int step = first; step < steps_; ++step) {
    if (o_.write_outputs && exp_.snapshot_every > 0 && step % exp_.snapshot_every == 0) snapshot(step);
    train_step(step);
    log_step(step);
    if ((step + 1) % 64 == 0 && bar.due()) {
      char losses[64];
      std::snprintf(losses, sizeof losses, "  total %.3g  recon %.3g", total_value_, recon_value_);
      bar.update(step + 1, std::string(timeline_.phase()) + losses);
    }
    if (step + 1 < steps_ && o_.write_outputs && stop_signal != 0) {
      checkpoint(step + 1);  // SIGINT or SIGTERM: stop at this step boundary, resumable
      throw std::runtime_error("stopped by signal " + std::to_string(int(stop_signal)) + " after step " +
                               std::to_string(step + 1) + " of " + std::to_string(steps_) +
                               ": continue with spheregrad train --resume " + out_dir_);
    }
    if (o_.checkpoint_every > 0 && (step + 1) % o_.checkpoint_every == 0 && step + 1 < steps_) checkpoint(step + 1);
    if (step + 1 < steps_) timeline_.step();
  }
  if (o_.write_outputs && exp_.snapshot_every > 0) snapshot(steps_);
  Result result;
  result.train_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  bar.finish();
  result.out_dir = out_dir_;
  result.steps = steps_;
  result.steps_per_second = (steps_ - first) / result.train_seconds;
  result.final_total = total_value_;
  result.final_recon = recon_value_;
  result.metrics = color::measure(model_, tape_, exp_.heldout);
  result.metrics.organization_validation = organization_validation();
  result.probes = probes_;
  result.metrics.separate_final = NAN;
  for (const BoundRegularizer& r : regs_)
    if (r.spec->kind == TermKind::AngularRepulsion && !r.spec->angular.shift && r.spec->angular.power == 10)
      result.metrics.separate_final = r.last_raw;
  result.peak_rss_kb = peak_rss_kb();
  result.tape_bytes = tape_.arena_bytes();
  result.tape_bytes_bound = step_bytes_;
  if (o_.write_outputs) write_outputs(result);
  return result;
}

void stop_on_signals() {
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
}

Result run(const Options& options) {
  if (options.checkpoint_every > 0 && options.probe_every > 0)
    throw std::runtime_error("--checkpoint-every cannot be combined with --probe-every (probes are not checkpointed)");
  set_num_threads(options.threads);
  Run run(options);  // checks every name and file first; writes nothing
  if (options.write_outputs && !options.resume && !options.overwrite) {
    const std::string dir = options.out.empty() ? default_out(options.experiment) : options.out;
    // A finished run, or one that can resume, is never replaced by accident; a folder left
    // before the first checkpoint holds nothing to keep and is simply started again.
    if (std::filesystem::exists(dir + "/summary.json"))
      throw std::runtime_error(dir + " already holds a finished run (summary.json): choose another --out, or replace " +
                               "it with --overwrite");
    if (std::filesystem::exists(dir + "/" + kResumeFile))
      throw std::runtime_error(dir + " already holds a run in progress (" + kResumeFile + "): resume it with --resume " +
                               dir + ", or replace it with --overwrite");
  }
  return run.train();
}

}  // namespace sg::train
