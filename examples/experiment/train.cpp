// examples/experiment/train.cpp -- data sources, the training loop, metrics and outputs (the experiment
// itself, checked, comes from examples/experiment/).
#include "examples/experiment/train.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "examples/report/figures.hpp"
#include "examples/report/figures.hpp"
#include "nn/checkpoint.hpp"
#include "nn/models.hpp"
#include "schedule/timeline.hpp"

namespace sg::train {

const char* const kVersion = "0.1.0";

// ------------------------------------------------------------------ the loop

namespace {

using Clock = std::chrono::steady_clock;

// A regularizer bound to this run: its dopesheet column and its labels as indices.
struct BoundRegularizer {
  const Regularizer* spec;
  std::size_t column;
  std::vector<std::pair<int, double>> affinities;  // (label index, strength)
  std::vector<double> point;                       // anchors
  double last_raw = NAN;
};

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
    default: throw std::logic_error("per_sample_term: not a per-sample term");
  }
}

void check_finite(double v, const std::string& what, int step) {
  if (!std::isfinite(v))
    throw std::runtime_error("non-finite value in " + what + " at step " + std::to_string(step) + " (" +
                             std::to_string(v) + ")");
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

Matrix<float> encode(Autoencoder<float>& model, Tape<float>& tape, const Matrix<float>& rgb) {
  const auto mark = tape.mark();
  NoGrad<float> no_grad(tape);
  Matrix<float> z = model.encoder.forward(tape.tensor(rgb)).value();
  tape.rewind(mark);
  return z;
}

double angle_deg(const Matrix<float>& z, int row) {
  return std::atan2(double(z(row, 1)), double(z(row, 0))) * 180.0 / M_PI;
}

FinalMetrics measure(Autoencoder<float>& model, Tape<float>& tape, const std::optional<HueBand>& heldout) {
  FinalMetrics m;
  model.train(false);
  const auto mark = tape.mark();
  NoGrad<float> no_grad(tape);
  auto mse_rows = [&](const Matrix<float>& rgb) {
    const Matrix<float> out = model.forward(tape.tensor(rgb)).reconstruction.value();
    Eigen::VectorXd per = (out - rgb).cast<double>().array().square().rowwise().mean();
    tape.rewind(mark);
    return per;
  };
  const color::ColorSet cube = color::rgb_cube(8), named = color::named_colors();
  m.recon_mse_validation = mse_rows(cube.rgb).mean();
  const Eigen::VectorXd per_named = mse_rows(named.rgb);
  m.recon_mse_named.assign(per_named.data(), per_named.data() + per_named.size());

  const Matrix<float> ring360 = encode(model, tape, color::hue_ring(360).rgb);
  const color::HueOrder fine = color::hue_order(ring360);
  const color::HueOrder coarse = color::hue_order(encode(model, tape, color::hue_ring(36).rgb));
  m.hue_inversions = fine.inversions;
  m.hue_inversions_at_deg = fine.inverted;  // 360 hues: index = degrees
  m.hue_winding = fine.winding;
  m.hue_inversions_36 = coarse.inversions;
  m.hue_winding_36 = coarse.winding;
  m.crumpled = fine.crumpled();

  const Matrix<float> zn = encode(model, tape, named.rgb);
  m.red_cosine = double(zn(0, 0)) / (double(zn.row(0).norm()) + 1e-8);
  m.red_angle_deg = angle_deg(zn, 0);

  const Matrix<float> zc = encode(model, tape, cube.rgb);
  const Eigen::VectorXd radius = zc.cast<double>().rowwise().norm();
  m.radius_mean = radius.mean();
  m.radius_std = std::sqrt((radius.array() - m.radius_mean).square().mean());
  if (ring360.cols() > 2)
    m.planarity_vibrant = ring360.rightCols(ring360.cols() - 2).cast<double>().array().square().rowwise().sum().mean();
  double cx = 0, cy = 0;
  for (long i = 0; i < ring360.rows(); ++i) {
    const double a = std::atan2(double(ring360(i, 1)), double(ring360(i, 0)));
    cx += std::cos(a);
    cy += std::sin(a);
  }
  m.hue_resultant = std::hypot(cx, cy) / double(ring360.rows());
  if (ring360.cols() > 2) {
    std::vector<double> hues;
    for (int d = 0; d < 360; ++d) hues.push_back(d / 360.0);
    const Matrix<float> darker = encode(model, tape, color::hsv_grid(hues, {1.0}, {0.5}).rgb);
    double sum = 0, sum_abs = 0;
    for (long i = 0; i < darker.rows(); ++i) sum += darker(i, 2), sum_abs += std::abs(double(darker(i, 2)));
    m.dome_height = sum_abs / double(darker.rows());
    m.dome_consistency = sum_abs > 0 ? std::abs(sum) / sum_abs : 0;
  }
  if (heldout) {
    // The trained hues alone (v = 1, whole degrees outside the band), in hue order.
    std::vector<int> kept;
    for (int d = 0; d < 360; ++d)
      if (!heldout->contains(d)) kept.push_back(d);
    Matrix<float> ring(long(kept.size()), ring360.cols());
    for (std::size_t i = 0; i < kept.size(); ++i) ring.row(long(i)) = ring360.row(kept[i]);
    const color::HueOrder order = color::hue_order(ring);
    m.train_hue_inversions = order.inversions;
    m.train_hue_winding = order.winding;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      double d = std::abs(angle_deg(ring, int((i + 1) % kept.size())) - angle_deg(ring, int(i)));
      if (d > 180) d = 360 - d;
      if (d > m.train_gap_deg) m.train_gap_deg = d, m.train_gap_after_deg = kept[i];
    }
  }

  const Matrix<float> six = encode(model, tape, color::hue_ring(6).rgb);
  for (int i = 0; i < 6; ++i) {
    double d = angle_deg(six, (i + 1) % 6) - angle_deg(six, i);
    while (d > 180) d -= 360;
    while (d <= -180) d += 360;
    m.spacing_deg.push_back(d);
  }
  model.train(true);
  return m;
}

}  // namespace

namespace {

// A curve kept as the means of windows of `window` steps (finite values only; NaN where a
// window has none): about 500 points whatever the run's length, so memory stays flat over
// 10^6 steps, and the figures get readable lines instead of 10^4 noisy steps.
struct WindowMeans {
  long window = 1;
  std::vector<double> means;  // of the finished windows
  double sum = 0;
  long finite = 0, seen = 0;

  void add(double v) {
    if (std::isfinite(v)) sum += v, ++finite;
    if (++seen % window == 0) close();
  }
  void close() {
    means.push_back(finite ? sum / double(finite) : NAN);
    sum = 0;
    finite = 0;
  }
  figures::Series series(const std::string& name) const {
    figures::Series s{name, {}, means};
    if (seen % window != 0) s.y.push_back(finite ? sum / double(finite) : NAN);  // the last, partial window
    for (std::size_t i = 0; i < s.y.size(); ++i) s.x.push_back(double(i) * double(window));
    return s;
  }
  // For checkpoints: [window, sum, finite, seen, means...].
  std::vector<double> state() const {
    std::vector<double> v = {double(window), sum, double(finite), double(seen)};
    v.insert(v.end(), means.begin(), means.end());
    return v;
  }
  void set_state(const std::vector<double>& v) {
    window = long(v.at(0));
    sum = v.at(1);
    finite = long(v.at(2));
    seen = long(v.at(3));
    means.assign(v.begin() + 4, v.end());
  }
};

nlohmann::json series_json(const std::vector<figures::Series>& series) {
  nlohmann::json out = {{"steps", series.empty() ? std::vector<double>() : series[0].x},
                        {"series", nlohmann::json::array()}};
  for (const figures::Series& s : series) {
    nlohmann::json y = nlohmann::json::array();
    for (double v : s.y) y.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json());
    out["series"].push_back({{"name", s.name}, {"y", y}});
  }
  return out;
}

// A data source bound to this run: its set on the tape, its sampler, its label probabilities
// and, for a focused source, the focus of every cell (recomputed in place when the scheduled
// fractions change).
struct Source {
  const PhaseData* spec = nullptr;
  bool full_batch() const { return spec->sampling == Sampling::FullBatch; }
  bool focused() const { return spec->sampling == Sampling::Focused; }
  Tensor<float> data;
  std::optional<color::Sampler> sampler;
  std::vector<std::vector<double>> label_probability;  // [rule][cell]
  std::vector<double> vibrancy, hue_focus;             // the focus's base weights per cell
  std::vector<double> focus, weight;                   // focus, and bias x focus
  double fraction = NAN, hue_fraction = NAN;           // the values the focus was computed for
};

// One training run: everything the loop needs, set up and checked before the first step.
class Run {
 public:
  Run(const Options& o)
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
    index_.resize(largest);
    focus_of_sample_.resize(largest);
    for (const color::LabelRule& rule : rules_) labels_[rule.name].reserve(largest);
    label_count_.resize(rules_.size());
    curve_reg_.resize(regs_.size());
    curve_sched_.resize(sheet_.properties.size());
    mark_ = tape_.mark();
    steps_ = exp_.steps >= 0 ? exp_.steps : timeline_.length();
    // Reserved once, so that logging a step never allocates.
    const long window = std::max(1, steps_ / 500);
    for (WindowMeans* c : curves()) {
      c->window = window;
      c->means.reserve(std::size_t(steps_ / window + 1));  // logging a step never allocates
    }
    out_dir_ = o.out.empty() ? default_out(exp_) : o.out;
  }

  // A run that stops early (an error) leaves no half-written metrics file behind.
  ~Run() {
    if (metrics_) {
      std::fclose(metrics_);
      std::remove(metrics_tmp_.c_str());
    }
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  Result train();

 private:
  void bind_names();
  void bind_data();
  Source& source();
  void update_focus(Source& s);
  void draw_batch(const Source& s);
  std::optional<Tensor<float>> sample_weights(const BoundRegularizer* r, const Source& s);
  void probe(int step, const std::string& term, double weight, double raw, Tensor<float> weighted, Tensor<float> z);
  void train_step(int step);
  void open_metrics();
  void log_step(int step);
  void snapshot(int step);
  void write_outputs(const Result& result);
  void save_state(SafeTensors& st, int completed);
  void checkpoint(int completed);
  int restore();

  const Options o_;
  const Experiment& exp_;
  const int batch_;
  schedule::Dopesheet sheet_;
  schedule::Timeline timeline_;
  const std::vector<color::LabelRule> rules_;
  Rng init_, sampler_rng_, label_rng_;
  Tape<float> tape_;
  Autoencoder<float> model_;
  const color::ColorSet validation_;
  std::vector<Parameter<float>> params_;
  Adam<float> adam_;
  int k_ = 0, steps_ = 0;
  int lr_column_ = -1, recon_column_ = -1, fraction_column_ = -1, hues_column_ = -1, vibrancies_column_ = -1;
  std::vector<BoundRegularizer> regs_;
  std::vector<Source> sources_;
  std::vector<int> phase_source_;   // per phase instance of the dopesheet: index into sources_
  int default_source_ = -1;         // "*": steps before the first PHASE row, and unlisted phases
  Tensor<float> reference_tensor_;
  loss::DriftAnchor<float> drift_;
  Tape<float>::Mark mark_{};

  // Per step, reused.
  int batch_rows_ = 0;                 // this step's batch size
  std::vector<int> index_;             // the cells of this step's batch
  loss::Labels labels_;                // per rule, 0 or 1 per sample of this step's batch
  std::vector<double> focus_of_sample_;  // a focused source's focus of each sample
  std::vector<int> label_count_;
  double recon_value_ = 0, total_value_ = 0;
  std::vector<GradientProbe> probes_;

  // What the outputs are made of.
  std::string out_dir_, metrics_tmp_;
  std::FILE* metrics_ = nullptr;
  WindowMeans curve_recon_, curve_total_;
  std::vector<WindowMeans> curve_reg_, curve_sched_;
  std::vector<WindowMeans*> curves() {
    std::vector<WindowMeans*> all = {&curve_recon_, &curve_total_};
    for (WindowMeans& c : curve_reg_) all.push_back(&c);
    for (WindowMeans& c : curve_sched_) all.push_back(&c);
    return all;
  }
  std::vector<float> snapshots_, snapshot_steps_;
};

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
void Run::draw_batch(const Source& s) {
  batch_rows_ = s.full_batch() ? s.spec->set.size() : batch_;
  std::fill(label_count_.begin(), label_count_.end(), 0);
  for (const color::LabelRule& rule : rules_) labels_[rule.name].resize(batch_rows_);
  for (int i = 0; i < batch_rows_; ++i) {
    index_[i] = s.full_batch() ? i : s.sampler->draw(sampler_rng_);
    for (std::size_t r = 0; r < rules_.size(); ++r) {
      const bool on = label_rng_.uniform() < s.label_probability[r][index_[i]];
      labels_[rules_[r].name][i] = on;
      label_count_[r] += on;
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

// The gradient of one weighted term with respect to the latents it acts on, split into radial
// and tangential parts. Runs its own backward pass; parameter gradients are zeroed afterwards.
void Run::probe(int step, const std::string& term, double weight, double raw, Tensor<float> weighted,
                Tensor<float> z) {
  tape_.backward(weighted);
  const Matrix<float> g = z.grad(), zv = z.value();
  const loss::GradientParts<float> parts = loss::split_gradient<float>(zv, g);
  GradientProbe p{step, term, weight, raw, 0, 0, 0, 0};
  for (long i = 0; i < zv.rows(); ++i) {
    const double norm = zv.row(i).cast<double>().norm();
    p.radial += norm > 0 ? zv.row(i).cast<double>().dot(g.row(i).cast<double>()) / norm : 0.0;
    p.radial_abs += parts.radial.row(i).cast<double>().norm();
    p.tangential_abs += parts.tangential.row(i).cast<double>().norm();
    p.radial_cosine += parts.cosine[i];
  }
  const double n = double(zv.rows());
  p.radial /= n, p.radial_abs /= n, p.tangential_abs /= n, p.radial_cosine /= n;
  probes_.push_back(p);
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
  draw_batch(src);
  const Tensor<float> x = src.full_batch() ? src.data : gather_rows(src.data, index_.data(), batch_rows_);
  const auto forward = model_.forward(x);
  const std::optional<Tensor<float>> recon_alpha = sample_weights(nullptr, src);
  const Tensor<float> recon = recon_alpha ? *loss::weighted_mean(loss::reconstruction(forward.reconstruction, x), *recon_alpha)
                                          : loss::mse(forward.reconstruction, x);
  recon_value_ = recon.item();
  check_finite(recon_value_, "recon", step);
  Tensor<float> total = recon_column_ < 0 ? recon : recon * values[recon_column_];
  if (probing) probe(step, "recon", recon_column_ < 0 ? 1.0 : values[recon_column_], recon_value_, total, forward.bottleneck);
  for (BoundRegularizer& r : regs_) {
    r.last_raw = NAN;
    const double weight = values[r.column];
    if (weight == 0) continue;  // a weight of exactly 0 means the term is not computed
    std::optional<Tensor<float>> term;
    Tensor<float> z = forward.bottleneck;
    if (r.spec->kind == TermKind::Uniformity) {
      term = loss::uniformity(z, r.spec->uniformity_t);
    } else if (r.spec->kind == TermKind::DriftAnchor) {
      if (!drift_.captured()) continue;
      z = model_.encoder.forward(reference_tensor_);
      term = mean(drift_.loss(z));
    } else {
      const std::optional<Tensor<float>> alpha = sample_weights(&r, src);
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
    if (probing) probe(step, r.spec->name, weight, r.last_raw, weighted, z);
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
  const bool progress = !o_.quiet && isatty(fileno(stderr));
  const auto start = Clock::now();
  auto last_print = start;
  for (int step = first; step < steps_; ++step) {
    if (o_.write_outputs && exp_.snapshot_every > 0 && step % exp_.snapshot_every == 0) snapshot(step);
    train_step(step);
    log_step(step);
    if (progress && (step + 1) % 256 == 0 && Clock::now() - last_print > std::chrono::milliseconds(100)) {
      last_print = Clock::now();
      const double rate = (step + 1) / std::chrono::duration<double>(last_print - start).count();
      std::fprintf(stderr, "\r  step %d/%d  %.0f steps/s  ETA %.1f s  total %.3g  recon %.3g   ", step + 1, steps_,
                   rate, (steps_ - step - 1) / rate, total_value_, recon_value_);
    }
    if (o_.checkpoint_every > 0 && (step + 1) % o_.checkpoint_every == 0 && step + 1 < steps_) checkpoint(step + 1);
    if (step + 1 < steps_) timeline_.step();
  }
  if (o_.write_outputs && exp_.snapshot_every > 0) snapshot(steps_);
  Result result;
  result.train_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (progress) std::fprintf(stderr, "\r%*s\r", 90, "");
  result.out_dir = out_dir_;
  result.steps = steps_;
  result.steps_per_second = (steps_ - first) / result.train_seconds;
  result.final_total = total_value_;
  result.final_recon = recon_value_;
  result.metrics = measure(model_, tape_, exp_.heldout);
  result.probes = probes_;
  result.metrics.separate_final = NAN;
  for (const BoundRegularizer& r : regs_)
    if (r.spec->kind == TermKind::AngularRepulsion && !r.spec->angular.shift && r.spec->angular.power == 10)
      result.metrics.separate_final = r.last_raw;
  result.peak_rss_kb = peak_rss_kb();
  if (o_.write_outputs) write_outputs(result);
  return result;
}

void Run::open_metrics() {
  std::filesystem::create_directories(out_dir_);
  figures::write_file_atomically(out_dir_ + "/experiment.json", to_text(exp_.resolved));
  metrics_tmp_ = out_dir_ + "/metrics.csv.tmp";
  metrics_ = std::fopen(metrics_tmp_.c_str(), "wb");
  if (!metrics_) throw std::runtime_error("cannot write " + metrics_tmp_ + ": " + std::strerror(errno));
  std::string header = "step,phase";
  for (const auto& p : sheet_.properties) header += "," + p.name;
  header += ",recon";
  for (const BoundRegularizer& r : regs_) header += "," + r.spec->name + ":raw," + r.spec->name + ":weighted";
  header += ",total";
  for (const auto& rule : rules_) header += ",n_" + rule.name;
  std::fprintf(metrics_, "%s\n", header.c_str());
}

// One CSV row (no timings in it: the same seed gives the same bytes) and the in-memory curves.
void Run::log_step(int step) {
  const std::span<const double> values = timeline_.values();
  curve_recon_.add(recon_value_);
  curve_total_.add(total_value_);
  for (std::size_t r = 0; r < regs_.size(); ++r) curve_reg_[r].add(regs_[r].last_raw);
  for (std::size_t c = 0; c < values.size(); ++c) curve_sched_[c].add(values[c]);
  if (!metrics_ || step % exp_.log_every != 0) return;
  std::fprintf(metrics_, "%d,%s", step, std::string(timeline_.phase()).c_str());
  for (double v : values) std::fprintf(metrics_, ",%.9g", v);
  std::fprintf(metrics_, ",%.9g", recon_value_);
  for (const BoundRegularizer& r : regs_) {
    if (std::isnan(r.last_raw)) std::fputs(",,", metrics_);  // not computed this step
    else std::fprintf(metrics_, ",%.9g,%.9g", r.last_raw, r.last_raw * values[r.column]);
  }
  std::fprintf(metrics_, ",%.9g", total_value_);
  for (int c : label_count_) std::fprintf(metrics_, ",%d", c);
  std::fputc('\n', metrics_);
}

void Run::snapshot(int step) {
  const Matrix<float> z = encode(model_, tape_, validation_.rgb);
  snapshots_.insert(snapshots_.end(), z.data(), z.data() + z.size());
  snapshot_steps_.push_back(float(step));
}

// Everything a run is, after `completed` steps: the model and Adam (what a user loads), and
// what resuming needs -- the random streams, the drift anchor's reference, the curves and
// snapshots the final figures are drawn from, and how many bytes of metrics.csv are written.
void Run::save_state(SafeTensors& st, int completed) {
  save_parameters(st, params_);
  save_optimizer(st, adam_);
  const auto sampler_state = sampler_rng_.state(), label_state = label_rng_.state();
  st.put_u64("rng.sampler", {4}, {sampler_state.data(), 4});
  st.put_u64("rng.labels", {4}, {label_state.data(), 4});
  if (drift_.captured()) {
    const Matrix<float>& ref = drift_.reference();
    st.put_f32("run.drift_reference", {ref.rows(), ref.cols()}, {ref.data(), std::size_t(ref.size())});
  }
  const std::vector<WindowMeans*> all = curves();
  for (std::size_t c = 0; c < all.size(); ++c) {
    const std::vector<double> v = all[c]->state();
    st.put_f64("run.curve." + std::to_string(c), {std::int64_t(v.size())}, v);
  }
  st.put_f32("run.snapshots", {std::int64_t(snapshots_.size())}, {snapshots_.data(), snapshots_.size()});
  st.put_f32("run.snapshot_steps", {std::int64_t(snapshot_steps_.size())}, {snapshot_steps_.data(), snapshot_steps_.size()});
  st.metadata = {{"format", "spheregrad checkpoint"}, {"version", kVersion}, {"model", exp_.model.name()},
                 {"experiment", exp_.label()}, {"seed", std::to_string(exp_.seed)}, {"step", std::to_string(completed)},
                 {"checkpoint_every", std::to_string(o_.checkpoint_every)}, {"experiment.json", exp_.resolved.dump()}};
}

// A checkpoint mid-run: metrics.csv.tmp is flushed to disk first and its length recorded, so
// that a resumed run cuts it back to exactly the rows of the steps the checkpoint holds.
void Run::checkpoint(int completed) {
  if (!o_.write_outputs) return;
  if (std::fflush(metrics_) != 0 || fsync(fileno(metrics_)) != 0)
    throw std::runtime_error("cannot write " + metrics_tmp_ + ": " + std::strerror(errno));
  SafeTensors st;
  save_state(st, completed);
  st.metadata["metrics_bytes"] = std::to_string(std::ftell(metrics_));
  st.save(out_dir_ + "/checkpoint.safetensors");
}

// Back to the state after the checkpoint's steps; returns how many steps that is.
int Run::restore() {
  const std::string path = out_dir_ + "/checkpoint.safetensors";
  const SafeTensors st = SafeTensors::load(path);
  if (!st.metadata.count("metrics_bytes"))
    throw std::runtime_error(path + ": the run is already complete (its checkpoint is the final one)");
  const int completed = std::stoi(st.metadata.at("step"));
  load_parameters(st, params_);
  load_optimizer(st, adam_);
  std::array<std::uint64_t, 4> state{};
  st.get_u64("rng.sampler", {4}, state);
  sampler_rng_.set_state(state);
  st.get_u64("rng.labels", {4}, state);
  label_rng_.set_state(state);
  if (st.contains("run.drift_reference")) {
    const std::vector<std::int64_t>& shape = st.at("run.drift_reference").shape;
    Matrix<float> ref(shape.at(0), shape.at(1));
    st.get_f32("run.drift_reference", shape, {ref.data(), std::size_t(ref.size())});
    drift_.capture(ref);
  }
  const std::vector<WindowMeans*> all = curves();
  for (std::size_t c = 0; c < all.size(); ++c) {
    const std::string name = "run.curve." + std::to_string(c);
    std::vector<double> v(std::size_t(st.at(name).shape.at(0)));
    st.get_f64(name, {std::int64_t(v.size())}, v);
    all[c]->set_state(v);
  }
  snapshot_steps_.resize(std::size_t(st.at("run.snapshot_steps").shape.at(0)));
  st.get_f32("run.snapshot_steps", {std::int64_t(snapshot_steps_.size())}, snapshot_steps_);
  snapshots_.resize(std::size_t(st.at("run.snapshots").shape.at(0)));
  st.get_f32("run.snapshots", {std::int64_t(snapshots_.size())}, snapshots_);

  // The metrics written so far, cut back to the checkpoint's rows (a killed run may have
  // written more), then appended to.
  metrics_tmp_ = out_dir_ + "/metrics.csv.tmp";
  const long bytes = std::stol(st.metadata.at("metrics_bytes"));
  if (truncate(metrics_tmp_.c_str(), bytes) != 0)
    throw std::runtime_error("cannot resume: " + metrics_tmp_ + ": " + std::strerror(errno));
  metrics_ = std::fopen(metrics_tmp_.c_str(), "ab");
  if (!metrics_) throw std::runtime_error("cannot write " + metrics_tmp_ + ": " + std::strerror(errno));
  // The schedule is a pure function of the step: replaying it reproduces every transition.
  for (int s = 0; s < completed; ++s) timeline_.step();
  return completed;
}

void Run::write_outputs(const Result& result) {
  const std::string dir = out_dir_ + "/";
  // Closed once, whatever happens next: the destructor must not close it again.
  const bool closed = std::fclose(metrics_) == 0;
  metrics_ = nullptr;
  if (!closed || std::rename(metrics_tmp_.c_str(), (dir + "metrics.csv").c_str()) != 0) {
    std::remove(metrics_tmp_.c_str());
    throw std::runtime_error("cannot write " + dir + "metrics.csv");
  }
  const long n_snap = long(snapshot_steps_.size());
  figures::write_file_atomically(dir + "latents.npy", figures::npy(snapshots_.data(), {n_snap, validation_.size(), k_}));
  figures::write_file_atomically(dir + "latent_steps.npy", figures::npy(snapshot_steps_.data(), {n_snap}));

  SafeTensors st;
  save_state(st, steps_);
  st.save(dir + "checkpoint.safetensors");

  const FinalMetrics& m = result.metrics;
  nlohmann::ordered_json metrics = {
      {"recon_mse_validation", m.recon_mse_validation}, {"hue_inversions", m.hue_inversions},
      {"hue_inversions_at_deg", m.hue_inversions_at_deg}, {"hue_winding", m.hue_winding}, {"hue_inversions_36", m.hue_inversions_36},
      {"hue_winding_36", m.hue_winding_36}, {"crumpled", m.crumpled}, {"red_cosine", m.red_cosine},
      {"red_angle_deg", m.red_angle_deg}, {"radius_mean", m.radius_mean}, {"radius_std", m.radius_std},
      {"planarity_vibrant", m.planarity_vibrant}, {"spacing_deg", m.spacing_deg},
      {"separate_final", std::isnan(m.separate_final) ? nlohmann::ordered_json() : nlohmann::ordered_json(m.separate_final)},
      {"hue_resultant", m.hue_resultant}};
  if (k_ > 2) {
    metrics["dome_height"] = m.dome_height;
    metrics["dome_consistency"] = m.dome_consistency;
  }
  if (exp_.heldout) {
    metrics["train_hue_inversions"] = m.train_hue_inversions;
    metrics["train_hue_winding"] = m.train_hue_winding;
    metrics["train_gap_deg"] = m.train_gap_deg;
    metrics["train_gap_after_deg"] = m.train_gap_after_deg;
  }
  nlohmann::ordered_json named = nlohmann::ordered_json::object();
  const color::ColorSet named_set = color::named_colors();
  for (int i = 0; i < named_set.size(); ++i) named[named_set.name[i]] = m.recon_mse_named[i];
  metrics["recon_mse_named"] = named;
  const nlohmann::ordered_json summary = {
      {"experiment", exp_.name}, {"label", exp_.label()}, {"hash", exp_.hash}, {"stock", exp_.stock},
      {"description", exp_.description}, {"seed", exp_.seed}, {"version", kVersion}, {"model", exp_.model.name()},
      {"steps", steps_}, {"batch", batch_}, {"threads", o_.threads},
      {"wall_seconds", result.train_seconds}, {"steps_per_second", result.steps_per_second},
      {"peak_rss_kb", result.peak_rss_kb}, {"final_total", result.final_total},
      {"final_recon", result.final_recon}, {"metrics", metrics}};
  figures::write_file_atomically(dir + "summary.json", summary.dump(2) + "\n");

  // Figures: the final latents in three projections, the loss curves, the schedule.
  const Matrix<float> final_z = encode(model_, tape_, validation_.rgb);
  const std::string title = (exp_.stock ? exp_.name : exp_.name + " (custom " + exp_.hash + ")") + " seed " +
                            std::to_string(exp_.seed);
  for (int d : {0, 2, 3})
    if (d < k_)
      figures::write_file_atomically(
          dir + "latents_dim1_dim" + std::to_string(d) + ".svg",
          figures::latent_svg(final_z, validation_.rgb, 1, d,
                              title + ", step " + std::to_string(steps_) + ": dim 1 / dim " + std::to_string(d)));
  std::vector<figures::Series> losses = {curve_total_.series("total"), curve_recon_.series("recon")};
  for (std::size_t r = 0; r < regs_.size(); ++r) losses.push_back(curve_reg_[r].series(regs_[r].spec->name));
  std::vector<figures::Series> schedule;
  for (std::size_t c = 0; c < sheet_.properties.size(); ++c)
    schedule.push_back(curve_sched_[c].series(sheet_.properties[c].name));
  figures::write_file_atomically(dir + "losses.svg",
                             figures::line_chart_svg(losses, true, title + ": loss terms (raw, window means)"));
  figures::write_file_atomically(dir + "schedule.svg", figures::schedule_svg(sheet_));

  nlohmann::json report;
  report["dims"] = k_;
  nlohmann::json colors = nlohmann::json::array();
  for (int i = 0; i < validation_.size(); ++i)
    colors.push_back({validation_.rgb(i, 0), validation_.rgb(i, 1), validation_.rgb(i, 2)});
  report["colors"] = colors;
  nlohmann::json snaps = nlohmann::json::array();
  const long per = long(validation_.size()) * k_;
  for (long s = 0; s < n_snap; ++s) {
    std::vector<double> z(snapshots_.begin() + s * per, snapshots_.begin() + (s + 1) * per);
    for (double& v : z) v = std::round(v * 1e4) / 1e4;  // 4 decimals are plenty for a plot
    snaps.push_back({{"step", int(snapshot_steps_[s])}, {"z", z}});
  }
  report["snapshots"] = snaps;
  report["curves"] = series_json(losses);
  report["schedule"] = series_json(schedule);
  nlohmann::json flat = {{"seed", exp_.seed}, {"steps", steps_}, {"steps/s", result.steps_per_second}};
  for (const auto& [key, value] : metrics.items())
    if (key != "recon_mse_named") flat[key] = value;
  report["summary"] = flat;
  figures::write_file_atomically(dir + "report.html", figures::report_html(title, report.dump()));
}

}  // namespace

std::string default_out(const Experiment& e) { return "out/" + e.label() + "-seed" + std::to_string(e.seed); }

Options resume_options(const std::string& dir) {
  const std::string path = dir + "/checkpoint.safetensors";
  if (!std::filesystem::exists(path)) throw std::runtime_error("cannot resume: " + path + " does not exist");
  const SafeTensors st = SafeTensors::load(path);
  if (!st.metadata.count("experiment.json") || !st.metadata.count("checkpoint_every"))
    throw std::runtime_error(path + ": not a spheregrad training checkpoint (no experiment in its metadata)");
  Options o;
  o.experiment = parse_experiment(st.metadata.at("experiment.json"), path + " (its experiment)");
  o.checkpoint_every = std::stoi(st.metadata.at("checkpoint_every"));
  o.out = dir;
  o.resume = true;
  return o;
}

FinishedRun load_run(const std::string& dir) {
  const std::string summary_path = dir + "/summary.json", experiment_path = dir + "/experiment.json";
  for (const std::string& p : {experiment_path, summary_path})
    if (!std::filesystem::is_regular_file(p)) throw std::runtime_error(dir + " is not a finished run folder: no " + p);
  FinishedRun run{load_experiment(experiment_path), {}};
  std::ifstream in(summary_path);
  const nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
  try {
    Result& r = run.result;
    r.out_dir = dir;
    r.steps = s.at("steps");
    r.final_total = s.at("final_total");
    r.final_recon = s.at("final_recon");
    const nlohmann::json& m = s.at("metrics");
    FinalMetrics& f = r.metrics;
    f.recon_mse_validation = m.at("recon_mse_validation");
    f.hue_inversions = m.at("hue_inversions");
    f.hue_winding = m.at("hue_winding");
    f.hue_inversions_36 = m.at("hue_inversions_36");
    f.hue_winding_36 = m.at("hue_winding_36");
    f.crumpled = m.at("crumpled");
    f.red_cosine = m.at("red_cosine");
    f.red_angle_deg = m.at("red_angle_deg");
    f.radius_mean = m.at("radius_mean");
    f.radius_std = m.at("radius_std");
    f.planarity_vibrant = m.at("planarity_vibrant");
    f.hue_resultant = m.at("hue_resultant");
    f.spacing_deg = m.at("spacing_deg").get<std::vector<double>>();
    f.separate_final = m.at("separate_final").is_null() ? NAN : m.at("separate_final").get<double>();
    for (const std::string& name : color::named_colors().name) f.recon_mse_named.push_back(m.at("recon_mse_named").at(name));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(summary_path + ": not a summary of this version (" + e.what() + ")");
  }
  return run;
}

Result run(const Options& options) {
  if (options.checkpoint_every > 0 && options.probe_every > 0)
    throw std::runtime_error("--checkpoint-every cannot be combined with --probe-every (probes are not checkpointed)");
  set_num_threads(options.threads);
  Run run(options);  // checks every name and file first; writes nothing
  if (options.write_outputs && !options.resume && !options.overwrite) {
    const std::string dir = options.out.empty() ? default_out(options.experiment) : options.out;
    for (const char* f : {"summary.json", "checkpoint.safetensors", "metrics.csv.tmp"})
      if (std::filesystem::exists(dir + "/" + f))
        throw std::runtime_error(dir + " already holds a run (" + f + "): choose another --out, resume it with --resume " +
                                 dir + ", or replace it with --overwrite");
  }
  return run.train();
}

}  // namespace sg::train
