// examples/experiment/run.hpp -- one training run's state, shared by the loop (train.cpp) and
// its outputs and checkpoints (run_folder.cpp). Internal to examples/experiment/.
#pragma once

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/experiment/train.hpp"
#include "examples/report/figures.hpp"
#include "nn/optim.hpp"
#include "nn/safetensors.hpp"
#include "schedule/timeline.hpp"

namespace sg::train {

// A run in progress checkpoints here; the finished run's state is checkpoint.safetensors.
inline const std::string kResumeFile = "resume.safetensors";

// A regularizer bound to this run: its dopesheet column, its anchor point, its last value.
struct BoundRegularizer {
  const Regularizer* spec;
  std::size_t column;
  std::vector<double> point;                       // anchors
  double last_raw = NAN;
};

// The term's per-sample values on latents z (B, k), before any selection or weighting (train.cpp).
Tensor<float> per_sample_term(const BoundRegularizer& r, Tensor<float> z);

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
  // A checkpoint's curve, checked against the run it resumes: this window, `steps` values seen.
  void set_state(const std::vector<double>& v, long steps, const std::string& what) {
    const long closed = steps / window, open = steps % window;
    if (v.size() != std::size_t(4 + closed) || v[0] != double(window) || v[3] != double(steps) ||
        !(v[2] >= 0 && v[2] <= double(open) && v[2] == std::floor(v[2])) || !std::isfinite(v[1]))
      throw std::runtime_error(what + ": not the curve of " + std::to_string(steps) + " steps in windows of " +
                               std::to_string(window));
    sum = v[1];
    finite = long(v[2]);
    seen = steps;
    means.assign(v.begin() + 4, v.end());
  }
};

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
  explicit Run(const Options& o);

  // A run that stops early (an error) leaves no half-written metrics file behind.
  // A run that stops early (an error) keeps what resuming needs; before the first checkpoint
  // there is nothing to resume, and the rows written so far go.
  ~Run() {
    if (!metrics_) return;
    std::fclose(metrics_);
    if (!std::filesystem::exists(out_dir_ + "/" + kResumeFile)) std::remove(metrics_tmp_.c_str());
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  Result train();

 private:
  void bind_names();
  void bind_data();
  Source& source();
  void update_focus(Source& s);
  void draw_batch(const Source& s, int step);  // the batch of `step` (Experiment::batch_at)
  std::optional<Tensor<float>> sample_weights(const BoundRegularizer* r, const Source& s);
  double organization_validation();
  void probe(int step, const std::string& term, double weight, double raw, Tensor<float> weighted, Tensor<float> z,
             const float* alpha);
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
  double step_bytes_ = 0;  // the bound on a step's tape (step_bytes_bound in train.cpp)
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
  std::vector<std::vector<double>*> label_column_;  // labels_ of each rule, in rule order
  std::vector<double> focus_of_sample_;  // a focused source's focus of each sample
  std::vector<int> label_count_;
  double recon_value_ = 0, total_value_ = 0;
  std::vector<GradientProbe> probes_;

  // What the outputs are made of.
  std::string out_dir_, metrics_tmp_;
  std::FILE* metrics_ = nullptr;
  WindowMeans curve_recon_, curve_total_;
  std::vector<WindowMeans> curve_reg_, curve_sched_, curve_weighted_;  // per regularizer raw, per column, per regularizer weighted
  std::vector<WindowMeans*> curves() {
    std::vector<WindowMeans*> all = {&curve_recon_, &curve_total_};
    for (WindowMeans& c : curve_reg_) all.push_back(&c);
    for (WindowMeans& c : curve_sched_) all.push_back(&c);
    for (WindowMeans& c : curve_weighted_) all.push_back(&c);
    return all;
  }
  std::vector<float> snapshots_, snapshot_steps_;
};

nlohmann::json series_json(const std::vector<figures::Series>& series);

}  // namespace sg::train
