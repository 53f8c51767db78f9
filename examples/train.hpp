// examples/train.hpp -- the training loop of the color experiments, and their presets.
//
// Contract:
// - A Preset names a model, a data set, a batch size, a label set, the regularizers (each with a
//   term, its options and label affinities) and a dopesheet. A regularizer's weight at each step
//   is the dopesheet column of the same name; the learning rate is column `lr`; the
//   reconstruction weight is column `loss-recon` when present, else 1.
// - Names are checked before training: a regularizer without a column, or a column that is
//   neither a regularizer nor a known setting, is an error (the original silently ran such a
//   term at weight 1.0).
// - Per step: read the timeline, set lr, sample the batch with replacement, draw its labels,
//   forward, add each regularizer whose weight is not 0 and which selects some sample, backward,
//   Adam step, rewind. A non-finite loss term or gradient stops the run naming the term and step.
// - Randomness: Stream::Init builds the model, Stream::Sampler draws the batches,
//   Stream::Labels draws the labels, all from the run's seed. The thread count changes no bit.
// - Outputs land in one folder: metrics.csv, summary.json, latents.npy (+ latent_steps.npy),
//   checkpoint.safetensors, figures (SVG) and report.html. Each file is written atomically.
#pragma once

#include <string>
#include <vector>

#include "examples/color.hpp"
#include "losses/losses.hpp"
#include "losses/selective.hpp"

namespace sg::train {

enum class TermKind {
  Unitarity, Planarity, Subspace, AngularRepulsion, EuclideanRepulsion,
  Anchor, AngularAnchor, AntiAnchor, DriftAnchor, Uniformity,
};

struct Regularizer {
  std::string name;  // the dopesheet column that weights it
  TermKind kind;
  loss::Affinities affinities;        // {label: strength}; empty = every sample
  loss::AngularRepulsion angular;     // AngularRepulsion
  loss::EuclideanRepulsion euclidean; // EuclideanRepulsion
  std::vector<int> dims;              // Subspace
  bool invert = false;                // Subspace
  int anchor_axis = 0;                // anchors: the point is sign * e_axis
  double anchor_sign = 1;
  bool hemi = false;                  // AntiAnchor
};

struct Preset {
  std::string name, description;
  std::string model;  // a name make_model understands
  int batch = 64;
  color::LabelSet labels = color::LabelSet::M1;
  std::vector<Regularizer> regularizers;
  std::string dopesheet;  // CSV text, embedded
};

std::vector<std::string> preset_names();
const Preset& find_preset(const std::string& name);  // throws std::invalid_argument listing names

struct Options {
  std::string preset = "ex-1.7";
  unsigned long long seed = 0;
  int steps = -1;            // < 0: the dopesheet's length
  int batch = -1;            // < 0: the preset's
  int threads = 1;
  std::string dopesheet;     // a file replacing the preset's dopesheet
  std::vector<std::string> without;  // regularizers to drop (ablations)
  int snapshot_every = 250;  // latents of the validation cube every N steps (and at the end)
  std::string out;           // default out/<preset>-seed<N>
  bool quiet = false;
  bool write_outputs = true; // false: train and measure only (tests, sweeps)
};

// The measurements of SPEC.md section 9, on the final model.
struct FinalMetrics {
  double recon_mse_validation = 0;          // RGB 8^3 cube
  std::vector<double> recon_mse_named;      // the 17 named colors
  int hue_inversions = 0, hue_winding = 0;  // 360 vibrant hues
  std::vector<int> hue_inversions_at_deg;   // where: the hue (degrees) each inverted step starts at
  int hue_inversions_36 = 0, hue_winding_36 = 0;
  bool crumpled = false;
  double red_cosine = 0;        // cos(z_red, e0) in the full space
  double red_angle_deg = 0;     // atan2(z1, z0) of red in the hue plane
  double radius_mean = 0, radius_std = 0;  // ||z|| over the validation cube
  double planarity_vibrant = 0;            // mean sum_{d>=2} z_d^2 over 360 vibrant hues
  std::vector<double> spacing_deg;         // angles between consecutive primaries/secondaries
  double separate_final = 0;               // angular repulsion (p=10, no shift) per-sample mean, last batch
};

struct Result {
  std::string out_dir;
  int steps = 0;
  double train_seconds = 0, steps_per_second = 0;
  long peak_rss_kb = 0;
  double final_total = 0, final_recon = 0;
  FinalMetrics metrics;
};

// Trains; throws std::runtime_error (bad names, non-finite values, unwritable outputs).
Result run(const Options& options);

}  // namespace sg::train
